#include "config.h"
#include "ensemble/prm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/logistic.h"
#include "comm/placement.h"
#include "comm/sum.h"
#include "comm/verdict.h"
#include "ensemble/ensemble.h"
#include "ensemble/metrics.h"
#include "ensemble/scorer.h"
#include "io/checkpoint.h"
#include "io/dataset.h"
#include "io/h5.h"
#include "io/output.h"
#include "model/batch.h"
#include "text/tokenizer.h"

const char *const rmens_aggregate_names[RMENS_AGG_N] = {"min", "prod", "last"};

double rmens_aggregate_steps(rmens_aggregate a, const float *p, int64_t n, int64_t stride)
{
    double v = a == RMENS_AGG_MIN ? INFINITY : 1.0;
    int seen = 0;
    for (int64_t k = 0; k < n; k++) {
        double x = p[k * stride];
        if (isnan(x))
            continue;
        v = a == RMENS_AGG_MIN ? fmin(v, x) : a == RMENS_AGG_PROD ? v * x : x;
        seen = 1;
    }
    return seen ? v : NAN;
}

int rmens_prm_wanted(const char *ckpt, const char *data)
{
    rmens_h5_init();
    char kind[32] = "";
    hid_t f = -1;
    int steps = 0;
    rmens_h5_lock();
    if (rmens_h5_is_hdf5(data) && rmens_h5_open_ro(data, H5P_DEFAULT, &f) == RMENS_OK) {
        steps = rmens_h5_has_attr(f, "rmens_format") &&
                rmens_h5_attr_read_str(f, "rmens_format", kind, sizeof kind) == RMENS_OK && strcmp(kind, "steps") == 0;
        rmens_h5_close(f);
    }
    rmens_h5_unlock();
    rmens_ckpt_header h;
    int prm = rmens_h5_is_hdf5(ckpt) && rmens_checkpoint_read_header(ckpt, &h) == RMENS_OK &&
              strcmp(h.objective, "prm") == 0;
    return steps || prm;
}

/* ------------------------------------------------------------ scoring */

void rmens_prm_probs(const float *logit, int64_t n, float *prob)
{
    for (int64_t s = 0; s < n; s++)
        prob[s] = isnan(logit[s]) ? NAN : (float)rmens_sigmoid(logit[s]);
}

void rmens_prm_step_stats(const float *prob, int K, float *mean, float *sd, float *mn)
{
    double m = 0, v = 0, lo = INFINITY;
    for (int k = 0; k < K; k++) {
        m += prob[k] / (double)K;
        lo = fmin(lo, prob[k]);
    }
    for (int k = 0; k < K; k++)
        v += (prob[k] - m) * (prob[k] - m) / K;
    *mean = (float)m, *sd = (float)sqrt(v), *mn = isnan(m) ? NAN : (float)lo;
}

rmens_status rmens_prm_logits(rmens_ensemble *e, rmens_batch *b, const int32_t *const *seqs, const int64_t *lens,
                              const int32_t *const *ends, const int64_t *nsteps, int64_t n, float *out)
{
    const int T = e->cfg.n_ctx;
    for (int64_t a = 0, s0 = 0; a < n;) {
        int laid;
        RMENS_TRY(rmens_batch_build_step_seqs(b, seqs + a, lens + a, ends + a, nsteps + a, n - a, &laid));
        for (int j = 0; j < e->nloc; j++) {
            if (b->S > 0)
                RMENS_TRY(rmens_model_forward(e->m[j], b));
            const float *r = rmens_model_rewards(e->m[j]);
            /* The reads of solution i are its last steps: the cut takes the first ones. */
            int at = 0;
            for (int64_t i = a, s = s0; i < a + laid; i++) {
                const int64_t ns = nsteps[i], kept = rmens_batch_steps_kept(lens[i], ends[i], ns, T);
                for (int64_t k = 0; k < ns; k++, s++)
                    out[s * e->nloc + j] = k < ns - kept ? NAN : r[at++];
            }
        }
        for (int64_t i = a; i < a + laid; i++)
            s0 += nsteps[i];
        a += laid;
    }
    return RMENS_OK;
}

/* Every member's logit for every step of ds, on rank 0: logit[s * K + k], NaN for a step
 * whose closing token the context cut away. */
typedef struct {
    int K, n_ctx;
    int64_t step, n, S, n_cut, steps_cut;
    float *logit;
    char tokenizer[128];
} step_logits;

/* Collective. data names ds in messages. */
static rmens_status gather_logits(const char *ckpt, const char *data, const rmens_dataset *ds, int batch,
                                  MPI_Comm comm, step_logits *out)
{
    memset(out, 0, sizeof *out);
    rmens_ckpt_header h;
    rmens_placement pl = {.group = MPI_COMM_NULL};
    rmens_ensemble *e = NULL;
    rmens_batch b = {0};
    float *local = NULL;
    int rank;
    RMENS_TRY(rmens_mpi_check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank"));
    rmens_status st = rmens_checkpoint_read_header(ckpt, &h);
    if (st != RMENS_OK)
        rmens_fail_context(st, "%s: ", ckpt);
    else if (strcmp(h.objective, "prm") != 0)
        st = rmens_fail(RMENS_ERR_ARG, "%s holds pairwise (Bradley-Terry) members: the steps of %s need a process "
                        "reward model (rmens train --objective prm)", ckpt, data);
    else if (rmens_dataset_kind(ds) != RMENS_DATA_STEPS)
        st = rmens_fail(RMENS_ERR_ARG, "%s is a process reward model: it scores the steps of a steps file, and %s is a "
                        "%s file", ckpt, data, rmens_dataset_kind(ds) == RMENS_DATA_PAIRS ? "pairs" : "responses");
    if ((st = rmens_verdict(comm, st)) != RMENS_OK)
        return st;
    out->K = h.members;
    out->step = h.step;
    out->n = rmens_dataset_count(ds);
    snprintf(out->tokenizer, sizeof out->tokenizer, "%s", h.tokenizer);
    if ((st = rmens_placement_init(&pl, comm, out->K)) == RMENS_OK)
        st = rmens_ensemble_open_subset(&e, ckpt, pl.local, pl.n_local);
    if (st == RMENS_OK && e->tokenizer[0] && !rmens_tokenizer_same(e->tokenizer, ds->tokenizer))
        st = rmens_fail(RMENS_ERR_ARG, "%s: the data was tokenized by \"%s\" but %s reads \"%s\" tokens", data,
                        ds->tokenizer, ckpt, e->tokenizer);
    else if (st == RMENS_OK && rmens_dataset_vocab_size(ds) > e->cfg.vocab_size)
        st = rmens_fail(RMENS_ERR_ARG, "%s: the data has vocab_size %d but the model reads %d tokens", data,
                        rmens_dataset_vocab_size(ds), e->cfg.vocab_size);
    if ((st = rmens_verdict(comm, st)) != RMENS_OK)
        goto exit;
    const int T = e->cfg.n_ctx;
    out->n_ctx = T;
    int64_t longest = 0;
    int max_reads = 1;
    for (int64_t i = 0; i < out->n; i++) {
        int64_t len = rmens_dataset_len(ds, RMENS_SIDE_RESPONSE, i), ns;
        rmens_dataset_step_ends(ds, 0, i, &ns);
        int r = rmens_batch_steps_read(ds, i, T, 0);
        longest = len > longest ? len : longest;
        max_reads = r > max_reads ? r : max_reads;
        out->S += ns;
        out->n_cut += len > T;
        out->steps_cut += ns - r;
    }
    /* B solutions a pass, room for all their steps (2 reads per pair of room). */
    const int B = batch > 0 && batch <= 1024 ? batch : 16, cap = (int)(((int64_t)B * max_reads + 1) / 2);
    const int maxlen = longest < T ? (int)longest : T;
    st = rmens_batch_init(&b, cap, T, e->cfg.n_head);
    for (int j = 0; j < e->nloc && st == RMENS_OK; j++) {
        if (j == 0)
            st = rmens_model_reserve_forward(e->m[0], cap, maxlen);
        else
            rmens_model_borrow_acts(e->m[j], e->m[0]);
    }
    local = calloc((size_t)out->S * (size_t)(e->nloc > 0 ? e->nloc : 1) + 1, sizeof *local);
    if (st == RMENS_OK && !local)
        st = rmens_fail(RMENS_ERR_NOMEM, "out of memory for %lld steps", (long long)out->S);
    /* A member's ranks split the solutions at whole passes. */
    const int64_t blocks = (out->n + B - 1) / B;
    int64_t lo = blocks * pl.group_rank / pl.group_size * B, hi = blocks * (pl.group_rank + 1) / pl.group_size * B;
    hi = hi > out->n ? out->n : hi;
    lo = lo > out->n ? out->n : lo;
    const int32_t *seqs[1024], *ends[1024];
    int64_t lens[1024], nsteps[1024];
    for (int64_t a = lo; a < hi && st == RMENS_OK && e->nloc > 0; a += B) {
        int nb = (int)(hi - a < B ? hi - a : B);
        for (int i = 0; i < nb; i++) {
            seqs[i] = rmens_dataset_seq(ds, RMENS_SIDE_RESPONSE, a + i, &lens[i]);
            ends[i] = rmens_dataset_step_ends(ds, 0, a + i, &nsteps[i]);
        }
        st = rmens_prm_logits(e, &b, seqs, lens, ends, nsteps, nb, local + (size_t)ds->side[0].step_offsets[a] * e->nloc);
    }
    if (st != RMENS_OK)
        rmens_fail_context(st, "%s: ", data);
    if ((st = rmens_verdict(comm, st)) != RMENS_OK)
        goto exit;
    /* Every member's logits onto rank 0: each entry has one rank that scored it. */
    float *all = calloc((size_t)out->S * out->K + 1, sizeof *all);
    st = all ? RMENS_OK : rmens_fail(RMENS_ERR_NOMEM, "out of memory for %lld x %d logits", (long long)out->S, out->K);
    if ((st = rmens_verdict(comm, st)) != RMENS_OK) {
        free(all);
        goto exit;
    }
    for (int64_t a = lo; a < hi; a++)
        for (int64_t s = ds->side[0].step_offsets[a]; s < ds->side[0].step_offsets[a + 1]; s++)
            for (int j = 0; j < e->nloc; j++)
                all[s * out->K + e->idx[j]] = local[(size_t)s * e->nloc + j];
    st = rmens_sum_root(all, (size_t)(out->S * out->K), comm);
    if (st == RMENS_OK && rank == 0)
        out->logit = all;
    else
        free(all);
exit:
    free(local);
    rmens_batch_free(&b);
    rmens_ensemble_close(e);
    if (pl.local)
        rmens_placement_free(&pl);
    return rmens_verdict(comm, st);
}

/* Every step's probability by every member (prob[s * K + k], NaN where cut), and every
 * solution's score by each member: ms[i * K + k], aggregated over its steps by a. */
static void member_probs(const step_logits *g, float *prob) { rmens_prm_probs(g->logit, g->S * g->K, prob); }

static void member_solution_scores(const step_logits *g, const rmens_dataset *ds, rmens_aggregate a,
                                   const float *prob, float *ms)
{
    for (int64_t i = 0; i < g->n; i++) {
        int64_t s0 = ds->side[0].step_offsets[i], ns = ds->side[0].step_offsets[i + 1] - s0;
        for (int k = 0; k < g->K; k++)
            ms[i * g->K + k] = (float)rmens_aggregate_steps(a, prob + s0 * g->K + k, ns, g->K);
    }
}

double rmens_prm_solution_right(const rmens_dataset *ds, int64_t i)
{
    const float *y = ds->side[0].step_target;
    double right = NAN;
    for (int64_t s = ds->side[0].step_offsets[i]; s < ds->side[0].step_offsets[i + 1]; s++)
        if (y[s] != RMENS_STEP_UNLABELLED)
            right = (isnan(right) || right > 0) && y[s] >= 0.5f ? 1.0 : 0.0;
    return right;
}

rmens_status rmens_prm_solution_scores(const char *ckpt, const char *data, const rmens_dataset *ds, rmens_aggregate a,
                                       MPI_Comm comm, float **R, int *K, int64_t *n_cut)
{
    int rank;
    *R = NULL;
    RMENS_TRY(rmens_mpi_check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank"));
    rmens_status st = (unsigned)a < RMENS_AGG_N ? RMENS_OK : rmens_fail(RMENS_ERR_ARG, "unknown aggregate %d", (int)a);
    RMENS_TRY(rmens_verdict(comm, st));
    step_logits g = {0};
    RMENS_TRY(gather_logits(ckpt, data, ds, 0, comm, &g));
    *K = g.K;
    *n_cut = g.n_cut;
    float *prob = NULL, *ms = NULL;
    if (rank == 0) {
        prob = malloc((size_t)(g.S * g.K + 1) * sizeof *prob);
        ms = malloc((size_t)(g.n * g.K + 1) * sizeof *ms);
        if (!prob || !ms)
            st = rmens_fail(RMENS_ERR_NOMEM, "out of memory for %lld solutions' scores", (long long)g.n);
        else
            member_probs(&g, prob), member_solution_scores(&g, ds, a, prob, ms);
    }
    free(prob);
    free(g.logit);
    if ((st = rmens_verdict(comm, st)) != RMENS_OK) {
        free(ms);
        return st;
    }
    *R = ms;
    return RMENS_OK;
}

/* Rank 0: the scores file (docs/FORMAT.md, "scores" files of steps). */
static rmens_status write_scores(const rmens_prm_score_options *o, const rmens_dataset *ds, const step_logits *g)
{
    const int K = g->K;
    const int64_t S = g->S, N = g->n;
    float *prob = malloc((size_t)(S * K + 1) * sizeof *prob), *col = malloc((size_t)(4 * S + 1) * sizeof *col);
    float *score = malloc((size_t)(N * (K + 1) + 1) * sizeof *score);
    rmens_status st = prob && col && score ? RMENS_OK : rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    float *mean = col, *sd = col + S, *mn = col + 2 * S, *lab = col + 3 * S, *ms = score + N;
    if (st == RMENS_OK)
        member_probs(g, prob), member_solution_scores(g, ds, o->aggregate, prob, ms);
    for (int64_t s = 0; st == RMENS_OK && s < S; s++) {
        rmens_prm_step_stats(prob + s * K, K, &mean[s], &sd[s], &mn[s]);
        lab[s] = ds->side[0].step_target[s];
    }
    for (int64_t i = 0; st == RMENS_OK && i < N; i++) {
        int64_t s0 = ds->side[0].step_offsets[i], ns = ds->side[0].step_offsets[i + 1] - s0;
        score[i] = (float)rmens_aggregate_steps(o->aggregate, mean + s0, ns, 1);
    }
    char tmp[4200];
    hid_t f = -1;
    if (st == RMENS_OK)
        st = rmens_h5_create_tmp(o->out, o->force, (double)(S * (K + 4) + N * (K + 3)) * 4.0 + RMENS_H5_OVERHEAD(20),
                                 &f, tmp, sizeof tmp);
    if (st != RMENS_OK)
        goto exit;
    const int64_t n1 = N + 1, sk[2] = {S, K}, nk[2] = {N, K};
    st = rmens_h5_attr_write_str(f, "rmens_format", "scores");
    if (st == RMENS_OK) st = rmens_h5_attr_write_i64(f, "rmens_version", RMENS_FORMAT_VERSION);
    if (st == RMENS_OK) st = rmens_h5_attr_write_str(f, "created_by", "rmens " PACKAGE_VERSION);
    if (st == RMENS_OK) st = rmens_h5_attr_write_str(f, "input", "steps");
    if (st == RMENS_OK) st = rmens_h5_attr_write_str(f, "checkpoint", o->ckpt);
    if (st == RMENS_OK) st = rmens_h5_attr_write_i64(f, "checkpoint_step", g->step);
    if (st == RMENS_OK) st = rmens_h5_attr_write_i64(f, "checkpoint_crc32", rmens_score_file_crc32(o->ckpt));
    if (st == RMENS_OK) st = rmens_h5_attr_write_str(f, "data", o->data);
    if (st == RMENS_OK) st = rmens_h5_attr_write_str(f, "command_line", o->command ? o->command : "");
    if (st == RMENS_OK) st = rmens_h5_attr_write_i64(f, "members", K);
    if (st == RMENS_OK) st = rmens_h5_attr_write_str(f, "aggregate", rmens_aggregate_names[o->aggregate]);
    if (st == RMENS_OK) st = rmens_h5_attr_write_i64(f, "sequences_cut", g->n_cut);
    if (st == RMENS_OK) st = rmens_h5_attr_write_i64(f, "steps_cut", g->steps_cut);
    if (st == RMENS_OK)
        st = rmens_h5_write_nd(f, "/step_offsets", H5T_STD_I64LE, H5T_NATIVE_INT64, ds->side[0].step_offsets, 1, &n1);
    if (st == RMENS_OK) st = rmens_h5_write_nd(f, "/steps/prob", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, prob, 2, sk);
    static const char *const cols[] = {"/steps/mean", "/steps/std", "/steps/min", "/steps/label"};
    for (int c = 0; c < 4 && st == RMENS_OK; c++)
        st = rmens_h5_write_nd(f, cols[c], H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, col + c * S, 1, &S);
    if (st == RMENS_OK) st = rmens_h5_write_nd(f, "/score", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, score, 1, &N);
    if (st == RMENS_OK) st = rmens_h5_write_nd(f, "/member_score", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, ms, 2, nk);
    if (st == RMENS_OK && (ds->has & RMENS_HAS_GROUP))
        st = rmens_h5_write_nd(f, "/prompt_id", H5T_STD_I64LE, H5T_NATIVE_INT64, ds->prompt_id, 1, &N);
    if (st == RMENS_OK && (ds->has & RMENS_HAS_GOLD))
        st = rmens_h5_write_nd(f, "/gold", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, ds->side[0].gold, 1, &N);
    if (st != RMENS_OK) {
        rmens_h5_abandon(f, tmp);
        st = rmens_fail_context(st, "%s: ", o->out);
    } else {
        st = rmens_h5_commit(f, tmp, o->out);
    }
exit:
    free(prob);
    free(col);
    free(score);
    return st;
}

rmens_status rmens_prm_score(const rmens_prm_score_options *o, MPI_Comm comm, rmens_prm_score_result *res)
{
    int rank;
    memset(res, 0, sizeof *res);
    RMENS_TRY(rmens_mpi_check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank"));
    rmens_status st = (unsigned)o->aggregate < RMENS_AGG_N ? RMENS_OK
                                                            : rmens_fail(RMENS_ERR_ARG, "unknown aggregate %d", (int)o->aggregate);
    if (st == RMENS_OK && rank == 0)
        st = rmens_output_check((rmens_file_use[]){{"`ckpt`", o->ckpt, 0}, {"`data`", o->data, 0}}, 2,
                                &(rmens_file_use){"`out`", o->out, o->force}, 1);
    RMENS_TRY(rmens_verdict(comm, st));
    double t0 = rmens_now();
    rmens_dataset *ds = NULL;
    step_logits g = {0};
    if ((st = rmens_dataset_read_comm(&ds, o->data, comm, -1)) == RMENS_OK &&
        (st = gather_logits(o->ckpt, o->data, ds, o->batch, comm, &g)) == RMENS_OK) {
        if (rank == 0)
            st = write_scores(o, ds, &g);
        *res = (rmens_prm_score_result){g.n, g.S, g.K, g.n_ctx, g.n_cut, g.steps_cut, rmens_now() - t0};
    }
    st = rmens_verdict(comm, st);
    free(g.logit);
    rmens_dataset_free(ds);
    return st;
}

/* ---------------------------------------------------------- evaluation */

/* Share of labelled steps decided right by probability p[s * stride] (> 1/2: correct). */
static double step_accuracy(const float *p, int64_t stride, const float *y, int64_t S, int64_t *m)
{
    int64_t right = 0, n = 0;
    for (int64_t s = 0; s < S; s++) {
        if (y[s] == RMENS_STEP_UNLABELLED || isnan(p[s * stride]))
            continue;
        right += (p[s * stride] > 0.5f) == (y[s] >= 0.5f);
        n++;
    }
    *m = n;
    return n ? (double)right / (double)n : NAN;
}

/* AUROC of p for the labels, and ECE of p as the probability of the label (10 bins). */
static void step_auroc_ece(const float *p, int64_t stride, const float *y, int64_t S, double *auroc, double *ece)
{
    double *x = calloc((size_t)(S + 1), sizeof *x), *pt = calloc((size_t)(S + 1), sizeof *pt);
    int *lab = calloc((size_t)(S + 1), sizeof *lab);
    int64_t n = 0;
    for (int64_t s = 0; x && pt && lab && s < S; s++) {
        if (y[s] == RMENS_STEP_UNLABELLED || isnan(p[s * stride]))
            continue;
        x[n] = p[s * stride];
        lab[n] = y[s] >= 0.5f;
        pt[n] = lab[n] ? x[n] : 1 - x[n];
        n++;
    }
    *auroc = x && pt && lab ? rmens_auroc(x, lab, n) : NAN;
    *ece = x && pt && lab && n ? rmens_ece(pt, n, 10) : NAN;
    free(x);
    free(pt);
    free(lab);
}

void rmens_prm_eval_result_free(rmens_prm_eval_result *r)
{
    free(r->member_accuracy);
    r->member_accuracy = NULL;
}

rmens_status rmens_prm_eval(const char *ckpt, const char *data, MPI_Comm comm, rmens_prm_eval_result *res)
{
    int rank;
    memset(res, 0, sizeof *res);
    RMENS_TRY(rmens_mpi_check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank"));
    rmens_dataset *ds = NULL;
    step_logits g = {0};
    float *prob = NULL, *col = NULL;
    rmens_status st = rmens_dataset_read_comm(&ds, data, comm, -1);
    if (st == RMENS_OK)
        st = gather_logits(ckpt, data, ds, 0, comm, &g);
    if (st != RMENS_OK || rank != 0)
        goto exit;
    const int K = g.K;
    const int64_t S = g.S, N = g.n;
    const float *y = ds->side[0].step_target;
    prob = malloc((size_t)(S * K + 1) * sizeof *prob);
    col = malloc((size_t)(3 * S + 1) * sizeof *col);  /* mean, min, std */
    res->member_accuracy = malloc((size_t)K * sizeof *res->member_accuracy);
    if (!prob || !col || !res->member_accuracy) {
        st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
        goto exit;
    }
    member_probs(&g, prob);
    for (int64_t s = 0; s < S; s++)
        rmens_prm_step_stats(prob + s * K, K, &col[s], &col[2 * S + s], &col[S + s]);
    res->solutions = N;
    res->steps = S;
    res->members = K;
    double au = 0, ece;
    for (int k = 0; k < K; k++) {
        res->member_accuracy[k] = step_accuracy(prob + k, K, y, S, &res->labelled);
        double a;
        step_auroc_ece(prob + k, K, y, S, &a, &ece);
        au += a / K;
    }
    res->member_auroc_mean = au;
    for (int r = 0; r < RMENS_PRM_BY_N; r++) {
        res->accuracy[r] = step_accuracy(col + r * S, 1, y, S, &res->labelled);
        step_auroc_ece(col + r * S, 1, y, S, &res->auroc[r], &res->ece[r]);
    }
    /* Does the members' spread flag the ensemble's wrong steps? AUROC of std for "wrong". */
    {
        double *u = malloc((size_t)(S + 1) * sizeof *u);
        int *wrong = malloc((size_t)(S + 1) * sizeof *wrong);
        int64_t n = 0;
        for (int64_t s = 0; u && wrong && s < S; s++) {
            if (y[s] == RMENS_STEP_UNLABELLED || isnan(col[s]))
                continue;
            res->positive += y[s] >= 0.5f;
            u[n] = col[2 * S + s];
            wrong[n++] = (col[s] > 0.5f) != (y[s] >= 0.5f);
        }
        res->std_auroc = u && wrong ? rmens_auroc(u, wrong, n) : NAN;
        free(u);
        free(wrong);
    }
    /* ProcessBench: the first wrong step, or -1 (no error), gold against judged. */
    int64_t hit_err = 0, hit_ok = 0;
    for (int64_t i = 0; i < N; i++) {
        int64_t gold = -1, pred = -1, any = 0;
        for (int64_t s = ds->side[0].step_offsets[i]; s < ds->side[0].step_offsets[i + 1]; s++) {
            if (y[s] == RMENS_STEP_UNLABELLED)
                continue;
            any = 1;
            if (gold < 0 && y[s] < 0.5f)
                gold = s;
            if (pred < 0 && !(col[s] > 0.5f))  /* a step cut away (NaN) counts as judged wrong */
                pred = s;
        }
        if (!any)
            continue;
        if (gold >= 0) {
            res->with_error++;
            hit_err += pred == gold;
        } else {
            res->without_error++;
            hit_ok += pred < 0;
        }
    }
    res->first_error_acc = res->with_error ? (double)hit_err / (double)res->with_error : NAN;
    res->no_error_acc = res->without_error ? (double)hit_ok / (double)res->without_error : NAN;
    double a = res->first_error_acc, b = res->no_error_acc;
    res->first_error_f1 = a + b > 0 ? 2 * a * b / (a + b) : 0;
exit:
    st = rmens_verdict(comm, st);
    if (st != RMENS_OK)
        rmens_prm_eval_result_free(res);
    free(prob);
    free(col);
    free(g.logit);
    rmens_dataset_free(ds);
    return st;
}
