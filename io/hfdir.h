/* A Hugging Face model directory opened for loading: its config.json (io/hfconfig.h) and
 * its safetensors weights (io/safetensors.h), with tensors found by their canonical
 * names, the state-dict keys of <Family>ForCausalLM / <Family>ForSequenceClassification
 * ("model.layers.0.mlp.up_proj.weight", "transformer.h.0.attn.c_attn.weight",
 * "score.weight"), whether the checkpoint was saved from such a class or from the bare
 * backbone (<Family>Model, e.g. GPT-2 on the Hub: "h.0.attn.c_attn.weight").
 *
 *   rmens_hfdir *d;
 *   RMENS_TRY(rmens_hfdir_open(&d, "SmolLM2-135M"));
 *   const rmens_hf_config *c = rmens_hfdir_config(d);
 *   int64_t shape[2] = {c->vocab_size, c->hidden_size};
 *   rmens_hfdir_read(d, "model.embed_tokens.weight", 2, shape, embeddings);
 *   if (!rmens_hfdir_find(d, "score.weight")) ... a fresh head
 *   rmens_hfdir_close(d); */
#ifndef RMENS_IO_HFDIR_H
#define RMENS_IO_HFDIR_H

#include "io/hfconfig.h"
#include "io/safetensors.h"
#include "model/model.h"

typedef struct rmens_hfdir rmens_hfdir;

rmens_status rmens_hfdir_open(rmens_hfdir **out, const char *dir);
void rmens_hfdir_close(rmens_hfdir *d);

const rmens_hf_config *rmens_hfdir_config(const rmens_hfdir *d);
const rmens_safetensors *rmens_hfdir_weights(const rmens_hfdir *d);
/* The tensor stored for a canonical name; NULL when absent. */
const rmens_st_tensor *rmens_hfdir_find(const rmens_hfdir *d, const char *name);
/* rmens_safetensors_read of the tensor stored for a canonical name (absent: an error
 * naming the directory and the canonical name). */
rmens_status rmens_hfdir_read(const rmens_hfdir *d, const char *name, int rank, const int64_t *shape, float *out);
/* config.json as stored (NUL-terminated), and its path ("DIR/config.json"). */
const char *rmens_hfdir_config_text(const rmens_hfdir *d);
const char *rmens_hfdir_config_path(const rmens_hfdir *d);

/* The reward model's config from config.json, through the architecture descriptors
 * (model/arch.h: rmens_arch_from_hf, the one bridge): architectures[0], else model_type,
 * names the architecture; what rmens does not run is refused naming config.json. */
rmens_status rmens_hfdir_model_config(const rmens_hfdir *d, rmens_model_config *cfg);

/* A reward model from a Hugging Face directory: every tensor of the architecture read
 * (F32/F16/BF16 to fp32) and checked (shape, finite values); lm_head.weight and buffers
 * ignored (tied embeddings need nothing more); a stored tensor the config has no place
 * for is refused. The score head: a <Arch>ForSequenceClassification checkpoint with one
 * label must hold score.weight [1, hidden], which is loaded; any other gets a fresh head
 * from seed and *fresh_head = 1. When the directory has a tokenizer, its vocabulary must
 * fit the embedding. m->source_config keeps the config.json text. Messages name the
 * directory (or file) and the tensor. */
rmens_status rmens_hfdir_load(rmens_model **out, const char *dir, uint64_t seed, int *fresh_head);

/* 1 if path is a directory (a Hugging Face model directory, for rmens_model_load). */
int rmens_hfdir_is_dir(const char *path);
/* The identity of the directory's tokenizer ("<name>@<sha256>", as data files record
 * it) and its vocabulary size; "" and 0 when it has no tokenizer files. */
rmens_status rmens_hfdir_tokenizer(const char *dir, char *id, size_t n, int64_t *vocab);

#endif
