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

#endif
