#include "model/batch.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "io/dataset.h"

rmens_status rmens_batch_init(rmens_batch *b, int max_pairs, int n_ctx, int n_head)
{
    memset(b, 0, sizeof *b);
    if (max_pairs < 1 || n_ctx < 1 || n_head < 1)
        return rmens_fail(RMENS_ERR_ARG, "batch: %d pairs, context %d, %d heads", max_pairs, n_ctx, n_head);
    size_t rows = (size_t)2 * max_pairs * n_ctx;
    b->cap_pairs = max_pairs;
    b->n_ctx = n_ctx;
    b->n_head = n_head;
    b->tokens = malloc(rows * sizeof *b->tokens);
    b->pos = malloc(rows * sizeof *b->pos);
    b->last = malloc((size_t)2 * max_pairs * sizeof *b->last);
    b->segs = malloc((size_t)3 * max_pairs * sizeof *b->segs);
    b->lq = malloc((size_t)2 * max_pairs * sizeof *b->lq);
    b->margin = malloc((size_t)max_pairs * sizeof *b->margin);
    if (!b->tokens || !b->pos || !b->last || !b->segs || !b->lq || !b->margin) {
        rmens_batch_free(b);
        return rmens_fail(RMENS_ERR_NOMEM, "batch: out of memory for %d pairs of %d tokens", max_pairs, n_ctx);
    }
    return RMENS_OK;
}

void rmens_batch_free(rmens_batch *b)
{
    free(b->tokens);
    free(b->pos);
    free(b->last);
    free(b->segs);
    free(b->lq);
    free(b->margin);
    memset(b, 0, sizeof *b);
}

/* Appends tokens t[from .. to) at positions p0, p0+1, ... as new rows; returns the first row. */
static int put_rows(rmens_batch *b, const int32_t *t, int from, int to, int p0)
{
    int r = b->N;
    for (int k = from; k < to; k++) {
        b->tokens[b->N] = t[k];
        b->pos[b->N++] = p0 + k - from;
    }
    return r;
}

static void add_segment(rmens_batch *b, int q0, int nq, int a0, int na)
{
    rmens_segment *g = &b->segs[b->nsegs++];
    g->q0 = q0;
    g->nq = nq;
    g->a0 = a0;
    g->na = na;
    g->probs = b->probs_size;
    b->probs_size += (size_t)b->n_head * nq * (na + nq);
    if (na + nq > b->max_keys)
        b->max_keys = na + nq;
}

static void add_lastq(rmens_batch *b, int s, int a0, int na, int b0, int nb)
{
    rmens_lastq *q = &b->lq[s];
    q->a0 = a0;
    q->na = na;
    q->b0 = b0;
    q->nb = nb;
    q->probs = b->lq_probs_size;
    b->lq_probs_size += (size_t)b->n_head * (na + nb);
    b->last[s] = b0 + nb - 1;
}

rmens_cut rmens_batch_cut(int64_t lc, int64_t lr, int64_t P, int64_t T)
{
    rmens_cut c = {0, 0, P, 0, 0};
    const int64_t longer = lc > lr ? lc : lr, cut = longer - T;
    if (cut <= 0)
        return c;
    c.cut = 1;
    if (cut < P) {  /* the same cut on both sides keeps the prompt aligned */
        c.chosen = c.rejected = cut;
        c.prompt = P - cut;
    } else {        /* no prompt survives: cut each side to its last T tokens */
        c.chosen = lc > T ? lc - T : 0;
        c.rejected = lr > T ? lr - T : 0;
        c.prompt = 0;
        c.prompt_lost = P > 0;
    }
    return c;
}

rmens_status rmens_batch_build_seqs(rmens_batch *b, const int32_t *const *seqs, const int64_t *lens, int n)
{
    if (n < 1 || n > 2 * b->cap_pairs)
        return rmens_fail(RMENS_ERR_ARG, "batch of %d sequences, room for %d", n, 2 * b->cap_pairs);
    const int T = b->n_ctx;
    b->B = (n + 1) / 2;
    b->S = n;
    b->N = b->nsegs = b->max_keys = b->n_cut = 0;
    b->probs_size = b->lq_probs_size = 0;
    for (int s = 0; s < n; s++) {
        if (lens[s] < 1)
            return rmens_fail(RMENS_ERR_ARG, "sequence %d is empty", s);
        const int64_t cut = rmens_batch_cut(lens[s], 0, 0, T).chosen;
        b->n_cut += cut > 0;
        int r0 = put_rows(b, seqs[s] + cut, 0, (int)(lens[s] - cut), 0);
        add_segment(b, r0, (int)(lens[s] - cut), 0, 0);
        add_lastq(b, s, 0, 0, r0, (int)(lens[s] - cut));
    }
    return RMENS_OK;
}

rmens_status rmens_batch_build(rmens_batch *b, const rmens_dataset *ds, const int64_t *idx, int B, int share,
                               float margin_scale)
{
    if (B < 1 || B > b->cap_pairs)
        return rmens_fail(RMENS_ERR_ARG, "batch of %d pairs, room for %d", B, b->cap_pairs);
    if (rmens_dataset_kind(ds) != RMENS_DATA_PAIRS)
        return rmens_fail(RMENS_ERR_ARG, "training needs a pairs file");
    const int T = b->n_ctx;
    b->B = B;
    b->S = 2 * B;
    b->N = b->nsegs = b->max_keys = b->n_cut = 0;
    b->probs_size = b->lq_probs_size = 0;
    for (int i = 0; i < B; i++) {
        int64_t n = rmens_dataset_count(ds);
        if (idx[i] < 0 || idx[i] >= n)
            return rmens_fail(RMENS_ERR_ARG, "pair index %lld outside [0, %lld)", (long long)idx[i], (long long)n);
        int64_t lc64, lr64;
        const int32_t *c = rmens_dataset_seq(ds, RMENS_SIDE_CHOSEN, idx[i], &lc64);
        const int32_t *r = rmens_dataset_seq(ds, RMENS_SIDE_REJECTED, idx[i], &lr64);
        if (!c || !r)  /* a streamed read failed */
            return rmens_fail_context(RMENS_ERR_HDF5, "pair %lld: ", (long long)idx[i]);
        const rmens_cut cut = rmens_batch_cut(lc64, lr64, rmens_dataset_prompt_len(ds, idx[i]), T);
        const int64_t cut_c = cut.chosen, cut_r = cut.rejected, P = cut.prompt;
        b->n_cut += cut.cut;
        int lc = (int)(lc64 - cut_c), lr = (int)(lr64 - cut_r), p = (int)P;
        c += cut_c;
        r += cut_r;
        if (share && p > 0) {
            int p0 = put_rows(b, c, 0, p, 0);
            int c0 = put_rows(b, c, p, lc, p);
            int r0 = put_rows(b, r, p, lr, p);
            add_segment(b, p0, p, 0, 0);
            add_segment(b, c0, lc - p, p0, p);
            add_segment(b, r0, lr - p, p0, p);
            add_lastq(b, 2 * i, p0, p, c0, lc - p);
            add_lastq(b, 2 * i + 1, p0, p, r0, lr - p);
        } else {
            int c0 = put_rows(b, c, 0, lc, 0);
            int r0 = put_rows(b, r, 0, lr, 0);
            add_segment(b, c0, lc, 0, 0);
            add_segment(b, r0, lr, 0, 0);
            add_lastq(b, 2 * i, 0, 0, c0, lc);
            add_lastq(b, 2 * i + 1, 0, 0, r0, lr);
        }
        b->margin[i] = margin_scale * rmens_dataset_margin(ds, idx[i]);
    }
    return RMENS_OK;
}

/* The steps of a solution of len tokens (step k closing one before end[k], label y[k]
 * or none when y is NULL) read at the context T: those whose closing token survives the
 * cut from the front (and, labelled_only, carry a label). Calls visit(k, row in the kept
 * sequence) for each when given; returns their count. */
static int steps_kept(int64_t len, const int32_t *end, int64_t n, const float *y, int T, int labelled_only,
                      void (*visit)(void *, int64_t, int), void *user)
{
    const int64_t cut = rmens_batch_cut(len, 0, 0, T).chosen;
    int kept = 0;
    for (int64_t k = 0; k < n; k++) {
        if (end[k] - 1 < cut || (labelled_only && (!y || y[k] == RMENS_STEP_UNLABELLED)))
            continue;
        if (visit)
            visit(user, k, (int)(end[k] - 1 - cut));
        kept++;
    }
    return kept;
}

int rmens_batch_steps_kept(int64_t len, const int32_t *end, int64_t n, int T)
{
    return steps_kept(len, end, n, NULL, T, 0, NULL, NULL);
}

int rmens_batch_steps_read(const rmens_dataset *ds, int64_t i, int T, int labelled_only)
{
    int64_t n;
    const int32_t *end = rmens_dataset_step_ends(ds, 0, i, &n);
    return steps_kept(rmens_dataset_len(ds, RMENS_SIDE_RESPONSE, i), end, n, rmens_dataset_step_targets(ds, i), T,
                      labelled_only, NULL, NULL);
}

typedef struct {
    rmens_batch *b;
    int r0;
    const float *y;
    float *labels;
} step_reads;

static void add_step_read(void *user, int64_t k, int row)
{
    step_reads *s = user;
    rmens_batch *b = s->b;
    if (s->labels)
        s->labels[b->S] = s->y ? s->y[k] : RMENS_STEP_UNLABELLED;
    add_lastq(b, b->S++, 0, 0, s->r0, row + 1);  /* causal: the query sees rows up to its own */
}

static void steps_clear(rmens_batch *b)
{
    b->N = b->S = b->nsegs = b->max_keys = b->n_cut = 0;
    b->probs_size = b->lq_probs_size = 0;
}

/* Appends one solution: one causal segment (cut to its last n_ctx tokens), read at its
 * kept steps' closing tokens. */
static rmens_status put_solution(rmens_batch *b, const int32_t *t, int64_t len, const int32_t *end, int64_t n,
                                 const float *y, int labelled_only, float *labels)
{
    const int T = b->n_ctx;
    const int reads = steps_kept(len, end, n, y, T, labelled_only, NULL, NULL);
    const int64_t cut = rmens_batch_cut(len, 0, 0, T).chosen;
    if (len < 1)
        return rmens_fail(RMENS_ERR_ARG, "an empty solution");
    if (b->N + (len - cut) > (int64_t)2 * b->cap_pairs * T || b->S + reads > 2 * b->cap_pairs)
        return rmens_fail(RMENS_ERR_INTERNAL, "batch: the solutions do not fit the room for %d pairs", b->cap_pairs);
    b->n_cut += cut > 0;
    step_reads s = {b, put_rows(b, t + cut, 0, (int)(len - cut), 0), y, labels};
    add_segment(b, s.r0, (int)(len - cut), 0, 0);
    steps_kept(len, end, n, y, T, labelled_only, add_step_read, &s);
    b->B = (b->S + 1) / 2;
    return RMENS_OK;
}

/* Whether one more solution fits the batch as built so far. */
static int steps_fit(const rmens_batch *b, int64_t len, const int32_t *end, int64_t n)
{
    const int64_t kept = len - rmens_batch_cut(len, 0, 0, b->n_ctx).chosen;
    return b->N + kept <= (int64_t)2 * b->cap_pairs * b->n_ctx &&
           b->S + rmens_batch_steps_kept(len, end, n, b->n_ctx) <= 2 * b->cap_pairs;
}

rmens_status rmens_batch_build_step_seqs(rmens_batch *b, const int32_t *const *seqs, const int64_t *lens,
                                         const int32_t *const *ends, const int64_t *nsteps, int64_t n, int *laid)
{
    steps_clear(b);
    *laid = 0;
    for (int64_t i = 0; i < n && (i == 0 || steps_fit(b, lens[i], ends[i], nsteps[i])); i++) {
        RMENS_TRY(put_solution(b, seqs[i], lens[i], ends[i], nsteps[i], NULL, 0, NULL));
        ++*laid;
    }
    return RMENS_OK;
}

rmens_status rmens_batch_build_steps(rmens_batch *b, const rmens_dataset *ds, const int64_t *idx, int B,
                                     int labelled_only, float *labels)
{
    if (rmens_dataset_kind(ds) != RMENS_DATA_STEPS)
        return rmens_fail(RMENS_ERR_ARG, "a process reward model reads a steps file");
    steps_clear(b);
    int64_t n = rmens_dataset_count(ds);
    for (int i = 0; i < B; i++) {
        if (idx[i] < 0 || idx[i] >= n)
            return rmens_fail(RMENS_ERR_ARG, "solution index %lld outside [0, %lld)", (long long)idx[i], (long long)n);
        int64_t len, ns;
        const int32_t *t = rmens_dataset_seq(ds, RMENS_SIDE_RESPONSE, idx[i], &len);
        if (!t)
            return rmens_fail_context(RMENS_ERR_HDF5, "solution %lld: ", (long long)idx[i]);
        const int32_t *end = rmens_dataset_step_ends(ds, 0, idx[i], &ns);
        rmens_status st = put_solution(b, t, len, end, ns, rmens_dataset_step_targets(ds, idx[i]), labelled_only,
                                       labels);
        if (st != RMENS_OK)
            return rmens_fail_context(st, "solution %lld: ", (long long)idx[i]);
    }
    return RMENS_OK;
}
