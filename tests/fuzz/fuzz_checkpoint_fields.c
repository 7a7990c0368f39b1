/* Fuzz target, structure-aware: the input is decoded into an ensemble checkpoint (or,
 * one time in four, a model file) of a tiny GPT-2 — header attributes, members, their
 * weights, Adam moments, bootstrap counts and metrics — written with the HDF5 API as a
 * well-formed HDF5 file, then loaded by every loader (fuzz_exercise_checkpoint:
 * header, members, rmens_model_load, rmens_ensemble_open and scoring, rmens info).
 * Decisions from the input break the format on purpose: a config attribute that
 * disagrees with the tensors (or is huge, zero, negative), an attribute of the wrong
 * type, an array where a scalar belongs, a missing attribute, member, tensor or
 * optimizer group, a tensor of the wrong shape, rank or type, NaN or Inf weights, a
 * layer beyond n_layer, bootstrap counts of the wrong length, odd metric values, crc32
 * checksums right, wrong, missing where the member's `checksum` attribute requires them,
 * or of the wrong type.
 *
 * Oracles besides the sanitizers (and those of fuzz_exercise_checkpoint): a file built
 * with no rule broken opens and scores. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "model/model.h"
#include "io/checkpoint.h"
#include "io/h5.h"
#include "tests/fuzz/fuzz_util.h"

typedef struct {
    fz_in in;
    int valid;       /* 1 while no rule has been broken on purpose */
    uint32_t state;  /* weights come from a generator seeded by the input, not from it */
    int crc_style;   /* 1: written like rmens (crc32 on every dataset), 0: like h5py (none) */
    int crc_required; /* the member being written declares checksum = "crc32" */
} gen;

static void broken(gen *g) { g->valid = 0; }

static float weight(gen *g)
{
    g->state = g->state * 1664525u + 1013904223u;
    return ((float)(g->state >> 8) / (float)(1u << 24) - 0.5f) * 0.2f;
}

/* The crc32 attribute of the dataset at path (docs/FORMAT.md, "Checksums"): right,
 * absent, wrong, or of a type that cannot hold it. */
static void put_crc(gen *g, hid_t f, const char *path, const void *words, int64_t n)
{
    fz_in *in = &g->in;
    uint32_t crc = (uint32_t)crc32(0, (const Bytef *)words, (uInt)(n * 4));  /* little-endian host */
    int choice = fz_chance(in, 12) ? (int)fz_range(in, 0, 6) : g->crc_style ? 0 : 6;
    if ((choice == 6 && g->crc_required) || (choice >= 2 && choice <= 5))
        broken(g);
    if (choice == 6)
        return;
    hid_t obj = H5Oopen(f, path, H5P_DEFAULT);
    if (obj < 0)
        fuzz_fail("cannot open %s", path);
    switch (choice) {
    case 0: fuzz_attr_num(obj, "crc32", FZA_U32, crc, crc); break;
    case 1: fuzz_attr_num(obj, "crc32", FZA_I64, crc, crc); break;  /* any integer type holds it */
    case 2: fuzz_attr_num(obj, "crc32", FZA_U32, crc ^ 1u, crc ^ 1u); break;
    case 3: fuzz_attr_num(obj, "crc32", FZA_I64, -(double)crc, -(int64_t)crc - 1); break;
    case 4: fuzz_attr_num(obj, "crc32", FZA_I64, 0, (int64_t)crc + ((int64_t)1 << 32)); break;
    default: fuzz_attr_num(obj, "crc32", (fza_kind)(fz_bit(in) ? FZA_STRING : FZA_ARRAY2), crc, crc); break;
    }
    H5Oclose(obj);
}

/* One tensor at path with the shape the config gives it, perhaps changed. */
static void put_tensor(gen *g, hid_t f, const char *path, const rmens_tensor_shape *sh)
{
    fz_in *in = &g->in;
    if (fz_chance(in, 2)) {  /* missing */
        broken(g);
        return;
    }
    int rank = sh->rank;
    int64_t d[2] = {sh->dims[0], rank == 2 ? sh->dims[1] : 1};
    if (fz_chance(in, 4)) {
        int64_t before[2] = {d[0], d[1]}, b_rank = rank;
        switch (fz_range(in, 0, 4)) {
        case 0: d[fz_bit(in) && rank == 2]++; break;
        case 1: d[fz_bit(in) && rank == 2]--; break;
        case 2:
            if (rank == 2) {
                d[0] *= d[1];
                d[1] = 1;
                rank = 1;
            } else {
                rank = 2;
                d[1] = 1;
            }
            break;
        case 3: {
            int64_t t = d[0];
            d[0] = d[1];
            d[1] = t;
            break;
        }
        default: rank = 0; break;
        }
        if (d[0] < 0 || d[1] < 0) {
            d[0] = before[0];
            d[1] = before[1];
        }
        if (rank != b_rank || d[0] != before[0] || (rank == 2 && d[1] != before[1]))
            broken(g);
    }
    int64_t n = rank == 0 ? 1 : d[0] * (rank == 2 ? d[1] : 1);
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    if (!v)
        fuzz_fail("out of memory");
    for (int64_t i = 0; i < n; i++)
        v[i] = weight(g);
    for (int r = 0; r < 2 && n > 0 && fz_chance(in, 8); r++) {
        int64_t k = fz_range(in, 0, n - 1);
        v[k] = fz_float_other(in, v[k]);
        if (!isfinite(v[k]))
            broken(g);
    }
    hid_t ft = H5T_IEEE_F32LE;
    if (fz_chance(in, 6)) {
        static hid_t *const types[] = {&H5T_IEEE_F32BE_g, &H5T_IEEE_F64LE_g, &H5T_STD_I32LE_g, &H5T_STD_I8LE_g,
                                       &H5T_C_S1_g};
        int k = (int)fz_range(in, 0, 4);
        ft = *types[k];
        if (k > 0)
            broken(g);
    }
    fuzz_write_nd(f, path, ft, H5T_NATIVE_FLOAT, v, rank, d, fz_chance(in, 16));
    put_crc(g, f, path, v, n);
    free(v);
}

/* Every tensor of cfg under group (as rmens_modelfile_write_flat lays them out). */
static void put_tensors(gen *g, hid_t f, const char *group, const rmens_model_config *cfg, int head)
{
    for (int t = 0; t < RMENS_NTENSORS; t++) {
        rmens_tensor_shape sh;
        rmens_tensor_shape_of(cfg, t, &sh);
        for (int l = 0; sh.rank && l < (sh.per_layer ? cfg->n_layer : 1); l++) {
            char name[160], path[300];
            rmens_tensor_name(cfg, t, l, name, sizeof name);
            snprintf(path, sizeof path, "%s/%s", group, name);
            if (t == RMENS_T_SCOREW && !head)
                continue;
            put_tensor(g, f, path, &sh);
        }
    }
    if (fz_chance(&g->in, 3)) {  /* a layer beyond the config */
        rmens_tensor_shape sh;
        char name[160], path[300];
        rmens_tensor_shape_of(cfg, RMENS_T_LN1W, &sh);
        rmens_tensor_name(cfg, RMENS_T_LN1W, cfg->n_layer, name, sizeof name);
        snprintf(path, sizeof path, "%s/%s", group, name);
        put_tensor(g, f, path, &sh);
        broken(g);
    }
}

static void put_int(gen *g, hid_t obj, const char *name, int64_t value, int optional)
{
    int64_t v = fz_int(&g->in, value);
    fza_kind k = fz_attr_kind(&g->in, 0, 16);
    if (v != value || (k != FZA_I64 && k != FZA_I32 && k != FZA_I64BE && !(k == FZA_MISSING && optional)))
        broken(g);
    fuzz_attr_num(obj, name, k, (double)v, v);
}

static void put_double(gen *g, hid_t obj, const char *name, double value, int optional)
{
    double v = fz_double(&g->in, value);
    fza_kind k = fz_attr_kind(&g->in, 1, 16);
    if (k == FZA_STRING || k == FZA_NULLSPACE || k == FZA_ARRAY0 || k == FZA_ARRAY2 || k == FZA_ARRAY999 ||
        (k == FZA_MISSING && !optional))
        broken(g);
    fuzz_attr_num(obj, name, k, v, (int64_t)(isfinite(v) && fabs(v) < 9e18 ? v : 0));
}

static void put_str(gen *g, hid_t obj, const char *name, const char *value, int optional)
{
    char buf[5000];
    size_t len = strlen(value);
    memcpy(buf, value, len + 1);
    if (fz_chance(&g->in, 6)) {  /* another text, sometimes longer than any buffer */
        len = (size_t)fz_range(&g->in, 0, fz_bit(&g->in) ? 40 : (int64_t)sizeof buf - 1);
        for (size_t i = 0; i < len; i++)
            buf[i] = (char)('a' + fz_u8(&g->in) % 26);
        buf[len] = '\0';
    }
    fzs_kind k = fz_str_kind(&g->in, 8);
    if (k == FZS_INT || k == FZS_ARRAY2 || k == FZS_NULLSPACE || (k == FZS_MISSING && !optional))
        broken(g);
    fuzz_attr_str(obj, name, k, buf, len);
    if (strcmp(buf, value) != 0 && (strcmp(name, "rmens_format") == 0))
        broken(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gen g = {{data, size}, 1, 0, 0, 0};
    fz_in *in = &g.in;
    int model = fz_u8(in) >= 192;
    rmens_model_config cfg = {0};  /* GPT-2: the fields past the five stay zero */
    cfg.n_head = (int)fz_range(in, 1, 2);
    cfg.n_embd = cfg.n_head * (int)fz_range(in, 1, 3);
    cfg.n_layer = (int)fz_range(in, 1, 2);
    cfg.n_ctx = (int)fz_range(in, 1, 8);
    cfg.vocab_size = (int)fz_range(in, 1, 12);
    int K = model ? 1 : (int)fz_range(in, 1, 3);
    int64_t n_pairs = fz_range(in, 1, 6);
    g.state = fz_u32(in);
    g.crc_style = fz_bit(in);

    char path[600];
    fuzz_path(path, sizeof path, "in.h5");
    hid_t f = fuzz_h5_create(path);

    /* ---- root attributes */
    put_str(&g, f, "rmens_format", model ? "model" : "ensemble", 0);
    put_int(&g, f, "rmens_version", 1, 0);
    put_str(&g, f, "architecture", "GPT2ForSequenceClassification", 1);
    put_str(&g, f, "tokenizer", "bytes", 1);
    put_str(&g, f, "created_by", "rmens fuzz", 1);
    static const char *const cfg_names[5] = {"vocab_size", "n_ctx", "n_layer", "n_head", "n_embd"};
    const int cfg_values[5] = {cfg.vocab_size, cfg.n_ctx, cfg.n_layer, cfg.n_head, cfg.n_embd};
    for (int i = 0; i < 5; i++)
        put_int(&g, f, cfg_names[i], cfg_values[i], 0);
    if (!model) {
        int64_t total = fz_range(in, 1, 100);
        put_int(&g, f, "step", fz_bit(in) ? total : fz_range(in, 0, total), 0);
        put_int(&g, f, "total_steps", total, 0);
        put_int(&g, f, "n_pairs", n_pairs, 0);
        put_int(&g, f, "data_crc32", (int64_t)fz_u32(in), 1);
        put_int(&g, f, "seed", 1, 0);
        put_str(&g, f, "generator", "splitmix64-counter", 1);
        put_str(&g, f, "data", "train.h5", 0);
        put_str(&g, f, "command_line", "rmens train --data train.h5", 0);
        put_int(&g, f, "members", K, 0);
        put_int(&g, f, "batch", 4, 0);
        put_int(&g, f, "warmup", 1, 0);
        put_int(&g, f, "share", 1, 1);
        put_int(&g, f, "member_offset", 0, 1);
        put_int(&g, f, "ensemble_size", K, 1);
        static const char *const dnames[] = {"lr", "min_lr_frac", "beta1", "beta2", "eps", "weight_decay", "clip",
                                             "margin_scale", "center", "bootstrap"};
        static const double dvalues[] = {1e-3, 0.1, 0.9, 0.95, 1e-8, 0.01, 1.0, 0.0, 0.0, 1.0};
        for (size_t i = 0; i < sizeof dnames / sizeof *dnames; i++)
            put_double(&g, f, dnames[i], dvalues[i], 0);
    }

    /* ---- weights */
    if (model) {
        int head = !fz_chance(in, 16);
        if (!head)
            broken(&g);  /* a language model: loads with a fresh head, but does not score */
        put_tensors(&g, f, "/params", &cfg, head);
    } else {
        for (int k = 0; k < K; k++) {
            char grp[64], sub[96];
            snprintf(grp, sizeof grp, "/members/%03d", k);
            if (fz_chance(in, 3)) {
                broken(&g);
                continue;
            }
            /* Whether the member declares checksums: as its file's style says, or not. */
            g.crc_required = fz_chance(in, 8) ? !g.crc_style : g.crc_style;
            int head = !fz_chance(in, 4);
            if (!head)
                broken(&g);
            snprintf(sub, sizeof sub, "%s/params", grp);
            put_tensors(&g, f, sub, &cfg, head);
            if (fz_chance(in, 80)) {  /* Adam moments: scoring does not need them */
                snprintf(sub, sizeof sub, "%s/optimizer/m", grp);
                put_tensors(&g, f, sub, &cfg, 1);
                snprintf(sub, sizeof sub, "%s/optimizer/v", grp);
                put_tensors(&g, f, sub, &cfg, 1);
            }
            int32_t counts[8];
            for (int i = 0; i < 8; i++)
                counts[i] = (int32_t)fz_int(in, fz_range(in, 0, 3));
            fzd_layout l;
            fz_layout(in, H5T_NATIVE_INT32, 8, &l);
            int64_t nc = fz_chance(in, 8) ? fz_range(in, 0, 7) : n_pairs;
            snprintf(sub, sizeof sub, "%s/bootstrap_counts", grp);
            fuzz_write_dataset(f, sub, H5T_NATIVE_INT32, counts, nc, &l);
            if (!l.as_group)
                put_crc(&g, f, sub, counts, l.rank == 0 ? 1 : nc);
            hid_t gid = H5Gopen2(f, grp, H5P_DEFAULT);
            if (gid < 0)
                fuzz_fail("cannot open %s", grp);
            if (g.crc_required || fz_chance(in, 4)) {
                /* "crc32", or a kind this rmens does not know, or not a string */
                fzs_kind sk = fz_str_kind(in, 8);
                const char *kind = fz_chance(in, 4) ? "md5" : "crc32";
                if (!g.crc_required || strcmp(kind, "crc32") != 0 || sk == FZS_INT || sk == FZS_ARRAY2 ||
                    sk == FZS_NULLSPACE || sk == FZS_MISSING)
                    broken(&g);
                fuzz_attr_str(gid, "checksum", sk, kind, strlen(kind));
            }
            put_int(&g, gid, "member", k, 1);
            put_int(&g, gid, "step", 1, 1);
            put_int(&g, gid, "seed", 1, 1);
            for (int a = 0; a < RMENS_MA_N; a++)
                put_double(&g, gid, rmens_member_attr_names[a], a == RMENS_MA_REWARD_STD ? 1.0 : 0.25, 1);
            H5Gclose(gid);
        }
        if (fz_chance(in, 4)) {  /* a group beyond the count: refused (members must match /members) */
            fzd_layout l = {-1, 1, 0, 1};
            fuzz_write_dataset(f, "/members/999", H5T_NATIVE_INT32, NULL, 0, &l);
            broken(&g);
        }
    }
    fuzz_h5_close_file(f);
    fuzz_save_built(path);

    rmens_status st = fuzz_exercise_checkpoint(path);
    if (g.valid == 1 && st != RMENS_OK)
        fuzz_fail("a %s file that breaks no rule does not open: %s", model ? "model" : "checkpoint",
                  rmens_last_error());
    fuzz_clean_dir();
    return 0;
}
