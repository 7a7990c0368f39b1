/* Architectures: what makes GPT-2, Llama, Qwen2, Qwen3 and GPT-NeoX reward models differ, as data.
 *
 * An architecture is a descriptor (one small file each: model/gpt2.c, model/llama.c,
 * model/neox.c):
 *   - its tensor table: Hugging Face name pattern, shape from the config, per layer or
 *     not, weight decay or not, initialisation. Allocation, initialisation, the model and
 *     checkpoint files (io/modelfile.c), checksums and AdamW all walk this table;
 *   - its config keys: config.json name, the rmens_model_config field, default, whether
 *     required. rmens_arch_from_hf walks them (a config.json reader calls it), and model
 *     files keep the non-GPT-2 fields as attributes of the same names;
 *   - its family: which forward/backward runs it (the kernels are shared, model/layers.h).
 * Model code addresses a tensor by its role (RMENS_T_*), whatever the architecture calls
 * it; a role the architecture (or this config of it) lacks has no storage. */
#ifndef RMENS_MODEL_ARCH_H
#define RMENS_MODEL_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "rmens.h"

enum { RMENS_ARCH_GPT2, RMENS_ARCH_LLAMA, RMENS_ARCH_QWEN2, RMENS_ARCH_QWEN3, RMENS_ARCH_NEOX, RMENS_NARCH };
enum { RMENS_FAMILY_GPT2, RMENS_FAMILY_LLAMA, RMENS_FAMILY_NEOX };

/* Tensor roles. GPT-2's come first, in its storage order (files and flat arrays follow
 * the table, whose order for GPT-2 is this one). */
enum {
    RMENS_T_WTE, RMENS_T_WPE,
    RMENS_T_LN1W, RMENS_T_LN1B, RMENS_T_QKVW, RMENS_T_QKVB, RMENS_T_ATTPROJW, RMENS_T_ATTPROJB,
    RMENS_T_LN2W, RMENS_T_LN2B, RMENS_T_FCW, RMENS_T_FCB, RMENS_T_FCPROJW, RMENS_T_FCPROJB,
    RMENS_T_LNFW, RMENS_T_LNFB, RMENS_T_SCOREW,
    /* separate projections and per-head norms (Llama family; nn.Linear [out, in]) */
    RMENS_T_QW, RMENS_T_QB, RMENS_T_KW, RMENS_T_KB, RMENS_T_VW, RMENS_T_VB, RMENS_T_QNORM, RMENS_T_KNORM,
    RMENS_T_UPW,  /* SwiGLU's up_proj; gate_proj is FCW, down_proj FCPROJW */
    RMENS_NTENSORS
};

/* Symbolic sizes a table's shapes are written in (rmens_dims gives their values). */
enum { RMENS_D_NONE, RMENS_D_1, RMENS_D_V, RMENS_D_T, RMENS_D_C, RMENS_D_3C, RMENS_D_I, RMENS_D_Q, RMENS_D_KV,
       RMENS_D_HD };
/* Whether a table entry exists for a given config. */
enum { RMENS_IF_ALWAYS, RMENS_IF_QKV_BIAS, RMENS_IF_O_BIAS, RMENS_IF_QK_NORM };
/* Initialisation: zeros, ones, N(0, 0.02), N(0, 0.02 / sqrt(2 n_layer)) (GPT-2's
 * residual projections). */
enum { RMENS_INIT_ZERO, RMENS_INIT_ONE, RMENS_INIT_NORMAL, RMENS_INIT_RESID };

typedef struct {
    int role;          /* RMENS_T_* */
    const char *name;  /* Hugging Face state-dict key; "%d" stands for the layer */
    int dims[2];       /* RMENS_D_*; dims[1] RMENS_D_NONE for a vector */
    int when;          /* RMENS_IF_* */
    int decay;         /* AdamW weight decay applies (matrices and embeddings) */
    int init;          /* RMENS_INIT_* */
} rmens_tensor_desc;

/* One config.json key. Types: 'i' integer, 'f' number, 'b' boolean (stored as 0/1),
 * 's' a string that must be one of `words` ("default|llama3"; the field, if any, gets
 * its index), 'z' a setting rmens refuses unless absent, null, false or 0 (`words` names
 * it), 'c' no key: the architecture fixes the field to `def` (Qwen2's q/k/v biases). A
 * null value counts as absent. */
#define RMENS_NO_FIELD ((size_t)-1)
typedef struct {
    const char *key;   /* "a.b": key b of object a */
    size_t field;      /* offsetof(rmens_model_config, ...), or RMENS_NO_FIELD */
    char type;
    int required;
    double def;        /* when absent (not required) */
    const char *words;
} rmens_config_key;

typedef struct {
    int id;                    /* RMENS_ARCH_* */
    int family;                /* RMENS_FAMILY_* */
    const char *model_type;    /* config.json model_type: "gpt2", "llama", ... */
    const char *prefix;        /* of its architectures names: "GPT2" (GPT2ForCausalLM, ...) */
    const char *base;          /* the backbone's key prefix ("transformer.", "model."), for names without it */
    const rmens_tensor_desc *tensors;
    int ntensors;
    const rmens_config_key *keys;
    int nkeys;
    const char *const *ignored;  /* checkpoint tensors an RM has no use for (lm_head, buffers) */
} rmens_arch;

extern const rmens_arch rmens_arch_gpt2, rmens_arch_llama, rmens_arch_qwen2, rmens_arch_qwen3, rmens_arch_neox;

/* Sizes of a config, defaults applied (the one place they are). */
typedef struct {
    int64_t V, T, C, L, NH, NKV, HD, Q, KV, QKV, FF, rot;  /* Q = NH HD, KV = NKV HD, QKV = Q + 2 KV, FF the MLP width */
    float eps, theta;
} rmens_dims;
void rmens_dims_of(const rmens_model_config *cfg, rmens_dims *d);

/* The descriptor of cfg->arch (NULL if out of range), or found by name: a model_type
 * ("llama") or an architectures entry ("LlamaForCausalLM", "Qwen2ForSequenceClassification"). */
const rmens_arch *rmens_arch_of(const rmens_model_config *cfg);
const rmens_arch *rmens_arch_find(const char *name);

/* A config.json as a reader sees it: get returns 1 and sets *v (integers and booleans as
 * numbers) or copies a string into buf, 0 when the key is absent, -1 when it has another
 * type. get_str may be NULL when no key needs it. */
typedef struct {
    void *ctx;
    int (*get_num)(void *ctx, const char *key, double *v);
    int (*get_str)(void *ctx, const char *key, char *buf, size_t size);
} rmens_config_source;

/* Builds the config of architecture `name` (model_type or architectures entry) from a
 * config.json: every key of its table, with defaults, then rmens_model_config_check.
 * Refuses by name what rmens does not run (another architecture, rope_scaling of another
 * type, a hidden_act other than the family's), naming the key. */
rmens_status rmens_arch_from_hf(rmens_model_config *cfg, const char *name, const rmens_config_source *src);

/* Whether table entry e exists for cfg; its shape (per layer: one layer's). */
int rmens_tensor_present(const rmens_model_config *cfg, const rmens_tensor_desc *e);

/* Tensors, per layer expanded, in table order: what files hold (one dataset each). */
int rmens_arch_ndatasets(const rmens_model_config *cfg);
/* Table entries present for cfg. */
int rmens_arch_ntensors(const rmens_model_config *cfg);

#endif
