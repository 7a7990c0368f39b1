#include "io/checksum.h"

#include <string.h>
#include <zlib.h>

#include "base/error.h"
#include "io/h5.h"

uint32_t rmens_crc32_le32(uint32_t crc, const void *words, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    /* The stored bytes are little-endian: swap through a small buffer. */
    const uint32_t *w = words;
    uint32_t buf[1024];
    while (n > 0) {
        size_t b = n < 1024 ? n : 1024;
        for (size_t i = 0; i < b; i++)
            buf[i] = __builtin_bswap32(w[i]);
        crc = (uint32_t)crc32_z(crc, (const Bytef *)buf, b * 4);
        w += b;
        n -= b;
    }
    return crc;
#else
    return (uint32_t)crc32_z(crc, (const Bytef *)words, n * 4);
#endif
}

rmens_status rmens_checksum_write(hid_t loc, const char *path, uint32_t crc)
{
    hid_t obj = H5Oopen(loc, path, H5P_DEFAULT);
    if (obj < 0)
        return rmens_h5_fail("cannot open %s to record its checksum", path);
    rmens_status st = rmens_h5_attr_write_u32(obj, RMENS_CRC_ATTR, crc);
    H5Oclose(obj);
    return st;
}

rmens_status rmens_checksum_verify(hid_t loc, const char *path, const void *words, size_t n, int required)
{
    rmens_status st = RMENS_OK;
    int64_t stored = -1;
    hid_t obj = H5Oopen(loc, path, H5P_DEFAULT);
    if (obj < 0)
        return rmens_h5_fail("cannot open %s", path);
    if (!rmens_h5_has_attr(obj, RMENS_CRC_ATTR)) {
        if (required)
            st = rmens_fail(RMENS_ERR_FORMAT, "%s has no %s attribute, though its member declares checksums: the "
                            "file is corrupted", path, RMENS_CRC_ATTR);
        goto exit;
    }
    if ((st = rmens_h5_attr_read_i64(obj, RMENS_CRC_ATTR, &stored)) != RMENS_OK) {
        rmens_fail_context(st, "%s: ", path);
        goto exit;
    }
    uint32_t got = rmens_crc32_le32(0, words, n);
    if (stored < 0 || stored > UINT32_MAX || (uint32_t)stored != got)
        st = rmens_fail(RMENS_ERR_FORMAT, "%s: checksum mismatch (stored 0x%08llx, computed 0x%08x): the file is "
                        "corrupted", path, (unsigned long long)stored, (unsigned)got);
exit:
    H5Oclose(obj);
    return st;
}

rmens_status rmens_checksum_required(hid_t loc, const char *group, int *required)
{
    *required = 0;
    hid_t obj = H5Oopen(loc, group, H5P_DEFAULT);
    if (obj < 0)
        return rmens_h5_fail("cannot open %s", group);
    rmens_status st = RMENS_OK;
    char kind[32];
    if (rmens_h5_has_attr(obj, "checksum") &&
        (st = rmens_h5_attr_read_str(obj, "checksum", kind, sizeof kind)) == RMENS_OK) {
        if (strcmp(kind, RMENS_CRC_KIND) == 0)
            *required = 1;
        else
            st = rmens_fail(RMENS_ERR_FORMAT, "%s: checksum \"%s\" is unknown (this rmens verifies \"%s\")", group,
                            kind, RMENS_CRC_KIND);
    }
    H5Oclose(obj);
    return st;
}
