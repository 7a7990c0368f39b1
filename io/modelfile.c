#include "io/modelfile.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "io/checksum.h"
#include "io/dataset.h"
#include "io/h5.h"
#include "io/hfdir.h"

static const char *const config_names[5] = {"vocab_size", "n_ctx", "n_layer", "n_head", "n_embd"};

static int *config_field(rmens_model_config *c, int i)
{
    int *f[5] = {&c->vocab_size, &c->n_ctx, &c->n_layer, &c->n_head, &c->n_embd};
    return f[i];
}

rmens_status rmens_modelfile_tokenizer(const char *path, char *tok, size_t n)
{
    hid_t f = -1;
    tok[0] = '\0';
    if (rmens_hfdir_is_dir(path)) {
        int64_t vocab;
        return rmens_hfdir_tokenizer(path, tok, n, &vocab);
    }
    RMENS_TRY(rmens_h5_open_ro(path, H5P_DEFAULT, &f));
    rmens_status st = rmens_h5_has_attr(f, "tokenizer") ? rmens_h5_attr_read_str(f, "tokenizer", tok, n) : RMENS_OK;
    H5Fclose(f);
    return st == RMENS_OK ? st : rmens_fail_context(st, "%s: ", path);
}

rmens_status rmens_modelfile_write_architecture(hid_t obj, const rmens_model_config *cfg)
{
    char name[64];
    snprintf(name, sizeof name, "%sForSequenceClassification", rmens_arch_of(cfg)->prefix);
    return rmens_h5_attr_write_str(obj, "architecture", name);
}

/* The idx-th of the |-separated words. */
static void word_at(const char *words, int idx, char *buf, size_t size)
{
    for (; idx > 0 && *words; idx--)
        words += strcspn(words, "|") + (words[strcspn(words, "|")] == '|');
    snprintf(buf, size, "%.*s", (int)strcspn(words, "|"), words);
}

rmens_status rmens_modelfile_write_config(hid_t obj, const rmens_model_config *cfg)
{
    rmens_model_config c = *cfg;
    for (int i = 0; i < 5; i++)
        RMENS_TRY(rmens_h5_attr_write_i64(obj, config_names[i], *config_field(&c, i)));
    /* Other architectures: model_type and every config field under its config.json name
     * (GPT-2 files keep exactly the five above). */
    const rmens_arch *a = rmens_arch_of(cfg);
    if (a->id == RMENS_ARCH_GPT2)
        return RMENS_OK;
    RMENS_TRY(rmens_h5_attr_write_str(obj, "model_type", a->model_type));
    for (int i = 0; i < a->nkeys; i++) {
        const rmens_config_key *k = &a->keys[i];
        int dup = 0;  /* one key may fill two fields (Llama's attention_bias) */
        for (int j = 0; j < i; j++)
            dup |= strcmp(a->keys[j].key, k->key) == 0;
        if (k->field == RMENS_NO_FIELD || k->type == 'c' || dup)
            continue;
        const char *f = (const char *)cfg + k->field;
        if (k->type == 'f') {
            RMENS_TRY(rmens_h5_attr_write_f64(obj, k->key, *(const float *)f));
        } else if (k->type == 's') {
            char w[64];
            word_at(k->words, *(const int *)f, w, sizeof w);
            RMENS_TRY(rmens_h5_attr_write_str(obj, k->key, w));
        } else {
            RMENS_TRY(rmens_h5_attr_write_i64(obj, k->key, *(const int *)f));
        }
    }
    return RMENS_OK;
}

/* Attributes as a config.json (rmens_config_source). */
static int attr_num(void *ctx, const char *key, double *v)
{
    hid_t obj = *(hid_t *)ctx;
    if (!rmens_h5_has_attr(obj, key))
        return 0;
    return rmens_h5_attr_read_f64(obj, key, v) == RMENS_OK ? 1 : -1;
}

static int attr_str(void *ctx, const char *key, char *buf, size_t size)
{
    hid_t obj = *(hid_t *)ctx;
    if (!rmens_h5_has_attr(obj, key))
        return 0;
    return rmens_h5_attr_read_str(obj, key, buf, size) == RMENS_OK ? 1 : -1;
}

rmens_status rmens_modelfile_read_config(hid_t obj, rmens_model_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    if (rmens_h5_has_attr(obj, "model_type")) {
        char type[64];
        RMENS_TRY(rmens_h5_attr_read_str(obj, "model_type", type, sizeof type));
        rmens_config_source src = {&obj, attr_num, attr_str};
        RMENS_TRY(rmens_arch_from_hf(cfg, type, &src));
    }
    for (int i = 0; i < 5; i++) {
        int64_t v;
        RMENS_TRY(rmens_h5_attr_read_i64(obj, config_names[i], &v));
        if (v < 1 || v > INT32_MAX)
            return rmens_fail(RMENS_ERR_FORMAT, "attribute %s = %lld is out of range", config_names[i], (long long)v);
        if (cfg->arch != RMENS_ARCH_GPT2 && *config_field(cfg, i) != v)
            return rmens_fail(RMENS_ERR_FORMAT, "attribute %s = %lld disagrees with the config's %d", config_names[i],
                              (long long)v, *config_field(cfg, i));
        *config_field(cfg, i) = (int)v;
    }
    rmens_status st = rmens_model_config_check(cfg);
    return st == RMENS_OK ? st : rmens_fail_context(RMENS_ERR_FORMAT, "config attributes: ");
}

typedef enum { FLAT_SEAL, FLAT_CREATE, FLAT_FILL, FLAT_READ } flat_mode;

/* Walks the tensors of cfg in their flat order (as laid out in memory) under group/:
 * seals base (finite values, each tensor's CRC-32 into crcs; no HDF5 call), creates the
 * datasets (writing base unless NULL; each carries its crc32: computed from base, or
 * crcs[i] when base is NULL and crcs is set), fills existing datasets, or reads them back
 * (verifying each crc32: a missing one is an error when need_crc). */
static rmens_status flat(hid_t loc, const char *group, const rmens_model_config *cfg, float *base, flat_mode mode,
                         uint32_t *crcs, int need_crc)
{
    size_t off = 0;
    int i = 0;
    const rmens_arch *a = rmens_arch_of(cfg);
    for (int k = 0; k < a->ntensors; k++) {
        const int t = a->tensors[k].role;
        if (!rmens_tensor_present(cfg, &a->tensors[k]))
            continue;
        rmens_tensor_shape sh;
        rmens_tensor_shape_of(cfg, t, &sh);
        int64_t per = sh.dims[0] * (sh.rank == 2 ? sh.dims[1] : 1);
        for (int l = 0; l < (sh.per_layer ? cfg->n_layer : 1); l++, i++, off += (size_t)per) {
            char name[160], path[256];
            rmens_tensor_name(cfg, t, l, name, sizeof name);
            snprintf(path, sizeof path, "%s/%s", group, name);
            if (mode == FLAT_SEAL) {
                const float *x = base + off;
                for (int64_t j = 0; j < per; j++)
                    if (!isfinite(x[j]))
                        return rmens_fail(RMENS_ERR_NUMERIC, "%s holds a non-finite value (%g at flat index %lld)", path,
                                          (double)x[j], (long long)j);
                crcs[i] = rmens_crc32_le32(0, x, (size_t)per);
            } else if (mode == FLAT_READ) {
                RMENS_TRY(rmens_h5_read_floats(loc, path, sh.rank, sh.dims, base + off));
                RMENS_TRY(rmens_checksum_verify(loc, path, base + off, (size_t)per, need_crc));
            } else if (mode == FLAT_FILL) {
                RMENS_TRY(rmens_h5_fill(loc, path, H5T_NATIVE_FLOAT, base + off));
            } else {
                RMENS_TRY(rmens_h5_write_nd(loc, path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, base ? base + off : NULL,
                                            sh.rank, sh.dims));
                if (base || crcs)
                    RMENS_TRY(rmens_checksum_write(loc, path, base ? rmens_crc32_le32(0, base + off, (size_t)per)
                                                                   : crcs[i]));
            }
        }
    }
    return RMENS_OK;
}

int rmens_modelfile_ntensors(const rmens_model_config *cfg) { return rmens_arch_ndatasets(cfg); }

rmens_status rmens_modelfile_seal_flat(const char *group, const rmens_model_config *cfg, const float *base,
                                       uint32_t *crcs)
{
    return flat(-1, group, cfg, (float *)(uintptr_t)base, FLAT_SEAL, crcs, 0);  /* read only in this mode */
}

rmens_status rmens_modelfile_write_flat(hid_t loc, const char *group, const rmens_model_config *cfg,
                                        const float *base, const uint32_t *crcs)
{
    return flat(loc, group, cfg, (float *)(uintptr_t)base, FLAT_CREATE, (uint32_t *)(uintptr_t)crcs, 0);  /* read only in this mode */
}

rmens_status rmens_modelfile_fill_flat(hid_t loc, const char *group, const rmens_model_config *cfg, const float *base)
{
    return flat(loc, group, cfg, (float *)(uintptr_t)base, FLAT_FILL, NULL, 0);  /* read only in this mode */
}

rmens_status rmens_modelfile_read_flat(hid_t loc, const char *group, const rmens_model_config *cfg, float *base,
                                       int need_crc)
{
    return flat(loc, group, cfg, base, FLAT_READ, NULL, need_crc);
}

rmens_status rmens_modelfile_write_tensors(hid_t loc, const char *group, const rmens_model *m, int grads)
{
    /* Parameters and gradients are laid out in the tensor order write_flat walks. */
    return rmens_modelfile_write_flat(loc, group, &m->cfg, grads ? m->grads : m->params, NULL);
}

rmens_status rmens_modelfile_read_tensors(hid_t loc, const char *group, rmens_model *m, int *has_head, int need_crc)
{
    char name[160], path[256];
    *has_head = 1;
    /* A file with more layers than its config says is inconsistent, not a bigger model. */
    const rmens_arch *a = m->arch;
    for (int k = 0; k < a->ntensors; k++)
        if (strchr(a->tensors[k].name, '%')) {
            rmens_tensor_name(&m->cfg, a->tensors[k].role, m->cfg.n_layer, name, sizeof name);
            break;
        }
    snprintf(path, sizeof path, "%s/%s", group, name);
    if (rmens_h5_exists(loc, path))
        return rmens_fail(RMENS_ERR_FORMAT, "tensor %s exists but n_layer is %d", path, m->cfg.n_layer);
    for (int k = 0; k < a->ntensors; k++) {
        const int t = a->tensors[k].role;
        if (!rmens_tensor_present(&m->cfg, &a->tensors[k]))
            continue;
        rmens_tensor_shape sh;
        rmens_tensor_shape_of(&m->cfg, t, &sh);
        int64_t per = sh.dims[0] * (sh.rank == 2 ? sh.dims[1] : 1);
        for (int l = 0; l < (sh.per_layer ? m->cfg.n_layer : 1); l++) {
            rmens_tensor_name(&m->cfg, t, l, name, sizeof name);
            snprintf(path, sizeof path, "%s/%s", group, name);
            if (t == RMENS_T_SCOREW && !rmens_h5_exists(loc, path)) {
                *has_head = 0;
                continue;
            }
            float *dst = m->t[t] + (size_t)l * per;
            RMENS_TRY(rmens_h5_read_floats(loc, path, sh.rank, sh.dims, dst));
            /* The checksum first: corruption that made a value NaN is corruption. */
            RMENS_TRY(rmens_checksum_verify(loc, path, dst, (size_t)per, need_crc));
            for (int64_t i = 0; i < per; i++)
                if (!isfinite(dst[i]))
                    return rmens_fail(RMENS_ERR_NUMERIC, "tensor %s holds a non-finite value (%g) at flat index %lld",
                                      path, (double)dst[i], (long long)i);
        }
    }
    return RMENS_OK;
}

static rmens_status model_save(const rmens_model *m, const char *path)
{
    char tmp[4200];
    hid_t file = -1;
    RMENS_TRY(rmens_h5_create_tmp(path, 1, 4.0 * (double)m->nparams + RMENS_H5_OVERHEAD(16 * m->cfg.n_layer + 8), &file,
                                  tmp, sizeof tmp));
    rmens_status st = rmens_h5_attr_write_str(file, "rmens_format", "model");
    if (st == RMENS_OK)
        st = rmens_h5_attr_write_i64(file, "rmens_version", RMENS_FORMAT_VERSION);
    if (st == RMENS_OK)
        st = rmens_modelfile_write_architecture(file, &m->cfg);
    if (st == RMENS_OK)
        st = rmens_h5_attr_write_str(file, "tokenizer", "bytes");
    if (st == RMENS_OK)
        st = rmens_modelfile_write_config(file, &m->cfg);
    if (st == RMENS_OK)
        st = rmens_modelfile_write_tensors(file, "/params", m, 0);
    if (st != RMENS_OK) {
        rmens_h5_abandon(file, tmp);
        return rmens_fail_context(st, "%s: ", path);
    }
    return rmens_h5_commit(file, tmp, path);
}

rmens_status rmens_model_save(const rmens_model *m, const char *path) { RMENS_H5_LOCKED(model_save(m, path)); }

static rmens_status model_load(rmens_model **out, const char *path, uint64_t seed, int *fresh_head)
{
    rmens_h5_init();
    *out = NULL;
    if (fresh_head)
        *fresh_head = 0;
    hid_t file;
    RMENS_TRY(rmens_h5_open_ro(path, H5P_DEFAULT, &file));
    rmens_status st = RMENS_OK;
    rmens_model *m = NULL;
    char kind[32];
    int64_t version;
    rmens_model_config cfg;
    int has_head = 1;
    if ((st = rmens_h5_attr_read_str(file, "rmens_format", kind, sizeof kind)) != RMENS_OK)
        goto exit;
    if (strcmp(kind, "model") != 0) {
        st = rmens_fail(RMENS_ERR_FORMAT, "rmens_format is \"%s\", expected \"model\"", kind);
        goto exit;
    }
    if ((st = rmens_h5_attr_read_i64(file, "rmens_version", &version)) != RMENS_OK)
        goto exit;
    if (version < 1 || version > RMENS_FORMAT_VERSION) {
        st = rmens_fail(RMENS_ERR_FORMAT, "rmens_version is %lld; this rmens reads versions 1 to %d",
                        (long long)version, RMENS_FORMAT_VERSION);
        goto exit;
    }
    if ((st = rmens_modelfile_read_config(file, &cfg)) != RMENS_OK || (st = rmens_model_config_check(&cfg)) != RMENS_OK)
        goto exit;
    /* The weights must be in the file before memory is taken for them (a damaged config
     * in a small file: found by tests/fuzz); the head may be absent (a language model). */
    hsize_t filesize = 0;
    double numel = 0;
    H5Fget_filesize(file, &filesize);
    for (int t = 0; t < RMENS_NTENSORS; t++)
        numel += t == RMENS_T_SCOREW ? 0.0 : (double)rmens_tensor_numel(&cfg, t);
    if (4.0 * numel > (double)filesize) {
        st = rmens_fail(RMENS_ERR_FORMAT, "the config declares %.3g parameters, more than the file's %llu bytes hold",
                        numel, (unsigned long long)filesize);
        goto exit;
    }
    if ((st = rmens_model_alloc(&m, &cfg)) != RMENS_OK ||
        (st = rmens_modelfile_read_tensors(file, "/params", m, &has_head, 0)) != RMENS_OK)
        goto exit;
    if (!has_head)
        rmens_model_init_head(m, seed, 0);
    if (fresh_head)
        *fresh_head = !has_head;
exit:
    H5Fclose(file);
    if (st != RMENS_OK) {
        rmens_model_free(m);
        return rmens_fail_context(st, "%s: ", path);
    }
    *out = m;
    return RMENS_OK;
}

rmens_status rmens_model_load(rmens_model **out, const char *path, uint64_t seed, int *fresh_head)
{
    if (rmens_hfdir_is_dir(path))
        return rmens_hfdir_load(out, path, seed, fresh_head);
    RMENS_H5_LOCKED(model_load(out, path, seed, fresh_head));
}
