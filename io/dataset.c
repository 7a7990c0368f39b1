#include "config.h"
#include "io/dataset.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/error.h"
#include "comm/verdict.h"
#include "io/h5.h"
#include "io/stage.h"

/* ------------------------------------------------------------ the fields */

/* Every dataset of the format, described once; reader, writer and sizes use this table. */
typedef enum { T_I8, T_I32, T_I64, T_F32 } ftype;
typedef enum { LEN_N, LEN_N1, LEN_TOK, LEN_STEPS } flen;

typedef struct {
    const char *name;  /* under the side's group, or under / when side < 0 */
    int side;          /* -1: root; 0/1: per side */
    unsigned flag;     /* 0: required; else the RMENS_HAS_* it depends on */
    ftype type;
    flen len;
    size_t off;        /* offsetof the pointer in rmens_seqs (side >= 0) or rmens_dataset */
    int kinds;         /* 0: every kind; k > 0: only rmens_data_kind k; -k: every kind but k */
} field;

#define SEQ(m) offsetof(rmens_seqs, m)
#define DS(m) offsetof(struct rmens_dataset, m)
static const field fields[] = {
    {"tokens", 0, 0, T_I32, LEN_TOK, SEQ(tokens), 0},
    {"offsets", 0, 0, T_I64, LEN_N1, SEQ(offsets), 0},
    {"gold", 0, RMENS_HAS_GOLD, T_F32, LEN_N, SEQ(gold), 0},
    {"step_offsets", 0, RMENS_HAS_STEPS, T_I64, LEN_N1, SEQ(step_offsets), 0},
    {"step_end", 0, RMENS_HAS_STEPS, T_I32, LEN_STEPS, SEQ(step_end), 0},
    {"step_label", 0, RMENS_HAS_STEPS, T_I8, LEN_STEPS, SEQ(step_label), -RMENS_DATA_STEPS},
    /* a steps file's labels are soft: float, under the same name */
    {"step_label", 0, RMENS_HAS_STEPS, T_F32, LEN_STEPS, SEQ(step_target), RMENS_DATA_STEPS},
    {"prompt_len", -1, RMENS_HAS_PROMPT, T_I32, LEN_N, DS(prompt_len), 0},
    {"margin", -1, RMENS_HAS_MARGIN, T_F32, LEN_N, DS(margin), 0},
    {"trap", -1, RMENS_HAS_TRAP, T_I8, LEN_N, DS(trap), 0},
    {"source_record", -1, RMENS_HAS_SOURCE, T_I64, LEN_N, DS(source_record), 0},
    {"prompt_id", -1, RMENS_HAS_GROUP, T_I64, LEN_N, DS(prompt_id), 0},
    {"weight", -1, RMENS_HAS_WEIGHT, T_F32, LEN_N, DS(weight), 0},
};
#define NFIELDS (sizeof fields / sizeof *fields)

const char *const rmens_trap_names[RMENS_NTRAPS] = {"none", "length", "format", "confidence", "sycophancy"};

static const char *side_group(const rmens_dataset *ds, int s)
{
    if (ds->kind == RMENS_DATA_RESPONSES)
        return "responses";
    if (ds->kind == RMENS_DATA_STEPS)
        return "steps";
    return s == 0 ? "chosen" : "rejected";
}

static size_t ftype_size(ftype t) { return t == T_I8 ? 1 : t == T_I64 ? 8 : 4; }
static hid_t ftype_mem(ftype t)
{
    return t == T_I8 ? H5T_NATIVE_INT8 : t == T_I32 ? H5T_NATIVE_INT32
         : t == T_I64 ? H5T_NATIVE_INT64 : H5T_NATIVE_FLOAT;
}
static hid_t ftype_file(ftype t)
{
    return t == T_I8 ? H5T_STD_I8LE : t == T_I32 ? H5T_STD_I32LE
         : t == T_I64 ? H5T_STD_I64LE : H5T_IEEE_F32LE;
}

static void **field_slot(rmens_dataset *ds, const field *f, int s)
{
    char *base = f->side < 0 ? (char *)ds : (char *)&ds->side[s];
    return (void **)(base + f->off);
}

static const void *field_data(const rmens_dataset *ds, const field *f, int s)
{
    const char *base = f->side < 0 ? (const char *)ds : (const char *)&ds->side[s];
    return *(void *const *)(base + f->off);
}

static int field_present(const rmens_dataset *ds, const field *f)
{
    if ((f->kinds > 0 && (int)ds->kind != f->kinds) || (f->kinds < 0 && (int)ds->kind == -f->kinds))
        return 0;
    if (f->flag == 0)
        return 1;
    return (ds->has & f->flag) != 0;
}

static int64_t field_len(const rmens_dataset *ds, const field *f, int s)
{
    switch (f->len) {
    case LEN_N: return ds->n;
    case LEN_N1: return ds->n + 1;
    case LEN_TOK: return ds->side[s].ntok;
    case LEN_STEPS: return ds->side[s].nsteps;
    }
    return 0;
}

int rmens_dataset_nsides(const rmens_dataset *ds) { return ds->kind == RMENS_DATA_PAIRS ? 2 : 1; }

/* --------------------------------------------------------------- builder */

rmens_status rmens_dataset_new(rmens_dataset **out, rmens_data_kind kind, unsigned has,
                               int32_t vocab_size, int32_t eot, const char *tokenizer)
{
    *out = NULL;
    if (kind != RMENS_DATA_PAIRS && kind != RMENS_DATA_RESPONSES && kind != RMENS_DATA_STEPS)
        return rmens_fail(RMENS_ERR_ARG, "unknown dataset kind %d", (int)kind);
    if (kind == RMENS_DATA_PAIRS)
        has = (has | RMENS_HAS_PROMPT) & ~(unsigned)RMENS_HAS_GROUP;
    else if (kind == RMENS_DATA_STEPS)
        has = (has | RMENS_HAS_PROMPT | RMENS_HAS_STEPS) & ~(unsigned)(RMENS_HAS_MARGIN | RMENS_HAS_TRAP | RMENS_HAS_WEIGHT);
    else
        has &= ~(unsigned)(RMENS_HAS_MARGIN | RMENS_HAS_TRAP | RMENS_HAS_WEIGHT);
    rmens_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    ds->kind = kind;
    ds->has = has;
    ds->vocab_size = vocab_size;
    ds->eot = eot;
    ds->seed = -1;
    ds->bos = ds->pad = -1;
    ds->file = ds->side[0].dset = ds->side[1].dset = -1;
    snprintf(ds->tokenizer, sizeof ds->tokenizer, "%s", tokenizer);
    for (int s = 0; s < 2; s++) {
        ds->side[s].offsets = calloc(1, sizeof(int64_t));
        if (has & RMENS_HAS_STEPS)
            ds->side[s].step_offsets = calloc(1, sizeof(int64_t));
        if (!ds->side[s].offsets || ((has & RMENS_HAS_STEPS) && !ds->side[s].step_offsets)) {
            rmens_dataset_free(ds);
            return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
        }
    }
    *out = ds;
    return RMENS_OK;
}

/* Grows *p (elements of size sz) so that it holds at least need; doubles. */
static int grow(void **p, int64_t *cap, int64_t need, size_t sz)
{
    if (need <= *cap)
        return 0;
    int64_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, (size_t)c * sz);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

rmens_status rmens_dataset_append(rmens_dataset *ds, const rmens_record *r)
{
    int64_t i = ds->n;
    if (i + 2 > ds->cap) {
        /* Every per-record array shares ds->cap: grow each from the same old capacity. */
        int64_t newcap = ds->cap ? ds->cap * 2 : 64;
        for (size_t k = 0; k < NFIELDS; k++) {
            const field *f = &fields[k];
            if (!field_present(ds, f) || (f->len != LEN_N && f->len != LEN_N1))
                continue;
            for (int s = 0; s < (f->side < 0 ? 1 : rmens_dataset_nsides(ds)); s++) {
                void **slot = field_slot(ds, f, s);
                void *q = realloc(*slot, (size_t)(newcap + 1) * ftype_size(f->type));
                if (!q)
                    return rmens_fail(RMENS_ERR_NOMEM, "out of memory at record %lld", (long long)i);
                *slot = q;
            }
        }
        ds->cap = newcap;
    }
    for (int s = 0; s < rmens_dataset_nsides(ds); s++) {
        rmens_seqs *q = &ds->side[s];
        if (grow((void **)&q->tokens, &q->cap_tok, q->ntok + r->len[s], sizeof(int32_t)))
            return rmens_fail(RMENS_ERR_NOMEM, "out of memory at record %lld", (long long)i);
        memcpy(q->tokens + q->ntok, r->tok[s], (size_t)r->len[s] * sizeof(int32_t));
        q->ntok += r->len[s];
        q->offsets[i + 1] = q->ntok;
        if (ds->has & RMENS_HAS_GOLD)
            q->gold[i] = r->gold[s];
        if (ds->has & RMENS_HAS_STEPS) {
            const int soft = ds->kind == RMENS_DATA_STEPS;
            int64_t cap = q->cap_steps;
            if (grow((void **)&q->step_end, &cap, q->nsteps + r->nsteps[s], sizeof(int32_t)) ||
                (soft ? grow((void **)&q->step_target, &q->cap_steps, q->nsteps + r->nsteps[s], sizeof(float))
                      : grow((void **)&q->step_label, &q->cap_steps, q->nsteps + r->nsteps[s], 1)))
                return rmens_fail(RMENS_ERR_NOMEM, "out of memory at record %lld", (long long)i);
            if (r->nsteps[s] > 0) {
                memcpy(q->step_end + q->nsteps, r->step_end[s], (size_t)r->nsteps[s] * sizeof(int32_t));
                if (soft)
                    memcpy(q->step_target + q->nsteps, r->step_target, (size_t)r->nsteps[s] * sizeof(float));
                else
                    memcpy(q->step_label + q->nsteps, r->step_label[s], (size_t)r->nsteps[s]);
            }
            q->nsteps += r->nsteps[s];
            q->step_offsets[i + 1] = q->nsteps;
        }
    }
    if (ds->has & RMENS_HAS_PROMPT)
        ds->prompt_len[i] = r->prompt_len;
    if (ds->has & RMENS_HAS_MARGIN)
        ds->margin[i] = r->margin;
    if (ds->has & RMENS_HAS_TRAP)
        ds->trap[i] = r->trap;
    if (ds->has & RMENS_HAS_SOURCE)
        ds->source_record[i] = r->source_record;
    if (ds->has & RMENS_HAS_GROUP)
        ds->prompt_id[i] = r->prompt_id;
    if (ds->has & RMENS_HAS_WEIGHT)
        ds->weight[i] = r->weight;
    ds->n = i + 1;
    return RMENS_OK;
}

rmens_status rmens_dataset_subset(rmens_dataset **out, const rmens_dataset *src, const int64_t *rows, int64_t n,
                                  const uint8_t *swap)
{
    rmens_dataset *ds;
    RMENS_TRY(rmens_dataset_new(&ds, src->kind, src->has, src->vocab_size, src->eot, src->tokenizer));
    memcpy(ds->tokenizer_sha256, src->tokenizer_sha256, sizeof ds->tokenizer_sha256);
    memcpy(ds->template_name, src->template_name, sizeof ds->template_name);
    memcpy(ds->step_separator, src->step_separator, sizeof ds->step_separator);
    memcpy(ds->task, src->task, sizeof ds->task);
    memcpy(ds->source, src->source, sizeof ds->source);
    ds->bos = src->bos, ds->pad = src->pad, ds->seed = src->seed;
    rmens_status st = RMENS_OK;
    for (int64_t j = 0; j < n && st == RMENS_OK; j++) {
        const int64_t i = rows[j];
        rmens_record r = {.prompt_len = rmens_dataset_prompt_len(src, i)};
        for (int t = 0; t < rmens_dataset_nsides(src) && st == RMENS_OK; t++) {
            const int s = swap && swap[j] ? 1 - t : t;  /* the source's side t becomes side s */
            const rmens_seqs *q = &src->side[t];
            /* each side reads through its own window: both stay valid until the append */
            if (!(r.tok[s] = rmens_dataset_seq(src, (rmens_side)t, i, &r.len[s])))
                st = rmens_fail_context(RMENS_ERR_HDF5, "record %lld: ", (long long)i);
            if (src->has & RMENS_HAS_GOLD)
                r.gold[s] = q->gold[i];
            if (src->has & RMENS_HAS_STEPS) {
                r.step_end[s] = q->step_end + q->step_offsets[i];
                r.step_label[s] = q->step_label + q->step_offsets[i];
                r.nsteps[s] = q->step_offsets[i + 1] - q->step_offsets[i];
            }
        }
        r.margin = src->has & RMENS_HAS_MARGIN ? src->margin[i] : 0;
        r.trap = src->has & RMENS_HAS_TRAP ? src->trap[i] : 0;
        r.source_record = src->has & RMENS_HAS_SOURCE ? src->source_record[i] : 0;
        r.prompt_id = src->has & RMENS_HAS_GROUP ? src->prompt_id[i] : 0;
        r.weight = src->has & RMENS_HAS_WEIGHT ? src->weight[i] : 1;
        if (st == RMENS_OK)
            st = rmens_dataset_append(ds, &r);
    }
    if (st != RMENS_OK) {
        rmens_dataset_free(ds);
        ds = NULL;
    }
    *out = ds;
    return st;
}

void rmens_dataset_free(rmens_dataset *ds)
{
    if (!ds)
        return;
    for (size_t k = 0; k < NFIELDS; k++)
        for (int s = 0; s < (fields[k].side < 0 ? 1 : 2); s++)
            free(*field_slot(ds, &fields[k], s));
    rmens_h5_lock();
    for (int s = 0; s < 2; s++) {
        rmens_h5_close(ds->side[s].dset);
        free(ds->side[s].win);
    }
    rmens_h5_close(ds->file);
    rmens_h5_unlock();
    free(ds);
}

/* ------------------------------------------------------------- accessors */

rmens_data_kind rmens_dataset_kind(const rmens_dataset *ds) { return ds->kind; }
int64_t rmens_dataset_count(const rmens_dataset *ds) { return ds->n; }
int32_t rmens_dataset_vocab_size(const rmens_dataset *ds) { return ds->vocab_size; }
int rmens_dataset_has_margin(const rmens_dataset *ds) { return (ds->has & RMENS_HAS_MARGIN) != 0; }

int rmens_dataset_streamed(const rmens_dataset *ds) { return ds->streamed; }

/* Sequential reads of a streamed file fetch this many tokens at once (4 MiB). */
#define READAHEAD ((int64_t)1 << 20)

/* Tokens [a, b) of side s: in memory, or through the side's window. The window is a
 * cache, so it changes behind a const data set. Reading on from where the window ends
 * (validation, scoring in order) reads ahead; a jump (a bootstrap batch) reads exactly. */
static const int32_t *tokens_at(const rmens_dataset *ds, int s, int64_t a, int64_t b)
{
    rmens_seqs *q = (rmens_seqs *)(uintptr_t)&ds->side[s];
    if (!ds->streamed)
        return q->tokens + a;
    if (a >= q->win_lo && b <= q->win_lo + q->win_n)
        return q->win + (a - q->win_lo);
    int64_t n = b - a;
    if (a == q->win_lo + q->win_n && n < READAHEAD)
        n = READAHEAD;
    if (n > q->ntok - a)
        n = q->ntok - a;
    if (a < 0 || b > q->ntok || n < b - a) {
        rmens_fail(RMENS_ERR_FORMAT, "tokens [%lld, %lld) are outside /%s/tokens (%lld tokens)", (long long)a,
                   (long long)b, side_group(ds, s), (long long)q->ntok);
        return NULL;
    }
    if (n > q->win_cap) {
        int32_t *w = realloc(q->win, (size_t)n * sizeof *w);
        if (!w) {
            rmens_fail(RMENS_ERR_NOMEM, "out of memory for %lld tokens", (long long)n);
            return NULL;
        }
        q->win = w;
        q->win_cap = n;
    }
    q->win_n = 0;
    rmens_h5_lock();
    rmens_status st = rmens_h5_read_range(q->dset, H5T_NATIVE_INT32, H5P_DEFAULT, a, n, q->win);
    rmens_h5_unlock();
    if (st != RMENS_OK) {
        rmens_fail_context(RMENS_ERR_HDF5, "/%s/tokens: ", side_group(ds, s));
        return NULL;
    }
    q->win_lo = a;
    q->win_n = n;
    return q->win;
}

int64_t rmens_dataset_len(const rmens_dataset *ds, rmens_side side, int64_t i)
{
    if (i < 0 || i >= ds->n || (int)side < 0 || (int)side >= rmens_dataset_nsides(ds))
        return 0;
    return ds->side[side].offsets[i + 1] - ds->side[side].offsets[i];
}

const int32_t *rmens_dataset_seq(const rmens_dataset *ds, rmens_side side, int64_t i, int64_t *len)
{
    *len = 0;
    if (i < 0 || i >= ds->n || (int)side < 0 || (int)side >= rmens_dataset_nsides(ds))
        return NULL;
    const rmens_seqs *q = &ds->side[side];
    const int32_t *t = tokens_at(ds, side, q->offsets[i], q->offsets[i + 1]);
    if (t)
        *len = q->offsets[i + 1] - q->offsets[i];
    return t;
}

const int32_t *rmens_dataset_step_ends(const rmens_dataset *ds, int s, int64_t i, int64_t *n)
{
    *n = 0;
    if (!(ds->has & RMENS_HAS_STEPS) || i < 0 || i >= ds->n || s < 0 || s >= rmens_dataset_nsides(ds))
        return NULL;
    const rmens_seqs *q = &ds->side[s];
    *n = q->step_offsets[i + 1] - q->step_offsets[i];
    return q->step_end + q->step_offsets[i];
}

const float *rmens_dataset_step_targets(const rmens_dataset *ds, int64_t i)
{
    if (ds->kind != RMENS_DATA_STEPS || i < 0 || i >= ds->n)
        return NULL;
    return ds->side[0].step_target + ds->side[0].step_offsets[i];
}

int32_t rmens_dataset_prompt_len(const rmens_dataset *ds, int64_t i)
{
    return (ds->has & RMENS_HAS_PROMPT) && i >= 0 && i < ds->n ? ds->prompt_len[i] : 0;
}

int64_t rmens_dataset_prompt_id(const rmens_dataset *ds, int64_t i)
{
    return (ds->has & RMENS_HAS_GROUP) && i >= 0 && i < ds->n ? ds->prompt_id[i] : -1;
}

float rmens_dataset_margin(const rmens_dataset *ds, int64_t i)
{
    return (ds->has & RMENS_HAS_MARGIN) && i >= 0 && i < ds->n ? ds->margin[i] : 0.0f;
}

int rmens_dataset_has_weight(const rmens_dataset *ds) { return (ds->has & RMENS_HAS_WEIGHT) != 0; }

float rmens_dataset_weight(const rmens_dataset *ds, int64_t i)
{
    return (ds->has & RMENS_HAS_WEIGHT) && i >= 0 && i < ds->n ? ds->weight[i] : 1.0f;
}

/* ------------------------------------------------------------ validation */

/* Checks records [lo, hi) of side s; the whole-file rules when [lo, hi) is all of it.
 * *crc receives the CRC-32 of the tokens of those records (validation reads them all). */
static rmens_status validate_side(const rmens_dataset *ds, int s, int64_t lo, int64_t hi, uint32_t *crc)
{
    uLong c = crc32(0L, Z_NULL, 0);
    const char *g = side_group(ds, s);
    const rmens_seqs *q = &ds->side[s];
    if (q->offsets[0] != 0)
        return rmens_fail(RMENS_ERR_FORMAT, "/%s/offsets[0] is %lld, must be 0", g,
                          (long long)q->offsets[0]);
    for (int64_t i = lo; i < hi; i++) {
        int64_t a = q->offsets[i], b = q->offsets[i + 1];
        if (b <= a || a < 0)
            return rmens_fail(RMENS_ERR_FORMAT,
                              "record %lld: /%s/offsets not increasing (%lld then %lld): every "
                              "sequence holds at least its end-of-text token", (long long)i, g,
                              (long long)a, (long long)b);
        if (b > q->ntok)
            return rmens_fail(RMENS_ERR_FORMAT, "record %lld: /%s/offsets[%lld] = %lld is past the "
                              "end of /%s/tokens (%lld tokens)", (long long)i, g, (long long)(i + 1),
                              (long long)b, g, (long long)q->ntok);
        const int32_t *tk = tokens_at(ds, s, a, b);
        if (!tk)
            return rmens_fail_context(RMENS_ERR_HDF5, "record %lld: ", (long long)i);
        c = crc32_z(c, (const Bytef *)tk, (size_t)(b - a) * sizeof *tk);
        for (int64_t t = 0; t < b - a; t++)
            if (tk[t] < 0 || tk[t] >= ds->vocab_size)
                return rmens_fail(RMENS_ERR_FORMAT, "record %lld: /%s/tokens[%lld] = %d is outside "
                                  "[0, vocab_size = %d)", (long long)i, g, (long long)(a + t),
                                  tk[t], ds->vocab_size);
        if (tk[b - a - 1] != ds->eot)
            return rmens_fail(RMENS_ERR_FORMAT, "record %lld: /%s sequence does not end with the "
                              "end-of-text token %d (last token %d)", (long long)i, g, ds->eot,
                              tk[b - a - 1]);
        if ((ds->has & RMENS_HAS_GOLD) && !isfinite(q->gold[i]))
            return rmens_fail(RMENS_ERR_FORMAT, "record %lld: /%s/gold is not finite", (long long)i, g);
        if (ds->has & RMENS_HAS_STEPS) {
            int64_t sa = q->step_offsets[i], sb = q->step_offsets[i + 1];
            if (sa < 0 || sb < sa || sb > q->nsteps)
                return rmens_fail(RMENS_ERR_FORMAT, "record %lld: /%s/step_offsets [%lld, %lld) "
                                  "invalid (%lld steps stored)", (long long)i, g, (long long)sa,
                                  (long long)sb, (long long)q->nsteps);
            /* A steps file: every solution has a step, and each step closes after the prompt. */
            const int soft = ds->kind == RMENS_DATA_STEPS;
            if (soft && sb == sa)
                return rmens_fail(RMENS_ERR_FORMAT, "record %lld: no steps (/%s/step_offsets[%lld] = "
                                  "step_offsets[%lld]): a solution has at least one", (long long)i, g,
                                  (long long)i, (long long)(i + 1));
            int32_t prev = soft ? ds->prompt_len[i] : 0;
            for (int64_t k = sa; k < sb; k++) {
                if (q->step_end[k] <= prev || q->step_end[k] > b - a)
                    return rmens_fail(RMENS_ERR_FORMAT, "record %lld: /%s/step_end[%lld] = %d must "
                                      "increase within (%d, %lld]", (long long)i, g, (long long)k,
                                      q->step_end[k], (int)(soft ? ds->prompt_len[i] : 0), (long long)(b - a));
                if (soft) {
                    float y = q->step_target[k];
                    if (!(y == RMENS_STEP_UNLABELLED || (y >= 0 && y <= 1)))
                        return rmens_fail(RMENS_ERR_FORMAT, "record %lld: /%s/step_label[%lld] = %g, must be "
                                          "in [0, 1] or -1 (unlabelled)", (long long)i, g, (long long)k, (double)y);
                } else if (q->step_label[k] != 0 && q->step_label[k] != 1)
                    return rmens_fail(RMENS_ERR_FORMAT, "record %lld: /%s/step_label[%lld] = %d, "
                                      "must be 0 or 1", (long long)i, g, (long long)k, q->step_label[k]);
                prev = q->step_end[k];
            }
        }
    }
    if (q->offsets[ds->n] != q->ntok)
        return rmens_fail(RMENS_ERR_FORMAT, "/%s/offsets[%lld] = %lld but /%s/tokens holds %lld tokens",
                          g, (long long)ds->n, (long long)q->offsets[ds->n], g, (long long)q->ntok);
    if ((ds->has & RMENS_HAS_STEPS) && (q->step_offsets[0] != 0 || q->step_offsets[ds->n] != q->nsteps))
        return rmens_fail(RMENS_ERR_FORMAT, "/%s/step_offsets must run from 0 to %lld", g,
                          (long long)q->nsteps);
    *crc = (uint32_t)c;
    return RMENS_OK;
}

/* Every rule of docs/FORMAT.md for records [lo, hi); a streamed file is checked in
 * parts, one per rank, so each rank reads only its part. */
static rmens_status validate_range(const rmens_dataset *ds, int64_t lo, int64_t hi, uint32_t crc[2])
{
    if (ds->vocab_size < 1)
        return rmens_fail(RMENS_ERR_FORMAT, "vocab_size = %d, must be positive", ds->vocab_size);
    if (ds->eot < 0 || ds->eot >= ds->vocab_size)
        return rmens_fail(RMENS_ERR_FORMAT, "eot_token = %d is outside [0, vocab_size = %d)",
                          ds->eot, ds->vocab_size);
    for (int s = 0; s < rmens_dataset_nsides(ds); s++)
        RMENS_TRY(validate_side(ds, s, lo, hi, &crc[s]));
    for (int64_t i = lo; i < hi; i++) {
        if (ds->has & RMENS_HAS_PROMPT) {
            int64_t lc, lr = INT64_MAX;
            const int32_t *c = rmens_dataset_seq(ds, 0, i, &lc), *r = NULL;
            if (!c)
                return rmens_fail_context(RMENS_ERR_HDF5, "record %lld: ", (long long)i);
            if (rmens_dataset_nsides(ds) == 2 && !(r = rmens_dataset_seq(ds, 1, i, &lr)))
                return rmens_fail_context(RMENS_ERR_HDF5, "record %lld: ", (long long)i);
            int64_t lmin = lc < lr ? lc : lr;
            int32_t p = ds->prompt_len[i];
            if (p < 0 || p >= lmin)
                return rmens_fail(RMENS_ERR_FORMAT, "record %lld: prompt_len = %d must be in [0, %lld): "
                                  "a response needs at least one token", (long long)i, p,
                                  (long long)lmin);
            if (r && memcmp(c, r, (size_t)p * sizeof *c) != 0) {
                int64_t k = 0;
                while (c[k] == r[k])
                    k++;
                return rmens_fail(RMENS_ERR_FORMAT, "record %lld: prompt_len = %d but chosen and "
                                  "rejected differ at token %lld", (long long)i, p, (long long)k);
            }
        }
        if ((ds->has & RMENS_HAS_MARGIN) && !isfinite(ds->margin[i]))
            return rmens_fail(RMENS_ERR_FORMAT, "record %lld: margin is not finite", (long long)i);
        if ((ds->has & RMENS_HAS_WEIGHT) && !(isfinite(ds->weight[i]) && ds->weight[i] > 0))
            return rmens_fail(RMENS_ERR_FORMAT, "record %lld: weight = %g, must be finite and positive", (long long)i,
                              (double)ds->weight[i]);
        if ((ds->has & RMENS_HAS_TRAP) && (ds->trap[i] < 0 || ds->trap[i] > RMENS_TRAP_SYCOPHANCY))
            return rmens_fail(RMENS_ERR_FORMAT, "record %lld: trap = %d is not a known kind (0-4)",
                              (long long)i, ds->trap[i]);
        if ((ds->has & RMENS_HAS_SOURCE) && ds->source_record[i] < 0)
            return rmens_fail(RMENS_ERR_FORMAT, "record %lld: source_record is negative", (long long)i);
        if ((ds->has & RMENS_HAS_GROUP) && (ds->prompt_id[i] < 0 || ds->prompt_id[i] >= ds->n))
            return rmens_fail(RMENS_ERR_FORMAT, "record %lld: prompt_id = %lld must be in [0, N = %lld)",
                              (long long)i, (long long)ds->prompt_id[i], (long long)ds->n);
    }
    return RMENS_OK;
}

rmens_status rmens_dataset_validate(const rmens_dataset *ds)
{
    uint32_t crc[2];
    return validate_range(ds, 0, ds->n, crc);
}

/* A streamed file's token CRCs: each rank validated records [n r / P, n (r + 1) / P) and
 * hashed their tokens; the parts are joined in rank order (zlib's crc32_combine), which
 * gives the CRC of the whole side whatever P. */
static rmens_status join_token_crcs(rmens_dataset *ds, MPI_Comm comm, int rank, int size, const uint32_t crc[2])
{
    int64_t *all = calloc((size_t)size * 4, sizeof *all);
    if (!all)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    int64_t mine[4];
    for (int s = 0; s < 2; s++) {
        const rmens_seqs *q = &ds->side[s];
        mine[2 * s] = crc[s];
        mine[2 * s + 1] = s < rmens_dataset_nsides(ds)
                              ? q->offsets[ds->n * (rank + 1) / size] - q->offsets[ds->n * rank / size] : 0;
    }
    rmens_status st = RMENS_OK;
    if (comm == MPI_COMM_NULL)
        memcpy(all, mine, sizeof mine);
    else
        st = rmens_mpi_check(MPI_Allgather(mine, 4, MPI_INT64_T, all, 4, MPI_INT64_T, comm), "MPI_Allgather(crc)");
    for (int s = 0; st == RMENS_OK && s < 2; s++) {
        uLong c = crc32(0L, Z_NULL, 0);
        for (int r = 0; r < size; r++)
            c = crc32_combine(c, (uLong)all[4 * r + 2 * s], (z_off_t)all[4 * r + 2 * s + 1] * 4);
        ds->side[s].tok_crc = (uint32_t)c;
    }
    free(all);
    return st;
}

uint32_t rmens_dataset_fingerprint(const rmens_dataset *ds)
{
    uLong c = crc32(0L, Z_NULL, 0);
    for (int s = 0; s < rmens_dataset_nsides(ds); s++) {
        const rmens_seqs *q = &ds->side[s];
        uLong t = ds->streamed ? q->tok_crc : crc32_z(0L, (const Bytef *)q->tokens, (size_t)q->ntok * sizeof *q->tokens);
        c = crc32_combine(c, t, (z_off_t)q->ntok * (z_off_t)sizeof *q->tokens);
        c = crc32_z(c, (const Bytef *)q->offsets, (size_t)(ds->n + 1) * sizeof *q->offsets);
    }
    if (ds->has & RMENS_HAS_PROMPT)
        c = crc32_z(c, (const Bytef *)ds->prompt_len, (size_t)ds->n * sizeof *ds->prompt_len);
    if (ds->has & RMENS_HAS_MARGIN)
        c = crc32_z(c, (const Bytef *)ds->margin, (size_t)ds->n * sizeof *ds->margin);
    if (ds->has & RMENS_HAS_WEIGHT)
        c = crc32_z(c, (const Bytef *)ds->weight, (size_t)ds->n * sizeof *ds->weight);
    if (ds->kind == RMENS_DATA_STEPS) {  /* what a process RM trains on: the steps and their labels */
        const rmens_seqs *q = &ds->side[0];
        c = crc32_z(c, (const Bytef *)q->step_offsets, (size_t)(ds->n + 1) * sizeof *q->step_offsets);
        c = crc32_z(c, (const Bytef *)q->step_end, (size_t)q->nsteps * sizeof *q->step_end);
        c = crc32_z(c, (const Bytef *)q->step_target, (size_t)q->nsteps * sizeof *q->step_target);
    }
    return (uint32_t)c;
}

/* ---------------------------------------------------------------- writer */

static rmens_status write_file(const rmens_dataset *ds, hid_t file)
{
    RMENS_TRY(rmens_h5_attr_write_str(file, "rmens_format", ds->kind == RMENS_DATA_PAIRS ? "pairs"
                                                            : ds->kind == RMENS_DATA_STEPS ? "steps" : "responses"));
    /* Version 2 added the Hugging Face tokenizer's record; byte-tokenized files are the
     * same in both and stay version 1 for older readers. */
    int v2 = strcmp(ds->tokenizer, "bytes") != 0;
    RMENS_TRY(rmens_h5_attr_write_i64(file, "rmens_version", v2 ? RMENS_DATA_VERSION : RMENS_FORMAT_VERSION));
    RMENS_TRY(rmens_h5_attr_write_i64(file, "vocab_size", ds->vocab_size));
    RMENS_TRY(rmens_h5_attr_write_i64(file, "eot_token", ds->eot));
    RMENS_TRY(rmens_h5_attr_write_str(file, "tokenizer", ds->tokenizer));
    RMENS_TRY(rmens_h5_attr_write_str(file, "created_by", "rmens " PACKAGE_VERSION));
    if (v2 && ds->tokenizer_sha256[0])
        RMENS_TRY(rmens_h5_attr_write_str(file, "tokenizer_sha256", ds->tokenizer_sha256));
    if (v2 && ds->template_name[0])
        RMENS_TRY(rmens_h5_attr_write_str(file, "template", ds->template_name));
    if (v2 && ds->bos >= 0)
        RMENS_TRY(rmens_h5_attr_write_i64(file, "bos_token", ds->bos));
    if (v2 && ds->pad >= 0)
        RMENS_TRY(rmens_h5_attr_write_i64(file, "pad_token", ds->pad));
    if (ds->kind == RMENS_DATA_STEPS && ds->step_separator[0])
        RMENS_TRY(rmens_h5_attr_write_str(file, "step_separator", ds->step_separator));
    if (ds->task[0])
        RMENS_TRY(rmens_h5_attr_write_str(file, "task", ds->task));
    if (ds->source[0])
        RMENS_TRY(rmens_h5_attr_write_str(file, "source", ds->source));
    if (ds->seed >= 0)
        RMENS_TRY(rmens_h5_attr_write_i64(file, "seed", ds->seed));
    for (size_t k = 0; k < NFIELDS; k++) {
        const field *f = &fields[k];
        if (!field_present(ds, f))
            continue;
        for (int s = 0; s < (f->side < 0 ? 1 : rmens_dataset_nsides(ds)); s++) {
            char path[128];
            if (f->side < 0)
                snprintf(path, sizeof path, "/%s", f->name);
            else
                snprintf(path, sizeof path, "/%s/%s", side_group(ds, s), f->name);
            RMENS_TRY(rmens_h5_write_1d(file, path, ftype_file(f->type), ftype_mem(f->type),
                                        field_data(ds, f, s), field_len(ds, f, s)));
        }
    }
    if (ds->has & RMENS_HAS_TRAP) {
        hid_t d = H5Dopen2(file, "/trap", H5P_DEFAULT);
        if (d < 0)
            return rmens_h5_fail("cannot reopen /trap");
        rmens_status st = rmens_h5_attr_write_str(d, "kinds", "0=none,1=length,2=format,3=confidence");
        H5Dclose(d);
        RMENS_TRY(st);
    }
    return RMENS_OK;
}

rmens_status rmens_dataset_build(const rmens_dataset *ds, const char *path, hid_t *file)
{
    *file = -1;
    if (rmens_dataset_validate(ds) != RMENS_OK)
        return rmens_fail_context(RMENS_ERR_INTERNAL, "refusing to write %s: ", path);
    if (ds->n < 1)
        return rmens_fail(RMENS_ERR_INPUT, "refusing to write %s: no records", path);
    /* In memory, then written at its compressed size (io/stage.h): reserving the
     * uncompressed size refused outputs that fit many times over. */
    RMENS_TRY(rmens_stage_create(file));
    rmens_status st = write_file(ds, *file);
    if (st != RMENS_OK) {
        rmens_h5_close(*file);
        *file = -1;
        return rmens_fail_context(st, "%s: ", path);
    }
    return RMENS_OK;
}

static rmens_status dataset_write(const rmens_dataset *ds, const char *path)
{
    hid_t file;
    RMENS_TRY(rmens_dataset_build(ds, path, &file));
    return rmens_stage_finish(&file, &path, 1);
}

rmens_status rmens_dataset_write(const rmens_dataset *ds, const char *path) { RMENS_H5_LOCKED(dataset_write(ds, path)); }

/* ---------------------------------------------------------------- reader */

static rmens_status read_file(rmens_dataset *ds, hid_t file, hid_t dxpl, int64_t max_bytes)
{
    char fmt[64];
    int64_t version, vocab, eot;
    RMENS_TRY(rmens_h5_attr_read_str(file, "rmens_format", fmt, sizeof fmt));
    if (strcmp(fmt, "pairs") == 0)
        ds->kind = RMENS_DATA_PAIRS;
    else if (strcmp(fmt, "responses") == 0)
        ds->kind = RMENS_DATA_RESPONSES;
    else if (strcmp(fmt, "steps") == 0)
        ds->kind = RMENS_DATA_STEPS;
    else
        return rmens_fail(RMENS_ERR_FORMAT, "rmens_format is \"%s\", expected \"pairs\", \"responses\" or \"steps\"",
                          fmt);
    RMENS_TRY(rmens_h5_attr_read_i64(file, "rmens_version", &version));
    if (version < 1 || version > RMENS_DATA_VERSION)
        return rmens_fail(RMENS_ERR_FORMAT, "rmens_version is %lld; this rmens reads versions 1 to %d",
                          (long long)version, RMENS_DATA_VERSION);
    RMENS_TRY(rmens_h5_attr_read_i64(file, "vocab_size", &vocab));
    RMENS_TRY(rmens_h5_attr_read_i64(file, "eot_token", &eot));
    if (vocab < 1 || vocab > INT32_MAX || eot < 0 || eot >= vocab)
        return rmens_fail(RMENS_ERR_FORMAT, "vocab_size = %lld and eot_token = %lld are inconsistent",
                          (long long)vocab, (long long)eot);
    ds->vocab_size = (int32_t)vocab;
    ds->eot = (int32_t)eot;
    RMENS_TRY(rmens_h5_attr_read_str(file, "tokenizer", ds->tokenizer, sizeof ds->tokenizer));
    if (rmens_h5_has_attr(file, "tokenizer_sha256"))
        RMENS_TRY(rmens_h5_attr_read_str(file, "tokenizer_sha256", ds->tokenizer_sha256, sizeof ds->tokenizer_sha256));
    if (rmens_h5_has_attr(file, "template"))
        RMENS_TRY(rmens_h5_attr_read_str(file, "template", ds->template_name, sizeof ds->template_name));
    if (rmens_h5_has_attr(file, "step_separator"))
        RMENS_TRY(rmens_h5_attr_read_str(file, "step_separator", ds->step_separator, sizeof ds->step_separator));
    static const char *const ids[] = {"bos_token", "pad_token"};
    int32_t *dst[] = {&ds->bos, &ds->pad};
    for (int k = 0; k < 2; k++) {
        int64_t v;
        *dst[k] = -1;
        if (!rmens_h5_has_attr(file, ids[k]))
            continue;
        RMENS_TRY(rmens_h5_attr_read_i64(file, ids[k], &v));
        if (v < 0 || v >= vocab)
            return rmens_fail(RMENS_ERR_FORMAT, "%s = %lld is not in [0, vocab_size)", ids[k], (long long)v);
        *dst[k] = (int32_t)v;
    }
    if (rmens_h5_has_attr(file, "task"))
        RMENS_TRY(rmens_h5_attr_read_str(file, "task", ds->task, sizeof ds->task));
    if (rmens_h5_has_attr(file, "source"))
        RMENS_TRY(rmens_h5_attr_read_str(file, "source", ds->source, sizeof ds->source));
    if (rmens_h5_has_attr(file, "seed")) {
        RMENS_TRY(rmens_h5_attr_read_i64(file, "seed", &ds->seed));
        if (ds->seed < 0)  /* found by tests/fuzz: it would not survive a rewrite */
            return rmens_fail(RMENS_ERR_FORMAT, "seed = %lld: a generator seed is not negative", (long long)ds->seed);
    }

    /* Which optional parts are there: decided by their first dataset's presence. */
    /* A steps file requires its prompts and steps: read as required fields, missing ones are named. */
    ds->has = ds->kind == RMENS_DATA_PAIRS ? RMENS_HAS_PROMPT
            : ds->kind == RMENS_DATA_STEPS ? RMENS_HAS_PROMPT | RMENS_HAS_STEPS : 0;
    for (size_t k = 0; k < NFIELDS; k++) {
        const field *f = &fields[k];
        char path[128];
        if (f->flag == 0 || (f->flag & ds->has))
            continue;
        if (f->side < 0)
            snprintf(path, sizeof path, "/%s", f->name);
        else
            snprintf(path, sizeof path, "/%s/%s", side_group(ds, 0), f->name);
        if (rmens_h5_exists(file, path))
            ds->has |= f->flag;
    }
    if (ds->kind != RMENS_DATA_PAIRS && (ds->has & (RMENS_HAS_MARGIN | RMENS_HAS_TRAP | RMENS_HAS_WEIGHT)))
        return rmens_fail(RMENS_ERR_FORMAT, "a %s file has no /margin, /trap or /weight",
                          ds->kind == RMENS_DATA_STEPS ? "steps" : "responses");
    if (ds->kind == RMENS_DATA_PAIRS && (ds->has & RMENS_HAS_GROUP))
        return rmens_fail(RMENS_ERR_FORMAT, "a pairs file has no /prompt_id (responses files group by it)");

    /* Offsets first: they fix N and the token counts the other datasets must match. */
    int64_t n_first = -1;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < NFIELDS; k++) {
            const field *f = &fields[k];
            if (!field_present(ds, f) || (pass == 0) != (f->len == LEN_N1))
                continue;
            for (int s = 0; s < (f->side < 0 ? 1 : rmens_dataset_nsides(ds)); s++) {
                char path[128];
                if (f->side < 0)
                    snprintf(path, sizeof path, "/%s", f->name);
                else
                    snprintf(path, sizeof path, "/%s/%s", side_group(ds, s), f->name);
                void **slot = field_slot(ds, f, s);
                int64_t got;
                H5T_class_t cls = f->type == T_F32 ? H5T_FLOAT : H5T_INTEGER;
                if (f->len == LEN_TOK && ds->streamed) {  /* checked now, read later */
                    hid_t d = -1;
                    RMENS_TRY(rmens_h5_open_1d(file, path, cls, ftype_mem(f->type), &d, &got));
                    rmens_h5_close(d);
                } else {
                    RMENS_TRY(rmens_h5_read_1d(file, path, cls, ftype_mem(f->type), dxpl, slot, &got));
                }
                if (pass == 0 && n_first < 0) {
                    if (got < 1)
                        return rmens_fail(RMENS_ERR_FORMAT, "%s is empty: it needs N+1 entries", path);
                    n_first = got - 1;
                    ds->n = n_first;
                }
                if (pass == 1 && f->len == LEN_TOK)
                    ds->side[s].ntok = got;
                if (pass == 1 && f->len == LEN_STEPS) {
                    if (f->off == SEQ(step_end))
                        ds->side[s].nsteps = got;
                    else if (got != ds->side[s].nsteps)
                        return rmens_fail(RMENS_ERR_FORMAT, "%s has %lld entries, step_end has %lld",
                                          path, (long long)got, (long long)ds->side[s].nsteps);
                }
                int64_t want = f->len == LEN_N ? ds->n : f->len == LEN_N1 ? ds->n + 1 : got;
                if (got != want)
                    return rmens_fail(RMENS_ERR_FORMAT, "%s has %lld entries, expected %lld (N = %lld "
                                      "records%s)", path, (long long)got, (long long)want,
                                      (long long)ds->n, f->len == LEN_N1 ? ", plus one" : "");
            }
        }
        /* The offsets tell how many tokens there are before any is read: over the budget,
         * they stay in the file. */
        if (pass == 0 && max_bytes >= 0 && n_first >= 0) {
            double bytes = 0;  /* not yet validated: double cannot overflow */
            for (int s = 0; s < rmens_dataset_nsides(ds); s++)
                bytes += (double)sizeof(int32_t) * (double)ds->side[s].offsets[ds->n];
            ds->streamed = bytes > (double)max_bytes;
        }
    }
    if (ds->n < 1)
        return rmens_fail(RMENS_ERR_FORMAT, "the file holds no records");
    ds->cap = ds->n;
    for (int s = 0; s < 2; s++) {
        ds->side[s].cap_tok = ds->side[s].ntok;
        ds->side[s].cap_steps = ds->side[s].nsteps;
    }
    return RMENS_OK;
}

/* A streamed file is reopened serially by each rank: its reads are independent. */
static rmens_status open_streamed(rmens_dataset *ds, const char *path)
{
    RMENS_TRY(rmens_h5_open_ro(path, H5P_DEFAULT, &ds->file));
    for (int s = 0; s < rmens_dataset_nsides(ds); s++) {
        char name[64];
        int64_t n;
        snprintf(name, sizeof name, "/%s/tokens", side_group(ds, s));
        RMENS_TRY(rmens_h5_open_1d(ds->file, name, H5T_INTEGER, H5T_NATIVE_INT32, &ds->side[s].dset, &n));
        if (n != ds->side[s].ntok)  /* the file changed under us */
            return rmens_fail(RMENS_ERR_IO, "%s changed while it was read", name);
    }
    return RMENS_OK;
}

static rmens_status dataset_read(rmens_dataset **out, const char *path, MPI_Comm comm, int64_t max_bytes)
{
    rmens_h5_init();
    *out = NULL;
    rmens_status st = RMENS_OK;
    hid_t fapl = -1, dxpl = H5P_DEFAULT, file = -1;
    int rank = 0, size = 1;
    rmens_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) {
        st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
        goto exit;
    }
    ds->seed = -1;
    ds->file = ds->side[0].dset = ds->side[1].dset = -1;
    if ((fapl = H5Pcreate(H5P_FILE_ACCESS)) < 0) {
        st = rmens_h5_fail("H5Pcreate");
        goto exit;
    }
    if (comm != MPI_COMM_NULL) {
        if ((st = rmens_mpi_check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank")) != RMENS_OK ||
            (st = rmens_mpi_check(MPI_Comm_size(comm, &size), "MPI_Comm_size")) != RMENS_OK)
            goto exit;
        if (H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) < 0 || (dxpl = H5Pcreate(H5P_DATASET_XFER)) < 0 ||
            H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0) {
            st = rmens_h5_fail("cannot set up MPI-IO access");
            goto exit;
        }
    }
    if ((st = rmens_h5_open_ro(path, fapl, &file)) != RMENS_OK)
        goto exit;
    st = read_file(ds, file, dxpl, max_bytes);
    rmens_h5_close(file);
    file = -1;
    if (st == RMENS_OK && ds->streamed)
        st = open_streamed(ds, path);
    uint32_t crc[2] = {0, 0};
    if (st == RMENS_OK && ds->streamed)
        st = validate_range(ds, ds->n * rank / size, ds->n * (rank + 1) / size, crc);
    else if (st == RMENS_OK)
        st = rmens_dataset_validate(ds);
    if (st != RMENS_OK)
        rmens_fail_context(st, "%s: ", path);
exit:
    rmens_h5_close(file);
    if (dxpl != H5P_DEFAULT)
        rmens_h5_close(dxpl);
    rmens_h5_close(fapl);
    st = rmens_verdict(comm, st);
    if (st == RMENS_OK && ds->streamed)
        st = rmens_verdict(comm, join_token_crcs(ds, comm, rank, size, crc));
    if (st != RMENS_OK) {
        rmens_dataset_free(ds);
        return st;
    }
    *out = ds;
    return RMENS_OK;
}

rmens_status rmens_dataset_read_comm(rmens_dataset **out, const char *path, MPI_Comm comm, int64_t max_bytes)
{
    RMENS_H5_LOCKED(dataset_read(out, path, comm, max_bytes));
}

rmens_status rmens_dataset_read_bounded(rmens_dataset **out, const char *path, int64_t max_bytes)
{
    return rmens_dataset_read_comm(out, path, MPI_COMM_NULL, max_bytes);
}

rmens_status rmens_dataset_read(rmens_dataset **out, const char *path)
{
    return rmens_dataset_read_comm(out, path, MPI_COMM_NULL, -1);
}

/* ----------------------------------------------------------------- stats */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

rmens_status rmens_dataset_stats_compute(const rmens_dataset *ds, rmens_dataset_stats *st)
{
    memset(st, 0, sizeof *st);
    int ns = rmens_dataset_nsides(ds);
    int64_t m = ds->n * ns;
    int64_t *len = malloc((size_t)(m > 0 ? m : 1) * sizeof *len);
    if (!len)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    double frac = 0;
    int64_t longer = 0;
    for (int64_t i = 0; i < ds->n; i++) {
        int64_t l0 = rmens_dataset_len(ds, 0, i), l1 = 0;
        len[i * ns] = l0;
        if (ns == 2) {
            l1 = rmens_dataset_len(ds, 1, i);
            len[i * ns + 1] = l1;
            longer += l0 > l1;
        }
        int64_t lmax = l0 > l1 ? l0 : l1;
        frac += (double)rmens_dataset_prompt_len(ds, i) / (double)lmax;
        st->n_tokens += l0 + l1;
    }
    qsort(len, (size_t)m, sizeof *len, cmp_i64);
    st->n_records = ds->n;
    st->n_sequences = m;
    if (m > 0) {
        st->len_min = len[0];
        st->len_median = len[(m - 1) / 2];
        st->len_p90 = len[(int64_t)(0.9 * (double)(m - 1))];
        st->len_max = len[m - 1];
        st->prompt_frac = frac / (double)ds->n;
        st->chosen_longer = ns == 2 ? (double)longer / (double)ds->n : 0.0;
    }
    free(len);
    return RMENS_OK;
}
