/* CRC-32 of stored arrays (docs/FORMAT.md, "Checksums"): each tensor, Adam moment and
 * bootstrap-count dataset rmens writes carries a `crc32` attribute, zlib's CRC-32 of its
 * values as little-endian 32-bit words in C order (for a contiguous float32 or int32
 * dataset: its raw bytes; Python: zlib.crc32(a.astype("<f4").tobytes())). HDF5 keeps no
 * checksum of raw data, and filters such as Fletcher32 need chunked storage, which the
 * weights written independently by their owner rank under parallel HDF5 cannot use. */
#ifndef RMENS_IO_CHECKSUM_H
#define RMENS_IO_CHECKSUM_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "rmens.h"

/* The attribute's name, and the value of the `checksum` attribute by which a group says
 * that every dataset under it carries one. */
#define RMENS_CRC_ATTR "crc32"
#define RMENS_CRC_KIND "crc32"

/* CRC-32 of n 32-bit words (float or int32) as little-endian bytes, continuing crc
 * (0 to start). */
uint32_t rmens_crc32_le32(uint32_t crc, const void *words, size_t n);

/* Writes the crc32 attribute of the dataset at path (collective under parallel HDF5:
 * every rank passes the same value). */
rmens_status rmens_checksum_write(hid_t loc, const char *path, uint32_t crc);

/* Checks the n words just read from the dataset at path against its crc32 attribute:
 * RMENS_ERR_FORMAT "<path>: checksum mismatch (stored 0x..., computed 0x...): the file is
 * corrupted". Without the attribute: an error if required, else RMENS_OK (unverified). */
rmens_status rmens_checksum_verify(hid_t loc, const char *path, const void *words, size_t n, int required);

/* Whether group (a path under loc) declares checksums for everything under it: *required
 * = 1 when its `checksum` attribute is "crc32", 0 when it has none (a file written before
 * checksums: read unverified); another value is an error (a newer rmens). */
rmens_status rmens_checksum_required(hid_t loc, const char *group, int *required);

#endif
