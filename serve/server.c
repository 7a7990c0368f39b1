#include "serve/server.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "comm/placement.h"
#include "comm/sum.h"
#include "comm/verdict.h"
#include "ensemble/ensemble.h"
#include "ensemble/prm.h"
#include "ensemble/scorer.h"
#include "io/checkpoint.h"
#include "io/dataset.h"
#include "io/h5.h"
#include "io/hfdir.h"
#include "model/arch.h"
#include "serve/batcher.h"
#include "serve/http.h"
#include "text/template.h"
#include "text/tokenizer.h"

enum { CMD_STOP = 0, CMD_SCORE = 1 };
#define MAX_JOBS 4096  /* requests per batch */

void rmens_serve_options_init(rmens_serve_options *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 5000;
    o->lambda = 0.5;
    o->max_batch_tokens = 32768;
    o->max_wait_s = 0.005;
    o->max_body = 16u << 20;
    o->max_queue = 1024;
    o->max_items = 65536;
    o->drain_s = 60;
    o->aggregate = -1;
    o->max_steps = 64;
}

/* What every rank holds while serving. */
typedef struct {
    const rmens_serve_options *o;
    MPI_Comm comm;
    int rank, K;
    int64_t step;
    rmens_placement pl;
    rmens_ensemble *e;
    float *mine, *all;  /* this rank's members' rewards [n][n_local]; every member's [n][K] */
    int64_t room;       /* texts the two hold */
    int32_t *tokens;    /* the batch, as broadcast */
    int64_t *lens, tok_room, len_room;
    rmens_tokenizer *tk;  /* rank 0: the checkpoint's tokenizer */
    rmens_template tpl;   /* the checkpoint's template */
    /* A process reward model: its batch, each text's steps and their ends (as broadcast),
     * the step separator and where it came from. */
    int prm, aggregate;
    rmens_batch pb;
    int64_t *nsteps, ns_room;
    int32_t *ends;
    int64_t ends_room;
    char sep[RMENS_STEP_SEP_MAX];
    const char *sep_from;
} server;

static rmens_status grow(void **p, int64_t *room, int64_t need, size_t size)
{
    if (need <= *room)
        return RMENS_OK;
    void *q = realloc(*p, (size_t)need * size);
    if (!q)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory for a batch of %lld", (long long)need);
    *p = q;
    *room = need;
    return RMENS_OK;
}

/* The header's broadcast, polled with sleeps in between: an idle rank waits without
 * spinning a core (Open MPI's blocking collectives busy-poll). */
static rmens_status bcast_header(int64_t *hdr, server *s)
{
    MPI_Request rq;
    RMENS_TRY(rmens_mpi_check(MPI_Ibcast(hdr, 4, MPI_INT64_T, 0, s->comm, &rq), "MPI_Ibcast"));
    if (s->rank == 0)
        return rmens_mpi_check(MPI_Wait(&rq, MPI_STATUS_IGNORE), "MPI_Wait");
    long nap = 20000;  /* ns: short naps at first, up to 1 ms */
    for (;;) {
        int done = 0;
        RMENS_TRY(rmens_mpi_check(MPI_Test(&rq, &done, MPI_STATUS_IGNORE), "MPI_Test"));
        if (done)
            return RMENS_OK;
        struct timespec ts = {0, nap};
        nanosleep(&ts, NULL);
        nap = nap < 1000000 ? nap * 2 : 1000000;
    }
}

/* Room for a batch of n texts, ntok tokens and nst steps, and for the answers' rows
 * (a text's reward, or a step's logit). */
static rmens_status batch_room(server *s, int64_t n, int64_t ntok, int64_t nst)
{
    const int64_t rows = s->prm ? nst : n;
    rmens_status st = grow((void **)&s->lens, &s->len_room, n + 1, sizeof *s->lens);
    if (st == RMENS_OK)
        st = grow((void **)&s->tokens, &s->tok_room, ntok + 1, sizeof *s->tokens);
    if (st == RMENS_OK && s->prm)
        st = grow((void **)&s->nsteps, &s->ns_room, n + 1, sizeof *s->nsteps);
    if (st == RMENS_OK && s->prm)
        st = grow((void **)&s->ends, &s->ends_room, nst + 1, sizeof *s->ends);
    if (st == RMENS_OK && rows > s->room) {
        free(s->mine);
        free(s->all);
        s->mine = malloc((size_t)rows * (s->pl.n_local + 1) * sizeof *s->mine);
        s->all = malloc((size_t)rows * s->K * sizeof *s->all);
        s->room = s->mine && s->all ? rows : 0;
        if (!s->room)
            st = rmens_fail(RMENS_ERR_NOMEM, "out of memory for a batch of %lld texts", (long long)n);
    }
    return st;
}

/* This rank's share [lo, hi) of the batch's texts, scored by its members into s->mine:
 * a reward per text, or a process reward model's logit per step. *r0, *r1: its rows. */
static rmens_status score_share(server *s, const int32_t **seqs, int64_t n, int64_t *r0, int64_t *r1)
{
    const int64_t lo = n * s->pl.group_rank / s->pl.group_size, hi = n * (s->pl.group_rank + 1) / s->pl.group_size;
    *r0 = lo, *r1 = hi;
    if (!s->prm)
        return hi > lo ? rmens_ensemble_score(s->e, seqs + lo, s->lens + lo, hi - lo, s->o->normalize, 0.0f, s->mine,
                                              NULL, NULL)
                       : RMENS_OK;
    const int32_t **ends = malloc((size_t)(n + 1) * sizeof *ends);
    if (!ends)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    int64_t at = 0;
    for (int64_t i = 0; i < n; at += s->nsteps[i], i++) {
        ends[i] = s->ends + at;
        *r0 = i == lo ? at : *r0;
    }
    *r0 = lo == n ? at : *r0;
    *r1 = *r0;
    for (int64_t i = lo; i < hi; i++)
        *r1 += s->nsteps[i];
    rmens_status st = hi > lo && s->e->nloc > 0 ? rmens_prm_logits(s->e, &s->pb, seqs + lo, s->lens + lo, ends + lo,
                                                                   s->nsteps + lo, hi - lo, s->mine)
                                                : RMENS_OK;
    free(ends);
    return st;
}

/* Collective: every rank scores the batch of n texts (lens, tokens, and a process reward
 * model's step counts and ends, as broadcast) with its members (a member's ranks split
 * the texts), and the rewards (logits) are summed onto rank 0's s->all [rows][K]
 * (disjoint parts: exact). */
static rmens_status score_batch(server *s, int64_t n, int64_t ntok, int64_t nst)
{
    RMENS_TRY(rmens_verdict(s->comm, batch_room(s, n, ntok, nst)));
    RMENS_TRY(rmens_mpi_check(MPI_Bcast(s->lens, (int)n, MPI_INT64_T, 0, s->comm), "MPI_Bcast"));
    RMENS_TRY(rmens_mpi_check(MPI_Bcast(s->tokens, (int)ntok, MPI_INT32_T, 0, s->comm), "MPI_Bcast"));
    if (s->prm) {
        RMENS_TRY(rmens_mpi_check(MPI_Bcast(s->nsteps, (int)n, MPI_INT64_T, 0, s->comm), "MPI_Bcast"));
        RMENS_TRY(rmens_mpi_check(MPI_Bcast(s->ends, (int)nst, MPI_INT32_T, 0, s->comm), "MPI_Bcast"));
    }
    rmens_status st = RMENS_OK;
    const int32_t **seqs = malloc((size_t)(n + 1) * sizeof *seqs);
    if (!seqs)
        st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    for (int64_t i = 0, at = 0; seqs && i < n; at += s->lens[i], i++)
        seqs[i] = s->tokens + at;
    int64_t lo = 0, hi = 0;
    if (st == RMENS_OK)
        st = score_share(s, seqs, n, &lo, &hi);
    free(seqs);
    RMENS_TRY(rmens_verdict(s->comm, st));
    const int64_t rows = s->prm ? nst : n;
    memset(s->all, 0, (size_t)rows * s->K * sizeof *s->all);
    for (int64_t i = lo; i < hi; i++)
        for (int j = 0; j < s->pl.n_local; j++)
            s->all[i * s->K + s->pl.local[j]] = s->mine[(i - lo) * s->pl.n_local + j];
    return rmens_sum_root(s->all, (size_t)(rows * s->K), s->comm);
}

/* Rank 0: one batch of jobs broadcast, scored, and handed back. */
static rmens_status run_batch(server *s, rmens_job **jobs, int nj, rmens_serve_report *rep)
{
    int64_t n = 0, ntok = 0, nst = 0;
    for (int j = 0; j < nj; j++)
        n += jobs[j]->req->n, ntok += jobs[j]->req->n_tokens, nst += jobs[j]->req->n_steps;
    int64_t hdr[4] = {CMD_SCORE, n, ntok, nst};
    RMENS_TRY(bcast_header(hdr, s));
    rmens_status st = batch_room(s, n, ntok, nst);
    for (int64_t j = 0, i = 0, at = 0, e = 0; st == RMENS_OK && j < nj; j++) {
        const rmens_request *r = jobs[j]->req;
        memcpy(s->tokens + at, r->tokens, (size_t)r->n_tokens * sizeof *r->tokens);
        at += r->n_tokens;
        if (s->prm)
            memcpy(s->ends + e, r->step_ends, (size_t)r->n_steps * sizeof *r->step_ends);
        e += r->n_steps;
        for (int64_t q = 0; q < r->n; q++, i++) {
            s->lens[i] = r->offsets[q + 1] - r->offsets[q];
            if (s->prm)
                s->nsteps[i] = r->step_off[q + 1] - r->step_off[q];
        }
    }
    /* A failure here (memory) still takes part in the collective below, which fails. */
    rmens_status sc = score_batch(s, n, ntok, nst);
    if (st == RMENS_OK)
        st = sc;
    const int n_ctx = s->e->cfg.n_ctx;
    for (int64_t j = 0, base = 0, row = 0; j < nj; j++) {
        rmens_job *job = jobs[j];  /* after done(), the HTTP side may free it at once */
        const int64_t jn = job->req->n, jr = s->prm ? job->req->n_steps : jn;
        if (st != RMENS_OK) {
            job->failed = 1;
            snprintf(job->err, sizeof job->err, "%s", rmens_last_error());
        } else {
            memcpy(job->rewards, s->all + row * s->K, (size_t)jr * s->K * sizeof *s->all);
            for (int64_t q = 0; q < jn; q++)
                job->cut[q] = s->lens[base + q] > n_ctx;
        }
        base += jn;
        row += jr;
        job->done(job);
    }
    rep->batches++;
    rep->failed_batches += st != RMENS_OK;
    rep->requests += nj;
    rep->texts += n;
    rep->tokens += ntok;
    /* An MPI failure ends the service; a failed batch (its requests got 500) does not. */
    return st == RMENS_ERR_MPI ? st : RMENS_OK;
}

/* The body of GET /v1/info. */
static char *info_json(const server *s, int P)
{
    const rmens_serve_options *o = s->o;
    const rmens_model_config *c = &s->e->cfg;
    json_object *j = json_object_new_object(), *a = json_object_new_object();
    const char *base = strrchr(o->ckpt, '/');
    char crc[16];
    snprintf(crc, sizeof crc, "%08x", (unsigned)rmens_score_file_crc32(o->ckpt));
    json_object_object_add(j, "members", json_object_new_int(s->K));
    json_object_object_add(a, "type", json_object_new_string(rmens_arch_of(c)->model_type));
    json_object_object_add(a, "n_layer", json_object_new_int(c->n_layer));
    json_object_object_add(a, "n_head", json_object_new_int(c->n_head));
    json_object_object_add(a, "n_embd", json_object_new_int(c->n_embd));
    json_object_object_add(a, "n_ctx", json_object_new_int(c->n_ctx));
    json_object_object_add(a, "vocab_size", json_object_new_int(c->vocab_size));
    json_object_object_add(j, "architecture", a);
    json_object_object_add(j, "tokenizer", json_object_new_string(s->e->tokenizer[0] ? s->e->tokenizer : "bytes"));
    json_object_object_add(j, "template", json_object_new_string(rmens_template_name(s->tpl)));
    json_object_object_add(j, "checkpoint", json_object_new_string(base ? base + 1 : o->ckpt));
    json_object_object_add(j, "checkpoint_step", json_object_new_int64(s->step));
    json_object_object_add(j, "checkpoint_crc32", json_object_new_string(crc));
    json_object_object_add(j, "objective", json_object_new_string(s->prm ? "prm" : "bt"));
    if (s->prm) {
        json_object_object_add(j, "aggregate", json_object_new_string(rmens_aggregate_names[s->aggregate]));
        json_object_object_add(j, "step_separator", json_object_new_string(s->sep));
        json_object_object_add(j, "step_separator_from", json_object_new_string(s->sep_from));
        json_object_object_add(j, "max_steps", json_object_new_int64(o->max_steps));
    } else {
        json_object_object_add(j, "normalize", json_object_new_string(o->normalize ? "member" : "none"));
        json_object_object_add(j, "reward", json_object_new_string(rmens_reward_name(o->reward)));
        json_object_object_add(j, "lambda", json_object_new_double(o->lambda));
    }
    json_object_object_add(j, "truncate", json_object_new_string(o->truncate_error ? "error" : "left"));
    json_object_object_add(j, "max_batch_tokens", json_object_new_int64(o->max_batch_tokens));
    json_object_object_add(j, "max_wait_ms", json_object_new_double(o->max_wait_s * 1e3));
    json_object_object_add(j, "max_body", json_object_new_int64((int64_t)o->max_body));
    json_object_object_add(j, "max_queue", json_object_new_int(o->max_queue));
    json_object_object_add(j, "ranks", json_object_new_int(P));
    json_object_object_add(j, "version", json_object_new_string(rmens_version_string()));
    const char *t = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
    char *out = t ? strdup(t) : NULL;
    json_object_put(j);
    return out;
}

/* Rank 0: the tokenizer and template the checkpoint was trained with (recorded by
 * rmens train from the data's), so texts become the ids training saw. A Hugging Face
 * directory holding its tokenizer files is its own default. */
static rmens_status open_tokenizer(server *s)
{
    const char *ckpt = s->o->ckpt, *mine = s->e->tokenizer[0] ? s->e->tokenizer : "bytes";
    int bytes = strcmp(mine, "bytes") == 0;
    const char *tok = s->o->tokenizer ? s->o->tokenizer : !bytes && rmens_hfdir_is_dir(ckpt) ? ckpt : NULL;
    if (!bytes && !tok)
        return rmens_fail(RMENS_ERR_ARG, "%s was trained on tokenizer %s: give `tokenizer` (the directory "
                          "with its tokenizer.json)", ckpt, mine);
    int t = rmens_template_from_name(s->e->template_name[0] ? s->e->template_name : "hh");
    if (t < 0 || t == RMENS_TEMPLATE_AUTO)
        return rmens_fail(RMENS_ERR_FORMAT, "%s: unknown template \"%s\"", ckpt, s->e->template_name);
    s->tpl = (rmens_template)t;
    RMENS_TRY(tok ? rmens_tokenizer_load(&s->tk, tok) : rmens_tokenizer_bytes(&s->tk));
    RMENS_TRY(rmens_ensemble_set_tokenizer(s->e, s->tk));
    if (rmens_tokenizer_vocab_size(s->tk) > s->e->cfg.vocab_size)
        return rmens_fail(RMENS_ERR_ARG, "%s reads %d token ids, fewer than tokenizer %s's %d", ckpt,
                          s->e->cfg.vocab_size, mine, rmens_tokenizer_vocab_size(s->tk));
    return RMENS_OK;
}

/* Whether the checkpoint holds process reward members (objective prm), and then their
 * options: the aggregate and the step separator (--step-separator, else the one training
 * data recorded, else TRL's default "\n"). Options of the other kind are refused. */
static rmens_status process_model(server *s)
{
    const rmens_serve_options *o = s->o;
    rmens_ckpt_header h;
    s->prm = rmens_h5_is_hdf5(o->ckpt) && rmens_checkpoint_read_header(o->ckpt, &h) == RMENS_OK &&
             strcmp(h.objective, "prm") == 0;
    if (!s->prm) {
        if (o->aggregate >= 0 || o->step_separator)
            return rmens_fail(RMENS_ERR_ARG, "%s is an outcome reward model: `%s` is for process reward models "
                              "(rmens train --objective prm)", o->ckpt,
                              o->aggregate >= 0 ? "aggregate" : "step_separator");
        return RMENS_OK;
    }
    if (o->normalize || o->reward != RMENS_REWARD_MEAN)
        return rmens_fail(RMENS_ERR_ARG, "%s is a process reward model: its reward is the solution's score by "
                          "`aggregate` (min, prod, last), not `%s`", o->ckpt, o->normalize ? "normalize" : "reward");
    s->aggregate = o->aggregate >= 0 ? o->aggregate : RMENS_AGG_MIN;
    const char *sep = o->step_separator ? o->step_separator : h.step_separator[0] ? h.step_separator : "\n";
    s->sep_from = o->step_separator ? "option" : h.step_separator[0] ? "checkpoint"
                                                                      : "default: the checkpoint records none, TRL's";
    if (!sep[0] || strlen(sep) >= sizeof s->sep)
        return rmens_fail(RMENS_ERR_ARG, "`step_separator` must be 1 to %zu bytes", sizeof s->sep - 1);
    snprintf(s->sep, sizeof s->sep, "%s", sep);
    return RMENS_OK;
}

/* A process reward model's batch: room for any one text (max_steps reads, n_ctx rows)
 * and, as the outcome path's, 64 texts of n_ctx rows; activations sized for it. */
static rmens_status reserve_steps(server *s)
{
    const int64_t need = (s->o->max_steps + 1) / 2;
    const int cap = need > RMENS_SCORE_BATCH / 2 ? (int)need : RMENS_SCORE_BATCH / 2;
    RMENS_TRY(rmens_batch_init(&s->pb, cap, s->e->cfg.n_ctx, s->e->cfg.n_head));
    for (int j = 0; j < s->e->nloc; j++) {
        if (j == 0)
            RMENS_TRY(rmens_model_reserve_forward(s->e->m[0], cap, s->e->cfg.n_ctx));
        else
            rmens_model_borrow_acts(s->e->m[j], s->e->m[0]);
    }
    return RMENS_OK;
}

/* Rank 0's loop: batches until a stop is asked, then the requests in flight. */
static rmens_status serve_root(server *s, rmens_batcher *b, rmens_http *h, rmens_serve_report *rep)
{
    rmens_job **jobs = malloc(MAX_JOBS * sizeof *jobs);
    if (!jobs)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    rmens_status st = RMENS_OK;
    double t_stop = 0;
    int closed = 0;
    for (;;) {
        if (!t_stop && s->o->stop && *s->o->stop) {
            rmens_http_quiesce(h);  /* no new connections, 503 to new requests */
            t_stop = rmens_now();
        }
        /* Draining: once nothing is being received, or after drain_s, the queue takes no
         * more and what it holds is scored without waiting. */
        if (t_stop && !closed && (rmens_http_active(h) <= rmens_batcher_pending(b) ||
                                  rmens_now() - t_stop > s->o->drain_s)) {
            rmens_batcher_close(b);
            closed = 1;
        }
        int nj = rmens_batcher_take(b, jobs, MAX_JOBS, 0.05);
        if (nj > 0 && (st = run_batch(s, jobs, nj, rep)) != RMENS_OK)
            break;
        if (closed && nj == 0 && rmens_batcher_pending(b) == 0)
            break;
    }
    free(jobs);
    return st;
}

rmens_status rmens_serve(const rmens_serve_options *o, MPI_Comm comm, rmens_serve_report *rep)
{
    memset(rep, 0, sizeof *rep);
    server s = {0};
    s.o = o;
    s.comm = comm;
    s.pl.group = MPI_COMM_NULL;
    int P;
    RMENS_TRY(rmens_mpi_check(MPI_Comm_rank(comm, &s.rank), "MPI_Comm_rank"));
    RMENS_TRY(rmens_mpi_check(MPI_Comm_size(comm, &P), "MPI_Comm_size"));
    rmens_batcher *b = NULL;
    rmens_http *h = NULL;
    rmens_http_config hc = {0};
    char *info = NULL;
    double *rstd = NULL;
    const double t0 = rmens_now();
    rmens_status st = rmens_score_count_members(o->ckpt, &s.K, &s.step);
    if ((st = rmens_verdict(comm, st)) != RMENS_OK)
        goto exit;
    if ((st = rmens_placement_init(&s.pl, comm, s.K)) != RMENS_OK)
        goto exit;
    st = process_model(&s);
    if (st == RMENS_OK)
        st = rmens_ensemble_open_subset(&s.e, o->ckpt, s.pl.local, s.pl.n_local);
    if (st == RMENS_OK)
        st = s.prm ? reserve_steps(&s) : rmens_ensemble_set_batch_len(s.e, RMENS_SCORE_BATCH, 0);
    if (st == RMENS_OK && s.rank == 0)
        st = open_tokenizer(&s);
    if (st == RMENS_OK && o->normalize && !s.e->has_stats)
        st = rmens_fail(RMENS_ERR_ARG, "`normalize` member: %s has no reward statistics (%s)", o->ckpt, s.e->no_stats);
    if ((st = rmens_verdict(comm, st)) != RMENS_OK)
        goto exit;
    if (s.rank == 0) {
        rstd = malloc((size_t)s.K * sizeof *rstd);
        b = rmens_batcher_new(o->max_batch_tokens, o->max_wait_s, o->max_queue);
        info = info_json(&s, P);
        if (!rstd || !b || !info)
            st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
        for (int k = 0; rstd && k < s.K; k++)
            rstd[k] = s.e->rstd[k];
        hc = (rmens_http_config){o->host, o->port, o->max_body, o->token,
                                 {.n_ctx = s.e->cfg.n_ctx, .truncate_error = o->truncate_error, .max_items = o->max_items},
                                 {s.K, o->reward, o->lambda, o->normalize, rstd, s.e->tau, s.prm, s.aggregate}, b, info};
        hc.limits.step_sep = s.prm ? s.sep : NULL;
        hc.limits.max_steps = o->max_steps;
        if (st == RMENS_OK)
            st = rmens_request_limits_init(&hc.limits, s.tk, s.tpl);
        if (st == RMENS_OK)
            st = rmens_http_start(&h, &hc);
    }
    if ((st = rmens_verdict(comm, st)) != RMENS_OK)
        goto exit;
    if (s.rank == 0) {
        if (o->ready)
            o->ready(o->host, rmens_http_port(h), o->ready_arg);
        st = serve_root(&s, b, h, rep);
        int64_t hdr[4] = {CMD_STOP, 0, 0, 0};
        rmens_status sb = bcast_header(hdr, &s);
        st = st == RMENS_OK ? sb : st;
    } else {
        for (;;) {
            int64_t hdr[4];
            if ((st = bcast_header(hdr, &s)) != RMENS_OK || hdr[0] == CMD_STOP)
                break;
            if ((st = score_batch(&s, hdr[1], hdr[2], hdr[3])) == RMENS_ERR_MPI)
                break;
            st = RMENS_OK;  /* a failed batch was answered 500 by rank 0 */
        }
    }
    rep->seconds = rmens_now() - t0;
exit:
    rmens_http_stop(h);
    rmens_batcher_free(b);
    free(info);
    free(rstd);
    rmens_ensemble_close(s.e);
    rmens_tokenizer_free(s.tk);
    if (s.pl.local)
        rmens_placement_free(&s.pl);
    free(s.mine);
    free(s.all);
    free(s.tokens);
    free(s.lens);
    free(s.nsteps);
    free(s.ends);
    rmens_batch_free(&s.pb);
    return st;
}
