#include "serve/reply.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "comm/moments.h"
#include "base/logistic.h"
#include "ensemble/ensemble.h"
#include "ensemble/prm.h"
#include "ensemble/uncertainty.h"

/* The reward kinds are the ensemble's decision rules (ensemble.h), in its order. */
_Static_assert(RMENS_REWARD_MEAN == (int)RMENS_RULE_MEAN && RMENS_REWARD_MIN == (int)RMENS_RULE_MIN &&
                   RMENS_REWARD_UWO == (int)RMENS_RULE_UWO, "reward kinds follow rmens_rule");

const char *rmens_reward_name(rmens_reward_kind k) { return rmens_rule_names[k]; }

int rmens_reward_from_name(const char *s)
{
    for (int k = 0; k < RMENS_RULE_N; k++)
        if (strcmp(s, rmens_rule_names[k]) == 0)
            return k;
    return -1;
}

/* JSON has no NaN or Inf: a value that is not finite is null. */
static json_object *num(double x) { return isfinite(x) ? json_object_new_double(x) : NULL; }

static char *take(json_object *o, size_t *len)
{
    char *out = NULL;
    if (o) {
        size_t n;
        const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
        if (s && (out = malloc(n + 1))) {
            memcpy(out, s, n + 1);
            *len = n;
        }
    }
    json_object_put(o);
    return out;
}

char *rmens_reply_error(int code, const char *msg, size_t *len)
{
    json_object *o = json_object_new_object(), *e = json_object_new_object();
    json_object_object_add(e, "code", json_object_new_int(code));
    json_object_object_add(e, "message", json_object_new_string(msg));
    json_object_object_add(o, "error", e);
    return take(o, len);
}

/* The aggregates of one text's K rewards (as rmens score computes them). */
typedef struct {
    double mean, var, min, max, uwo, reward;
} aggregate;

static aggregate aggregate_of(const float *r, const rmens_reply_config *c)
{
    rmens_moments m;
    rmens_moments_clear(&m, 1);
    for (int k = 0; k < c->K; k++)
        rmens_moments_add(&m, &r[k], 1);
    aggregate a = {m.mean, rmens_moments_var(&m), m.min, m.max, 0, 0};
    a.uwo = rmens_rule_value(RMENS_RULE_UWO, a.mean, a.min, a.var, c->lambda);
    a.reward = rmens_rule_value((rmens_rule)c->reward, a.mean, a.min, a.var, c->lambda);
    /* Rounded to float as score files store them. */
    a.mean = (float)a.mean, a.var = (float)a.var, a.uwo = (float)a.uwo, a.reward = (float)a.reward;
    return a;
}

static void add_list(json_object *o, const char *key, const double *x, int64_t n)
{
    json_object *l = json_object_new_array_ext((int)n);
    for (int64_t i = 0; i < n; i++)
        json_object_array_add(l, num(x[i]));
    json_object_object_add(o, key, l);
}

/* OpenRLHF's answer: rewards (the chosen aggregate), scores (the same: OpenRLHF filters
 * dynamically by them) and extra_logs, which it logs per sample. */
static json_object *get_reward_reply(const rmens_request *r, const aggregate *a)
{
    json_object *o = json_object_new_object(), *logs = json_object_new_object();
    double *x = malloc((size_t)(r->n + 1) * sizeof *x);
    if (!x || !o || !logs) {
        free(x);
        json_object_put(o);
        json_object_put(logs);
        return NULL;
    }
    static const char *const keys[] = {"rewards", "scores", "ens_mean", "ens_std", "ens_min", "ens_max"};
    for (int k = 0; k < 6; k++) {
        for (int64_t i = 0; i < r->n; i++) {
            const aggregate *s = &a[i];
            double v[6] = {s->reward, s->reward, s->mean, (float)sqrt(s->var), s->min, s->max};
            x[i] = v[k];
        }
        add_list(k < 2 ? o : logs, keys[k], x, r->n);
    }
    json_object_object_add(o, "extra_logs", logs);
    free(x);
    return o;
}

/* P(a > b): each member's Bradley-Terry probability of its margin in its own scale; the
 * ensemble's is their mean; its uncertainty the one rule of ensemble/uncertainty.h, with
 * the members' spread beside it. */
static json_object *pair_reply(const rmens_request *r, const float *rewards, const rmens_reply_config *c,
                               int64_t q)
{
    const int64_t a = r->pairs[2 * q], b = r->pairs[2 * q + 1];
    rmens_moments p, m;
    rmens_moments_clear(&p, 1);
    rmens_moments_clear(&m, 1);
    double *d = malloc((size_t)c->K * sizeof *d);
    if (!d)
        return NULL;
    rmens_pair_margins(d, rewards + a * c->K, rewards + b * c->K, c->K, c->normalize ? c->rstd : NULL, c->tau);
    for (int k = 0; k < c->K; k++) {
        float pk = (float)rmens_sigmoid(d[k]), dk = (float)d[k];
        rmens_moments_add(&p, &pk, 1);
        rmens_moments_add(&m, &dk, 1);
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "a", json_object_new_int64(a));
    json_object_object_add(o, "b", json_object_new_int64(b));
    json_object_object_add(o, "p", num(p.mean));
    json_object_object_add(o, "p_std", num(sqrt(rmens_moments_var(&p))));
    json_object_object_add(o, "p_min", num(p.min));
    json_object_object_add(o, "p_max", num(p.max));
    json_object_object_add(o, "margin_mean", num(m.mean));
    json_object_object_add(o, "margin_std", num(sqrt(rmens_moments_var(&m))));
    json_object_object_add(o, "uncertainty", num(rmens_uncertainty(d, c->K)));
    free(d);
    return o;
}

static json_object *rewards_reply(const rmens_request *r, const float *rewards, const unsigned char *cut,
                                  const aggregate *ag, const rmens_reply_config *c)
{
    json_object *o = json_object_new_object(), *res = json_object_new_array_ext((int)r->n);
    for (int64_t i = 0; i < r->n; i++) {
        const aggregate *a = &ag[i];
        json_object *e = json_object_new_object();
        json_object_object_add(e, "reward", num(a->reward));
        json_object_object_add(e, "mean", num(a->mean));
        json_object_object_add(e, "std", num((float)sqrt(a->var)));
        json_object_object_add(e, "var", num(a->var));
        json_object_object_add(e, "min", num(a->min));
        json_object_object_add(e, "max", num(a->max));
        json_object_object_add(e, "uwo", num(a->uwo));
        json_object_object_add(e, "tokens", json_object_new_int64(r->offsets[i + 1] - r->offsets[i]));
        json_object_object_add(e, "truncated", json_object_new_boolean(cut && cut[i]));
        if (r->per_member) {
            json_object *pm = json_object_new_array_ext(c->K);
            for (int k = 0; k < c->K; k++)
                json_object_array_add(pm, num(rewards[i * c->K + k]));
            json_object_object_add(e, "per_member", pm);
        }
        json_object_array_add(res, e);
    }
    json_object_object_add(o, "results", res);
    if (r->n_pairs > 0) {
        json_object *pl = json_object_new_array_ext((int)r->n_pairs);
        for (int64_t q = 0; q < r->n_pairs; q++)
            json_object_array_add(pl, pair_reply(r, rewards, c, q));
        json_object_object_add(o, "pairs", pl);
    }
    json_object_object_add(o, "members", json_object_new_int(c->K));
    json_object_object_add(o, "reward", json_object_new_string(rmens_reward_name(c->reward)));
    return o;
}

/* ------------------------------------------------- process reward models */

/* One solution's steps: every member's probability, the ensemble's mean, std and min
 * (rmens_prm_probs, rmens_prm_step_stats: as rmens score writes them); its score by every aggregate of
 * the mean (as score's /score), and each member's score by the chosen one (score's
 * /member_score), with their spread. */
typedef struct {
    int64_t ns, cut;              /* steps; steps cut away by the context */
    float *prob, *mean, *sd, *mn; /* [ns * K], [ns] x 3 */
    float *member;                /* [K] */
    double score[RMENS_AGG_N];
    aggregate spread;             /* mean, var, min, max of member[] */
} solution_scores;

static int solution_of(solution_scores *o, const float *logit, int64_t ns, const rmens_reply_config *c)
{
    const int K = c->K;
    float *buf = malloc((size_t)(ns * (K + 3) + K + 1) * sizeof *buf);
    if (!buf)
        return -1;
    *o = (solution_scores){.ns = ns, .prob = buf, .mean = buf + ns * K, .sd = buf + ns * (K + 1),
                           .mn = buf + ns * (K + 2), .member = buf + ns * (K + 3)};
    rmens_prm_probs(logit, ns * K, o->prob);
    for (int64_t s = 0; s < ns; s++) {
        rmens_prm_step_stats(o->prob + s * K, K, &o->mean[s], &o->sd[s], &o->mn[s]);
        o->cut += isnan(o->mean[s]) != 0;
    }
    for (int a = 0; a < RMENS_AGG_N; a++)
        o->score[a] = (float)rmens_aggregate_steps((rmens_aggregate)a, o->mean, ns, 1);
    rmens_moments m;
    rmens_moments_clear(&m, 1);
    for (int k = 0; k < K; k++) {
        o->member[k] = (float)rmens_aggregate_steps((rmens_aggregate)c->aggregate, o->prob + k, ns, K);
        rmens_moments_add(&m, &o->member[k], 1);
    }
    o->spread = (aggregate){(float)m.mean, (float)rmens_moments_var(&m), m.min, m.max, 0, o->score[c->aggregate]};
    return 0;
}

static json_object *float_list(const float *x, int64_t n, int64_t stride)
{
    json_object *l = json_object_new_array_ext((int)n);
    for (int64_t i = 0; i < n; i++)
        json_object_array_add(l, num(x[i * stride]));
    return l;
}

/* /v1/rewards of a process reward model: per text its score, the members' spread of it,
 * and its steps. */
static json_object *prm_text_reply(const rmens_request *r, int64_t i, const solution_scores *o,
                                   const unsigned char *cut, const rmens_reply_config *c)
{
    const int K = c->K;
    json_object *e = json_object_new_object(), *sc = json_object_new_object(), *steps;
    json_object_object_add(e, "reward", num(o->spread.reward));
    for (int a = 0; a < RMENS_AGG_N; a++)
        json_object_object_add(sc, rmens_aggregate_names[a], num(o->score[a]));
    json_object_object_add(e, "score", sc);
    json_object_object_add(e, "mean", num(o->spread.mean));
    json_object_object_add(e, "std", num((float)sqrt(o->spread.var)));
    json_object_object_add(e, "min", num(o->spread.min));
    json_object_object_add(e, "max", num(o->spread.max));
    if (r->per_member)
        json_object_object_add(e, "per_member", float_list(o->member, K, 1));
    steps = json_object_new_array_ext((int)o->ns);
    for (int64_t s = 0; s < o->ns; s++) {
        json_object *st = json_object_new_object();
        json_object_object_add(st, "mean", num(o->mean[s]));
        json_object_object_add(st, "std", num(o->sd[s]));
        json_object_object_add(st, "min", num(o->mn[s]));
        if (r->per_member)
            json_object_object_add(st, "per_member", float_list(o->prob + s * K, K, 1));
        json_object_array_add(steps, st);
    }
    json_object_object_add(e, "steps", steps);
    json_object_object_add(e, "steps_cut", json_object_new_int64(o->cut));
    json_object_object_add(e, "tokens", json_object_new_int64(r->offsets[i + 1] - r->offsets[i]));
    json_object_object_add(e, "truncated", json_object_new_boolean(cut && cut[i]));
    return e;
}

static json_object *prm_reply(const rmens_request *r, const float *logits, const unsigned char *cut,
                              const rmens_reply_config *c)
{
    json_object *o = json_object_new_object(), *res = json_object_new_array_ext((int)r->n), *logs = NULL;
    static const char *const keys[] = {"rewards", "scores", "ens_mean", "ens_std", "ens_min", "ens_max", "steps",
                                       "tokens"};
    enum { NL = sizeof keys / sizeof *keys };
    json_object *lists[NL] = {0};
    if (r->kind == RMENS_REQ_GET_REWARD) {
        logs = json_object_new_object();
        for (int k = 0; k < NL; k++)
            lists[k] = json_object_new_array_ext((int)r->n);
    }
    for (int64_t i = 0; i < r->n; i++) {
        solution_scores s;
        const int64_t s0 = r->step_off[i];
        if (solution_of(&s, logits + s0 * c->K, r->step_off[i + 1] - s0, c)) {
            json_object_put(o), json_object_put(res), json_object_put(logs);
            for (int k = 0; k < NL; k++)
                json_object_put(lists[k]);
            return NULL;
        }
        if (logs) {
            const aggregate *a = &s.spread;
            double v[6] = {a->reward, a->reward, a->mean, (float)sqrt(a->var), a->min, a->max};
            for (int k = 0; k < 6; k++)
                json_object_array_add(lists[k], num(v[k]));
            json_object_array_add(lists[6], json_object_new_int64(s.ns));
            json_object_array_add(lists[7], json_object_new_int64(r->offsets[i + 1] - r->offsets[i]));
        } else {
            json_object_array_add(res, prm_text_reply(r, i, &s, cut, c));
        }
        free(s.prob);
    }
    if (logs) {
        json_object_put(res);
        for (int k = 0; k < NL; k++)
            json_object_object_add(k < 2 ? o : logs, keys[k], lists[k]);
        json_object_object_add(o, "extra_logs", logs);
        return o;
    }
    json_object_object_add(o, "results", res);
    json_object_object_add(o, "members", json_object_new_int(c->K));
    json_object_object_add(o, "aggregate", json_object_new_string(rmens_aggregate_names[c->aggregate]));
    return o;
}

char *rmens_reply_rewards(const rmens_request *r, const float *rewards, const unsigned char *cut,
                          const rmens_reply_config *c, size_t *len)
{
    if (c->prm)
        return take(prm_reply(r, rewards, cut, c), len);
    aggregate *ag = malloc((size_t)(r->n + 1) * sizeof *ag);
    if (!ag)
        return NULL;
    for (int64_t i = 0; i < r->n; i++)
        ag[i] = aggregate_of(rewards + i * c->K, c);
    json_object *o = r->kind == RMENS_REQ_GET_REWARD ? get_reward_reply(r, ag) : rewards_reply(r, rewards, cut, ag, c);
    free(ag);
    return take(o, len);
}
