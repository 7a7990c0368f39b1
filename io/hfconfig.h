/* A Hugging Face config.json, read into a plain record (docs/FORMAT.md, "Hugging Face
 * directories"). Only the families rmens trains are accepted: GPT2*, Llama*, Qwen2*,
 * Qwen3*, GPTNeoX*; mixtures of experts, sliding-window attention, rope scalings other
 * than llama3, activations the kernels lack and GPT-2's attention variants are refused
 * by name. Sizes without a default in transformers are required; a field that is
 * missing, null where a value is needed, or of the wrong JSON type is an error naming
 * config.json and the field. Optional fields take transformers' defaults for the
 * family (its config classes). */
#ifndef RMENS_IO_HFCONFIG_H
#define RMENS_IO_HFCONFIG_H

#include <stdint.h>

#include "rmens.h"

typedef enum {
    RMENS_HF_GPT2 = 0,
    RMENS_HF_LLAMA = 1,
    RMENS_HF_QWEN2 = 2,
    RMENS_HF_QWEN3 = 3,
    RMENS_HF_GPTNEOX = 4,
} rmens_hf_family;

typedef enum {
    RMENS_HF_ACT_GELU_TANH = 0,  /* gelu_new, gelu_pytorch_tanh (GPT-2) */
    RMENS_HF_ACT_GELU = 1,       /* gelu: exact, erf (Pythia) */
    RMENS_HF_ACT_SILU = 2,       /* silu, swish (gated MLP of Llama and Qwen) */
} rmens_hf_act;

#define RMENS_HF_MAX_EOS 8

typedef struct {
    rmens_hf_family family;
    char model_type[32];
    char architecture[96];     /* architectures[0]; "" when absent */
    int sequence_classification; /* architecture ends in ForSequenceClassification */
    /* sizes (GPT-2's n_embd, n_layer, n_head, n_positions, n_inner read into them) */
    int64_t vocab_size, hidden_size, intermediate_size, num_hidden_layers;
    int64_t num_attention_heads, num_key_value_heads; /* kv default: heads */
    int64_t head_dim;                                 /* default hidden / heads */
    int64_t max_position_embeddings;
    double norm_eps;           /* rms_norm_eps, layer_norm_epsilon or layer_norm_eps */
    /* rotary embeddings (not GPT-2) */
    double rope_theta;
    double partial_rotary_factor; /* partial_rotary_factor or rotary_pct (GPT-NeoX, 0.25) */
    int64_t rotary_dim;           /* head_dim x partial_rotary_factor, as transformers rounds it */
    int rope_llama3;              /* rope_scaling type llama3: the four values below */
    double rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int64_t rope_original_max_position_embeddings;
    /* structure */
    rmens_hf_act hidden_act;
    char hidden_act_name[32];
    int tie_word_embeddings;
    int attention_bias;        /* the field (Llama, Qwen3, GPT-NeoX); Qwen2 and GPT-2: 1 */
    int qkv_bias, o_bias;      /* what the projections carry: Qwen2 has q/k/v biases only */
    int mlp_bias;              /* Llama's mlp_bias; GPT-2 and GPT-NeoX: 1 */
    int qk_norm;               /* Qwen3: RMSNorm of each head's q and k */
    int use_parallel_residual; /* GPT-NeoX (default true) */
    /* tokens: -1 when absent or null */
    int64_t bos_token_id, pad_token_id;
    int64_t eos_token_id;      /* the first when a list (Llama 3.1) */
    int64_t eos_token_ids[RMENS_HF_MAX_EOS];
    int n_eos;
    int64_t num_labels;        /* id2label's size, else num_labels, else 2 (transformers) */
} rmens_hf_config;

/* path: a directory holding config.json, or the file itself. */
rmens_status rmens_hfconfig_read(const char *path, rmens_hf_config *c);
/* The same from a JSON text (file names the source in messages). */
rmens_status rmens_hfconfig_parse(const char *file, const char *text, size_t len, rmens_hf_config *c);

const char *rmens_hf_family_name(rmens_hf_family f);

/* Writes config.json at path for a reward model on the backbone src[0..len) describes (a
 * config.json text rmens_hfconfig_parse accepts; src_name names it in messages): every
 * field of src kept, so that transformers rebuilds the same backbone, except
 * architectures = ["<Family>ForSequenceClassification"], id2label {"0": "LABEL_0"} and
 * label2id (one label; num_labels dropped), pad_token_id (an id below vocab_size: the
 * classification head reads the last token that is not pad_token_id) and, when not
 * NULL, torch_dtype ("float32", "bfloat16": what the weights are stored as). Written to
 * "<path>.tmp.<pid>" and renamed. */
rmens_status rmens_hfconfig_write_rm(const char *path, const char *src_name, const char *src, size_t len,
                                     int64_t pad_token_id, const char *torch_dtype);
/* The state-dict prefix of the backbone's tensors in <Family>ForCausalLM and
 * <Family>ForSequenceClassification checkpoints: "transformer." (GPT-2), "model." (Llama,
 * Qwen2, Qwen3), "gpt_neox." (GPT-NeoX). A bare <Family>Model checkpoint (GPT-2 on the
 * Hub) has none. The heads are outside it: lm_head.weight (GPT-NeoX: embed_out.weight,
 * absent when tied) and score.weight [num_labels, hidden_size] (no bias). */
const char *rmens_hf_backbone_prefix(rmens_hf_family f);

#endif
