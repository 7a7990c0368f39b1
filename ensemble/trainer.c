#include "ensemble/trainer.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "comm/memory.h"
#include "base/logistic.h"
#include "base/fault.h"
#include "comm/moments.h"
#include "comm/placement.h"
#include "comm/sum.h"
#include "comm/verdict.h"
#include "ensemble/bootstrap.h"
#include "io/checkpoint.h"
#include "io/output.h"
#include "io/dataset.h"
#include "io/modelfile.h"
#include "io/trainlog.h"
#include "text/tokenizer.h"

volatile sig_atomic_t rmens_train_stop_requested = 0;

const char *const rmens_objective_names[2] = {"bt", "prm"};

void rmens_train_options_init(rmens_train_options *o)
{
    memset(o, 0, sizeof *o);
    o->members = 4;
    o->model = (rmens_model_config){.vocab_size = RMENS_BYTES_VOCAB, .n_ctx = 128, .n_layer = 2, .n_head = 4, .n_embd = 64};
    o->batch = 32;
    rmens_adamw_config_init(&o->opt);
    o->opt.lr = 1e-3f;
    o->opt.warmup = 50;
    o->opt.weight_decay = 0.01f;
    o->epochs = 3;
    o->bootstrap = 1.0;
    o->seed = 1;
    o->eval_every = 200;
    o->norm_pairs = 32768;
    o->oob_pairs = 32768;
    o->lambda = 0.5;
    o->share = 1;
}

typedef struct {
    int index;
    rmens_model *m;
    rmens_adamw opt;
    rmens_bootstrap boot;
} member;

typedef struct {
    const rmens_train_options *o;
    MPI_Comm comm;
    rmens_placement pl;
    rmens_dataset *train, *val;
    member *mem;          /* [pl.n_local] */
    rmens_batch batch;
    int64_t *idx;         /* [max(B, eval batch)] */
    float *dr;
    float *w;             /* [B] the pair weights of a shard, when the data has /weight */
    int weighted;
    int prm;                 /* a process reward model on a steps file (objective prm) */
    int cap;                 /* the batch's room, in pairs (prm: 2 cap reads) */
    float *y;                /* [2 cap] labels of a prm batch's reads */
    int64_t reads[2];        /* prm: labelled reads of the training and validation files */
    int64_t step, total;
    rmens_model_config cfg;  /* the members' shape: options or --init, vocabulary of the data */
    int fresh_head;          /* --init had no score head: each member draws its own */
    rmens_ckpt_header *warm; /* the warm_start checkpoint's header, or NULL */
    char *hf_config;         /* --init DIR (or the resumed checkpoint's): config.json text, for export */
    char hf_dir[1024];       /* that directory, absolute */
    int64_t data_crc32;      /* fingerprint of the training pairs, kept for --resume */
    int max_len;             /* longest sequence of the data (activations are sized by it) */
    int max_reads;           /* prm: most steps read in one solution */
    double *mattrs;       /* [K][RMENS_MA_N], identical on all ranks after each evaluation */
    FILE *log;               /* the metrics file (io/trainlog), rank 0 */
    double t0;
    int64_t pairs_done;
    /* --keep-best / --patience (track_best): */
    float **best;            /* [pl.n_local] weights of each local member at its best */
    double *best_loss;       /* [K] lowest validation loss of each member so far */
    int64_t *best_step;      /* [K] the step it was reached at */
    double best_mean;        /* lowest mean over members */
    int bad;                 /* evaluations since best_mean last fell */
} trainer;

static int is_root(const trainer *t) { return t->pl.rank == 0; }
static int owner(const trainer *t) { return t->pl.group_rank == 0; }

/* Every event goes to the metrics file and to the caller, on rank 0. */
static void notify(trainer *t, rmens_train_event *ev)
{
    if (!is_root(t))
        return;
    ev->step = t->step;
    ev->total = t->total;
    ev->members = t->o->members;
    rmens_trainlog_event(t->log, ev);
    if (t->o->on_event)
        t->o->on_event(ev, t->o->event_user);
}

/* ------------------------------------------------------------ rewards */

/* Rewards of pairs idx[0..n) of ds for one member, in batches: out[2n]. */
static rmens_status rewards_of(trainer *t, member *mb, const rmens_dataset *ds, const int64_t *idx, int64_t n,
                               float *out)
{
    const int B = t->o->batch;
    for (int64_t a = 0; a < n; a += B) {
        int b = (int)(n - a < B ? n - a : B);
        RMENS_TRY(rmens_batch_build(&t->batch, ds, idx + a, b, t->o->share, t->o->margin_scale));
        RMENS_TRY(rmens_model_forward(mb->m, &t->batch));
        memcpy(out + 2 * a, rmens_model_rewards(mb->m), (size_t)2 * b * sizeof *out);
    }
    return RMENS_OK;
}

/* Process rewards: the logits of every labelled step of solutions idx[0..n) of ds, and
 * their labels, in order; *m receives their count. */
static rmens_status step_logits_of(trainer *t, member *mb, const rmens_dataset *ds, const int64_t *idx, int64_t n,
                                   float *out, float *labels, int64_t *m)
{
    const int B = t->o->batch;
    *m = 0;
    for (int64_t a = 0; a < n; a += B) {
        int b = (int)(n - a < B ? n - a : B);
        RMENS_TRY(rmens_batch_build_steps(&t->batch, ds, idx + a, b, 1, labels + *m));
        if (t->batch.S == 0)
            continue;
        RMENS_TRY(rmens_model_forward(mb->m, &t->batch));
        memcpy(out + *m, rmens_model_rewards(mb->m), (size_t)t->batch.S * sizeof *out);
        *m += t->batch.S;
    }
    return RMENS_OK;
}

/* ------------------------------------------------------------ evaluate */

enum { EV_LOSS, EV_CORRECT, EV_MARGIN, EV_OOB_CORRECT, EV_OOB_N, EV_OOB_LOSS, EV_OOB_MARGIN, EV_VAL_W, EV_OOB_W, EV_N };

/* Adds loss, correct count and margin of pairs idx[0..n) with rewards r[2n] to e[4],
 * each times the pair's weight, and the weights to e[3] (docs/TRAINING.md, "Pair weights"). */
static void pair_metrics(double *e, const float *r, const rmens_dataset *ds, const int64_t *idx, int64_t n,
                         double margin_scale)
{
    for (int64_t i = 0; i < n; i++) {
        double d = (double)r[2 * i] - r[2 * i + 1], w = rmens_dataset_weight(ds, idx[i]);
        double dm = d - margin_scale * rmens_dataset_margin(ds, idx[i]);
        e[0] += w * rmens_softplus(-dm);  /* -log sigmoid(dm), as the loss */
        e[1] += w * (d > 0);
        e[2] += w * d;
        e[3] += w;
    }
}

/* The same for process rewards: loss (binary cross-entropy), correct steps, margin (the
 * logit towards the label, (2y - 1) r) and the labelled steps' count into e[4]. */
static void step_metrics(double *e, const float *r, const float *y, int64_t m)
{
    for (int64_t k = 0; k < m; k++) {  /* rmens_prm_loss one step at a time: its loss and its rule */
        float d;
        int ok;
        e[0] += rmens_prm_loss(&d, r + k, y + k, 1, 1.0, &ok);
        e[1] += ok;
        e[2] += (2.0 * y[k] - 1.0) * r[k];
        e[3] += 1;
    }
}

/* A member's metrics on items idx[0..n) of ds (pairs or steps), into m3[4]; their rewards
 * (pairs: chosen 2i, rejected 2i + 1; steps: each labelled step's logit) into r, labels
 * (steps) into y, their count into *nr. */
static rmens_status item_metrics(trainer *t, member *mb, const rmens_dataset *ds, const int64_t *idx, int64_t n,
                                 double *m3, float *r, int64_t *nr)
{
    if (t->prm) {
        RMENS_TRY(step_logits_of(t, mb, ds, idx, n, r, t->y + 2 * (int64_t)t->cap, nr));
        step_metrics(m3, r, t->y + 2 * (int64_t)t->cap, *nr);
        return RMENS_OK;
    }
    RMENS_TRY(rewards_of(t, mb, ds, idx, n, r));
    pair_metrics(m3, r, ds, idx, n, t->o->margin_scale);
    *nr = 2 * n;
    return RMENS_OK;
}

/* Member mb on the validation pairs (their rewards into mom) and on an evenly spaced
 * sample of its out-of-bag pairs: loss, correct count and margin into e[EV_N]. */
static rmens_status measure_member(trainer *t, member *mb, double *e, rmens_moments *mom, float *r, int64_t *all)
{
    const rmens_train_options *o = t->o;
    const int64_t nv = t->val ? rmens_dataset_count(t->val) : 0;
    if (nv > 0) {
        for (int64_t i = 0; i < nv; i++)
            all[i] = i;
        double m3[4] = {0, 0, 0, 0};
        int64_t nr;
        RMENS_TRY(item_metrics(t, mb, t->val, all, nv, m3, r, &nr));
        e[EV_LOSS] = m3[0], e[EV_CORRECT] = m3[1], e[EV_MARGIN] = m3[2], e[EV_VAL_W] = m3[3];
        rmens_moments_add(mom, r, (size_t)nr);
    }
    int64_t noob = rmens_bootstrap_oob(&mb->boot, all);
    if (o->oob_pairs > 0 && noob > o->oob_pairs) {
        /* An evenly spaced sample of the (sorted) out-of-bag pairs: about 37% of a
         * large training set would otherwise be scored at every evaluation. In
         * place: sample i reads position (2i + 1) noob / (2 cap) >= i. */
        const int64_t cap = o->oob_pairs;
        for (int64_t i = 0; i < cap; i++)
            all[i] = all[rmens_even_sample(i, noob, cap)];
        noob = cap;
    }
    if (noob > 0) {
        double m3[4] = {0, 0, 0, 0};
        int64_t nr;
        RMENS_TRY(item_metrics(t, mb, t->train, all, noob, m3, r, &nr));
        e[EV_OOB_LOSS] = m3[0], e[EV_OOB_CORRECT] = m3[1], e[EV_OOB_MARGIN] = m3[2], e[EV_OOB_W] = m3[3];
    }
    e[EV_OOB_N] = (double)noob;
    return RMENS_OK;
}

/* Normalisation statistics: mean and std of the member's rewards over the training set,
 * so scores of different members can be compared. On a large set an evenly spaced sample
 * of norm_pairs pairs estimates them (32768 pairs: a standard error of the mean under
 * 0.4% of the std) at a fraction of a forward pass over all of it. */
static rmens_status measure_norm(trainer *t, member *mb, float *r, int64_t *all)
{
    const int64_t nt = rmens_dataset_count(t->train);
    const int64_t ns = t->o->norm_pairs > 0 && t->o->norm_pairs < nt ? t->o->norm_pairs : nt;
    for (int64_t i = 0; i < ns; i++)
        all[i] = rmens_even_sample(i, nt, ns);
    double m3[4] = {0, 0, 0, 0};
    int64_t nr;  /* pairs: 2 ns rewards; steps: the labelled steps' logits */
    RMENS_TRY(item_metrics(t, mb, t->train, all, ns, m3, r, &nr));
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < nr; i++)
        s += r[i];
    double mean = nr ? s / (double)nr : 0;
    for (int64_t i = 0; i < nr; i++)
        s2 += (r[i] - mean) * (r[i] - mean);
    t->mattrs[mb->index * RMENS_MA_N + RMENS_MA_REWARD_MEAN] = mean;
    t->mattrs[mb->index * RMENS_MA_N + RMENS_MA_REWARD_STD] = nr ? sqrt(s2 / (double)nr) : 0;
    return RMENS_OK;
}

/* Collective: each member's statistics live on its owner; share them so every rank
 * writes the same checkpoint attributes. */
static rmens_status share_norm(trainer *t)
{
    const int K = t->o->members;
    double *rs = calloc((size_t)K * 2, sizeof *rs), *rsum = calloc((size_t)K * 2, sizeof *rsum);
    for (int j = 0; j < t->pl.n_local && owner(t) && rs; j++) {
        int k = t->mem[j].index;
        rs[2 * k] = t->mattrs[k * RMENS_MA_N + RMENS_MA_REWARD_MEAN];
        rs[2 * k + 1] = t->mattrs[k * RMENS_MA_N + RMENS_MA_REWARD_STD];
    }
    rmens_status st = rs && rsum ? rmens_mpi_check(MPI_Allreduce(rs, rsum, 2 * K, MPI_DOUBLE, MPI_SUM, t->comm),
                                                   "MPI_Allreduce")
                                 : rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    for (int k = 0; k < K && st == RMENS_OK; k++) {
        t->mattrs[k * RMENS_MA_N + RMENS_MA_REWARD_MEAN] = rsum[2 * k];
        t->mattrs[k * RMENS_MA_N + RMENS_MA_REWARD_STD] = rsum[2 * k + 1];
    }
    free(rs);
    free(rsum);
    return st;
}

/* Every member's means from the counts summed over ranks, into mattrs. */
static void set_member_metrics(trainer *t, const double *evsum, int64_t nv)
{
    for (int k = 0; k < t->o->members; k++) {
        const double *e = evsum + (size_t)k * EV_N;
        double *a = t->mattrs + (size_t)k * RMENS_MA_N;
        /* weighted means: the weights sum to the pair count when the data has none */
        a[RMENS_MA_VAL_LOSS] = nv ? e[EV_LOSS] / e[EV_VAL_W] : NAN;
        a[RMENS_MA_VAL_ACC] = nv ? e[EV_CORRECT] / e[EV_VAL_W] : NAN;
        a[RMENS_MA_VAL_MARGIN] = nv ? e[EV_MARGIN] / e[EV_VAL_W] : NAN;
        a[RMENS_MA_OOB_ACC] = e[EV_OOB_N] > 0 ? e[EV_OOB_CORRECT] / e[EV_OOB_W] : NAN;
        a[RMENS_MA_OOB_LOSS] = e[EV_OOB_N] > 0 ? e[EV_OOB_LOSS] / e[EV_OOB_W] : NAN;
        a[RMENS_MA_OOB_MARGIN] = e[EV_OOB_N] > 0 ? e[EV_OOB_MARGIN] / e[EV_OOB_W] : NAN;
    }
}

/* The ensemble's validation accuracy by each decision rule, from the per-pair moments
 * over members (chosen 2i, rejected 2i + 1), weighted by the pairs' weights. */
static void ensemble_accuracy(double acc[RMENS_RULE_N], const rmens_moments *mom, const rmens_dataset *val, int64_t nv,
                              double lambda)
{
    double wsum = 0;
    for (int r = 0; r < RMENS_RULE_N; r++)
        acc[r] = 0;
    for (int64_t i = 0; i < nv; i++) {
        const rmens_moments *w = &mom[2 * i], *l = &mom[2 * i + 1];
        double one[RMENS_RULE_N] = {0}, wt = rmens_dataset_weight(val, i);
        rmens_rule_decide(one, (const double[3]){w->mean, w->min, rmens_moments_var(w)},
                          (const double[3]){l->mean, l->min, rmens_moments_var(l)}, lambda);
        for (int r = 0; r < RMENS_RULE_N; r++)
            acc[r] += wt * one[r];
        wsum += wt;
    }
    for (int r = 0; nv && r < RMENS_RULE_N; r++)
        acc[r] /= wsum;
}

/* The same for process rewards: each labelled validation step (moments of its logits
 * over members, label y[k]) decided correct by each rule when the rule's value is > 0
 * (p > 1/2) exactly when y >= 1/2. */
static void ensemble_step_accuracy(double acc[RMENS_RULE_N], const rmens_moments *mom, const float *y, int64_t m,
                                   double lambda)
{
    for (int r = 0; r < RMENS_RULE_N; r++)
        acc[r] = 0;
    for (int64_t k = 0; k < m; k++) {
        double one[RMENS_RULE_N] = {0};
        rmens_rule_decide(one, (const double[3]){mom[k].mean, mom[k].min, rmens_moments_var(&mom[k])},
                          (const double[3]){0, 0, 0}, lambda);
        for (int r = 0; r < RMENS_RULE_N; r++)
            acc[r] += (one[r] > 0.5) == (y[k] >= 0.5f);
    }
    for (int r = 0; m && r < RMENS_RULE_N; r++)
        acc[r] /= (double)m;
}

/* Collective: every member on the validation pairs and its out-of-bag sample (final: and
 * its reward statistics); mattrs the same on every rank after it; an EVAL event. */
static rmens_status evaluate(trainer *t, int final)
{
    const int K = t->o->members;
    const int64_t nv = t->val ? rmens_dataset_count(t->val) : 0, nt = rmens_dataset_count(t->train);
    /* the rewards of one pass: 2 per pair, or one per labelled step */
    const int64_t nmom = t->prm ? t->reads[1] : 2 * nv, nr = t->prm ? (t->reads[0] > nmom ? t->reads[0] : nmom)
                                                                    : 2 * (nv > nt ? nv : nt);
    rmens_status st = RMENS_OK;
    double *ev = calloc((size_t)K * EV_N, sizeof *ev), *evsum = calloc((size_t)K * EV_N, sizeof *ev);
    rmens_moments *mom = malloc((size_t)(nmom + 1) * sizeof *mom);
    float *r = malloc((size_t)(nr + 2) * sizeof *r);
    float *y = t->prm ? realloc(t->y, (size_t)(2 * (int64_t)t->cap + nr + 2) * sizeof *y) : t->y;
    if (y)
        t->y = y;
    int64_t *all = malloc((size_t)(nv > nt ? nv : nt) * sizeof *all);
    if (!ev || !evsum || !mom || !r || !all || !y) {
        st = rmens_fail(RMENS_ERR_NOMEM, "out of memory for evaluation");
        goto exit;
    }
    rmens_moments_clear(mom, (size_t)nmom);
    for (int j = 0; j < t->pl.n_local && owner(t) && st == RMENS_OK; j++) {
        st = measure_member(t, &t->mem[j], ev + (size_t)t->mem[j].index * EV_N, mom, r, all);
        if (st == RMENS_OK && final)
            st = measure_norm(t, &t->mem[j], r, all);
    }
    if ((st = rmens_verdict(t->comm, st)) != RMENS_OK)
        goto exit;
    if ((st = rmens_mpi_check(MPI_Allreduce(ev, evsum, K * EV_N, MPI_DOUBLE, MPI_SUM, t->comm), "MPI_Allreduce(eval)")) !=
        RMENS_OK)
        goto exit;
    if (final && (st = share_norm(t)) != RMENS_OK)
        goto exit;
    set_member_metrics(t, evsum, nv);
    /* Per-pair statistics across members: a Chan-merge reduction onto rank 0. */
    if (nmom > 0 && (st = rmens_moments_reduce(mom, (size_t)nmom, 0, t->comm)) != RMENS_OK)
        goto exit;
    rmens_train_event e = {.kind = RMENS_TRAIN_EVAL};
    e.eval.final = final;
    e.eval.member = t->mattrs;
    e.eval.has_val = nv > 0;
    e.eval.lambda = t->o->lambda;
    if (is_root(t) && t->prm && nv > 0) {
        /* the validation labels, in the order the moments hold them */
        int64_t m = 0;
        for (int64_t i = 0; i < nv && st == RMENS_OK; i += t->o->batch) {
            int b = (int)(nv - i < t->o->batch ? nv - i : t->o->batch);
            for (int j = 0; j < b; j++)
                all[j] = i + j;
            st = rmens_batch_build_steps(&t->batch, t->val, all, b, 1, t->y + 2 * (int64_t)t->cap + m);
            m += t->batch.S;
        }
        if (st != RMENS_OK)
            goto exit;
        ensemble_step_accuracy(e.eval.accuracy, mom, t->y + 2 * (int64_t)t->cap, m, t->o->lambda);
    } else if (is_root(t)) {
        ensemble_accuracy(e.eval.accuracy, mom, t->val, nv, t->o->lambda);
    }
    notify(t, &e);
exit:
    free(ev);
    free(evsum);
    free(mom);
    free(r);
    free(all);
    return st;
}

/* ---------------------------------------------------------- checkpoint */

static void fill_header(const trainer *t, rmens_ckpt_header *h)
{
    const rmens_train_options *o = t->o;
    memset(h, 0, sizeof *h);
    h->cfg = t->cfg;
    h->members = o->members;
    h->step = t->step;
    h->total_steps = t->total;
    h->n_pairs = rmens_dataset_count(t->train);
    h->seed = o->seed;
    h->bootstrap = o->bootstrap;
    h->batch = o->batch;
    h->share = o->share;
    h->member_offset = o->member_offset;
    h->ensemble_size = o->ensemble_size > 0 ? o->ensemble_size : o->members;
    h->data_crc32 = t->data_crc32;
    h->warmup = o->opt.warmup;
    h->lr = o->opt.lr;
    h->min_lr_frac = o->opt.min_lr_frac;
    h->beta1 = o->opt.beta1;
    h->beta2 = o->opt.beta2;
    h->eps = o->opt.eps;
    h->weight_decay = o->opt.weight_decay;
    h->clip = o->opt.clip;
    h->margin_scale = o->margin_scale;
    h->center = o->center;
    snprintf(h->tokenizer, sizeof h->tokenizer, "%s", t->train->tokenizer);
    h->eot_token = t->train->eot;
    snprintf(h->template_name, sizeof h->template_name, "%s", t->train->template_name);
    snprintf(h->objective, sizeof h->objective, "%s", rmens_objective_names[t->prm]);
    snprintf(h->step_separator, sizeof h->step_separator, "%s", t->prm ? t->train->step_separator : "");
    snprintf(h->data, sizeof h->data, "%s", o->data);
    snprintf(h->command, sizeof h->command, "%s", o->command ? o->command : "");
    snprintf(h->hf_config, sizeof h->hf_config, "%s", t->hf_config ? t->hf_config : "");
    snprintf(h->hf_dir, sizeof h->hf_dir, "%s", t->hf_dir);
    h->data_vocab = rmens_dataset_vocab_size(t->train);
}

/* After an evaluation (mattrs are the same on every rank): keeps each local member's
 * weights when its validation loss is its lowest so far (--keep-best), and counts
 * evaluations without a lower mean over members (--patience): *stop when it reaches it. */
static rmens_status track_best(trainer *t, int *stop)
{
    const rmens_train_options *o = t->o;
    const int K = o->members;
    *stop = 0;
    if (!o->keep_best && o->patience <= 0)
        return RMENS_OK;
    if (!t->best_loss) {
        t->best_loss = malloc((size_t)K * sizeof *t->best_loss);
        t->best_step = calloc((size_t)K, sizeof *t->best_step);
        t->best = calloc((size_t)t->pl.n_local + 1, sizeof *t->best);
        if (!t->best_loss || !t->best_step || !t->best)
            return rmens_fail(RMENS_ERR_NOMEM, "out of memory for `keep_best`");
        for (int k = 0; k < K; k++)
            t->best_loss[k] = INFINITY;
        t->best_mean = INFINITY;
    }
    double mean = 0;
    for (int k = 0; k < K; k++)
        mean += t->mattrs[(size_t)k * RMENS_MA_N + RMENS_MA_VAL_LOSS] / K;
    for (int j = 0; o->keep_best && j < t->pl.n_local; j++) {
        member *mb = &t->mem[j];
        double l = t->mattrs[(size_t)mb->index * RMENS_MA_N + RMENS_MA_VAL_LOSS];
        if (!(l < t->best_loss[mb->index]))
            continue;
        if (!t->best[j] && !(t->best[j] = malloc(mb->m->nparams * sizeof(float))))
            return rmens_fail(RMENS_ERR_NOMEM, "out of memory for `keep_best`");
        memcpy(t->best[j], mb->m->params, mb->m->nparams * sizeof(float));
    }
    for (int k = 0; k < K; k++) {
        double l = t->mattrs[(size_t)k * RMENS_MA_N + RMENS_MA_VAL_LOSS];
        if (l < t->best_loss[k]) {
            t->best_loss[k] = l;
            t->best_step[k] = t->step;
        }
    }
    if (mean < t->best_mean) {
        t->best_mean = mean;
        t->bad = 0;
    } else if (o->patience > 0 && ++t->bad >= o->patience) {
        *stop = 1;
    }
    return RMENS_OK;
}

/* --keep-best, before the final evaluation: each member gets back its best weights. */
static void restore_best(trainer *t)
{
    for (int j = 0; t->best && j < t->pl.n_local; j++)
        if (t->best[j])
            memcpy(t->mem[j].m->params, t->best[j], t->mem[j].m->nparams * sizeof(float));
    for (int k = 0; t->best_step && k < t->o->members; k++) {
        rmens_train_event e = {.kind = RMENS_TRAIN_BEST, .best = {k, t->best_step[k], t->best_loss[k]}};
        notify(t, &e);
    }
}

static rmens_status save(trainer *t)
{
    rmens_ckpt_header h;
    fill_header(t, &h);
    rmens_ckpt_member *loc = calloc((size_t)t->pl.n_local + 1, sizeof *loc);
    if (!loc)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    int n = 0;
    for (int j = 0; j < t->pl.n_local && owner(t); j++) {
        member *mb = &t->mem[j];
        loc[n++] = (rmens_ckpt_member){mb->index, mb->m->params, mb->opt.m, mb->opt.v, mb->boot.counts};
    }
    double t0 = rmens_now();
    rmens_status st = rmens_checkpoint_save(t->o->out, t->comm, &h, t->mattrs, loc, n);
    free(loc);
    if (st == RMENS_OK) {
        rmens_train_event e = {.kind = RMENS_TRAIN_SAVED, .saved = {t->o->out, rmens_now() - t0}};
        notify(t, &e);
    }
    return st;
}

static rmens_status check_resume(trainer *t, const rmens_ckpt_header *h)
{
    rmens_ckpt_header want;
    int64_t step = t->step;
    t->step = h->step;
    fill_header(t, &want);
    t->step = step;
    static const char *const model[] = {"vocab_size", "n_ctx", "n_layer", "n_head", "n_embd", NULL};
    /* what a resume may change, or what is checked with its own message */
    static const char *const apart[] = {"vocab_size", "n_ctx", "n_layer", "n_head", "n_embd", "step", "ensemble_size",
                                        "data_crc32", "tokenizer", "eot_token", "template_name", "step_separator", "data",
                                        "command", NULL};
    rmens_hdiff d;
    if (strcmp(h->objective, want.objective) != 0)
        return rmens_fail(RMENS_ERR_ARG, "`resume`: %s holds %s members (objective %s), the options ask for objective %s",
                          t->o->out, strcmp(h->objective, "prm") == 0 ? "process reward" : "pairwise (Bradley-Terry)",
                          h->objective, want.objective);
    /* The tokenizer first: another one also changes the vocabulary, and is the cause. */
    if (strcmp(h->tokenizer, want.tokenizer) != 0)
        return rmens_fail(RMENS_ERR_ARG, "`resume`: %s was trained on \"%s\" tokens, %s holds \"%s\" tokens", t->o->out,
                          h->tokenizer, t->o->data, want.tokenizer);
    if (rmens_ckpt_header_differ(h, &want, model, 1, &d))
        return rmens_fail(RMENS_ERR_ARG, "`resume`: %s holds a model of n_ctx %d, n_layer %d, n_head %d, n_embd %d, "
                          "vocab %d; the options ask for %d, %d, %d, %d, %d", t->o->out, h->cfg.n_ctx, h->cfg.n_layer,
                          h->cfg.n_head, h->cfg.n_embd, h->cfg.vocab_size, want.cfg.n_ctx, want.cfg.n_layer,
                          want.cfg.n_head, want.cfg.n_embd, want.cfg.vocab_size);
    if (h->data_crc32 >= 0 && h->data_crc32 != want.data_crc32)
        return rmens_fail(RMENS_ERR_ARG, "`resume`: %s was trained on other data (%s, fingerprint %08llx) than %s "
                          "(fingerprint %08llx)", t->o->out, h->data, (unsigned long long)h->data_crc32, t->o->data,
                          (unsigned long long)want.data_crc32);
    if (rmens_ckpt_header_differ(h, &want, apart, 0, &d))
        return rmens_fail(RMENS_ERR_ARG, "`resume`: %s was trained with %s = %s, the options say %s (resume with the "
                          "original settings)", t->o->out, d.field, d.a, d.b);
    if (h->eot_token >= 0 && h->eot_token != want.eot_token)
        return rmens_fail(RMENS_ERR_ARG, "`resume`: %s was trained with end-of-text token %lld, %s has %lld", t->o->out,
                          (long long)h->eot_token, t->o->data, (long long)want.eot_token);
    return RMENS_OK;
}

/* --------------------------------------------------------------- setup */

/* The members' activations: every layer's, or one layer's recomputed (gradient checkpointing). */
static rmens_acts_kind acts_kind(const rmens_train_options *o)
{
    return o->gradient_checkpointing ? RMENS_ACTS_RECOMPUTE : RMENS_ACTS_TRAIN;
}

static rmens_status setup_members(trainer *t, const rmens_model *init, const rmens_ckpt_header *resume)
{
    const rmens_train_options *o = t->o;
    const rmens_model_config cfg = t->cfg;
    t->mem = calloc((size_t)t->pl.n_local, sizeof *t->mem);
    if (!t->mem)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    int max_b = t->cap;
    RMENS_TRY(rmens_batch_init(&t->batch, max_b, cfg.n_ctx, cfg.n_head));
    for (int j = 0; j < t->pl.n_local; j++) {
        member *mb = &t->mem[j];
        mb->index = t->pl.local[j];
        RMENS_TRY(rmens_model_alloc(&mb->m, &cfg));
        if (t->warm && !resume) {
            /* the member's own weights; nothing else of its state (moments, sample) */
            RMENS_TRY(rmens_checkpoint_read_member(o->warm_start, o->member_offset + mb->index, mb->m, NULL, NULL,
                                                   NULL, 0, NULL));
        } else if (init) {
            memcpy(mb->m->params, init->params, init->nparams * sizeof(float));
            if (t->fresh_head)
                rmens_model_init_head(mb->m, o->seed, 1 + (uint64_t)(o->member_offset + mb->index));
        } else {
            rmens_model_init_params(mb->m, o->seed, 1 + (uint64_t)(o->member_offset + mb->index));
        }
        if (j == 0)
            RMENS_TRY(rmens_model_reserve_kind(mb->m, max_b, t->max_len, acts_kind(o)));
        else
            rmens_model_borrow_acts(mb->m, t->mem[0].m);
        RMENS_TRY(rmens_adamw_init(&mb->opt, mb->m, &o->opt));
        /* The member's identity (weights, sample, order) is its index in the whole
         * ensemble: a job-array task training member k alone draws what rank k would. */
        RMENS_TRY(rmens_bootstrap_init(&mb->boot, rmens_dataset_count(t->train), o->bootstrap, o->seed,
                                       o->member_offset + mb->index));
        if (resume) {
            int32_t *counts = malloc((size_t)rmens_dataset_count(t->train) * sizeof *counts);
            if (!counts)
                return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
            rmens_status st = rmens_checkpoint_read_member(o->out, mb->index, mb->m, mb->opt.m, mb->opt.v, counts,
                                                           rmens_dataset_count(t->train), NULL);
            if (st == RMENS_OK && memcmp(counts, mb->boot.counts, (size_t)mb->boot.n * sizeof *counts) != 0)
                st = rmens_fail(RMENS_ERR_ARG, "`resume`: member %d's bootstrap sample in %s differs from the one "
                                "(seed %llu) draws: another data file?", mb->index, o->out,
                                (unsigned long long)o->seed);
            free(counts);
            RMENS_TRY(st);
            mb->opt.step = resume->step;
        }
    }
    /* Every rank keeps every member's metrics, so all write the same checkpoint attributes. */
    for (int k = 0; resume && k < o->members; k++)
        RMENS_TRY(rmens_checkpoint_read_member(o->out, k, NULL, NULL, NULL, NULL, 0, t->mattrs + (size_t)k * RMENS_MA_N));
    return RMENS_OK;
}

/* --------------------------------------------------------------- train */

/* A member's index in the whole ensemble (a job-array task trains one of them). */
static int member_id(const trainer *t, const member *mb) { return t->o->member_offset + mb->index; }

/* Where member mb's weights hold a NaN or Inf, if they do ("params/<tensor> holds a
 * non-finite value (...)"); buf is left empty otherwise. */
static void weights_note(const member *mb, char *buf, size_t n)
{
    uint32_t *crcs = malloc((size_t)rmens_modelfile_ntensors(&mb->m->cfg) * sizeof *crcs);
    if (crcs && rmens_modelfile_seal_flat("params", &mb->m->cfg, mb->m->params, crcs) != RMENS_OK)
        snprintf(buf, n, "%s", rmens_last_error());
    free(crcs);
}

/* Tests only (base/fault.h): RMENS_FAULT_NAN="k:s" sets one parameter of member k (of the
 * whole ensemble) to NaN right after the optimizer update of step s, on every rank
 * holding the member: the first weight of the score head, which every reward reads, so
 * the next step's loss is not finite; "k:s:i" picks flat parameter i instead (0: a row of
 * the token embedding that byte data never reads, which no forward pass reveals: only
 * the save guard). */
static void fault_nan(const trainer *t, member *mb)
{
    int64_t i = rmens_fault_nan(member_id(t, mb), t->step + 1, mb->m->nparams, mb->m->off[RMENS_T_SCOREW]);
    if (i >= 0)
        mb->m->params[i] = NAN;
}

/* A process reward model's forward and backward on solutions [lo, hi) of the member's
 * batch (t->idx): the loss is the mean binary cross-entropy over the labelled steps of the
 * whole batch (every shard's), *right the correct steps scaled to the batch size, so the
 * STEP event's accuracy (right / batch) is the share of correct steps. */
static rmens_status prm_step(trainer *t, member *mb, int lo, int hi, double *loss, double *right)
{
    const int B = t->o->batch;
    double W = 0;
    for (int i = 0; i < B; i++)
        W += rmens_batch_steps_read(t->train, t->idx[i], t->cfg.n_ctx, 1);
    if (hi <= lo || W == 0)
        return RMENS_OK;
    RMENS_TRY(rmens_batch_build_steps(&t->batch, t->train, t->idx + lo, hi - lo, 1, t->y));
    if (t->batch.S == 0)
        return RMENS_OK;
    RMENS_TRY(rmens_model_forward(mb->m, &t->batch));
    const float *r = rmens_model_rewards(mb->m);
    int correct;
    *loss = rmens_prm_loss(t->dr, r, t->y, t->batch.S, W, &correct);
    *right = correct * (double)B / W;
    for (int k = 0; k < t->batch.S; k++)
        if (!isfinite(r[k])) {
            char why[512] = "";
            weights_note(mb, why, sizeof why);
            return rmens_fail(RMENS_ERR_NUMERIC, "member %d, step %lld: non-finite step logit %g%s%s", member_id(t, mb),
                              (long long)t->step + 1, r[k],
                              why[0] ? "; its weights are no longer finite: " : "; lower `opt.lr` or check the data", why);
        }
    return rmens_model_backward(mb->m, &t->batch, t->dr);
}

static rmens_status train_step(trainer *t, double *vals)
{
    const rmens_train_options *o = t->o;
    const int B = o->batch, G = t->pl.group_size, gr = t->pl.group_rank;
    /* This rank's shard of the batch: pairs [lo, hi) of the member's B. */
    const int lo = (int)((int64_t)B * gr / G), hi0 = (int)((int64_t)B * (gr + 1) / G);
    for (int j = 0; j < t->pl.n_local; j++) {
        member *mb = &t->mem[j];
        int hi = hi0;
        rmens_bootstrap_batch(&mb->boot, t->step, B, t->idx);
        rmens_model_zero_grad(mb->m);
        int correct = 0;
        double loss = 0, right = 0;
        rmens_status st = RMENS_OK;
        if (t->prm) {
            st = prm_step(t, mb, lo, hi, &loss, &right);
            hi = lo;  /* done */
        }
        if (hi > lo)
            st = rmens_batch_build(&t->batch, t->train, t->idx + lo, hi - lo, o->share, o->margin_scale);
        if (hi > lo && st == RMENS_OK)
            st = rmens_model_forward(mb->m, &t->batch);
        if (hi > lo && st == RMENS_OK) {
            const float *r = rmens_model_rewards(mb->m);
            if (t->weighted) {  /* the weighted mean over the whole batch: every rank has its indices */
                double W = 0;
                for (int i = 0; i < B; i++)
                    W += rmens_dataset_weight(t->train, t->idx[i]);
                for (int i = lo; i < hi; i++)
                    t->w[i - lo] = rmens_dataset_weight(t->train, t->idx[i]);
                loss = rmens_bt_loss_weighted(t->dr, r, t->batch.margin, t->w, hi - lo, W, o->center, &correct);
            } else {
                loss = rmens_bt_loss_part(t->dr, r, t->batch.margin, hi - lo, B, o->center, &correct);
            }
            char why[512] = "";
            if (!isfinite(loss))
                weights_note(mb, why, sizeof why);
            for (int i = 0; i < hi - lo && !isfinite(loss) && st == RMENS_OK; i++) {
                double d = (double)r[2 * i] - r[2 * i + 1] - t->batch.margin[i];
                if (!isfinite(r[2 * i]) || !isfinite(r[2 * i + 1]) || !isfinite(d))
                    st = rmens_fail(RMENS_ERR_NUMERIC, "member %d, step %lld: non-finite %s on pair %lld of the data "
                                    "(reward chosen %g, rejected %g, scaled margin %g)%s%s",
                                    member_id(t, mb), (long long)t->step + 1,
                                    isfinite(r[2 * i]) && isfinite(r[2 * i + 1]) ? "loss" : "reward",
                                    (long long)t->idx[lo + i], r[2 * i], r[2 * i + 1], t->batch.margin[i],
                                    why[0] ? "; its weights are no longer finite: " : "; lower `opt.lr` or check the data",
                                    why);
            }
            if (st == RMENS_OK && !isfinite(loss))
                st = rmens_fail(RMENS_ERR_NUMERIC, "member %d, step %lld: the loss is not finite (%s)", member_id(t, mb),
                                (long long)t->step + 1, why[0] ? why : "centering term overflow?");
            if (st == RMENS_OK)
                st = rmens_model_backward(mb->m, &t->batch, t->dr);
            right = correct;
        }
        /* The ranks of a member agree before their collectives: one that failed must not
         * leave its partners waiting in the gradient reduction. */
        if (G > 1)
            st = rmens_verdict(t->pl.group, st);
        RMENS_TRY(st);
        if (G > 1)
            RMENS_TRY(rmens_sum_all(mb->m->grads, mb->m->nparams, t->pl.group));  /* identical on the member's ranks */
        double gnorm = rmens_adamw_step(&mb->opt, mb->m);
        if (!isfinite(gnorm))
            return rmens_fail(RMENS_ERR_NUMERIC, "member %d, step %lld: non-finite gradient", member_id(t, mb),
                              (long long)t->step + 1);
        fault_nan(t, mb);
        vals[2 * mb->index] += loss;
        vals[2 * mb->index + 1] += right;
    }
    return RMENS_OK;
}

/* A STEP event from the losses and correct counts summed over ranks (vals[2k], [2k + 1]). */
static rmens_status step_event(trainer *t, const double *vals)
{
    const rmens_train_options *o = t->o;
    const int K = o->members;
    double *la = malloc((size_t)2 * K * sizeof *la);
    if (!la)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    for (int k = 0; k < K; k++)
        la[k] = vals[2 * k], la[K + k] = vals[2 * k + 1] / o->batch;
    double mean = 0, var = 0, acc = 0;
    for (int k = 0; k < K; k++)
        mean += vals[2 * k] / K, acc += vals[2 * k + 1] / ((double)K * o->batch);
    for (int k = 0; k < K; k++)
        var += (vals[2 * k] - mean) * (vals[2 * k] - mean) / K;
    const double el = rmens_now() - t->t0;
    const int64_t n_sample = t->mem && t->pl.n_local ? t->mem[0].boot.n_sample : rmens_dataset_count(t->train);
    rmens_train_event e = {.kind = RMENS_TRAIN_STEP};
    e.progress.loss = la;
    e.progress.accuracy = la + K;
    e.progress.loss_mean = mean, e.progress.loss_std = sqrt(var), e.progress.accuracy_mean = acc;
    e.progress.lr = rmens_adamw_lr(&o->opt, t->step - 1);
    e.progress.epoch = (double)t->step * o->batch / (double)n_sample;
    e.progress.elapsed = el;
    e.progress.pairs_per_s = (double)t->pairs_done / el;
    e.progress.eta = t->pairs_done > 0 ? el / (double)t->pairs_done * (double)((t->total - t->step) * K * o->batch) : 0;
    notify(t, &e);
    free(la);
    return RMENS_OK;
}

/* Rank 0, before any work: every file the run writes can be written, none is an input,
 * and no other process writes the checkpoint (io/output.h). */
static rmens_status claim_outputs(const rmens_train_options *o, rmens_output_lock *lock)
{
    const int keep = o->force || o->resume;
    const rmens_file_use in[] = {{"`data`", o->data, 0}, {"`val`", o->val, 0}, {"`init`", o->init, 0},
                                 {"`warm_start`", o->warm_start, 0}};
    const rmens_file_use out[] = {{"`out`", o->out, keep}, {"`metrics`", o->metrics, keep}};
    RMENS_TRY(rmens_output_check(in, 4, out, 2));
    return rmens_output_lock_take(lock, o->out);
}

/* Collective, before any member is allocated: what this rank will hold, against its
 * share of the node's memory (comm/memory.h); a refusal says what gradient
 * checkpointing would need when it is off. */
static rmens_status check_memory(const trainer *t)
{
    double nparams = 0, data = 0, n = (double)rmens_dataset_count(t->train);
    for (int k = 0; k < RMENS_NTENSORS; k++)
        nparams += (double)rmens_tensor_numel(&t->cfg, k);
    /* weights, gradients, two Adam moments; bootstrap counts and order */
    double per_member = 16.0 * nparams + 12.0 * n;
    double acts = rmens_model_acts_bytes(&t->cfg, t->cap, t->max_len, acts_kind(t->o));
    for (int f = 0; f < 2; f++) {
        const rmens_dataset *d = f ? t->val : t->train;
        for (int s = 0; d && s < 2 && !d->streamed; s++)
            data += 4.0 * (double)d->side[s].ntok;
        data += d ? 30.0 * (double)d->n : 0;
    }
    char what[256];
    snprintf(what, sizeof what, "%d member%s x %.3g MiB of weights, gradients and Adam moments, %.3g MiB of "
             "activations, %.3g MiB of data", t->pl.n_local, t->pl.n_local == 1 ? "" : "s", per_member / 1048576.0,
             acts / 1048576.0, data / 1048576.0);
    char advice[320];
    const double rest = t->pl.n_local * per_member + data;
    rmens_memory_advice(advice, sizeof advice, t->o->gradient_checkpointing ? 0 : rest + rmens_model_acts_bytes(
                            &t->cfg, t->cap, t->max_len, RMENS_ACTS_RECOMPUTE), "--gradient-checkpointing",
                        "use fewer members per rank (more ranks or nodes), a smaller model or batch, or --data-mem");
    return rmens_memory_check(t->comm, "train", rest + acts, what, advice);
}

/* Rank 0 before anything is read: the options alone, then the outputs claimed. */
static rmens_status check_options(const rmens_train_options *o, int rank, rmens_output_lock *lock)
{
    if (o->batch < 1)
        return rmens_fail(RMENS_ERR_ARG, "`batch` must be at least 1");
    if (!o->out)
        return rmens_fail(RMENS_ERR_ARG, "`out` is required");
    if (o->warm_start && o->init)
        return rmens_fail(RMENS_ERR_ARG, "`warm_start` and `init` exclude each other: the members start from one or "
                          "the other");
    if ((o->keep_best || o->patience > 0) && (!o->val || o->eval_every <= 0))
        return rmens_fail(RMENS_ERR_ARG, "`%s` needs `val` and `eval_every` > 0: it follows the validation loss",
                          o->keep_best ? "keep_best" : "patience");
    if (!o->resume && !o->force && access(o->out, F_OK) == 0)
        return rmens_fail(RMENS_ERR_ARG, "%s already exists (set `resume` to continue it, or `force` to replace it)",
                          o->out);
    if (o->resume && access(o->out, F_OK) != 0)
        return rmens_fail(RMENS_ERR_ARG, "`resume`: %s does not exist: nothing to resume", o->out);
    return rank == 0 ? claim_outputs(o, lock) : RMENS_OK;
}

/* Collective: the training (and validation) pairs, read and checked against each other
 * and the batch. */
static rmens_status read_data(trainer *t)
{
    const rmens_train_options *o = t->o;
    int64_t budget;
    RMENS_TRY(rmens_data_budget(t->comm, o->data_budget, &budget));
    RMENS_TRY(rmens_dataset_read_comm(&t->train, o->data, t->comm, budget));
    if (o->val)
        RMENS_TRY(rmens_dataset_read_comm(&t->val, o->val, t->comm, budget));
    t->prm = o->objective == RMENS_OBJECTIVE_PRM;
    static const char *const kinds[] = {"?", "pairs", "responses", "steps"};
    const rmens_data_kind want = t->prm ? RMENS_DATA_STEPS : RMENS_DATA_PAIRS;
    for (int f = 0; f < 2; f++) {
        const rmens_dataset *d = f ? t->val : t->train;
        if (d && rmens_dataset_kind(d) != want)
            return rmens_fail(RMENS_ERR_ARG, "%s is a %s file; %s", f ? o->val : o->data, kinds[rmens_dataset_kind(d)],
                              t->prm ? "`objective` prm (a process reward model) trains on a steps file"
                              : rmens_dataset_kind(d) == RMENS_DATA_STEPS
                                  ? "train a process reward model on it with `objective` prm (--objective prm)"
                                  : "training needs pairs");
    }
    if (o->batch > rmens_dataset_count(t->train))
        return rmens_fail(RMENS_ERR_ARG, "`batch` %d is larger than the data (%s holds %lld pairs)", o->batch, o->data,
                          (long long)rmens_dataset_count(t->train));
    if (t->pl.group_size > o->batch)
        return rmens_fail(RMENS_ERR_ARG, "`batch` %d is smaller than the %d ranks training each member", o->batch,
                          t->pl.group_size);
    if (t->val && (strcmp(t->val->tokenizer, t->train->tokenizer) != 0 || t->val->eot != t->train->eot))
        return rmens_fail(RMENS_ERR_ARG, "%s was tokenized by \"%s\" (end-of-text %d), %s by \"%s\" (end-of-text %d)",
                          o->val, t->val->tokenizer, t->val->eot, o->data, t->train->tokenizer, t->train->eot);
    if (t->val && rmens_dataset_vocab_size(t->val) != rmens_dataset_vocab_size(t->train))
        return rmens_fail(RMENS_ERR_ARG, "%s has vocab_size %d, %s %d", o->val, rmens_dataset_vocab_size(t->val), o->data,
                          rmens_dataset_vocab_size(t->train));
    t->data_crc32 = rmens_dataset_fingerprint(t->train);  /* so --resume can refuse other data */
    return RMENS_OK;
}

/* Collective: the `init` model, checked against the model options and the data's tokens. */
static rmens_status read_init(trainer *t, rmens_model **init)
{
    const rmens_train_options *o = t->o;
    rmens_status st = rmens_model_load(init, o->init, o->seed, &t->fresh_head);
    const rmens_model_config *c = st == RMENS_OK ? &(*init)->cfg : NULL;
    if (st == RMENS_OK && o->model.n_ctx && (o->model.n_ctx != c->n_ctx || o->model.n_layer != c->n_layer ||
                                             o->model.n_head != c->n_head || o->model.n_embd != c->n_embd))
        st = rmens_fail(RMENS_ERR_ARG, "`init` %s has n_ctx %d, n_layer %d, n_head %d, n_embd %d; the model options "
                        "ask for %d, %d, %d, %d (drop them to use the file's)", o->init, c->n_ctx, c->n_layer,
                        c->n_head, c->n_embd, o->model.n_ctx, o->model.n_layer, o->model.n_head, o->model.n_embd);
    /* A model that reads other tokens than the data's would train on noise. */
    char tok[256];
    if (st == RMENS_OK && (st = rmens_modelfile_tokenizer(o->init, tok, sizeof tok)) == RMENS_OK && tok[0] &&
        !rmens_tokenizer_same(tok, t->train->tokenizer))
        st = rmens_fail(RMENS_ERR_ARG, "`init` %s reads \"%s\" tokens, but %s was tokenized by \"%s\"", o->init, tok,
                        o->data, t->train->tokenizer);
    /* A Hugging Face directory: its config.json is kept for export. */
    if (st == RMENS_OK && (*init)->source_config) {
        if (strlen((*init)->source_config) >= RMENS_HF_CONFIG_MAX)
            st = rmens_fail(RMENS_ERR_ARG, "`init` %s: config.json holds %zu bytes; checkpoints keep at most %d",
                            o->init, strlen((*init)->source_config), RMENS_HF_CONFIG_MAX - 1);
        else if (!(t->hf_config = strdup((*init)->source_config)))
            st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
        char *abs = st == RMENS_OK ? realpath(o->init, NULL) : NULL;
        snprintf(t->hf_dir, sizeof t->hf_dir, "%s", abs ? abs : o->init);
        free(abs);
    }
    return rmens_verdict(t->comm, st);
}

/* Collective: the warm_start checkpoint's header, and the members it sets (*eff). */
static rmens_status read_warm(trainer *t, rmens_train_options *eff)
{
    const rmens_train_options *o = t->o;
    rmens_status st = (t->warm = malloc(sizeof *t->warm)) ? RMENS_OK : rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    if (st == RMENS_OK && (st = rmens_checkpoint_read_header(o->warm_start, t->warm)) != RMENS_OK)
        rmens_fail_context(st, "`warm_start` %s: ", o->warm_start);
    if (st == RMENS_OK && eff->members == 0)
        eff->members = t->warm->members;
    const int want = eff->ensemble_size > 0 ? eff->ensemble_size : eff->members;
    if (st == RMENS_OK && (t->warm->members != want || t->warm->member_offset != 0))
        st = rmens_fail(RMENS_ERR_ARG, "`warm_start` %s holds %s%d members, `members` asks for %d (each member "
                        "continues its own)", o->warm_start, t->warm->member_offset ? "a part of " : "",
                        t->warm->members, want);
    if (st == RMENS_OK && t->warm->step != t->warm->total_steps)
        st = rmens_fail(RMENS_ERR_ARG, "`warm_start` %s is unfinished (step %lld of %lld): resume it first",
                        o->warm_start, (long long)t->warm->step, (long long)t->warm->total_steps);
    return rmens_verdict(t->comm, st);
}

/* The members' shape is warm_start's: checked against the model options (when given)
 * and the data's tokens. Its Hugging Face record carries over, for export. */
static rmens_status check_warm(trainer *t)
{
    const rmens_train_options *o = t->o;
    const rmens_ckpt_header *w = t->warm;
    const rmens_model_config *c = &w->cfg;
    t->cfg = w->cfg;
    if (o->model.n_ctx && (o->model.n_ctx != c->n_ctx || o->model.n_layer != c->n_layer ||
                           o->model.n_head != c->n_head || o->model.n_embd != c->n_embd))
        return rmens_fail(RMENS_ERR_ARG, "`warm_start` %s has n_ctx %d, n_layer %d, n_head %d, n_embd %d; the model "
                          "options ask for %d, %d, %d, %d (drop them to use the checkpoint's)", o->warm_start,
                          c->n_ctx, c->n_layer, c->n_head, c->n_embd, o->model.n_ctx, o->model.n_layer,
                          o->model.n_head, o->model.n_embd);
    if (!rmens_tokenizer_same(w->tokenizer, t->train->tokenizer))
        return rmens_fail(RMENS_ERR_ARG, "`warm_start` %s was trained on \"%s\" tokens, but %s was tokenized by \"%s\"",
                          o->warm_start, w->tokenizer, o->data, t->train->tokenizer);
    if (w->eot_token >= 0 && w->eot_token != t->train->eot)
        return rmens_fail(RMENS_ERR_ARG, "`warm_start` %s was trained with end-of-text token %lld, %s has %d",
                          o->warm_start, (long long)w->eot_token, o->data, t->train->eot);
    if (c->vocab_size < rmens_dataset_vocab_size(t->train))
        return rmens_fail(RMENS_ERR_ARG, "`warm_start` %s has vocab_size %d, the data %s needs %d", o->warm_start,
                          c->vocab_size, o->data, rmens_dataset_vocab_size(t->train));
    if (!t->hf_config && w->hf_config[0]) {
        if (!(t->hf_config = strdup(w->hf_config)))
            return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
        snprintf(t->hf_dir, sizeof t->hf_dir, "%s", w->hf_dir);
    }
    return rmens_model_config_check(&t->cfg);
}

/* The members' shape: the init model's or the options', reading the data's vocabulary. */
static rmens_status choose_config(trainer *t, const rmens_model *init)
{
    if (t->warm)
        return check_warm(t);
    t->cfg = init ? init->cfg : t->o->model;
    if (!init)
        t->cfg.vocab_size = rmens_dataset_vocab_size(t->train);
    if (t->cfg.vocab_size < rmens_dataset_vocab_size(t->train))
        return rmens_fail(RMENS_ERR_ARG, "`init` %s has vocab_size %d, the data %s needs %d", t->o->init,
                          t->cfg.vocab_size, t->o->data, rmens_dataset_vocab_size(t->train));
    return rmens_model_config_check(&t->cfg);
}

/* Longer pairs are cut from the front (the reward reads the end; batch.h's rule), which a
 * CUT event reports; a prompt longer than the whole context means the model cannot see
 * all of the question, refused unless `truncate_prompts`. Sets max_len, which sizes the
 * activations. Collective. */
static rmens_status check_lengths(trainer *t)
{
    const rmens_train_options *o = t->o;
    rmens_status st = RMENS_OK;
    for (int f = 0; f < 2 && st == RMENS_OK; f++) {
        const rmens_dataset *ds = f ? t->val : t->train;
        int64_t cut = 0, long_prompt = 0, longest = 0, lost = 0;
        for (int64_t i = 0; ds && i < rmens_dataset_count(ds); i++) {
            int64_t p = rmens_dataset_prompt_len(ds, i);
            int64_t lc = rmens_dataset_len(ds, RMENS_SIDE_CHOSEN, i), lr = rmens_dataset_len(ds, RMENS_SIDE_REJECTED, i);
            int64_t longer = lc > lr ? lc : lr;
            if (longer > t->max_len)
                t->max_len = (int)(longer < INT32_MAX ? longer : INT32_MAX);
            const rmens_cut c = rmens_batch_cut(lc, lr, p, t->cfg.n_ctx);
            cut += c.cut;
            if (t->prm) {  /* a solution's reads, all of them (scoring) and the labelled (training) */
                int all = rmens_batch_steps_read(ds, i, t->cfg.n_ctx, 0);
                t->max_reads = all > t->max_reads ? all : t->max_reads;
                t->reads[f] += rmens_batch_steps_read(ds, i, t->cfg.n_ctx, 1);
            }
            long_prompt += p >= t->cfg.n_ctx;
            lost += c.prompt_lost;
            longest = p > longest ? p : longest;
        }
        if (!ds)
            continue;
        const char *name = f ? o->val : o->data;
        if (long_prompt && !o->truncate_prompts) {
            st = rmens_fail(RMENS_ERR_ARG, "%lld of %lld pairs in %s have a prompt longer than the context (n_ctx %d; the "
                            "longest prompt has %lld tokens): the model would not see the whole prompt. Raise `model.n_ctx`, "
                            "or set `truncate_prompts` to cut them from the front anyway", (long long)long_prompt,
                            (long long)rmens_dataset_count(ds), name, t->cfg.n_ctx, (long long)longest);
        } else if (cut) {
            rmens_train_event e = {.kind = RMENS_TRAIN_CUT,
                                   .cut = {name, rmens_dataset_count(ds), cut, lost, t->cfg.n_ctx}};
            notify(t, &e);
        }
    }
    return rmens_verdict(t->comm, st);
}

/* Steps: given, or epochs over a member's sample; the optimiser's schedule fitted to them
 * in *eff, the options the run goes on with. */
static void plan_steps(trainer *t, rmens_train_options *eff)
{
    const int64_t n = rmens_dataset_count(t->train);
    const int64_t n_sample = eff->bootstrap < 0 ? n : llround(eff->bootstrap * (double)n);
    t->total = eff->steps > 0 ? eff->steps : (int64_t)ceil(eff->epochs * (double)n_sample / eff->batch);
    if (t->total < 1)
        t->total = 1;
    if (eff->opt.total_steps <= 0 || eff->opt.total_steps != t->total)
        eff->opt.total_steps = (int)t->total;
    if (eff->opt.warmup > t->total)
        eff->opt.warmup = (int)t->total;
}

/* Collective: the members, fresh or as `resume`'s checkpoint left them, and the buffers
 * of the steps; a BEGIN event. */
static rmens_status setup(trainer *t, const rmens_model *init)
{
    const rmens_train_options *o = t->o;
    rmens_ckpt_header resume_h;
    rmens_status st = RMENS_OK;
    t->mattrs = malloc((size_t)o->members * RMENS_MA_N * sizeof *t->mattrs);
    t->idx = malloc((size_t)o->batch * sizeof *t->idx);
    t->dr = malloc((size_t)2 * t->cap * sizeof *t->dr);
    t->y = malloc((size_t)2 * t->cap * sizeof *t->y);
    t->w = malloc((size_t)o->batch * sizeof *t->w);
    t->weighted = rmens_dataset_has_weight(t->train);
    if (!t->mattrs || !t->idx || !t->dr || !t->w || !t->y)
        st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    for (int i = 0; st == RMENS_OK && i < o->members * RMENS_MA_N; i++)
        t->mattrs[i] = NAN;
    if (st == RMENS_OK && o->resume && (st = rmens_checkpoint_read_header(o->out, &resume_h)) == RMENS_OK)
        st = check_resume(t, &resume_h);
    RMENS_TRY(rmens_verdict(t->comm, st));
    if (o->resume)
        t->step = resume_h.step;
    /* Resumed without --init DIR: the checkpoint's record of it carries over. */
    if (o->resume && !t->hf_config && resume_h.hf_config[0] && (t->hf_config = strdup(resume_h.hf_config)))
        snprintf(t->hf_dir, sizeof t->hf_dir, "%s", resume_h.hf_dir);
    st = setup_members(t, init, o->resume ? &resume_h : NULL);
    RMENS_TRY(rmens_verdict(t->comm, st));
    if (o->metrics && is_root(t))
        st = rmens_trainlog_open(&t->log, o->metrics, o->resume);
    RMENS_TRY(rmens_verdict(t->comm, st));
    rmens_train_event e = {.kind = RMENS_TRAIN_BEGIN};
    e.begin.ranks = t->pl.P;
    e.begin.per_rank = o->members > t->pl.P ? (o->members + t->pl.P - 1) / t->pl.P : 1;
    e.begin.ranks_per_member = t->pl.group_size;
    e.begin.cfg = t->mem[0].m->cfg;
    e.begin.nparams = t->mem[0].m->nparams;
    e.begin.pairs = rmens_dataset_count(t->train);
    e.begin.streamed = rmens_dataset_streamed(t->train);
    notify(t, &e);
    return RMENS_OK;
}

/* Collective: steps until the end, a stop request (*stopped) or patience running out
 * (*early), evaluating and saving on the way. */
static rmens_status run_steps(trainer *t, int *stopped, int *early)
{
    const rmens_train_options *o = t->o;
    const int nv = 2 * o->members + 1;
    double *vals = malloc((size_t)nv * sizeof *vals);
    rmens_status st = vals ? RMENS_OK : rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    RMENS_TRY(rmens_verdict(t->comm, st));
    t->t0 = rmens_now();
    while (t->step < t->total) {
        for (int i = 0; i < nv; i++)
            vals[i] = 0;
        if ((st = rmens_verdict(t->comm, train_step(t, vals))) != RMENS_OK)
            break;
        vals[2 * o->members] = rmens_train_stop_requested ? 1 : 0;
        if ((st = rmens_mpi_check(MPI_Allreduce(MPI_IN_PLACE, vals, nv, MPI_DOUBLE, MPI_SUM, t->comm),
                                  "MPI_Allreduce(step)")) != RMENS_OK)
            break;
        t->step++;
        t->pairs_done += (int64_t)o->members * o->batch;
        if (is_root(t) && (st = step_event(t, vals)) != RMENS_OK)
            break;
        if (vals[2 * o->members] > 0) {
            *stopped = 1;
            break;
        }
        if (o->eval_every > 0 && t->step % o->eval_every == 0 && t->step < t->total) {
            if ((st = evaluate(t, 0)) != RMENS_OK || (st = track_best(t, early)) != RMENS_OK)
                break;
            if (*early) {
                /* Finished here: the checkpoint is complete (step = total_steps). */
                rmens_train_event e = {.kind = RMENS_TRAIN_EARLY_STOP, .early_stop = {o->patience}};
                notify(t, &e);
                t->total = t->step;
                break;
            }
        }
        if (o->save_every > 0 && t->step % o->save_every == 0 && t->step < t->total && (st = save(t)) != RMENS_OK)
            break;
    }
    free(vals);
    return st;
}

/* Collective: the end of a run: saved where a stop was requested; otherwise each member's
 * best weights (keep_best), the final evaluation and the checkpoint. */
static rmens_status finish(trainer *t, int stopped, int early)
{
    rmens_train_event e = {.kind = stopped ? RMENS_TRAIN_STOPPED : RMENS_TRAIN_DONE};
    if (stopped) {
        RMENS_TRY(save(t));
        notify(t, &e);
        return RMENS_OK;
    }
    if (t->o->keep_best) {
        /* The last weights compete too: the loop evaluated them only if it stopped early. */
        if (!early) {
            RMENS_TRY(evaluate(t, 0));
            RMENS_TRY(track_best(t, &early));
        }
        restore_best(t);
    }
    RMENS_TRY(evaluate(t, 1));
    RMENS_TRY(save(t));
    notify(t, &e);
    return RMENS_OK;
}

static void trainer_free(trainer *t)
{
    if (t->log)
        fclose(t->log);
    for (int j = 0; t->mem && j < t->pl.n_local; j++) {
        rmens_adamw_free(&t->mem[j].opt);
        rmens_bootstrap_free(&t->mem[j].boot);
    }
    /* Members borrowing activations go first; the lender last. */
    for (int j = t->pl.n_local - 1; t->mem && j >= 0; j--)
        rmens_model_free(t->mem[j].m);
    free(t->mem);
    rmens_batch_free(&t->batch);
    rmens_dataset_free(t->train);
    rmens_dataset_free(t->val);
    for (int j = 0; t->best && j < t->pl.n_local; j++)  /* before the placement forgets n_local */
        free(t->best[j]);
    rmens_placement_free(&t->pl);
    free(t->mattrs);
    free(t->hf_config);
    free(t->warm);
    free(t->best);
    free(t->best_loss);
    free(t->best_step);
    free(t->idx);
    free(t->dr);
    free(t->y);
    free(t->w);
}

rmens_status rmens_train(const rmens_train_options *o, MPI_Comm comm)
{
    rmens_output_lock lock = {.fd = -1};
    trainer tr = {0}, *t = &tr;
    t->o = o;
    t->comm = comm;
    rmens_model *init = NULL;
    rmens_train_options eff = *o;  /* the options with the schedule fitted to the run */
    int rank, stopped = 0, early = 0;
    rmens_status st = rmens_mpi_check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
    if (st == RMENS_OK)
        st = check_options(o, rank, &lock);
    if ((st = rmens_verdict(comm, st)) != RMENS_OK) {
        rmens_output_lock_release(&lock);
        return st;
    }
    t->o = &eff;  /* warm_start may set the members */
    t->pl.group = MPI_COMM_NULL;  /* no placement yet: nothing to free if the warm start is refused */
    if (o->warm_start && (st = read_warm(t, &eff)) != RMENS_OK)
        goto exit;
    if ((st = rmens_placement_init(&t->pl, comm, eff.members)) != RMENS_OK)
        goto exit;
    if ((st = read_data(t)) != RMENS_OK || (o->init && (st = read_init(t, &init)) != RMENS_OK))
        goto exit;
    if ((st = choose_config(t, init)) != RMENS_OK || (st = check_lengths(t)) != RMENS_OK)
        goto exit;
    /* A prm batch reads every step of its solutions: room for B solutions of the most
     * steps (2 reads per pair of room), and at least B rows of context. */
    t->cap = t->prm ? (int)(((int64_t)o->batch * (t->max_reads > 1 ? t->max_reads : 1) + 1) / 2) : o->batch;
    if ((st = check_memory(t)) != RMENS_OK)
        goto exit;
    plan_steps(t, &eff);
    t->o = &eff;
    if ((st = setup(t, init)) != RMENS_OK || (st = run_steps(t, &stopped, &early)) != RMENS_OK)
        goto exit;
    st = finish(t, stopped, early);
exit:
    st = rmens_verdict(comm, st);
    if (st != RMENS_OK)  /* the metrics say how the run ended, next to its last rows */
        rmens_trainlog_error(t->log, t->step, st, rmens_last_error());
    rmens_output_lock_release(&lock);
    rmens_model_free(init);
    trainer_free(t);
    return st;
}
