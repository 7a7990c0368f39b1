#include "ensemble/ensemble.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "comm/moments.h"
#include "io/calibration.h"
#include "io/checkpoint.h"
#include "io/h5.h"
#include "io/pin.h"
#include "io/hfdir.h"
#include "text/tokenizer.h"

void rmens_ensemble_close(rmens_ensemble *e)
{
    if (!e)
        return;
    for (int k = e->nloc - 1; e->m && k >= 0; k--)
        rmens_model_free(e->m[k]);
    free(e->m);
    free(e->idx);
    free(e->rmean);
    free(e->rstd);
    free(e->tau);
    free(e->buf);
    rmens_batch_free(&e->batch);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

static rmens_status read_kind(const char *path, char *kind, size_t n, char *tok, size_t tn, char *tpl, size_t pn)
{
    hid_t f;
    if (rmens_hfdir_is_dir(path)) {  /* a Hugging Face reward model: a model, read by its tokenizer */
        int64_t vocab;
        snprintf(kind, n, "model");
        tpl[0] = '\0';
        return rmens_hfdir_tokenizer(path, tok, tn, &vocab);
    }
    RMENS_TRY(rmens_h5_open_ro(path, H5P_DEFAULT, &f));
    rmens_status st = rmens_h5_attr_read_str(f, "rmens_format", kind, n);
    tok[0] = tpl[0] = '\0';
    if (st == RMENS_OK && rmens_h5_has_attr(f, "tokenizer"))
        st = rmens_h5_attr_read_str(f, "tokenizer", tok, tn);
    if (st == RMENS_OK && rmens_h5_has_attr(f, "template"))
        st = rmens_h5_attr_read_str(f, "template", tpl, pn);
    H5Fclose(f);
    return st == RMENS_OK ? st : rmens_fail_context(st, "%s: ", path);
}

rmens_status rmens_ensemble_open(rmens_ensemble **out, const char *path)
{
    return rmens_ensemble_open_subset(out, path, NULL, 0);
}

static rmens_status open_subset(rmens_ensemble **out, const char *path, const int *want, int nwant);

rmens_status rmens_ensemble_open_subset(rmens_ensemble **out, const char *path, const int *want, int nwant)
{
    RMENS_H5_LOCKED(open_subset(out, path, want, nwant));
}

rmens_status rmens_ensemble_has_stats(const char *path, int *has)
{
    /* No member's weights are loaded: only the kind, the header and members' attributes. */
    *has = 0;
    char kind[32], tok[128], tpl[32];
    rmens_ensemble *e = NULL;
    int none = 0;
    rmens_h5_lock();
    rmens_status st = read_kind(path, kind, sizeof kind, tok, sizeof tok, tpl, sizeof tpl);
    if (st == RMENS_OK && strcmp(kind, "ensemble") == 0 && (st = open_subset(&e, path, &none, 0)) == RMENS_OK)
        *has = e->has_stats;
    rmens_h5_unlock();
    rmens_ensemble_close(e);
    return st;
}

static rmens_status open_pinned(rmens_ensemble **out, const char *path, const int *want, int nwant);

/* One version of the file, whatever saves rename onto path meanwhile (io/pin.h): read
 * again if a save came between the header and the last member. */
static rmens_status open_subset(rmens_ensemble **out, const char *path, const int *want, int nwant)
{
    rmens_pin pin;
    for (int attempt = 0;; attempt++) {
        RMENS_TRY(rmens_pin_open(&pin, path, MPI_COMM_NULL));
        int held = 0;
        rmens_status st = open_pinned(out, path, want, nwant);
        rmens_pin_held(&pin, MPI_COMM_NULL, &held);
        if (!held && attempt == RMENS_PIN_TRIES)
            st = rmens_pin_gave_up(&pin);
        rmens_pin_close(&pin);
        if (held || attempt == RMENS_PIN_TRIES)
            return st;
        rmens_ensemble_close(*out);
        *out = NULL;
    }
}

static rmens_status open_pinned(rmens_ensemble **out, const char *path, const int *want, int nwant)
{
    *out = NULL;
    char kind[32], tok[128], tpl[32];
    RMENS_TRY(read_kind(path, kind, sizeof kind, tok, sizeof tok, tpl, sizeof tpl));
    rmens_ensemble *e = calloc(1, sizeof *e);
    if (e) {
        snprintf(e->tokenizer, sizeof e->tokenizer, "%s", tok);
        snprintf(e->template_name, sizeof e->template_name, "%s", tpl);
    }
    if (!e)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&e->lock, NULL);
    snprintf(e->path, sizeof e->path, "%s", path);
    e->eot = -1;
    rmens_status st = RMENS_OK;
    if (strcmp(kind, "model") == 0) {
        e->K = e->nloc = 1;
        e->idx = calloc(1, sizeof *e->idx);
        e->m = calloc(1, sizeof *e->m);
        e->rmean = calloc(1, sizeof *e->rmean);
        e->rstd = calloc(1, sizeof *e->rstd);
        if (!e->m || !e->rmean || !e->rstd || !e->idx)
            st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
        if (st == RMENS_OK && want && (nwant != 1 || want[0] != 0))
            st = rmens_fail(RMENS_ERR_ARG, "%s is a single model: it has no member other than 0", path);
        int fresh = 0;
        if (st == RMENS_OK)
            st = rmens_model_load(&e->m[0], path, 0, &fresh);
        if (st == RMENS_OK && fresh)
            st = rmens_fail(RMENS_ERR_FORMAT, "%s has no score.weight: a language model, not a reward model", path);
        if (st == RMENS_OK) {
            e->cfg = e->m[0]->cfg;
            e->rstd[0] = 1;
            snprintf(e->no_stats, sizeof e->no_stats, "a model file");
        }
    } else if (strcmp(kind, "ensemble") == 0) {
        rmens_ckpt_header h;
        st = rmens_checkpoint_read_header(path, &h);
        if (st == RMENS_OK) {
            e->cfg = h.cfg;
            e->eot = (int)h.eot_token;
            e->K = h.members;
            e->has_stats = 1;
            e->nloc = want ? nwant : e->K;
            e->idx = calloc((size_t)e->nloc + 1, sizeof *e->idx);
            e->m = calloc((size_t)e->nloc + 1, sizeof *e->m);
            e->rmean = calloc((size_t)e->K, sizeof *e->rmean);
            e->rstd = calloc((size_t)e->K, sizeof *e->rstd);
            if (!e->m || !e->rmean || !e->rstd || !e->idx)
                st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
            for (int j = 0; j < e->nloc && st == RMENS_OK; j++) {
                e->idx[j] = want ? want[j] : j;
                if (e->idx[j] < 0 || e->idx[j] >= e->K)
                    st = rmens_fail(RMENS_ERR_ARG, "member %d does not exist (%d members)", e->idx[j], e->K);
            }
        }
        for (int k = 0; k < e->K && st == RMENS_OK; k++) {
            double a[RMENS_MA_N];
            int j = -1;
            for (int q = 0; q < e->nloc; q++)
                if (e->idx[q] == k)
                    j = q;
            if (j >= 0)
                st = rmens_model_alloc(&e->m[j], &e->cfg);
            if (st == RMENS_OK)
                st = rmens_checkpoint_read_member(path, k, j >= 0 ? e->m[j] : NULL, NULL, NULL, NULL, 0, a);
            if (st == RMENS_OK) {
                e->rmean[k] = a[RMENS_MA_REWARD_MEAN];
                e->rstd[k] = a[RMENS_MA_REWARD_STD];
                if (e->has_stats && !(isfinite(e->rmean[k]) && isfinite(e->rstd[k]))) {
                    e->has_stats = 0;  /* an unfinished run: no normalisation statistics yet */
                    snprintf(e->no_stats, sizeof e->no_stats, "an unfinished run");
                } else if (e->has_stats && !(e->rstd[k] > 0)) {
                    e->has_stats = 0;  /* nothing to divide by */
                    snprintf(e->no_stats, sizeof e->no_stats, "member %d gave every training sequence the same "
                             "reward: reward_std %g", k, e->rstd[k]);
                }
            }
        }
    } else {
        st = rmens_fail(RMENS_ERR_FORMAT, "%s: rmens_format \"%s\" is neither a model nor an ensemble", path, kind);
    }
    if (st == RMENS_OK && !(e->tau = malloc((size_t)e->K * sizeof *e->tau)))
        st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    if (st == RMENS_OK)
        st = rmens_calibration_read_tau(path, e->K, e->rstd, e->tau, &e->has_temperature);
    /* Activations are reserved at the first score (or by rmens_ensemble_set_batch*): a
     * caller that knows its lengths sizes them once, and opening costs no memory. */
    if (st != RMENS_OK) {
        rmens_ensemble_close(e);
        return st;
    }
    *out = e;
    return RMENS_OK;
}

rmens_status rmens_ensemble_set_batch(rmens_ensemble *e, int seqs) { return rmens_ensemble_set_batch_len(e, seqs, 0); }

rmens_status rmens_ensemble_set_batch_len(rmens_ensemble *e, int seqs, int max_len)
{
    int pairs = seqs < 2 ? 1 : (seqs + 1) / 2;
    rmens_batch_free(&e->batch);
    free(e->buf);
    e->buf = NULL;
    e->cap = 0;  /* until everything is reserved: a failed reservation is retried */
    rmens_status st = rmens_batch_init(&e->batch, pairs, e->cfg.n_ctx, e->cfg.n_head);
    if (st == RMENS_OK && !(e->buf = malloc((size_t)2 * pairs * (e->nloc + 1) * sizeof *e->buf)))
        st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    if (st == RMENS_OK && e->nloc > 0)
        st = rmens_model_reserve_forward(e->m[0], pairs, max_len);
    for (int k = 1; k < e->nloc && st == RMENS_OK; k++)
        rmens_model_borrow_acts(e->m[k], e->m[0]);
    if (st == RMENS_OK)
        e->cap = 2 * pairs;
    return st;
}

int rmens_ensemble_members(const rmens_ensemble *e) { return e->K; }
const rmens_model_config *rmens_ensemble_config(const rmens_ensemble *e) { return &e->cfg; }

void rmens_ensemble_member_stats(const rmens_ensemble *e, int k, double *mean, double *std)
{
    *mean = e->rmean[k];
    *std = e->rstd[k];
}

static rmens_status score_locked(rmens_ensemble *e, const int32_t *const *seqs, const int64_t *lens,
                                 int64_t n, int normalize, float lambda, float *rewards,
                                 rmens_score_stats *stats, int64_t *n_cut)
{
    if (normalize && !e->has_stats)
        return rmens_fail(RMENS_ERR_ARG, "%s has no reward statistics to normalise with (%s)", e->path, e->no_stats);
    if (!(lambda >= 0) || !isfinite(lambda))
        return rmens_fail(RMENS_ERR_ARG, "lambda must be a non-negative number, got %g", (double)lambda);
    for (int64_t i = 0; i < n; i++) {
        if (lens[i] < 1)
            return rmens_fail(RMENS_ERR_ARG, "sequence %lld is empty", (long long)i);
        for (int64_t t = 0; t < lens[i]; t++)
            if (seqs[i][t] < 0 || seqs[i][t] >= e->cfg.vocab_size)
                return rmens_fail(RMENS_ERR_ARG, "sequence %lld: token %d at %lld is outside the model's vocabulary "
                                  "(%d)", (long long)i, seqs[i][t], (long long)t, e->cfg.vocab_size);
    }
    if (e->cap == 0)
        RMENS_TRY(rmens_ensemble_set_batch(e, RMENS_SCORE_BATCH));
    const int K = e->nloc;
    for (int64_t a = 0; a < n; a += e->cap) {
        int b = (int)(n - a < e->cap ? n - a : e->cap);
        RMENS_TRY(rmens_batch_build_seqs(&e->batch, seqs + a, lens + a, b));
        if (n_cut)
            *n_cut += e->batch.n_cut;
        for (int k = 0; k < K; k++) {
            RMENS_TRY(rmens_model_forward(e->m[k], &e->batch));
            const float *r = rmens_model_rewards(e->m[k]);
            for (int i = 0; i < b; i++)
                e->buf[(size_t)i * K + k] =
                    normalize ? (float)((r[i] - e->rmean[e->idx[k]]) / e->rstd[e->idx[k]]) : r[i];
        }
        for (int i = 0; i < b; i++) {
            const float *row = e->buf + (size_t)i * K;
            if (rewards)
                memcpy(rewards + (size_t)(a + i) * K, row, (size_t)K * sizeof *row);
            if (stats) {
                rmens_moments mo;
                rmens_moments_clear(&mo, 1);
                for (int k = 0; k < K; k++)
                    rmens_moments_add(&mo, &row[k], 1);
                double var = rmens_moments_var(&mo);
                rmens_score_stats *s = &stats[a + i];
                s->mean = (float)mo.mean, s->min = (float)mo.min, s->max = (float)mo.max;
                s->var = (float)var, s->std = (float)sqrt(var);
                s->uwo = (float)rmens_rule_value(RMENS_RULE_UWO, mo.mean, mo.min, var, lambda);
            }
        }
    }
    return RMENS_OK;
}

rmens_status rmens_ensemble_score(rmens_ensemble *e, const int32_t *const *seqs, const int64_t *lens,
                                  int64_t n, int normalize, float lambda, float *rewards,
                                  rmens_score_stats *stats, int64_t *n_cut)
{
    pthread_mutex_lock(&e->lock);
    rmens_status st = score_locked(e, seqs, lens, n, normalize, lambda, rewards, stats, n_cut);
    pthread_mutex_unlock(&e->lock);
    return st;
}

rmens_status rmens_ensemble_score_pairs(rmens_ensemble *e, const rmens_dataset *ds, int64_t lo, int64_t hi,
                                        int normalize, float *out)
{
    pthread_mutex_lock(&e->lock);
    rmens_status st = e->cap == 0 ? rmens_ensemble_set_batch(e, RMENS_SCORE_BATCH) : RMENS_OK;
    const int K = e->nloc, P = e->cap / 2;
    int64_t *idx = st == RMENS_OK ? malloc((size_t)P * sizeof *idx) : NULL;
    if (st == RMENS_OK && !idx)
        st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    for (int64_t a = lo; a < hi && st == RMENS_OK && idx; a += P) {
        int b = (int)(hi - a < P ? hi - a : P);
        for (int i = 0; i < b; i++)
            idx[i] = a + i;
        st = rmens_batch_build(&e->batch, ds, idx, b, 1, 0.0f);
        for (int k = 0; k < K && st == RMENS_OK; k++) {
            if ((st = rmens_model_forward(e->m[k], &e->batch)) != RMENS_OK)
                break;
            const float *r = rmens_model_rewards(e->m[k]);  /* chosen 2i, rejected 2i+1 */
            for (int s = 0; s < 2 * b; s++)
                out[((a - lo) * 2 + s) * K + k] =
                    normalize ? (float)((r[s] - e->rmean[e->idx[k]]) / e->rstd[e->idx[k]]) : r[s];
        }
    }
    pthread_mutex_unlock(&e->lock);
    free(idx);
    return st;
}

rmens_status rmens_ensemble_score_text(rmens_ensemble *e, const char *text, size_t len, int normalize, float lambda,
                                       float *rewards, rmens_score_stats *stats)
{
    if (e->tk) {
        rmens_ids ids = {0};
        rmens_status st = rmens_tokenizer_encode_append(e->tk, text, len, 0, &ids);
        int32_t eos = rmens_tokenizer_eos_id(e->tk);
        if (st == RMENS_OK && (ids.n == 0 || !rmens_tokenizer_is_special(e->tk, ids.v[ids.n - 1]))) {
            if (eos < 0)
                st = rmens_fail(RMENS_ERR_ARG, "tokenizer %s has no EOS token to end the text with",
                                rmens_tokenizer_name(e->tk));
            else if (rmens_ids_push(&ids, eos))
                st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
        }
        int64_t n = (int64_t)ids.n;
        const int32_t *seq = ids.v;
        if (st == RMENS_OK)
            st = rmens_ensemble_score(e, &seq, &n, 1, normalize, lambda, rewards, stats, NULL);
        rmens_ids_free(&ids);
        return st;
    }
    if (e->tokenizer[0] && strcmp(e->tokenizer, "bytes") != 0)
        return rmens_fail(RMENS_ERR_ARG, "%s was trained on tokenizer %s: give it with rmens_ensemble_set_tokenizer "
                          "(text is never read as bytes for it)", e->path, e->tokenizer);
    int32_t *tok = malloc((len + 1) * sizeof *tok);
    if (!tok)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    int64_t n = (int64_t)rmens_tokenize_bytes(tok, text, len);
    const int32_t *seq = tok;
    rmens_status st = rmens_ensemble_score(e, &seq, &n, 1, normalize, lambda, rewards, stats, NULL);
    free(tok);
    return st;
}

rmens_status rmens_ensemble_set_tokenizer(rmens_ensemble *e, rmens_tokenizer *tk)
{
    char id[RMENS_TOKENIZER_ID_LEN];
    rmens_tokenizer_identity(tk, id, sizeof id);
    const char *mine = e->tokenizer[0] ? e->tokenizer : "bytes";
    if (!rmens_tokenizer_same(id, mine))  /* the same files under another directory name are the same */
        return rmens_fail(RMENS_ERR_ARG, "%s was trained on tokenizer %s, not %s", e->path, mine, id);
    e->tk = tk;
    return RMENS_OK;
}

const char *const rmens_rule_names[RMENS_RULE_N] = {"mean", "min", "uwo"};

rmens_status rmens_rule_check_lambda(double lambda)
{
    if (!(lambda >= 0) || !isfinite(lambda))
        return rmens_fail(RMENS_ERR_ARG, "`lambda` must be a non-negative number, got %g", lambda);
    return RMENS_OK;
}

double rmens_rule_value(rmens_rule r, double mean, double min, double var, double lambda)
{
    switch (r) {
    case RMENS_RULE_MIN: return min;                   /* worst case over members */
    case RMENS_RULE_UWO: return mean - lambda * var;   /* uncertainty-weighted optimisation */
    default: return mean;
    }
}

void rmens_rule_decide(double wins[RMENS_RULE_N], const double w[3], const double l[3], double lambda)
{
    for (int r = 0; r < RMENS_RULE_N; r++)
        wins[r] += rmens_rule_value((rmens_rule)r, w[0], w[1], w[2], lambda) >
                   rmens_rule_value((rmens_rule)r, l[0], l[1], l[2], lambda);
}
