#include "io/hfconfig.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "io/jsonfile.h"
#include "io/stage.h"

/* The families, with transformers' class defaults for the fields they may omit. */
static const struct {
    const char *model_type, *prefix, *backbone;
    rmens_hf_family family;
    double eps;
    const char *act;
    int tie, attention_bias, mlp_bias, parallel_residual;
    double partial_rotary;
} families[] = {
    {"gpt2", "GPT2", "transformer.", RMENS_HF_GPT2, 1e-5, "gelu_new", 1, 1, 1, 0, 0.0},
    {"llama", "Llama", "model.", RMENS_HF_LLAMA, 1e-6, "silu", 0, 0, 0, 0, 1.0},
    {"qwen2", "Qwen2", "model.", RMENS_HF_QWEN2, 1e-6, "silu", 0, 1, 0, 0, 1.0},
    {"qwen3", "Qwen3", "model.", RMENS_HF_QWEN3, 1e-6, "silu", 0, 0, 0, 0, 1.0},
    {"gpt_neox", "GPTNeoX", "gpt_neox.", RMENS_HF_GPTNEOX, 1e-5, "gelu", 0, 1, 1, 1, 0.25},
};
#define NFAMILIES (sizeof families / sizeof *families)

static const char *const heads[] = {"Model", "ForCausalLM", "LMHeadModel", "ForSequenceClassification"};

static const struct {
    const char *name;
    rmens_hf_act act;
} acts[] = {
    {"gelu_new", RMENS_HF_ACT_GELU_TANH},
    {"gelu_pytorch_tanh", RMENS_HF_ACT_GELU_TANH},
    {"gelu", RMENS_HF_ACT_GELU},
    {"silu", RMENS_HF_ACT_SILU},
    {"swish", RMENS_HF_ACT_SILU},
};

const char *rmens_hf_family_name(rmens_hf_family f)
{
    for (size_t i = 0; i < NFAMILIES; i++)
        if (families[i].family == f)
            return families[i].model_type;
    return "?";
}

const char *rmens_hf_backbone_prefix(rmens_hf_family f)
{
    for (size_t i = 0; i < NFAMILIES; i++)
        if (families[i].family == f)
            return families[i].backbone;
    return "";
}

/* Field access naming the file and the field in every message. */
typedef struct {
    const char *file;
    json_object *root;
} ctx;

#define FAIL(c, ...) rmens_fail_context(rmens_fail(RMENS_ERR_INPUT, __VA_ARGS__), "%s: ", (c)->file)

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, key, &v) && !json_object_is_type(v, json_type_null) ? v : NULL;
}

static const char *type_name(json_object *v) { return json_type_to_name(json_object_get_type(v)); }

/* *v: the field's value, NULL when absent or null (an error when required). */
static rmens_status field(const ctx *c, json_object *o, const char *key, int required, json_object **v)
{
    *v = get(o, key);
    return !*v && required ? FAIL(c, "%s is missing", key) : RMENS_OK;
}

/* An integer field in [lo, hi]; absent or null: dflt, or an error when required. */
static rmens_status get_int(const ctx *c, json_object *o, const char *key, int required, int64_t dflt, int64_t lo,
                            int64_t hi, int64_t *out)
{
    json_object *v;
    RMENS_TRY(field(c, o, key, required, &v));
    if (v && !json_object_is_type(v, json_type_int))
        return FAIL(c, "%s is not an integer (it is %s)", key, type_name(v));
    int64_t x = v ? json_object_get_int64(v) : dflt;
    if (v && (x < lo || x > hi))
        return FAIL(c, "%s = %lld is out of range [%lld, %lld]", key, (long long)x, (long long)lo, (long long)hi);
    *out = x;
    return RMENS_OK;
}

/* A number field (integer or not) in (lo, hi]. */
static rmens_status get_num(const ctx *c, json_object *o, const char *key, int required, double dflt, double lo,
                            double hi, double *out)
{
    json_object *v;
    RMENS_TRY(field(c, o, key, required, &v));
    if (v && !json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
        return FAIL(c, "%s is not a number (it is %s)", key, type_name(v));
    double x = v ? json_object_get_double(v) : dflt;
    if (v && !(x > lo && x <= hi))
        return FAIL(c, "%s = %g is out of range (%g, %g]", key, x, lo, hi);
    *out = x;
    return RMENS_OK;
}

static rmens_status get_bool(const ctx *c, const char *key, int dflt, int *out)
{
    json_object *v = get(c->root, key);
    if (!v) {
        *out = dflt;
        return RMENS_OK;
    }
    if (!json_object_is_type(v, json_type_boolean))
        return FAIL(c, "%s is not true or false (it is %s)", key, type_name(v));
    *out = json_object_get_boolean(v);
    return RMENS_OK;
}

static rmens_status get_str(const ctx *c, json_object *o, const char *key, const char *dflt, char *out, size_t cap)
{
    json_object *v;
    RMENS_TRY(field(c, o, key, !dflt, &v));
    if (v && !json_object_is_type(v, json_type_string))
        return FAIL(c, "%s is not a string (it is %s)", key, type_name(v));
    const char *s = v ? json_object_get_string(v) : dflt;
    if (strlen(s) >= cap)
        return FAIL(c, "%s \"%.40s...\" is too long", key, s);
    snprintf(out, cap, "%s", s);
    return RMENS_OK;
}

/* The first of keys present (NULL if none), for fields with several names. */
static const char *which(const ctx *c, const char *const *keys, int n)
{
    for (int i = 0; i < n; i++)
        if (get(c->root, keys[i]))
            return keys[i];
    return keys[0];
}

#define BIG ((int64_t)1 << 31)

static rmens_status read_family(const ctx *c, rmens_hf_config *h, size_t *fam)
{
    RMENS_TRY(get_str(c, c->root, "model_type", NULL, h->model_type, sizeof h->model_type));
    for (*fam = 0; *fam < NFAMILIES && strcmp(families[*fam].model_type, h->model_type) != 0; ++*fam)
        ;
    if (*fam == NFAMILIES)
        return FAIL(c, "model_type \"%s\" is not supported (gpt2, llama, qwen2, qwen3 and gpt_neox are%s)", h->model_type,
                    strstr(h->model_type, "moe") ? "; mixtures of experts are not" : "");
    h->family = families[*fam].family;
    json_object *arch = get(c->root, "architectures");
    if (arch) {
        if (!json_object_is_type(arch, json_type_array) || json_object_array_length(arch) == 0 ||
            !json_object_is_type(json_object_array_get_idx(arch, 0), json_type_string))
            return FAIL(c, "architectures is not a list of strings");
        const char *a = json_object_get_string(json_object_array_get_idx(arch, 0));
        const char *p = families[*fam].prefix;
        int ok = 0;
        for (size_t i = 0; i < sizeof heads / sizeof *heads && !ok; i++)
            ok = strncmp(a, p, strlen(p)) == 0 && strcmp(a + strlen(p), heads[i]) == 0;
        if (!ok || strlen(a) >= sizeof h->architecture)
            return FAIL(c, "architectures[0] \"%.60s\" is not supported for model_type %s (%sModel, %sForCausalLM, "
                        "%sForSequenceClassification are)", a, h->model_type, p, p, p);
        snprintf(h->architecture, sizeof h->architecture, "%s", a);
        h->sequence_classification = strstr(a, "ForSequenceClassification") != NULL;
    }
    /* what the kernels do not have, refused by the field that asks for it */
    static const char *const experts[] = {"num_experts", "num_local_experts", "n_routed_experts"};
    for (size_t i = 0; i < sizeof experts / sizeof *experts; i++) {
        int64_t n;
        RMENS_TRY(get_int(c, c->root, experts[i], 0, 0, 0, BIG, &n));
        if (n > 0)
            return FAIL(c, "%s = %lld: mixtures of experts are not supported", experts[i], (long long)n);
    }
    int sliding;
    RMENS_TRY(get_bool(c, "use_sliding_window", 0, &sliding));
    if (sliding)
        return FAIL(c, "use_sliding_window is true: sliding-window attention is not supported");
    json_object *lt = get(c->root, "layer_types");
    if (lt && !json_object_is_type(lt, json_type_array))
        return FAIL(c, "layer_types is not a list");
    for (size_t i = 0; lt && i < json_object_array_length(lt); i++) {
        json_object *v = json_object_array_get_idx(lt, i);
        if (!json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), "full_attention") != 0)
            return FAIL(c, "layer_types[%zu] is not \"full_attention\": only full attention is supported", i);
    }
    return RMENS_OK;
}

static rmens_status read_sizes(const ctx *c, rmens_hf_config *h, size_t fam)
{
    int gpt2 = h->family == RMENS_HF_GPT2, qwen = h->family == RMENS_HF_QWEN2 || h->family == RMENS_HF_QWEN3;
    json_object *r = c->root;
    RMENS_TRY(get_int(c, r, "vocab_size", 1, 0, 1, BIG, &h->vocab_size));
    RMENS_TRY(get_int(c, r, gpt2 ? "n_embd" : "hidden_size", 1, 0, 1, BIG, &h->hidden_size));
    RMENS_TRY(get_int(c, r, gpt2 ? "n_layer" : "num_hidden_layers", 1, 0, 1, 100000, &h->num_hidden_layers));
    RMENS_TRY(get_int(c, r, gpt2 ? "n_head" : "num_attention_heads", 1, 0, 1, 100000, &h->num_attention_heads));
    RMENS_TRY(get_int(c, r, gpt2 ? "n_positions" : "max_position_embeddings", 1, 0, 1, BIG,
                      &h->max_position_embeddings));
    if (gpt2)
        RMENS_TRY(get_int(c, r, "n_inner", 0, 4 * h->hidden_size, 1, BIG, &h->intermediate_size));
    else
        RMENS_TRY(get_int(c, r, "intermediate_size", 1, 0, 1, BIG, &h->intermediate_size));
    /* Qwen2Config and Qwen3Config default num_key_value_heads to 32 and Qwen3Config head_dim
     * to 128, not to what the other sizes imply: a config without them is refused rather
     * than read either way. */
    int has_kv = h->family == RMENS_HF_LLAMA || qwen;
    RMENS_TRY(get_int(c, r, "num_key_value_heads", qwen, h->num_attention_heads, 1, h->num_attention_heads,
                      &h->num_key_value_heads));
    if (!has_kv)
        h->num_key_value_heads = h->num_attention_heads;
    if (h->num_attention_heads % h->num_key_value_heads)
        return FAIL(c, "num_attention_heads = %lld is not a multiple of num_key_value_heads = %lld",
                    (long long)h->num_attention_heads, (long long)h->num_key_value_heads);
    int has_head_dim = h->family != RMENS_HF_GPT2 && h->family != RMENS_HF_GPTNEOX;
    if (!has_head_dim && h->hidden_size % h->num_attention_heads)
        return FAIL(c, "%s = %lld is not a multiple of %s = %lld", gpt2 ? "n_embd" : "hidden_size",
                    (long long)h->hidden_size, gpt2 ? "n_head" : "num_attention_heads",
                    (long long)h->num_attention_heads);
    h->head_dim = h->hidden_size / h->num_attention_heads;
    if (has_head_dim)
        RMENS_TRY(get_int(c, r, "head_dim", h->family == RMENS_HF_QWEN3, h->head_dim, 1, 65536, &h->head_dim));
    if (h->head_dim < 1)
        return FAIL(c, "hidden_size = %lld is smaller than num_attention_heads = %lld and head_dim is not given",
                    (long long)h->hidden_size, (long long)h->num_attention_heads);
    static const char *const eps[] = {"rms_norm_eps", "layer_norm_epsilon", "layer_norm_eps"};
    return get_num(c, r, which(c, eps, 3), 0, families[fam].eps, 0, 1, &h->norm_eps);
}

static rmens_status read_rope(const ctx *c, rmens_hf_config *h, size_t fam)
{
    if (h->family == RMENS_HF_GPT2)
        return RMENS_OK;
    /* transformers 5 keeps rope_theta and the scaling in rope_parameters */
    json_object *params = get(c->root, "rope_parameters"), *sc = get(c->root, "rope_scaling");
    if (params && !json_object_is_type(params, json_type_object))
        return FAIL(c, "rope_parameters is not an object");
    static const char *const theta[] = {"rope_theta", "rotary_emb_base"};
    if (params && get(params, "rope_theta"))
        RMENS_TRY(get_num(c, params, "rope_theta", 0, 0, 0, 1e30, &h->rope_theta));
    else
        RMENS_TRY(get_num(c, c->root, which(c, theta, 2), 0, 10000.0, 0, 1e30, &h->rope_theta));
    static const char *const partial[] = {"partial_rotary_factor", "rotary_pct"};
    RMENS_TRY(get_num(c, c->root, which(c, partial, 2), 0, families[fam].partial_rotary, 0, 1,
                      &h->partial_rotary_factor));
    h->rotary_dim = (int64_t)((double)h->head_dim * h->partial_rotary_factor);  /* int(), as transformers */
    if (h->rotary_dim < 2 || h->rotary_dim % 2)
        return FAIL(c, "the rotary dimension head_dim x %s = %lld is not a positive even number",
                    which(c, partial, 2), (long long)h->rotary_dim);
    const char *field = sc ? "rope_scaling" : "rope_parameters";
    if (!sc)
        sc = params;
    if (!sc)
        return RMENS_OK;
    if (!json_object_is_type(sc, json_type_object))
        return FAIL(c, "%s is not an object", field);
    json_object *t = get(sc, "rope_type") ? get(sc, "rope_type") : get(sc, "type");
    const char *type = t && json_object_is_type(t, json_type_string) ? json_object_get_string(t) : NULL;
    if (!type)
        return FAIL(c, "%s.rope_type is %s", field, t ? "not a string" : "missing");
    if (strcmp(type, "default") == 0)
        return RMENS_OK;
    if (strcmp(type, "llama3") != 0)
        return FAIL(c, "%s.rope_type \"%.40s\" is not supported (llama3 and default are)", field, type);
    h->rope_llama3 = 1;
    char key[80];
    static const char *const keys[] = {"factor", "low_freq_factor", "high_freq_factor"};
    double *vals[] = {&h->rope_factor, &h->rope_low_freq_factor, &h->rope_high_freq_factor};
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof key, "%s.%s", field, keys[i]);
        json_object *v = get(sc, keys[i]);
        if (!v || (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)))
            return FAIL(c, "%s is %s", key, v ? "not a number" : "missing");
        *vals[i] = json_object_get_double(v);
        if (!(*vals[i] > 0 && *vals[i] < 1e30))
            return FAIL(c, "%s = %g is not positive", key, *vals[i]);
    }
    if (!(h->rope_low_freq_factor < h->rope_high_freq_factor))
        return FAIL(c, "%s.low_freq_factor is not below high_freq_factor", field);
    json_object *o = get(sc, "original_max_position_embeddings");
    if (!o || !json_object_is_type(o, json_type_int) || json_object_get_int64(o) < 1 || json_object_get_int64(o) > BIG)
        return FAIL(c, "%s.original_max_position_embeddings is %s", field, o ? "not a positive integer" : "missing");
    h->rope_original_max_position_embeddings = json_object_get_int64(o);
    return RMENS_OK;
}

static rmens_status read_structure(const ctx *c, rmens_hf_config *h, size_t fam)
{
    int gpt2 = h->family == RMENS_HF_GPT2;
    const char *act_key = gpt2 ? "activation_function" : "hidden_act";
    RMENS_TRY(get_str(c, c->root, act_key, families[fam].act, h->hidden_act_name, sizeof h->hidden_act_name));
    size_t i = 0;
    for (; i < sizeof acts / sizeof *acts && strcmp(acts[i].name, h->hidden_act_name) != 0; i++)
        ;
    if (i == sizeof acts / sizeof *acts)
        return FAIL(c, "%s \"%s\" is not supported (gelu_new, gelu_pytorch_tanh, gelu, silu are)", act_key,
                    h->hidden_act_name);
    h->hidden_act = acts[i].act;
    RMENS_TRY(get_bool(c, "tie_word_embeddings", families[fam].tie, &h->tie_word_embeddings));
    h->attention_bias = families[fam].attention_bias;
    h->mlp_bias = families[fam].mlp_bias;
    if (h->family == RMENS_HF_LLAMA || h->family == RMENS_HF_QWEN3 || h->family == RMENS_HF_GPTNEOX)
        RMENS_TRY(get_bool(c, "attention_bias", h->attention_bias, &h->attention_bias));
    if (h->family == RMENS_HF_LLAMA)
        RMENS_TRY(get_bool(c, "mlp_bias", 0, &h->mlp_bias));
    h->qkv_bias = h->attention_bias;
    h->o_bias = h->family == RMENS_HF_QWEN2 ? 0 : h->attention_bias;
    h->qk_norm = h->family == RMENS_HF_QWEN3;
    h->use_parallel_residual = families[fam].parallel_residual;
    if (h->family == RMENS_HF_GPTNEOX)
        RMENS_TRY(get_bool(c, "use_parallel_residual", 1, &h->use_parallel_residual));
    if (gpt2) {  /* GPT-2's attention variants the kernels do not have */
        int scale, inverse, cross;
        RMENS_TRY(get_bool(c, "scale_attn_weights", 1, &scale));
        RMENS_TRY(get_bool(c, "scale_attn_by_inverse_layer_idx", 0, &inverse));
        RMENS_TRY(get_bool(c, "add_cross_attention", 0, &cross));
        if (!scale || inverse || cross)
            return FAIL(c, "%s is %s: not supported", !scale ? "scale_attn_weights" : inverse ? "scale_attn_by_inverse_layer_idx" : "add_cross_attention",
                        scale ? "true" : "false");
    }
    return RMENS_OK;
}

static rmens_status read_tokens(const ctx *c, rmens_hf_config *h)
{
    RMENS_TRY(get_int(c, c->root, "bos_token_id", 0, -1, 0, h->vocab_size - 1, &h->bos_token_id));
    RMENS_TRY(get_int(c, c->root, "pad_token_id", 0, -1, 0, h->vocab_size - 1, &h->pad_token_id));
    json_object *e = get(c->root, "eos_token_id");
    h->eos_token_id = -1;
    if (e && json_object_is_type(e, json_type_array)) {
        size_t n = json_object_array_length(e);
        if (n == 0 || n > RMENS_HF_MAX_EOS)
            return FAIL(c, "eos_token_id is a list of %zu ids (1 to %d are read)", n, RMENS_HF_MAX_EOS);
        for (size_t i = 0; i < n; i++) {
            json_object *v = json_object_array_get_idx(e, i);
            if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
                json_object_get_int64(v) >= h->vocab_size)
                return FAIL(c, "eos_token_id[%zu] is not a token id below vocab_size = %lld", i,
                            (long long)h->vocab_size);
            h->eos_token_ids[h->n_eos++] = json_object_get_int64(v);
        }
    } else if (e) {
        RMENS_TRY(get_int(c, c->root, "eos_token_id", 0, -1, 0, h->vocab_size - 1, &h->eos_token_ids[0]));
        h->n_eos = 1;
    }
    if (h->n_eos)
        h->eos_token_id = h->eos_token_ids[0];
    json_object *labels = get(c->root, "id2label");
    if (labels && !json_object_is_type(labels, json_type_object))
        return FAIL(c, "id2label is not an object");
    if (labels)
        h->num_labels = json_object_object_length(labels);
    else
        RMENS_TRY(get_int(c, c->root, "num_labels", 0, 2, 1, 100000, &h->num_labels));
    if (h->num_labels < 1)
        return FAIL(c, "id2label is empty");
    return RMENS_OK;
}

static rmens_status parse_root(const char *file, json_object *root, rmens_hf_config *h)
{
    memset(h, 0, sizeof *h);
    ctx c = {file, root};
    size_t fam = 0;
    RMENS_TRY(read_family(&c, h, &fam));
    RMENS_TRY(read_sizes(&c, h, fam));
    RMENS_TRY(read_rope(&c, h, fam));
    RMENS_TRY(read_structure(&c, h, fam));
    return read_tokens(&c, h);
}

rmens_status rmens_hfconfig_parse(const char *file, const char *text, size_t len, rmens_hf_config *h)
{
    json_object *root = NULL;
    RMENS_TRY(rmens_json_parse(file, "file", text, len, &root));
    rmens_status s = parse_root(file, root, h);
    json_object_put(root);
    return s;
}

rmens_status rmens_hfconfig_read(const char *path, rmens_hf_config *h)
{
    char file[4200];
    struct stat sb;
    int dir = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (snprintf(file, sizeof file, dir ? "%s/config.json" : "%s", path) >= (int)sizeof file)
        return rmens_fail(RMENS_ERR_ARG, "%s: path too long", path);
    json_object *root = NULL;
    RMENS_TRY(rmens_json_read(file, 16 << 20, &root));
    rmens_status s = parse_root(file, root, h);
    json_object_put(root);
    return s;
}

typedef struct {
    const char *text;
    size_t len;
} text_out;

static rmens_status fill_text(int fd, const char *tmp, void *arg)
{
    const text_out *t = arg;
    RMENS_TRY(rmens_stage_write_all(fd, tmp, t->text, t->len));
    return rmens_stage_write_all(fd, tmp, "\n", 1);
}

rmens_status rmens_hfconfig_write_rm(const char *path, const char *src_name, const char *src, size_t len,
                                     int64_t pad_token_id, const char *torch_dtype)
{
    rmens_hf_config h;
    RMENS_TRY(rmens_hfconfig_parse(src_name, src, len, &h));
    if (pad_token_id < 0 || pad_token_id >= h.vocab_size)
        return rmens_fail(RMENS_ERR_ARG, "%s: pad_token_id %lld is not a token id below vocab_size = %lld", path,
                          (long long)pad_token_id, (long long)h.vocab_size);
    json_object *root = NULL;
    RMENS_TRY(rmens_json_parse(src_name, "file", src, len, &root));
    char arch[96];
    size_t fam = 0;
    while (families[fam].family != h.family)
        fam++;
    snprintf(arch, sizeof arch, "%sForSequenceClassification", families[fam].prefix);
    json_object *archs = json_object_new_array(), *id2label = json_object_new_object(),
                *label2id = json_object_new_object();
    json_object_array_add(archs, json_object_new_string(arch));
    json_object_object_add(id2label, "0", json_object_new_string("LABEL_0"));
    json_object_object_add(label2id, "LABEL_0", json_object_new_int(0));
    json_object_object_add(root, "architectures", archs);
    json_object_object_add(root, "id2label", id2label);
    json_object_object_add(root, "label2id", label2id);
    json_object_object_del(root, "num_labels");
    json_object_object_add(root, "pad_token_id", json_object_new_int64(pad_token_id));
    if (torch_dtype)
        json_object_object_add(root, "torch_dtype", json_object_new_string(torch_dtype));
    size_t n = 0;
    const char *text = json_object_to_json_string_length(
        root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    text_out t = {text, n};
    rmens_status s = text ? rmens_stage_stream(path, (double)n + 1, fill_text, &t)
                          : rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    json_object_put(root);
    return s;
}
