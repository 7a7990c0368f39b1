#include "io/hfdir.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "io/jsonfile.h"
#include "text/tokenizer.h"

struct rmens_hfdir {
    char *dir;
    char *config_path, *text;  /* config.json, as stored */
    rmens_hf_config config;
    rmens_safetensors *weights;
    const char *prefix;  /* the backbone's prefix in canonical names */
    int bare;            /* the checkpoint stores the backbone without it */
};

/* config.json's text (what checkpoints keep and export writes back). */
static rmens_status read_text(rmens_hfdir *d, const char *dir)
{
    size_t n = strlen(dir) + 16;
    if (!(d->config_path = malloc(n)))
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    snprintf(d->config_path, n, "%s/config.json", dir);
    FILE *f = fopen(d->config_path, "rb");
    if (!f)
        return rmens_fail(RMENS_ERR_IO, "cannot open %s: %s", d->config_path, strerror(errno));
    struct stat sb;
    int bad = fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > (16 << 20);
    size_t len = bad ? 0 : (size_t)sb.st_size;
    if (!bad && (d->text = malloc(len + 1)) != NULL) {
        bad = fread(d->text, 1, len, f) != len;
        d->text[len] = '\0';
    }
    fclose(f);
    if (bad)
        return rmens_fail(RMENS_ERR_IO, "%s: not a readable file of at most 16 MiB", d->config_path);
    if (!d->text)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    if (strlen(d->text) != len)
        return rmens_fail(RMENS_ERR_INPUT, "%s: a NUL byte in the text", d->config_path);
    return RMENS_OK;
}

rmens_status rmens_hfdir_open(rmens_hfdir **out, const char *dir)
{
    *out = NULL;
    rmens_hfdir *d = calloc(1, sizeof *d);
    if (!d || !(d->dir = strdup(dir))) {
        free(d);
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    }
    rmens_status s = read_text(d, dir);
    if (s == RMENS_OK)
        s = rmens_hfconfig_parse(d->config_path, d->text, strlen(d->text), &d->config);
    if (s == RMENS_OK)
        s = rmens_safetensors_open(&d->weights, dir);
    if (s != RMENS_OK) {
        rmens_hfdir_close(d);
        return s;
    }
    /* saved from the bare backbone when no stored name carries the prefix */
    d->prefix = rmens_hf_backbone_prefix(d->config.family);
    d->bare = 1;
    for (int64_t i = 0; i < rmens_safetensors_count(d->weights) && d->bare; i++)
        d->bare = strncmp(rmens_safetensors_tensor(d->weights, i)->name, d->prefix, strlen(d->prefix)) != 0;
    *out = d;
    return RMENS_OK;
}

void rmens_hfdir_close(rmens_hfdir *d)
{
    if (!d)
        return;
    rmens_safetensors_close(d->weights);
    free(d->config_path);
    free(d->text);
    free(d->dir);
    free(d);
}

const rmens_hf_config *rmens_hfdir_config(const rmens_hfdir *d) { return &d->config; }
const rmens_safetensors *rmens_hfdir_weights(const rmens_hfdir *d) { return d->weights; }

static const char *stored_name(const rmens_hfdir *d, const char *name)
{
    size_t n = strlen(d->prefix);
    return d->bare && strncmp(name, d->prefix, n) == 0 ? name + n : name;
}

const rmens_st_tensor *rmens_hfdir_find(const rmens_hfdir *d, const char *name)
{
    return rmens_safetensors_find(d->weights, stored_name(d, name));
}

rmens_status rmens_hfdir_read(const rmens_hfdir *d, const char *name, int rank, const int64_t *shape, float *out)
{
    if (!rmens_hfdir_find(d, name) && d->bare && strcmp(name, stored_name(d, name)) != 0)
        return rmens_fail(RMENS_ERR_FORMAT, "%s: no tensor %s (as the checkpoint stores the bare backbone: %s)",
                          d->dir, name, stored_name(d, name));
    if (!rmens_hfdir_find(d, name))
        return rmens_fail(RMENS_ERR_FORMAT, "%s: no tensor %s", d->dir, name);
    return rmens_safetensors_read(d->weights, stored_name(d, name), rank, shape, out);
}

const char *rmens_hfdir_config_text(const rmens_hfdir *d) { return d->text; }
const char *rmens_hfdir_config_path(const rmens_hfdir *d) { return d->config_path; }

int rmens_hfdir_is_dir(const char *path)
{
    struct stat sb;
    return path && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* ------------------------------------------- config.json -> rmens_model_config */

/* config.json's value of a key "a" or "a.b" (NULL when absent or null). */
static json_object *lookup(json_object *root, const char *key)
{
    char head[64];
    const char *dot = strchr(key, '.');
    json_object *v = NULL;
    if (!dot)
        return json_object_object_get_ex(root, key, &v) && !json_object_is_type(v, json_type_null) ? v : NULL;
    snprintf(head, sizeof head, "%.*s", (int)(dot - key), key);
    json_object *o = lookup(root, head);
    return o && json_object_is_type(o, json_type_object) ? lookup(o, dot + 1) : NULL;
}

static int src_num(void *ctx, const char *key, double *v)
{
    json_object *o = lookup(ctx, key);
    if (!o)
        return 0;
    switch (json_object_get_type(o)) {
    case json_type_int: *v = (double)json_object_get_int64(o); return 1;
    case json_type_double: *v = json_object_get_double(o); return 1;
    case json_type_boolean: *v = json_object_get_boolean(o) ? 1 : 0; return 1;
    default: return -1;
    }
}

static int src_str(void *ctx, const char *key, char *buf, size_t size)
{
    json_object *o = lookup(ctx, key);
    if (!o)
        return 0;
    if (!json_object_is_type(o, json_type_string))
        return -1;
    snprintf(buf, size, "%s", json_object_get_string(o));
    return 1;
}

rmens_status rmens_hfdir_model_config(const rmens_hfdir *d, rmens_model_config *cfg)
{
    json_object *root = NULL;
    RMENS_TRY(rmens_json_parse(d->config_path, "file", d->text, strlen(d->text), &root));
    rmens_config_source src = {root, src_num, src_str};
    const char *name = d->config.architecture[0] ? d->config.architecture : d->config.model_type;
    rmens_status st = rmens_arch_from_hf(cfg, name, &src);
    json_object_put(root);
    return st == RMENS_OK ? st : rmens_fail_context(st, "%s: ", d->config_path);
}

/* ------------------------------------------------------------- loading */

rmens_status rmens_hfdir_tokenizer(const char *dir, char *id, size_t n, int64_t *vocab)
{
    static const char *const files[] = {"tokenizer.json", "vocab.json", "encoder.json"};
    id[0] = '\0';
    *vocab = 0;
    int any = 0;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        any |= access(p, F_OK) == 0;
    }
    if (!any)
        return RMENS_OK;
    rmens_tokenizer *tk = NULL;
    RMENS_TRY(rmens_tokenizer_load(&tk, dir));
    rmens_tokenizer_identity(tk, id, n);
    *vocab = rmens_tokenizer_vocab_size(tk);
    rmens_tokenizer_free(tk);
    return RMENS_OK;
}

/* The head: loaded from a one-label classifier, else fresh (*load 0). */
static rmens_status head_source(const rmens_hfdir *d, int *load)
{
    const rmens_hf_config *c = &d->config;
    *load = c->sequence_classification && c->num_labels == 1;
    if (*load && !rmens_hfdir_find(d, "score.weight"))
        return rmens_fail(RMENS_ERR_FORMAT, "%s: no tensor score.weight, which %s with num_labels 1 must hold", d->dir,
                          c->architecture);
    return RMENS_OK;
}

static rmens_status fill(rmens_hfdir *d, rmens_model *m, int load_head)
{
    const int nd = rmens_model_ndatasets(m);
    for (int i = 0; i < nd; i++) {
        char name[256];
        int rank;
        int64_t dims[2];
        float *dst;
        rmens_model_dataset(m, i, name, sizeof name, &rank, dims, &dst);
        if (strcmp(name, "score.weight") == 0 && !load_head)
            continue;
        RMENS_TRY(rmens_hfdir_read(d, name, rank, dims, dst));
        const int64_t count = dims[0] * (rank == 2 ? dims[1] : 1);
        for (int64_t j = 0; j < count; j++)
            if (!isfinite(dst[j]))
                return rmens_fail(RMENS_ERR_NUMERIC, "%s: tensor %s holds a non-finite value (%g at flat index %lld)",
                                  rmens_hfdir_find(d, name)->file, name, (double)dst[j], (long long)j);
    }
    /* Every stored tensor must be one the model read or one it has no use for: weights of
     * layers or options the config lacks mean the config and the weights disagree. */
    for (int64_t i = 0; i < rmens_safetensors_count(d->weights); i++) {
        const rmens_st_tensor *t = rmens_safetensors_tensor(d->weights, i);
        if (strcmp(t->name, "score.weight") == 0 && !load_head)
            continue;  /* a classifier of several labels: its head is not the reward's */
        if (rmens_model_find(m, t->name) == RMENS_TENSOR_UNKNOWN)
            return rmens_fail(RMENS_ERR_FORMAT, "%s: tensor %s is not part of a %s model of this config.json "
                              "(%d layers)", t->file, t->name, m->arch->model_type, m->cfg.n_layer);
    }
    return RMENS_OK;
}

rmens_status rmens_hfdir_load(rmens_model **out, const char *dir, uint64_t seed, int *fresh_head)
{
    *out = NULL;
    if (fresh_head)
        *fresh_head = 0;
    rmens_hfdir *d = NULL;
    rmens_model *m = NULL;
    rmens_model_config cfg;
    char tok[256];
    int64_t tvocab = 0;
    int load_head = 0;
    RMENS_TRY(rmens_hfdir_open(&d, dir));
    rmens_status st = rmens_hfdir_model_config(d, &cfg);
    if (st == RMENS_OK && (st = rmens_hfdir_tokenizer(dir, tok, sizeof tok, &tvocab)) == RMENS_OK &&
        tvocab > cfg.vocab_size)
        st = rmens_fail(RMENS_ERR_FORMAT, "%s: the tokenizer's vocabulary (%lld tokens) does not fit the embedding "
                        "of %s (vocab_size %d)", dir, (long long)tvocab, d->config_path, cfg.vocab_size);
    if (st == RMENS_OK)
        st = head_source(d, &load_head);
    if (st == RMENS_OK)
        st = rmens_model_alloc(&m, &cfg);
    if (st == RMENS_OK)
        st = fill(d, m, load_head);
    if (st == RMENS_OK && !(m->source_config = strdup(d->text)))
        st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    rmens_hfdir_close(d);
    if (st != RMENS_OK) {
        rmens_model_free(m);
        return st;
    }
    if (!load_head)
        rmens_model_init_head(m, seed, 0);
    if (fresh_head)
        *fresh_head = !load_head;
    *out = m;
    return RMENS_OK;
}
