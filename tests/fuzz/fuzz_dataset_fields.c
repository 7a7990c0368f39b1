/* Fuzz target, structure-aware: the input is decoded into the contents of a pairs or
 * responses file (docs/FORMAT.md) — root attributes, N, sequences, offsets, prompt_len,
 * margin, trap, gold, steps, source_record — which are written with the HDF5 API as a
 * well-formed HDF5 file, then read with rmens_dataset_read. Decisions taken from the
 * input also break rules on purpose: a value out of range, an offset moved, a dataset
 * too long or short, missing, stored with another type, rank or as a group; an
 * attribute missing, of another type, an array, or empty. HDF5 itself always sees a
 * valid file, so every input exercises rmens' validator rather than libhdf5's parser.
 *
 * Oracles besides the sanitizers (and those of fuzz_check_dataset_file):
 *   - a file built with no rule broken is accepted (the reader is not too strict);
 *   - whole and streamed (rmens_dataset_read_bounded) reads agree;
 *   - an accepted file keeps every promise of the format (fuzz_walk_dataset re-checks
 *     them independently of the validator);
 *   - an accepted file written back with rmens_dataset_write reads back identical
 *     (fuzz_round_trip);
 *   - no internal error, message-less failure or leaked HDF5 id. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/dataset.h"
#include "io/h5.h"
#include "tests/fuzz/fuzz_util.h"

#define MAX_N 12
#define MAX_LEN 10

/* Growable arrays of the file being built, per side and at the root. */
typedef struct {
    int32_t tok[MAX_N * (2 * MAX_LEN + 2) + 8];
    int64_t ntok;
    int64_t off[MAX_N + 3];
    float gold[MAX_N + 2];
    int64_t soff[MAX_N + 3];
    int32_t send[MAX_N * 4 + 4];
    int8_t slab[MAX_N * 4 + 4];
    int64_t nsteps;
} side_data;

typedef struct {
    fz_in in;
    int valid;  /* 1 while no rule has been broken on purpose */
} gen;

/* An integer attribute kind that HDF5 converts without loss for v: the rule holds. */
static int int_kind_holds(fza_kind k, int64_t v)
{
    switch (k) {
    case FZA_I64: case FZA_I64BE: return 1;
    case FZA_I32: return v >= INT32_MIN && v <= INT32_MAX;
    case FZA_I8: return v >= INT8_MIN && v <= INT8_MAX;
    case FZA_U8: return v >= 0 && v <= UINT8_MAX;
    case FZA_U16: return v >= 0 && v <= UINT16_MAX;
    case FZA_U32: return v >= 0 && v <= (int64_t)UINT32_MAX;
    case FZA_U64: return v >= 0;
    default: return 0;
    }
}

/* A stored type rmens_h5_read_1d accepts for memtype: same class, no wider, and an
 * unsigned type only when narrower; and every value fits it (HDF5 clamps those that
 * do not, which changes the data). */
static int layout_ok(const fzd_layout *l, hid_t memtype, const void *data, int64_t n)
{
    if (l->as_group || l->rank != 1)
        return 0;
    if (l->filetype < 0)
        return 1;
    H5T_class_t c = H5Tget_class(l->filetype), mc = H5Tget_class(memtype);
    size_t fs = H5Tget_size(l->filetype), ms = H5Tget_size(memtype);
    if (c != mc || fs > ms)
        return 0;
    if (c == H5T_INTEGER && fs == ms && H5Tget_sign(l->filetype) == H5T_SGN_NONE)
        return 0;
    if (c != H5T_INTEGER || fs == ms)
        return 1;
    int sgn = H5Tget_sign(l->filetype) != H5T_SGN_NONE;
    int64_t hi = sgn ? ((int64_t)1 << (8 * fs - 1)) - 1 : ((int64_t)1 << (8 * fs)) - 1, lo = sgn ? -hi - 1 : 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t v = ms == 8 ? ((const int64_t *)data)[i] : ms == 4 ? ((const int32_t *)data)[i] : ((const int8_t *)data)[i];
        if (v < lo || v > hi)
            return 0;
    }
    return 1;
}

/* Writes one dataset of n elements of memtype from data (which holds cap), perhaps one
 * element longer or shorter, perhaps with values replaced by mut, perhaps in a wrong
 * layout, perhaps not at all; clears g->valid when a rule is broken for sure. */
typedef void (*mutator)(gen *g, void *data, int64_t k);

static void mut_i64(gen *g, void *d, int64_t k) { ((int64_t *)d)[k] = fz_int_other(&g->in, ((int64_t *)d)[k]); }
static void mut_i32(gen *g, void *d, int64_t k)
{
    ((int32_t *)d)[k] = (int32_t)fz_int_other(&g->in, ((int32_t *)d)[k]);
}
static void mut_i8(gen *g, void *d, int64_t k) { ((int8_t *)d)[k] = (int8_t)fz_int_other(&g->in, ((int8_t *)d)[k]); }
static void mut_f32(gen *g, void *d, int64_t k) { ((float *)d)[k] = fz_float_other(&g->in, ((float *)d)[k]); }

static void put(gen *g, hid_t file, const char *path, hid_t memtype, void *data, int64_t n, int64_t cap,
                mutator mut)
{
    /* 1 in 64: not there; 1 in 32: one element more or fewer (the spare element is 0). */
    if (fz_chance(&g->in, 4)) {
        g->valid = 0;
        return;
    }
    if (fz_chance(&g->in, 8)) {
        int64_t m = fz_bit(&g->in) ? n + 1 : n - 1;
        if (m >= 0 && m <= cap) {
            n = m;
            g->valid = 0;
        }
    }
    /* Up to two values replaced (which may or may not break a rule: the walker decides). */
    for (int r = 0; r < 2 && n > 0 && fz_chance(&g->in, 12); r++) {
        int64_t k = fz_range(&g->in, 0, n - 1);
        unsigned char before[8], after[8];
        size_t es = H5Tget_size(memtype);
        memcpy(before, (char *)data + k * (int64_t)es, es);
        mut(g, data, k);
        memcpy(after, (char *)data + k * (int64_t)es, es);
        if (memcmp(before, after, es) != 0 && g->valid == 1)
            g->valid = -1;  /* unknown: a replaced value may still obey the rules */
    }
    fzd_layout l;
    fz_layout(&g->in, memtype, 10, &l);
    if (!layout_ok(&l, memtype, data, n))
        g->valid = 0;
    fuzz_write_dataset(file, path, memtype, data, n, &l);
}

/* Fixed-capacity string from the input: printable bytes, sometimes long. */
static size_t fz_text(fz_in *in, char *buf, size_t cap, const char *usual)
{
    if (!fz_chance(in, 24)) {
        snprintf(buf, cap, "%s", usual);
        return strlen(buf);
    }
    size_t n = (size_t)fz_range(in, 0, (int64_t)cap - 1);
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)(' ' + fz_u8(in) % 95);
    buf[n] = '\0';
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gen g = {{data, size}, 1};
    fz_in *in = &g.in;
    static side_data sd[2];
    static int32_t plen[MAX_N + 2];
    static float margin[MAX_N + 2];
    static int8_t trap[MAX_N + 2];
    static int64_t srec[MAX_N + 2];
    memset(sd, 0, sizeof sd);
    memset(plen, 0, sizeof plen);
    memset(margin, 0, sizeof margin);
    memset(trap, 0, sizeof trap);
    memset(srec, 0, sizeof srec);

    /* ---- what the file holds */
    int pairs = fz_u8(in) < 180;  /* responses one time in three */
    int ns = pairs ? 2 : 1;
    int64_t vocab = fz_chance(in, 40) ? fz_range(in, 1, 300) : RMENS_BYTES_VOCAB;
    int64_t eot = vocab - 1;
    int64_t n = fz_range(in, 1, 6);
    if (fz_chance(in, 8))
        n = fz_range(in, 0, MAX_N);
    unsigned has = 0;
    if (fz_bit(in)) has |= RMENS_HAS_GOLD;
    if (fz_bit(in)) has |= RMENS_HAS_STEPS;
    if (fz_bit(in)) has |= RMENS_HAS_SOURCE;
    if (pairs && fz_bit(in)) has |= RMENS_HAS_MARGIN;
    if (pairs && fz_bit(in)) has |= RMENS_HAS_TRAP;
    if (!pairs && fz_chance(in, 8)) {
        has |= fz_bit(in) ? RMENS_HAS_MARGIN : RMENS_HAS_TRAP;  /* not allowed in a responses file */
        g.valid = 0;
    }
    int with_prompt = pairs || fz_bit(in);  /* optional in a responses file */

    for (int64_t i = 0; i < n; i++) {
        int32_t prompt[MAX_LEN];
        int64_t P = fz_range(in, 0, MAX_LEN / 2);
        for (int64_t k = 0; k < P; k++)
            prompt[k] = (int32_t)(fz_u8(in) % (vocab > 1 ? vocab - 1 : 1));
        int64_t minlen = INT64_MAX;
        for (int s = 0; s < ns; s++) {
            side_data *q = &sd[s];
            int64_t R = fz_range(in, 0, MAX_LEN / 2);
            q->off[i] = q->ntok;
            memcpy(q->tok + q->ntok, prompt, (size_t)P * sizeof *prompt);
            q->ntok += P;
            for (int64_t k = 0; k < R; k++)
                q->tok[q->ntok++] = (int32_t)(fz_u8(in) % (vocab > 1 ? vocab - 1 : 1));
            q->tok[q->ntok++] = (int32_t)eot;
            int64_t len = P + R + 1;
            minlen = len < minlen ? len : minlen;
            q->gold[i] = (float)fz_range(in, 0, 16) / 16.0f;
            /* steps: increasing ends within (0, len], labels 0 or 1 */
            q->soff[i] = q->nsteps;
            int64_t e = 0;
            for (int64_t k = fz_range(in, 0, 3); k > 0 && e < len; k--) {
                e = fz_range(in, e + 1, len);
                q->send[q->nsteps] = (int32_t)e;
                q->slab[q->nsteps++] = (int8_t)fz_bit(in);
            }
            q->off[i + 1] = q->ntok;
            q->soff[i + 1] = q->nsteps;
        }
        /* The shared prompt must leave every side at least one token; identical sides
         * (both responses empty) would share all of them. */
        int64_t pl = P < minlen ? P : minlen - 1;
        if (pairs && ns == 2) {
            int64_t k = 0;
            const int32_t *c = sd[0].tok + sd[0].off[i], *r = sd[1].tok + sd[1].off[i];
            while (k < pl && c[k] == r[k])
                k++;
            pl = k;
        }
        plen[i] = (int32_t)(with_prompt ? pl : 0);
        margin[i] = (float)fz_range(in, -8, 8) / 4.0f;
        trap[i] = (int8_t)fz_range(in, 0, RMENS_TRAP_SYCOPHANCY);
        srec[i] = (int64_t)fz_range(in, 0, 1000);
    }

    /* ---- the file */
    char path[600];
    fuzz_path(path, sizeof path, "in.h5");
    hid_t f = fuzz_h5_create(path);

    const char *kind_name = pairs ? "pairs" : "responses";
    char buf[1200];
    size_t len = fz_text(in, buf, 16, kind_name);
    if (strcmp(buf, kind_name) != 0)
        g.valid = 0;
    fzs_kind sk = fz_str_kind(in, 10);
    if (sk == FZS_INT || sk == FZS_ARRAY2 || sk == FZS_NULLSPACE || sk == FZS_MISSING)
        g.valid = 0;
    fuzz_attr_str(f, "rmens_format", sk, buf, len);

    struct {
        const char *name;
        int64_t value;
    } ints[3] = {{"rmens_version", RMENS_FORMAT_VERSION}, {"vocab_size", vocab}, {"eot_token", eot}};
    for (int k = 0; k < 3; k++) {
        int64_t v = fz_int(in, ints[k].value);
        fza_kind ak = fz_attr_kind(in, 0, 10);
        int ok = v == ints[k].value || (k == 0 && v == RMENS_DATA_VERSION);  /* data files: 1 or 2 */
        if (!ok || !int_kind_holds(ak, v))
            g.valid = 0;
        fuzz_attr_num(f, ints[k].name, ak, (double)v, v);
    }
    len = fz_text(in, buf, 48, "bytes");
    sk = fz_str_kind(in, 10);
    if (sk == FZS_INT || sk == FZS_ARRAY2 || sk == FZS_NULLSPACE || sk == FZS_MISSING)
        g.valid = 0;
    fuzz_attr_str(f, "tokenizer", sk, buf, len);
    /* Optional attributes: absent, or present (a wrong type breaks the rule). */
    static const char *const opt_str[2] = {"task", "source"};
    for (int k = 0; k < 2; k++) {
        if (!fz_bit(in))
            continue;
        len = fz_text(in, buf, k ? sizeof buf : 48, k ? "data.jsonl" : "sort");
        sk = fz_str_kind(in, 10);
        if (sk == FZS_INT || sk == FZS_ARRAY2 || sk == FZS_NULLSPACE)
            g.valid = 0;
        fuzz_attr_str(f, opt_str[k], sk, buf, len);
    }
    if (fz_bit(in)) {
        int64_t v = fz_int(in, 7);
        fza_kind ak = fz_attr_kind(in, 0, 10);
        if (ak != FZA_MISSING && (!int_kind_holds(ak, v) || v < 0))
            g.valid = 0;  /* a seed is a non-negative integer (rmens writes it only then) */
        fuzz_attr_num(f, "seed", ak, (double)v, v);
    }

    for (int s = 0; s < ns; s++) {
        side_data *q = &sd[s];
        const char *grp = pairs ? (s ? "rejected" : "chosen") : "responses";
        char p[128];
        snprintf(p, sizeof p, "/%s/offsets", grp);
        put(&g, f, p, H5T_NATIVE_INT64, q->off, n + 1, MAX_N + 2, mut_i64);
        snprintf(p, sizeof p, "/%s/tokens", grp);
        put(&g, f, p, H5T_NATIVE_INT32, q->tok, q->ntok, (int64_t)(sizeof q->tok / sizeof *q->tok), mut_i32);
        if (has & RMENS_HAS_GOLD) {
            snprintf(p, sizeof p, "/%s/gold", grp);
            put(&g, f, p, H5T_NATIVE_FLOAT, q->gold, n, MAX_N + 1, mut_f32);
        }
        if (has & RMENS_HAS_STEPS) {
            snprintf(p, sizeof p, "/%s/step_offsets", grp);
            put(&g, f, p, H5T_NATIVE_INT64, q->soff, n + 1, MAX_N + 2, mut_i64);
            snprintf(p, sizeof p, "/%s/step_end", grp);
            put(&g, f, p, H5T_NATIVE_INT32, q->send, q->nsteps, MAX_N * 4 + 3, mut_i32);
            snprintf(p, sizeof p, "/%s/step_label", grp);
            put(&g, f, p, H5T_NATIVE_INT8, q->slab, q->nsteps, MAX_N * 4 + 3, mut_i8);
        }
    }
    if (with_prompt)
        put(&g, f, "/prompt_len", H5T_NATIVE_INT32, plen, n, MAX_N + 1, mut_i32);
    if (has & RMENS_HAS_MARGIN)
        put(&g, f, "/margin", H5T_NATIVE_FLOAT, margin, n, MAX_N + 1, mut_f32);
    if (has & RMENS_HAS_TRAP)
        put(&g, f, "/trap", H5T_NATIVE_INT8, trap, n, MAX_N + 1, mut_i8);
    if (has & RMENS_HAS_SOURCE)
        put(&g, f, "/source_record", H5T_NATIVE_INT64, srec, n, MAX_N + 1, mut_i64);
    if (n == 0)
        g.valid = 0;  /* the format needs at least one record */
    /* Something the format does not know: readers ignore it. */
    if (fz_chance(&g.in, 16)) {
        int32_t x = 1;
        fzd_layout l = {-1, 1, 0, 0};
        fuzz_write_dataset(f, "/extra/thing", H5T_NATIVE_INT32, &x, 1, &l);
    }
    fuzz_h5_close_file(f);
    fuzz_save_built(path);

    /* ---- read it */
    rmens_status st = fuzz_check_dataset_file(path, (int)(size & 1));
    if (st != RMENS_OK && g.valid == 1)
        fuzz_fail("a file that breaks no rule was rejected: %s", rmens_last_error());
    fuzz_clean_dir();
    return 0;
}
