#include "model/arch.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "model/model.h"

static const rmens_arch *const archs[] = {&rmens_arch_gpt2, &rmens_arch_llama, &rmens_arch_qwen2, &rmens_arch_qwen3,
                                          &rmens_arch_neox};

void rmens_dims_of(const rmens_model_config *c, rmens_dims *d)
{
    d->V = c->vocab_size;
    d->T = c->n_ctx;
    d->C = c->n_embd;
    d->L = c->n_layer;
    d->NH = c->n_head;
    d->NKV = c->n_kv_head > 0 ? c->n_kv_head : c->n_head;
    d->HD = c->head_dim > 0 ? c->head_dim : (c->n_head > 0 ? c->n_embd / c->n_head : 0);
    d->Q = d->NH * d->HD;
    d->KV = d->NKV * d->HD;
    d->QKV = d->Q + 2 * d->KV;
    d->FF = c->n_inner > 0 ? c->n_inner : 4 * d->C;
    /* Hugging Face: int(head_dim * partial_rotary_factor) channels rotate. */
    d->rot = c->partial_rotary > 0 ? (int64_t)((double)d->HD * c->partial_rotary) : d->HD;
    d->eps = c->norm_eps > 0 ? c->norm_eps : 1e-6f;
    d->theta = c->rope_theta > 0 ? c->rope_theta : 10000.0f;
}

const rmens_arch *rmens_arch_of(const rmens_model_config *cfg)
{
    for (size_t i = 0; i < sizeof archs / sizeof *archs; i++)
        if (archs[i]->id == cfg->arch)
            return archs[i];
    return NULL;
}

const rmens_arch *rmens_arch_find(const char *name)
{
    for (size_t i = 0; i < sizeof archs / sizeof *archs; i++) {
        const rmens_arch *a = archs[i];
        size_t n = strlen(a->prefix);
        /* "LlamaForCausalLM", "Qwen2ForSequenceClassification", "GPT2LMHeadModel", "GPT2Model";
         * not "Qwen2MoeForCausalLM". */
        const char *rest = name + n;
        if (strcmp(name, a->model_type) == 0 ||
            (strncmp(name, a->prefix, n) == 0 &&
             (strncmp(rest, "For", 3) == 0 || strcmp(rest, "LMHeadModel") == 0 || strcmp(rest, "Model") == 0)))
            return a;
    }
    return NULL;
}

int rmens_tensor_present(const rmens_model_config *cfg, const rmens_tensor_desc *e)
{
    switch (e->when) {
    case RMENS_IF_QKV_BIAS: return cfg->qkv_bias != 0;
    case RMENS_IF_O_BIAS: return cfg->o_bias != 0;
    case RMENS_IF_QK_NORM: return cfg->qk_norm != 0;
    default: return 1;
    }
}

int rmens_arch_ntensors(const rmens_model_config *cfg)
{
    const rmens_arch *a = rmens_arch_of(cfg);
    int n = 0;
    for (int i = 0; a && i < a->ntensors; i++)
        n += rmens_tensor_present(cfg, &a->tensors[i]);
    return n;
}

int rmens_arch_ndatasets(const rmens_model_config *cfg)
{
    const rmens_arch *a = rmens_arch_of(cfg);
    int n = 0;
    for (int i = 0; a && i < a->ntensors; i++)
        if (rmens_tensor_present(cfg, &a->tensors[i]))
            n += strchr(a->tensors[i].name, '%') ? cfg->n_layer : 1;
    return n;
}

/* ------------------------------------------------------- config.json */

/* Stores v into the field of key k; integers must be whole and within int. */
static rmens_status put(rmens_model_config *cfg, const rmens_config_key *k, double v)
{
    char *f = (char *)cfg + k->field;
    if (k->type == 'f') {
        if (!isfinite(v) || v < 0 || v > 3.4e38)
            return rmens_fail(RMENS_ERR_FORMAT, "config key %s: %g is out of range", k->key, v);
        *(float *)f = (float)v;
        return RMENS_OK;
    }
    if (!(v == floor(v)) || v < 0 || v > 2147483647.0)
        return rmens_fail(RMENS_ERR_FORMAT, "config key %s: %g is not a non-negative integer within int", k->key, v);
    *(int *)f = (int)v;
    return RMENS_OK;
}

/* 's' keys: a string that must be one of the |-separated words of def_str; the field (if
 * any) receives the word's index. */
static rmens_status put_word(rmens_model_config *cfg, const rmens_config_key *k, const char *val, const char *words)
{
    int idx = 0;
    for (const char *w = words; *w; idx++) {
        size_t n = strcspn(w, "|");
        if (strlen(val) == n && strncmp(val, w, n) == 0) {
            if (k->field != RMENS_NO_FIELD)
                *(int *)((char *)cfg + k->field) = idx;
            return RMENS_OK;
        }
        w += n + (w[n] == '|');
    }
    return rmens_fail(RMENS_ERR_FORMAT, "config key %s is \"%s\": rmens runs only %s", k->key, val, words);
}

rmens_status rmens_arch_from_hf(rmens_model_config *cfg, const char *name, const rmens_config_source *src)
{
    const rmens_arch *a = rmens_arch_find(name);
    if (!a)
        return rmens_fail(RMENS_ERR_FORMAT, "architecture \"%s\" is not one rmens runs (GPT2*, Llama*, Qwen2*, "
                          "Qwen3*, GPTNeoX*, or their model_type)", name);
    memset(cfg, 0, sizeof *cfg);
    cfg->arch = a->id;
    /* Defaults first, then what the file says: two keys may fill one field (an old name
     * and a new one), the one present winning. */
    for (int i = 0; i < a->nkeys; i++)
        if (a->keys[i].field != RMENS_NO_FIELD && a->keys[i].type != 's')
            RMENS_TRY(put(cfg, &a->keys[i], a->keys[i].def));
    for (int i = 0; i < a->nkeys; i++) {
        const rmens_config_key *k = &a->keys[i];
        int got;
        if (k->type == 'c')  /* fixed by the architecture: no key */
            continue;
        if (k->type == 's') {
            char buf[64];
            got = src->get_str ? src->get_str(src->ctx, k->key, buf, sizeof buf) : 0;
            if (got > 0)
                RMENS_TRY(put_word(cfg, k, buf, k->words));
        } else if (k->type == 'z') {  /* must be absent, false or 0 */
            double v = 0;
            got = src->get_num(src->ctx, k->key, &v);
            if (got > 0 && v != 0)
                return rmens_fail(RMENS_ERR_FORMAT, "config key %s is set: rmens does not run %s", k->key, k->words);
            got = got < 0 ? 0 : got;  /* null, or a string such as a sliding-window name: refused above if set */
        } else {
            double v;
            got = src->get_num(src->ctx, k->key, &v);
            if (got > 0)
                RMENS_TRY(put(cfg, k, v));
        }
        if (got < 0)
            return rmens_fail(RMENS_ERR_FORMAT, "config key %s has the wrong type (%s expected)", k->key,
                              k->type == 's' ? "a string" : k->type == 'b' ? "a boolean" : "a number");
        if (got == 0 && k->required)
            return rmens_fail(RMENS_ERR_FORMAT, "config key %s is missing (architecture %s)", k->key, a->model_type);
    }
    rmens_status st = rmens_model_config_check(cfg);
    return st == RMENS_OK ? st : rmens_fail_context(RMENS_ERR_FORMAT, "config (%s): ", a->model_type);
}
