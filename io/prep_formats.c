/* rmens prep's record readers for summarize-from-feedback, HelpSteer2(-Preference),
 * rankings and raw UltraFeedback (docs/FORMAT.md, "The conversation template"). */
#include "io/prep_formats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

#define NOMEM(where) rmens_fail(RMENS_ERR_NOMEM, "%s: out of memory", where)

void rmens_prep_group_clear(rmens_prep_group *g)
{
    g->prompt.len = g->resp.len = 0;
    g->k = 0;
}

void rmens_prep_group_free(rmens_prep_group *g)
{
    rmens_text_free(&g->prompt);
    rmens_text_free(&g->resp);
    free(g->off);
    free(g->score);
    free(g->source);
    free(g->empty);
    memset(g, 0, sizeof *g);
}

static int group_reserve(rmens_prep_group *g, int64_t k)
{
    if (k + 1 <= g->cap)
        return 0;
    int64_t c = g->cap ? 2 * g->cap : 16;
    while (c < k + 1)
        c *= 2;
    void **arrays[] = {(void **)&g->off, (void **)&g->score, (void **)&g->source, (void **)&g->empty};
    const size_t sizes[] = {sizeof *g->off, sizeof *g->score, sizeof *g->source, sizeof *g->empty};
    for (int i = 0; i < 4; i++) {  /* each array keeps its old block when another fails */
        void *q = realloc(*arrays[i], (size_t)c * sizes[i]);
        if (!q)
            return -1;
        *arrays[i] = q;
    }
    g->cap = c;
    return 0;
}

/* Appends response v (string, message or messages) with its score. */
static rmens_status group_add(rmens_prep_group *g, json_object *v, const char *what, const char *where, double score,
                              int64_t source)
{
    if (group_reserve(g, g->k + 1))
        return NOMEM(where);
    if (g->k == 0)
        g->off[0] = g->resp.len;
    int empty = 0;
    RMENS_TRY(rmens_json_render_response(v, what, where, &g->resp, &empty));
    g->score[g->k] = score;
    g->source[g->k] = source;
    g->empty[g->k] = empty;
    g->off[++g->k] = g->resp.len;
    return RMENS_OK;
}

rmens_status rmens_json_number(json_object *o, const char *key, const char *where, double *x)
{
    json_object *v;
    RMENS_TRY(rmens_json_field(o, key, where, &v));
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
        return rmens_fail(RMENS_ERR_INPUT, "%s: field \"%s\" is %s, expected a number", where, key,
                          rmens_json_type_name(v));
    *x = json_object_get_double(v);
    if (!isfinite(*x))
        return rmens_fail(RMENS_ERR_INPUT, "%s: field \"%s\" is not finite", where, key);
    return RMENS_OK;
}

/* A field of JSON type t (named `expect` in the message). */
static rmens_status get_typed(json_object *o, const char *key, const char *where, json_type t, const char *expect,
                              json_object **v)
{
    RMENS_TRY(rmens_json_field(o, key, where, v));
    if (!json_object_is_type(*v, t))
        return rmens_fail(RMENS_ERR_INPUT, "%s: field \"%s\" is %s, expected %s", where, key,
                          rmens_json_type_name(*v), expect);
    return RMENS_OK;
}
#define get_object(o, key, where, v) get_typed(o, key, where, json_type_object, "an object", v)
#define get_array(o, key, where, v) get_typed(o, key, where, json_type_array, "a list", v)

/* An optional string field: *s NULL when absent or null. */
static rmens_status opt_string(json_object *o, const char *key, const char *what, const char *where, const char **s,
                               size_t *n)
{
    json_object *v;
    *s = NULL;
    *n = 0;
    if (!json_object_object_get_ex(o, key, &v) || !v)
        return RMENS_OK;
    return rmens_json_string(v, what, where, s, n);
}

/* A number in [lo, hi]; integer: it must be whole. */
static rmens_status number_in(json_object *v, const char *what, const char *where, double lo, double hi, int integer,
                              double *x)
{
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
        return rmens_fail(RMENS_ERR_INPUT, "%s: %s is %s, expected a number", where, what, rmens_json_type_name(v));
    *x = json_object_get_double(v);
    if (!isfinite(*x) || *x < lo || *x > hi || (integer && *x != floor(*x)))
        return rmens_fail(RMENS_ERR_INPUT, "%s: %s is %s, expected %s in [%g, %g]", where, what,
                          json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), integer ? "an integer" : "a number",
                          lo, hi);
    return RMENS_OK;
}

/* ------------------------------------------------ summarize from feedback */

/* The TL;DR query of Stiennon et al. (2020), as one Human turn:
 * "SUBREDDIT: r/S\n\nTITLE: T\n\nPOST: P\n\nTL;DR:" (lines whose field is absent left
 * out; a news article reads "ARTICLE: A" instead of the post). */
rmens_status rmens_prep_summarize(json_object *o, const char *where, rmens_prep_pair *r, double *confidence)
{
    json_object *info, *summ, *choice, *extra, *c;
    const char *post, *title, *sub;
    size_t npost, ntitle, nsub;
    int article = 0;
    RMENS_TRY(get_object(o, "info", where, &info));
    RMENS_TRY(opt_string(info, "post", "field \"info.post\"", where, &post, &npost));
    if (!post) {
        RMENS_TRY(opt_string(info, "article", "field \"info.article\"", where, &post, &npost));
        article = 1;
    }
    if (!post)
        return rmens_fail(RMENS_ERR_INPUT, "%s: field \"info\" has neither a \"post\" nor an \"article\" string", where);
    RMENS_TRY(opt_string(info, "title", "field \"info.title\"", where, &title, &ntitle));
    RMENS_TRY(opt_string(info, "subreddit", "field \"info.subreddit\"", where, &sub, &nsub));
    RMENS_TRY(get_array(o, "summaries", where, &summ));
    if (json_object_array_length(summ) != 2)
        return rmens_fail(RMENS_ERR_INPUT, "%s: field \"summaries\" has %zu entries, expected 2", where,
                          json_object_array_length(summ));
    RMENS_TRY(rmens_json_field(o, "choice", where, &choice));
    double ch;
    RMENS_TRY(number_in(choice, "field \"choice\"", where, 0, 1, 1, &ch));
    *confidence = NAN;
    if (json_object_object_get_ex(o, "extra", &extra) && json_object_is_type(extra, json_type_object) &&
        json_object_object_get_ex(extra, "confidence", &c) && c)
        RMENS_TRY(number_in(c, "field \"extra.confidence\"", where, 0, 1e9, 0, confidence));
    const char *text[2];
    size_t ntext[2];
    for (int k = 0; k < 2; k++) {
        json_object *s = json_object_array_get_idx(summ, (size_t)k), *t;
        char what[48];
        snprintf(what, sizeof what, "field \"summaries[%d].text\"", k);
        if (!json_object_is_type(s, json_type_object) || !json_object_object_get_ex(s, "text", &t))
            return rmens_fail(RMENS_ERR_INPUT, "%s: summaries[%d] is not an object with \"text\"", where, k);
        RMENS_TRY(rmens_json_string(t, what, where, &text[k], &ntext[k]));
    }
    rmens_text q = {0}, P = {0};
    int bad = (sub && (rmens_text_append(&q, "SUBREDDIT: r/", 13) || rmens_text_append(&q, sub, nsub) ||
                       rmens_text_append(&q, "\n\n", 2))) ||
              (title && (rmens_text_append(&q, "TITLE: ", 7) || rmens_text_append(&q, title, ntitle) ||
                         rmens_text_append(&q, "\n\n", 2))) ||
              rmens_text_append(&q, article ? "ARTICLE: " : "POST: ", article ? 9 : 6) ||
              rmens_text_append(&q, post, npost) || rmens_text_append(&q, "\n\nTL;DR:", 8) ||
              rmens_render_turn(&P, RMENS_ROLE_HUMAN, q.buf, q.len) ||
              rmens_text_append(&P, RMENS_ASSISTANT_HEADER, strlen(RMENS_ASSISTANT_HEADER));
    int win = (int)ch;
    for (int k = 0; !bad && k < 2; k++) {
        int s = k == 0 ? win : 1 - win;
        bad = rmens_text_append(&r->full[k], P.buf, P.len) || rmens_render_content(&r->full[k], text[s], ntext[s]);
        if (ntext[s] == 0)
            r->skip = RMENS_SKIP_EMPTY_RESPONSE;
    }
    r->prompt_len = P.len;
    rmens_text_free(&q);
    rmens_text_free(&P);
    return bad ? NOMEM(where) : RMENS_OK;
}

/* ------------------------------------------------ HelpSteer2-Preference */

/* preference_strength: -3 (response_1 much better) ... 3 (response_2 much better). */
rmens_status rmens_prep_helpsteer2_pref(json_object *o, const char *where, rmens_prep_pair *r, double *strength)
{
    json_object *p, *v[2], *s;
    static const char *const keys[2] = {"response_1", "response_2"};
    RMENS_TRY(rmens_json_field(o, "prompt", where, &p));
    for (int k = 0; k < 2; k++) {
        RMENS_TRY(rmens_json_field(o, keys[k], where, &v[k]));
        if (!json_object_is_type(v[k], json_type_string))
            return rmens_fail(RMENS_ERR_INPUT, "%s: field \"%s\" is %s, expected a string", where, keys[k],
                              rmens_json_type_name(v[k]));
    }
    RMENS_TRY(rmens_json_field(o, "preference_strength", where, &s));
    RMENS_TRY(number_in(s, "field \"preference_strength\"", where, -3, 3, 0, strength));
    rmens_text P = {0};
    rmens_status st = rmens_json_render_prompt(p, where, &P);
    int first = *strength > 0;  /* which response is chosen: response_2 when positive */
    for (int k = 0; k < 2 && st == RMENS_OK; k++) {
        int empty = 0;
        char what[32];
        snprintf(what, sizeof what, "field \"%s\"", keys[k == 0 ? first : 1 - first]);
        if (rmens_text_append(&r->full[k], P.buf, P.len))
            st = NOMEM(where);
        else
            st = rmens_json_render_response(v[k == 0 ? first : 1 - first], what, where, &r->full[k], &empty);
        if (empty)
            r->skip = RMENS_SKIP_EMPTY_RESPONSE;
    }
    r->prompt_len = P.len;
    rmens_text_free(&P);
    if (st == RMENS_OK && *strength == 0)
        r->skip = RMENS_SKIP_TIE;
    return st;
}

/* ------------------------------------------------ rankings */

rmens_status rmens_prep_ranking(json_object *o, const char *where, int64_t source, rmens_prep_group *g, int *scores)
{
    json_object *p, *resp, *rank = NULL, *sc = NULL;
    rmens_prep_group_clear(g);
    RMENS_TRY(rmens_json_field(o, "prompt", where, &p));
    RMENS_TRY(get_array(o, "responses", where, &resp));
    int has_rank = json_object_object_get_ex(o, "ranking", &rank), has_sc = json_object_object_get_ex(o, "scores", &sc);
    if (has_rank == has_sc)
        return rmens_fail(RMENS_ERR_INPUT, "%s: a ranking record needs exactly one of \"ranking\" and \"scores\" "
                          "(it has %s)", where, has_rank ? "both" : "neither");
    const char *key = has_rank ? "ranking" : "scores";
    json_object *vals = has_rank ? rank : sc;
    if (!json_object_is_type(vals, json_type_array))
        return rmens_fail(RMENS_ERR_INPUT, "%s: field \"%s\" is %s, expected a list", where, key,
                          rmens_json_type_name(vals));
    size_t k = json_object_array_length(resp);
    if (json_object_array_length(vals) != k)
        return rmens_fail(RMENS_ERR_INPUT, "%s: field \"%s\" has %zu entries but \"responses\" has %zu", where, key,
                          json_object_array_length(vals), k);
    if (k < 2)
        return rmens_fail(RMENS_ERR_INPUT, "%s: field \"responses\" has %zu entries: a ranking needs at least 2",
                          where, k);
    *scores = has_sc;
    RMENS_TRY(rmens_json_render_prompt(p, where, &g->prompt));
    for (size_t i = 0; i < k; i++) {
        char what[48];
        double x;
        snprintf(what, sizeof what, "field \"%s\"[%zu]", key, i);
        if (has_rank)  /* rank 1 is the best; equal ranks are ties */
            RMENS_TRY(number_in(json_object_array_get_idx(vals, i), what, where, 1, (double)k, 1, &x));
        else
            RMENS_TRY(number_in(json_object_array_get_idx(vals, i), what, where, -1e30, 1e30, 0, &x));
        snprintf(what, sizeof what, "field \"responses\"[%zu]", i);
        RMENS_TRY(group_add(g, json_object_array_get_idx(resp, i), what, where, has_rank ? -x : x, source));
    }
    return RMENS_OK;
}

/* ------------------------------------------------ raw UltraFeedback */

rmens_status rmens_prep_ultrafeedback_raw(json_object *o, const char *field, const char *where, int64_t source,
                                          rmens_prep_group *g, int64_t *unrated)
{
    json_object *ins, *comp;
    const char *s;
    size_t n;
    /* overall_score: the critique's 1-10; fine-grained_score: the mean of the four 1-5
     * aspect ratings (the dataset card). */
    const double hi = strcmp(field, "overall_score") == 0 ? 10 : 5;
    rmens_prep_group_clear(g);
    RMENS_TRY(rmens_json_field(o, "instruction", where, &ins));
    RMENS_TRY(rmens_json_string(ins, "field \"instruction\"", where, &s, &n));
    RMENS_TRY(get_array(o, "completions", where, &comp));
    if (rmens_render_prompt(&g->prompt, s, n))
        return NOMEM(where);
    for (size_t i = 0; i < json_object_array_length(comp); i++) {
        json_object *c = json_object_array_get_idx(comp, i), *r, *v;
        char what[64];
        snprintf(what, sizeof what, "completions[%zu]", i);
        if (!json_object_is_type(c, json_type_object))
            return rmens_fail(RMENS_ERR_INPUT, "%s: %s is %s, expected an object", where, what, rmens_json_type_name(c));
        if (!json_object_object_get_ex(c, "response", &r))
            return rmens_fail(RMENS_ERR_INPUT, "%s: %s: missing field \"response\"", where, what);
        if (!json_object_object_get_ex(c, field, &v))
            return rmens_fail(RMENS_ERR_INPUT, "%s: %s: missing field \"%s\"", where, what, field);
        if (!v) {  /* not rated: left out of the ranking */
            (*unrated)++;
            continue;
        }
        double x;
        snprintf(what, sizeof what, "field \"completions[%zu].%s\"", i, field);
        RMENS_TRY(number_in(v, what, where, 1, hi, 0, &x));
        snprintf(what, sizeof what, "field \"completions[%zu].response\"", i);
        if (!json_object_is_type(r, json_type_string))
            return rmens_fail(RMENS_ERR_INPUT, "%s: %s is %s, expected a string", where, what, rmens_json_type_name(r));
        RMENS_TRY(group_add(g, r, what, where, x, source));
    }
    return RMENS_OK;
}

/* ------------------------------------------------ HelpSteer2 */

rmens_status rmens_prep_helpsteer2(json_object *o, const double w[5], const char *where, int64_t source,
                                   rmens_text *prompt, rmens_prep_group *g)
{
    static const char *const attrs[5] = {"helpfulness", "correctness", "coherence", "complexity", "verbosity"};
    json_object *p, *r, *v;
    const char *s;
    size_t n;
    double score = 0;
    RMENS_TRY(rmens_json_field(o, "prompt", where, &p));
    RMENS_TRY(rmens_json_string(p, "field \"prompt\"", where, &s, &n));
    RMENS_TRY(rmens_json_field(o, "response", where, &r));
    if (!json_object_is_type(r, json_type_string))
        return rmens_fail(RMENS_ERR_INPUT, "%s: field \"response\" is %s, expected a string", where,
                          rmens_json_type_name(r));
    for (int k = 0; k < 5; k++) {
        char what[40];
        double x;
        snprintf(what, sizeof what, "field \"%s\"", attrs[k]);
        RMENS_TRY(rmens_json_field(o, attrs[k], where, &v));
        RMENS_TRY(number_in(v, what, where, 0, 4, 1, &x));
        score += w[k] * x;
    }
    prompt->len = 0;
    if (rmens_render_prompt(prompt, s, n))
        return NOMEM(where);
    return group_add(g, r, "field \"response\"", where, score, source);
}
