/* Fuzz target: rmens_safetensors_open on a Hugging Face checkpoint directory, then every
 * tensor read, and the readable ones written back (F32 and BF16) and read again.
 *
 * Input: a flag byte, then either (bit 0 clear) the bytes of model.safetensors, or (set)
 * model.safetensors.index.json, a NUL byte and model-00001-of-00002.safetensors, beside
 * a fixed valid model-00002-of-00002.safetensors holding "fixed" (F32 [2]).
 *
 * Oracles besides the sanitizers: a failure has a message naming a file of the
 * directory; an accepted checkpoint lists tensors whose byte ranges lie inside their
 * files, reads every F32/F16/BF16 tensor, refuses the others and a wrong shape with a
 * message, and what it reads is written back and read again bit for bit (F32) or as the
 * BF16 rounding of it. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

static const unsigned char fixed_shard[] = "\x40\0\0\0\0\0\0\0"
                                           "{\"fixed\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}      "
                                           "\0\0\x80\x3f\0\0\0\x40";

static void check_failure(rmens_status st, const char *what)
{
    fuzz_check_status(st, what);
    if (!strstr(rmens_last_error(), fuzz_dir()))
        fuzz_fail("%s: the message does not name a file: %s", what, rmens_last_error());
}

/* Writes tensors back as dtype, opens the copy and compares with vals. */
static void round_trip(const rmens_safetensors *st, float **vals, rmens_st_dtype dtype)
{
    int64_t n = rmens_safetensors_count(st), k = 0;
    rmens_st_out *outs = calloc((size_t)n + 1, sizeof *outs);
    for (int64_t i = 0; i < n; i++) {
        const rmens_st_tensor *t = rmens_safetensors_tensor(st, i);
        if (vals[i])
            outs[k++] = (rmens_st_out){t->name, t->rank, t->shape, vals[i]};
    }
    char path[600];
    fuzz_path(path, sizeof path, "back.safetensors");
    rmens_status s = rmens_safetensors_write(path, outs, k, dtype, NULL, 0);
    if (s != RMENS_OK)
        fuzz_fail("writing back %lld tensors failed: %s", (long long)k, rmens_last_error());
    rmens_safetensors *back = NULL;
    if (rmens_safetensors_open(&back, path) != RMENS_OK)
        fuzz_fail("what the writer wrote does not open: %s", rmens_last_error());
    if (rmens_safetensors_count(back) != k)
        fuzz_fail("wrote %lld tensors, read %lld", (long long)k, (long long)rmens_safetensors_count(back));
    for (int64_t i = 0; i < k; i++) {
        const rmens_st_tensor *t = rmens_safetensors_find(back, outs[i].name);
        if (!t)
            fuzz_fail("tensor %s did not come back", outs[i].name);
        float *got = malloc((size_t)(t->count ? t->count : 1) * sizeof *got);
        if (rmens_safetensors_read(back, t->name, outs[i].rank, outs[i].shape, got) != RMENS_OK)
            fuzz_fail("reading back %s: %s", t->name, rmens_last_error());
        for (int64_t j = 0; j < t->count; j++) {
            float want = dtype == RMENS_ST_F32 ? outs[i].data[j] : rmens_bf16_to_f32(rmens_f32_to_bf16(outs[i].data[j]));
            if (memcmp(&want, &got[j], sizeof want) != 0)
                fuzz_fail("tensor %s[%lld] came back changed", t->name, (long long)j);
        }
        free(got);
    }
    rmens_safetensors_close(back);
    remove(path);
    free(outs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_clean_dir();
    char path[600];
    int sharded = size > 0 && (data[0] & 1);
    const uint8_t *p = size ? data + 1 : data;
    size_t n = size ? size - 1 : 0;
    if (!sharded) {
        fuzz_write_file(fuzz_path(path, sizeof path, "model.safetensors"), p, n);
    } else {
        const uint8_t *nul = memchr(p, 0, n);
        size_t ni = nul ? (size_t)(nul - p) : n;
        fuzz_write_file(fuzz_path(path, sizeof path, "model.safetensors.index.json"), p, ni);
        fuzz_write_file(fuzz_path(path, sizeof path, "model-00001-of-00002.safetensors"), nul ? nul + 1 : p + n,
                        nul ? n - ni - 1 : 0);
        fuzz_write_file(fuzz_path(path, sizeof path, "model-00002-of-00002.safetensors"), fixed_shard,
                        sizeof fixed_shard - 1);
    }
    rmens_safetensors *st = NULL;
    rmens_status s = rmens_safetensors_open(&st, fuzz_dir());
    if (s != RMENS_OK) {
        check_failure(s, "rmens_safetensors_open");
        if (st)
            fuzz_fail("a failed open returned a checkpoint");
        return 0;
    }
    int64_t nt = rmens_safetensors_count(st);
    float **vals = calloc((size_t)nt + 1, sizeof *vals);
    for (int64_t i = 0; i < nt; i++) {
        const rmens_st_tensor *t = rmens_safetensors_tensor(st, i);
        struct stat sb;
        if (stat(t->file, &sb) != 0 || t->end < t->begin || t->end > (uint64_t)sb.st_size)
            fuzz_fail("tensor %s: bytes [%llu, %llu) outside its file", t->name, (unsigned long long)t->begin,
                      (unsigned long long)t->end);
        if (i && strcmp(rmens_safetensors_tensor(st, i - 1)->name, t->name) >= 0)
            fuzz_fail("the tensors are not sorted by name, or repeat");
        if (rmens_safetensors_find(st, t->name) != t)
            fuzz_fail("find does not give back tensor %s", t->name);
        float *buf = malloc((size_t)(t->count ? t->count : 1) * sizeof *buf);
        s = rmens_safetensors_read(st, t->name, t->rank, t->shape, buf);
        if (t->readable != (s == RMENS_OK))
            fuzz_fail("tensor %s (%s): read gave status %d", t->name, t->dtype, (int)s);
        if (s != RMENS_OK) {
            check_failure(s, "rmens_safetensors_read");
            free(buf);
            continue;
        }
        int64_t wrong[1] = {t->count + 1};
        if (rmens_safetensors_read(st, t->name, 1, wrong, buf) == RMENS_OK)
            fuzz_fail("tensor %s read with a wrong shape", t->name);
        vals[i] = buf;
    }
    round_trip(st, vals, RMENS_ST_F32);
    round_trip(st, vals, RMENS_ST_BF16);
    for (int64_t i = 0; i < nt; i++)
        free(vals[i]);
    free(vals);
    rmens_safetensors_close(st);
    return 0;
}
