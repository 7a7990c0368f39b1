/* Hugging Face safetensors checkpoints, read and written (docs/FORMAT.md, "Hugging Face
 * directories"). A file is an 8-byte little-endian header length N (at most 100 MB, as
 * the reference Rust crate), N bytes of JSON (tensor name -> {dtype, shape,
 * data_offsets}, optional "__metadata__" of strings), then the data section, which the
 * tensors' byte ranges cover exactly: contiguous from 0, no overlap, no gap, each of
 * shape x dtype bytes, ending at the end of the file. A sharded checkpoint adds
 * model.safetensors.index.json (weight_map: tensor name -> shard file), which must agree
 * with the shards' headers.
 *
 *   rmens_safetensors *st;
 *   RMENS_TRY(rmens_safetensors_open(&st, "Qwen2.5-0.5B"));   // directory or one file
 *   const rmens_st_tensor *t = rmens_safetensors_find(st, "model.norm.weight");
 *   int64_t shape[1] = {896};
 *   rmens_safetensors_read(st, "model.norm.weight", 1, shape, buf);  // to fp32
 *   rmens_safetensors_close(st);
 *
 * Every file is opened, mapped and checked by rmens_safetensors_open; reading a tensor
 * converts F32, F16 and BF16 exactly to float (F16 subnormals, infinities and NaNs
 * included). Other dtypes are listed (Pythia's BOOL attention masks, say) but refused by
 * name when read. */
#ifndef RMENS_IO_SAFETENSORS_H
#define RMENS_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "rmens.h"

#define RMENS_ST_MAX_RANK 8
/* The reference implementation's limit on the JSON header. */
#define RMENS_ST_MAX_HEADER 100000000

typedef struct rmens_safetensors rmens_safetensors;

typedef struct {
    const char *name;
    const char *dtype;  /* as the header spells it: "F32", "BF16", "BOOL", ... */
    const char *file;   /* the file that holds it (path as opened) */
    int rank;
    int64_t shape[RMENS_ST_MAX_RANK];
    int64_t count;      /* elements: the product of shape */
    int readable;       /* F32, F16 or BF16: rmens_safetensors_read converts it */
    uint64_t begin, end; /* its byte range in the file's data section */
} rmens_st_tensor;

/* path: a directory holding model.safetensors, or else model.safetensors.index.json and
 * its shards; or a .safetensors file itself. Every file is checked (see above) and
 * every tensor name must be unique across shards and agree with the index. */
rmens_status rmens_safetensors_open(rmens_safetensors **out, const char *path);
void rmens_safetensors_close(rmens_safetensors *st);

/* The tensors, sorted by name. */
int64_t rmens_safetensors_count(const rmens_safetensors *st);
const rmens_st_tensor *rmens_safetensors_tensor(const rmens_safetensors *st, int64_t i);
/* NULL when there is no such tensor. */
const rmens_st_tensor *rmens_safetensors_find(const rmens_safetensors *st, const char *name);
/* A "__metadata__" value of the file holding the first tensor (NULL when absent). */
const char *rmens_safetensors_metadata(const rmens_safetensors *st, const char *key);

/* Reads tensor name into out[count] as float. The tensor must exist, be F32/F16/BF16
 * and have exactly rank and shape; the message names the file, the tensor and both
 * shapes otherwise. */
rmens_status rmens_safetensors_read(const rmens_safetensors *st, const char *name, int rank,
                                    const int64_t *shape, float *out);

/* The exact conversions (also used by the writer). */
float rmens_f16_to_f32(uint16_t h);
float rmens_bf16_to_f32(uint16_t b);
/* Round to nearest even; NaN stays a (quiet) NaN of the same sign. */
uint16_t rmens_f32_to_bf16(float f);

/* ------------------------------------------------------------------ writing */

typedef enum { RMENS_ST_F32 = 0, RMENS_ST_BF16 = 1 } rmens_st_dtype;

typedef struct {
    const char *name;
    int rank;
    const int64_t *shape;
    const float *data;  /* product of shape values */
} rmens_st_out;

/* Writes tensors[0..n) (in that order) as one safetensors file at path, stored as
 * dtype, with "__metadata__" {"format": "pt"} (transformers requires it) plus the pairs
 * meta[0..2*nmeta) (key, value, ...). The file is written to "<path>.tmp.<pid>" with
 * its whole size reserved first (a full disk fails before any byte is written) and
 * renamed when complete; on failure nothing is left at either name. */
rmens_status rmens_safetensors_write(const char *path, const rmens_st_out *tensors, int64_t n,
                                     rmens_st_dtype dtype, const char *const *meta, int nmeta);

#endif
