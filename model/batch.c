#include "model/batch.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"

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
