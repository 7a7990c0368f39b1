#include "io/hfexport.h"

#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "io/checkpoint.h"
#include "io/hfconfig.h"
#include "io/hfdir.h"
#include "io/safetensors.h"
#include "io/stage.h"
#include "text/tokenizer.h"

/* What a tokenizer directory holds that transformers' AutoTokenizer reads. */
static const char *const tokenizer_files[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                              "added_tokens.json", "vocab.json", "merges.txt", "chat_template.jinja",
                                              "chat_template.json", NULL};

int64_t rmens_hfexport_pad(int64_t V, int64_t data_vocab, int64_t eot, int *unused)
{
    *unused = data_vocab > 0 && data_vocab < V;
    if (*unused)
        return data_vocab;
    return V - 1 != eot ? V - 1 : V - 2;
}

/* ------------------------------------------------------------ config.json */

/* Sets "a" or "a.b" in root. */
static void put(json_object *root, const char *key, json_object *v)
{
    const char *dot = strchr(key, '.');
    if (!dot) {
        json_object_object_add(root, key, v);
        return;
    }
    char head[64];
    snprintf(head, sizeof head, "%.*s", (int)(dot - key), key);
    json_object *o = NULL;
    if (!json_object_object_get_ex(root, head, &o)) {
        o = json_object_new_object();
        json_object_object_add(root, head, o);
    }
    put(o, dot + 1, v);
}

/* A config.json for a model the checkpoint has no config.json text of (trained from
 * scratch, or from an rmens model file): every key of the architecture's table from the
 * config, sizes with their defaults resolved (rmens_dims_of), so that transformers
 * builds the same network. */
static char *synth_config(const rmens_model_config *cfg, int64_t eot)
{
    const rmens_arch *a = rmens_arch_of(cfg);
    rmens_dims d;
    rmens_dims_of(cfg, &d);
    json_object *root = json_object_new_object(), *archs = json_object_new_array();
    char name[96];
    snprintf(name, sizeof name, "%sForCausalLM", a->prefix);
    json_object_array_add(archs, json_object_new_string(name));
    json_object_object_add(root, "architectures", archs);
    json_object_object_add(root, "model_type", json_object_new_string(a->model_type));
    for (int i = 0; i < a->nkeys; i++) {
        const rmens_config_key *k = &a->keys[i];
        int dup = 0;
        for (int j = 0; j < i; j++)
            dup |= strcmp(a->keys[j].key, k->key) == 0 || (k->field != RMENS_NO_FIELD && a->keys[j].field == k->field);
        if (k->field == RMENS_NO_FIELD || k->type == 'c' || k->type == 'z' || dup)
            continue;
        if (strncmp(k->key, "rope_scaling.", 13) == 0 && cfg->rope_type == 0)
            continue;  /* default rotary embeddings: no rope_scaling */
        const void *f = (const char *)cfg + k->field;
        json_object *v;
        if (k->field == offsetof(rmens_model_config, n_kv_head))
            v = json_object_new_int64(d.NKV);
        else if (k->field == offsetof(rmens_model_config, head_dim))
            v = json_object_new_int64(d.HD);
        else if (k->field == offsetof(rmens_model_config, n_inner))
            v = json_object_new_int64(d.FF);
        else if (k->type == 'f')
            v = json_object_new_double((double)*(const float *)f);
        else if (k->type == 'b')
            v = json_object_new_boolean(*(const int *)f != 0);
        else if (k->type == 's') {
            char w[64];
            const char *ws = k->words;
            for (int idx = *(const int *)f; idx > 0 && *ws; idx--)
                ws += strcspn(ws, "|") + (ws[strcspn(ws, "|")] == '|');
            snprintf(w, sizeof w, "%.*s", (int)strcspn(ws, "|"), ws);
            v = json_object_new_string(w);
        } else
            v = json_object_new_int64(*(const int *)f);
        put(root, k->key, v);
    }
    if (eot >= 0)
        json_object_object_add(root, "eos_token_id", json_object_new_int64(eot));
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
    char *out = text ? strdup(text) : NULL;
    json_object_put(root);
    return out;
}

/* ------------------------------------------------------------ files */

static rmens_status copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = in >= 0 ? open(to, O_WRONLY | O_CREAT | O_TRUNC, 0666) : -1;
    rmens_status st = RMENS_OK;
    if (in < 0 || out < 0)
        st = rmens_fail(RMENS_ERR_IO, "cannot copy %s to %s: %s", from, to, strerror(errno));
    char buf[1 << 16];
    ssize_t n = 0;
    while (st == RMENS_OK && (n = read(in, buf, sizeof buf)) > 0)
        st = rmens_stage_write_all(out, to, buf, (size_t)n);
    if (st == RMENS_OK && n < 0)
        st = rmens_fail(RMENS_ERR_IO, "cannot read %s: %s", from, strerror(errno));
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0 && st == RMENS_OK)
        st = rmens_fail(RMENS_ERR_IO, "cannot write %s: %s", to, strerror(errno));
    return st;
}

/* rm -r of what this module created (regular files and directories). */
static void remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char sub[4400];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* 1: path is absent or an empty directory; 0 otherwise. */
static int absent_or_empty(const char *path, int *exists)
{
    struct stat sb;
    *exists = lstat(path, &sb) == 0;
    if (!*exists)
        return 1;
    if (!S_ISDIR(sb.st_mode))
        return 0;
    DIR *d = opendir(path);
    struct dirent *e;
    int empty = d != NULL;
    while (d && empty && (e = readdir(d)) != NULL)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    if (d)
        closedir(d);
    return empty;
}

/* ------------------------------------------------------------ tokenizer */

/* Where the tokenizer files come from (tok[0] = 0: nowhere, and why). */
static rmens_status find_tokenizer(const rmens_hfexport_options *o, const rmens_ckpt_header *h, char *tok,
                                   size_t tn, char *why, size_t wn)
{
    char id[256];
    int64_t vocab;
    tok[0] = why[0] = '\0';
    if (o->tokenizer) {
        if (!rmens_hfdir_is_dir(o->tokenizer))
            return rmens_fail(RMENS_ERR_ARG, "tokenizer %s: not a directory", o->tokenizer);
        RMENS_TRY(rmens_hfdir_tokenizer(o->tokenizer, id, sizeof id, &vocab));
        if (!id[0])
            return rmens_fail(RMENS_ERR_ARG, "tokenizer %s: no tokenizer.json (or vocab.json + merges.txt) in it",
                              o->tokenizer);
        if (!rmens_tokenizer_same(id, h->tokenizer))
            return rmens_fail(RMENS_ERR_ARG, "tokenizer %s is %s, but %s was trained on %s tokens", o->tokenizer, id,
                              o->ckpt, h->tokenizer);
        snprintf(tok, tn, "%s", o->tokenizer);
        return RMENS_OK;
    }
    if (strcmp(h->tokenizer, "bytes") == 0) {
        snprintf(why, wn, "the ensemble reads rmens's byte tokenizer, which has no Hugging Face tokenizer files");
        return RMENS_OK;
    }
    if (!h->hf_dir[0]) {
        snprintf(why, wn, "%s records no tokenizer directory (it was not trained from a Hugging Face directory): "
                 "give the tokenizer of %s as `tokenizer`", o->ckpt, h->tokenizer);
        return RMENS_OK;
    }
    if (!rmens_hfdir_is_dir(h->hf_dir) || rmens_hfdir_tokenizer(h->hf_dir, id, sizeof id, &vocab) != RMENS_OK ||
        !rmens_tokenizer_same(id, h->tokenizer)) {
        snprintf(why, wn, "%s, the directory the ensemble was trained from, no longer holds its tokenizer %s: "
                 "give it as `tokenizer`", h->hf_dir, h->tokenizer);
        return RMENS_OK;
    }
    snprintf(tok, tn, "%s", h->hf_dir);
    return RMENS_OK;
}

/* ------------------------------------------------------------ one member */

static rmens_status write_member(const rmens_hfexport_options *o, const rmens_ckpt_header *h, int k, const char *dir,
                                 const char *config, int64_t pad, const char *tok)
{
    if (mkdir(dir, 0777) != 0)
        return rmens_fail(RMENS_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    rmens_model *m = NULL;
    RMENS_TRY(rmens_model_alloc(&m, &h->cfg));
    char path[4400];
    rmens_status st = rmens_checkpoint_read_member(o->ckpt, k, m, NULL, NULL, NULL, h->n_pairs, NULL);
    const int nd = rmens_model_ndatasets(m);
    rmens_st_out *t = calloc((size_t)nd, sizeof *t);
    char (*names)[256] = calloc((size_t)nd, sizeof *names);
    int64_t (*dims)[2] = calloc((size_t)nd, sizeof *dims);
    if (st == RMENS_OK && (!t || !names || !dims))
        st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    for (int i = 0; st == RMENS_OK && i < nd; i++) {
        float *data;
        rmens_model_dataset(m, i, names[i], sizeof names[i], &t[i].rank, dims[i], &data);
        t[i] = (rmens_st_out){names[i], t[i].rank, dims[i], data};
    }
    char member[32];
    snprintf(member, sizeof member, "%d", h->member_offset + k);
    const char *meta[] = {"rmens_member", member, "rmens_tokenizer", h->tokenizer};
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (st == RMENS_OK)
        st = rmens_safetensors_write(path, t, nd, RMENS_ST_F32, meta, 2);
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (st == RMENS_OK)
        st = rmens_hfconfig_write_rm(path, h->hf_config[0] ? "the checkpoint's config.json" : "the model's config",
                                     config, strlen(config), pad, "float32");
    for (int i = 0; st == RMENS_OK && tok[0] && tokenizer_files[i]; i++) {
        char from[4400];
        snprintf(from, sizeof from, "%s/%s", tok, tokenizer_files[i]);
        snprintf(path, sizeof path, "%s/%s", dir, tokenizer_files[i]);
        if (access(from, F_OK) == 0)
            st = copy_file(from, path);
    }
    free(t);
    free(names);
    free(dims);
    rmens_model_free(m);
    return st;
}

rmens_status rmens_hfexport(const rmens_hfexport_options *o, rmens_hfexport_result *r)
{
    memset(r, 0, sizeof *r);
    rmens_ckpt_header *h = malloc(sizeof *h);
    if (!h)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    rmens_status st = rmens_checkpoint_read_header(o->ckpt, h);
    if (st != RMENS_OK) {
        free(h);
        return rmens_fail_context(st, "%s: ", o->ckpt);
    }
    if (o->member < -1 || o->member >= h->members) {
        st = rmens_fail(RMENS_ERR_ARG, "%s has members 0 to %d: there is no member %d", o->ckpt, h->members - 1,
                        o->member);
        free(h);
        return st;
    }
    int exists = 0;
    if (!absent_or_empty(o->out, &exists) && !o->force) {
        free(h);
        return rmens_fail(RMENS_ERR_ARG, "%s exists and is not an empty directory (`force` replaces it)", o->out);
    }
    char tok[1024], tmp[4200], old[4200];
    if ((st = find_tokenizer(o, h, tok, sizeof tok, r->no_tokenizer, sizeof r->no_tokenizer)) != RMENS_OK) {
        free(h);
        return st;
    }
    snprintf(r->tokenizer_from, sizeof r->tokenizer_from, "%s", tok);
    char *config = h->hf_config[0] ? strdup(h->hf_config) : synth_config(&h->cfg, h->eot_token);
    r->config_kept = h->hf_config[0] != 0;
    r->pad_token_id = rmens_hfexport_pad(h->cfg.vocab_size, h->data_vocab, h->eot_token, &r->pad_unused);
    snprintf(r->arch, sizeof r->arch, "%sForSequenceClassification", rmens_arch_of(&h->cfg)->prefix);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", o->out, (long)getpid());
    snprintf(old, sizeof old, "%s.old.%ld", o->out, (long)getpid());
    remove_tree(tmp);
    if (!config)
        st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    else if (o->member >= 0)
        st = write_member(o, h, o->member, tmp, config, r->pad_token_id, tok);
    else if (mkdir(tmp, 0777) != 0)
        st = rmens_fail(RMENS_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    for (int k = 0; o->member < 0 && st == RMENS_OK && k < h->members; k++) {
        char sub[4400];
        snprintf(sub, sizeof sub, "%s/member-%d", tmp, h->member_offset + k);
        st = write_member(o, h, k, sub, config, r->pad_token_id, tok);
    }
    /* Into place: the old out (empty, or replaced with force) is moved aside first. */
    if (st == RMENS_OK && exists && rename(o->out, old) != 0)
        st = rmens_fail(RMENS_ERR_IO, "cannot move %s aside: %s", o->out, strerror(errno));
    if (st == RMENS_OK && rename(tmp, o->out) != 0) {
        st = rmens_fail(RMENS_ERR_IO, "cannot rename %s to %s: %s", tmp, o->out, strerror(errno));
        if (exists)
            rename(old, o->out);
    }
    if (st == RMENS_OK && exists)
        remove_tree(old);
    if (st != RMENS_OK)
        remove_tree(tmp);
    r->members = st == RMENS_OK ? (o->member >= 0 ? 1 : h->members) : 0;
    free(config);
    free(h);
    return st;
}
