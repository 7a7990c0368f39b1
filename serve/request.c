#include "serve/request.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "io/prep_steps.h"
#include "io/render.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

#define BAD(...) rmens_fail(RMENS_ERR_INPUT, __VA_ARGS__)

static const char *type_name(json_object *o)
{
    return o ? json_type_to_name(json_object_get_type(o)) : "null";
}

void rmens_request_free(rmens_request *r)
{
    free(r->tokens);
    free(r->offsets);
    free(r->pairs);
    free(r->step_off);
    free(r->step_ends);
    memset(r, 0, sizeof *r);
}

rmens_status rmens_request_limits_init(rmens_request_limits *lim, rmens_tokenizer *tk, rmens_template tpl)
{
    lim->tk = tk;
    lim->tpl = tpl;
    lim->n_strip = 0;
    RMENS_TRY(rmens_template_resolve(&lim->tpl, tk, &lim->end, &lim->append));
    /* OpenRLHF's own server strips trailing EOS and pad strings from a query before it
     * adds the EOS; chat templates also end the last turn with "\n" after its end token. */
    const int32_t ids[3] = {lim->end, rmens_tokenizer_eos_id(tk), rmens_tokenizer_pad_id(tk)};
    for (int k = 0; k < 3 && !rmens_tokenizer_is_bytes(tk); k++) {
        char *s = lim->strip[lim->n_strip];
        if (ids[k] >= 0 && rmens_tokenizer_is_special(tk, ids[k]) && rmens_tokenizer_token(tk, ids[k], s, 64) && *s)
            lim->n_strip++;
    }
    return RMENS_OK;
}

/* A whole rendered text (an OpenRLHF query) without what ends it: from the end, each of
 * the end/EOS/pad token strings with any white space after it. The template's end is
 * then added once, so the reward is read where training read it. */
static size_t query_len(const char *s, size_t n, const rmens_request_limits *lim)
{
    for (;;) {
        size_t m = n;
        while (m > 0 && strchr(" \t\r\n", s[m - 1]))
            m--;
        int cut = 0;
        for (int k = 0; k < lim->n_strip && !cut; k++) {
            size_t l = strlen(lim->strip[k]);
            if (l <= m && memcmp(s + m - l, lim->strip[k], l) == 0) {
                n = m - l;
                cut = 1;
            }
        }
        if (!cut)
            return n;
    }
}

/* Appends x[0..m) to v[0..*n) (*room allocated): doubling, so that many short texts cost
 * linear time. */
static rmens_status append(int32_t **v, int64_t *n, int64_t *room, const int32_t *x, int64_t m, const char *what)
{
    if (*n + m > *room) {
        int64_t want = *room ? 2 * *room : 1024;
        while (want < *n + m)
            want *= 2;
        int32_t *t = realloc(*v, (size_t)want * sizeof *t);
        if (!t)
            return rmens_fail(RMENS_ERR_NOMEM, "out of memory for %lld %s", (long long)want, what);
        *v = t;
        *room = want;
    }
    memcpy(*v + *n, x, (size_t)m * sizeof *x);
    *n += m;
    return RMENS_OK;
}

/* Appends text i's ids. */
static rmens_status add_ids(rmens_request *r, int64_t i, const rmens_ids *ids, const rmens_request_limits *lim,
                            const char *what)
{
    int64_t len = (int64_t)ids->n;
    if (lim->truncate_error && len > lim->n_ctx)
        return BAD("%s[%lld]: %lld tokens, more than the model's context of %d (the server runs with "
                   "--truncate error)", what, (long long)i, (long long)len, lim->n_ctx);
    RMENS_TRY(append(&r->tokens, &r->n_tokens, &r->tok_room, ids->v, len, "tokens"));
    r->offsets[i + 1] = r->n_tokens;
    return RMENS_OK;
}

/* A list of n (1 <= n <= max_items) elements. */
static rmens_status get_list(json_object *o, const char *key, json_object **list, size_t *n,
                             const rmens_request_limits *lim)
{
    if (!json_object_object_get_ex(o, key, list))
        return BAD("missing field \"%s\"", key);
    if (!json_object_is_type(*list, json_type_array))
        return BAD("\"%s\" is %s, expected a list", key, type_name(*list));
    *n = json_object_array_length(*list);
    if (*n == 0)
        return BAD("\"%s\" is an empty list", key);
    if ((int64_t)*n > lim->max_items)
        return BAD("\"%s\" has %zu elements, more than the server's limit of %lld per request", key, *n,
                   (long long)lim->max_items);
    return RMENS_OK;
}

static rmens_status start(rmens_request *r, size_t n, const rmens_request_limits *lim)
{
    r->n = (int64_t)n;
    if (!(r->offsets = calloc(n + 1, sizeof *r->offsets)))
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    if (lim->step_sep && !(r->step_off = calloc(n + 1, sizeof *r->step_off)))
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    return RMENS_OK;
}

/* A process reward model's text i: the solution the encoder holds, its ids and steps. */
static rmens_status add_solution(rmens_request *r, int64_t i, const rmens_step_encoder *enc, size_t nsteps,
                                 const rmens_request_limits *lim, const char *what)
{
    if ((int64_t)nsteps > lim->max_steps)
        return BAD("%s[%lld]: %zu steps, more than the server's limit of %lld per text (--max-steps)", what,
                   (long long)i, nsteps, (long long)lim->max_steps);
    RMENS_TRY(add_ids(r, i, &enc->ids, lim, what));
    RMENS_TRY(append(&r->step_ends, &r->n_steps, &r->step_room, enc->ends, (int64_t)nsteps, "steps"));
    r->step_off[i + 1] = r->n_steps;
    return RMENS_OK;
}

static rmens_step_encoder encoder_of(const rmens_request_limits *lim)
{
    return (rmens_step_encoder){.tk = lim->tk, .tpl = lim->tpl, .end = lim->end, .append = lim->append,
                                .sep = lim->step_sep};
}

/* A process reward model's query i: its prompt (prompts[i]) must begin it; the rest,
 * stripped as any query is, is the solution, split into steps. The HH template's space
 * after "Assistant:" belongs to the prompt part, where io/render puts it. Tokenized as
 * prep tokenizes a rendered solution, ending with the end token. */
static rmens_status query_solution(rmens_request *r, size_t i, const char *q, size_t qn, json_object *prompts,
                                   const rmens_request_limits *lim, rmens_solution *sol, rmens_step_encoder *enc)
{
    json_object *p = prompts ? json_object_array_get_idx(prompts, i) : NULL;
    if (!p)
        return BAD("prompts[%zu] is missing: a process reward model scores the steps of the response, which "
                   "begins where its prompt ends (send \"prompts\" beside \"query\")", i);
    const size_t pn = (size_t)json_object_get_string_len(p);
    if (pn > qn || memcmp(q, json_object_get_string(p), pn) != 0)
        return BAD("prompts[%zu] is not the beginning of query[%zu]: cannot tell the response's steps from the "
                   "prompt", i, i);
    size_t pos = pn;
    if (lim->tpl == RMENS_TEMPLATE_HH && pos + 1 < qn && q[pos] == ' ' && !strchr(" \t\r\n", q[pos + 1]))
        pos++;
    char where[48];
    snprintf(where, sizeof where, "query[%zu]", i);
    rmens_solution_clear(sol);
    RMENS_TRY(rmens_solution_split(sol, q + pos, qn - pos, lim->step_sep, where, "the response after its prompt"));
    RMENS_TRY(rmens_steps_encode(enc, q, pos, sol, "", 0, 1, where));
    return add_solution(r, (int64_t)i, enc, sol->n, lim, "query");
}

/* OpenRLHF: "query" holds whole rendered texts; "prompts" and "labels", when present,
 * run parallel to it (OpenRLHF sends both; labels may be null). */
static rmens_status parse_get_reward(rmens_request *r, json_object *o, const rmens_request_limits *lim)
{
    if (!json_object_is_type(o, json_type_object))
        return BAD("the body is %s, expected an object {\"query\": [str, ...]}", type_name(o));
    json_object *q, *side;
    size_t n;
    RMENS_TRY(get_list(o, "query", &q, &n, lim));
    static const char *const parallel[] = {"prompts", "labels"};
    for (int k = 0; k < 2; k++) {
        if (!json_object_object_get_ex(o, parallel[k], &side) || !side)
            continue;
        if (!json_object_is_type(side, json_type_array))
            return BAD("\"%s\" is %s, expected a list", parallel[k], type_name(side));
        if (json_object_array_length(side) != n)
            return BAD("\"%s\" has %zu elements but \"query\" has %zu", parallel[k], json_object_array_length(side),
                       n);
        for (size_t i = 0; k == 0 && i < n; i++) {
            json_object *p = json_object_array_get_idx(side, i);
            if (p && !json_object_is_type(p, json_type_string))
                return BAD("prompts[%zu] is %s, expected a string", i, type_name(p));
        }
    }
    RMENS_TRY(start(r, n, lim));
    json_object *prompts = NULL;
    if (!json_object_object_get_ex(o, "prompts", &prompts))
        prompts = NULL;
    rmens_ids ids = {0};
    rmens_solution sol = {0};
    rmens_step_encoder enc = encoder_of(lim);
    rmens_status st = RMENS_OK;
    for (size_t i = 0; i < n && st == RMENS_OK; i++) {
        json_object *s = json_object_array_get_idx(q, i);
        if (!json_object_is_type(s, json_type_string)) {
            st = BAD("query[%zu] is %s, expected a string", i, type_name(s));
            break;
        }
        const char *text = json_object_get_string(s);
        const size_t len = query_len(text, (size_t)json_object_get_string_len(s), lim);
        if (lim->step_sep) {
            st = query_solution(r, i, text, len, prompts, lim, &sol, &enc);
            continue;
        }
        ids.n = 0;
        st = rmens_tokenizer_encode_append(lim->tk, text, len, 0, &ids);
        if (st == RMENS_OK && rmens_ids_push(&ids, lim->end))
            st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
        if (st == RMENS_OK)
            st = add_ids(r, (int64_t)i, &ids, lim, "query");
        else if (st == RMENS_ERR_INPUT)
            rmens_fail_context(st, "query[%zu]: ", i);
    }
    rmens_ids_free(&ids);
    rmens_solution_free(&sol);
    rmens_step_encoder_free(&enc);
    return st;
}

static rmens_status get_string(json_object *o, const char *key, size_t i, const char *what, const char **s,
                               size_t *n)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v))
        return BAD("%s[%zu] lacks \"%s\"", what, i, key);
    if (!json_object_is_type(v, json_type_string))
        return BAD("%s[%zu].%s is %s, expected a string", what, i, key, type_name(v));
    *s = json_object_get_string(v);
    *n = (size_t)json_object_get_string_len(v);
    return RMENS_OK;
}

/* One input as its HH prompt (ending with the assistant header) in t and the response
 * scored (*s, *n): {"prompt", "response"}, or messages whose last is the assistant's. */
static rmens_status split_input(rmens_text *t, json_object *in, size_t i, const char **s, size_t *n)
{
    const char *p;
    size_t pn;
    json_object *msgs;
    if (!json_object_is_type(in, json_type_object))
        return BAD("inputs[%zu] is %s, expected an object with \"prompt\" and \"response\", or \"messages\"", i,
                   type_name(in));
    if (json_object_object_get_ex(in, "messages", &msgs)) {
        if (!json_object_is_type(msgs, json_type_array) || json_object_array_length(msgs) == 0)
            return BAD("inputs[%zu].messages is %s, expected a non-empty list of {\"role\", \"content\"}", i,
                       json_object_is_type(msgs, json_type_array) ? "an empty list" : type_name(msgs));
        size_t m = json_object_array_length(msgs);
        int role = -1;
        for (size_t k = 0; k < m; k++) {
            /* The last message is the response, after the assistant header. */
            json_object *msg = json_object_array_get_idx(msgs, k), *rv, *cv;
            if (!json_object_is_type(msg, json_type_object) || !json_object_object_get_ex(msg, "role", &rv) ||
                !json_object_object_get_ex(msg, "content", &cv) || !json_object_is_type(rv, json_type_string) ||
                !json_object_is_type(cv, json_type_string))
                return BAD("inputs[%zu].messages[%zu] is not {\"role\": str, \"content\": str}", i, k);
            if ((role = rmens_role_from_name(json_object_get_string(rv))) < 0)
                return BAD("inputs[%zu].messages[%zu] has unknown role \"%s\" (known: user, human, assistant, gpt, "
                           "chatgpt, bot, model, bard, bing, system)", i, k, json_object_get_string(rv));
            if (k + 1 == m) {
                *s = json_object_get_string(cv);
                *n = (size_t)json_object_get_string_len(cv);
                if (rmens_text_append(t, RMENS_ASSISTANT_HEADER, strlen(RMENS_ASSISTANT_HEADER)))
                    return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
            } else if (rmens_render_turn(t, (rmens_role)role, json_object_get_string(cv),
                                         (size_t)json_object_get_string_len(cv))) {
                return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
            }
        }
        if (role != RMENS_ROLE_ASSISTANT)
            return BAD("inputs[%zu].messages must end with the assistant's response to be scored", i);
        return RMENS_OK;
    }
    RMENS_TRY(get_string(in, "prompt", i, "inputs", &p, &pn));
    RMENS_TRY(get_string(in, "response", i, "inputs", s, n));
    if (rmens_render_prompt(t, p, pn))
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    return RMENS_OK;
}

/* Input i of a process reward model: its response split into steps, then tokenized as
 * rmens prep --steps tokenizes a solution. */
static rmens_status input_solution(rmens_request *r, size_t i, const rmens_text *prompt, const char *s, size_t n,
                                   const rmens_request_limits *lim, rmens_solution *sol, rmens_step_encoder *enc)
{
    char where[48];
    snprintf(where, sizeof where, "inputs[%zu]", i);
    rmens_solution_clear(sol);
    if (rmens_text_append(&sol->prompt, prompt->buf, prompt->len))
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    RMENS_TRY(rmens_solution_split(sol, s, n, lim->step_sep, where, "the response"));
    RMENS_TRY(rmens_steps_tokenize(enc, sol, where));
    return add_solution(r, (int64_t)i, enc, sol->n, lim, "inputs");
}

static rmens_status parse_pairs(rmens_request *r, json_object *pairs)
{
    if (!json_object_is_type(pairs, json_type_array))
        return BAD("\"pairs\" is %s, expected a list of [a, b] index pairs", type_name(pairs));
    size_t np = json_object_array_length(pairs);
    if (!(r->pairs = malloc((np + 1) * 2 * sizeof *r->pairs)))
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < np; k++) {
        json_object *p = json_object_array_get_idx(pairs, k);
        if (!json_object_is_type(p, json_type_array) || json_object_array_length(p) != 2)
            return BAD("pairs[%zu] is not a list of two input indices [a, b]", k);
        for (int s = 0; s < 2; s++) {
            json_object *v = json_object_array_get_idx(p, (size_t)s);
            int64_t x = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
            if (!json_object_is_type(v, json_type_int) || x < 0 || x >= r->n)
                return BAD("pairs[%zu][%d] is not an index into \"inputs\" (0 to %lld)", k, s, (long long)r->n - 1);
            r->pairs[2 * k + (size_t)s] = x;
        }
        if (r->pairs[2 * k] == r->pairs[2 * k + 1])
            return BAD("pairs[%zu] compares input %lld with itself", k, (long long)r->pairs[2 * k]);
    }
    r->n_pairs = (int64_t)np;
    return RMENS_OK;
}

static rmens_status parse_rewards(rmens_request *r, json_object *o, const rmens_request_limits *lim)
{
    json_object *inputs = o, *v;
    size_t n;
    if (json_object_is_type(o, json_type_object)) {
        RMENS_TRY(get_list(o, "inputs", &inputs, &n, lim));
        if (json_object_object_get_ex(o, "per_member", &v)) {
            if (!json_object_is_type(v, json_type_boolean))
                return BAD("\"per_member\" is %s, expected true or false", type_name(v));
            r->per_member = json_object_get_boolean(v);
        }
    } else if (json_object_is_type(o, json_type_array)) {
        if ((n = json_object_array_length(o)) == 0)
            return BAD("the body is an empty list");
        if ((int64_t)n > lim->max_items)
            return BAD("the body lists %zu inputs, more than the server's limit of %lld per request", n,
                       (long long)lim->max_items);
    } else {
        return BAD("the body is %s, expected a list of inputs or {\"inputs\": [...]}", type_name(o));
    }
    RMENS_TRY(start(r, n, lim));
    /* Rendered to the HH transcript, then as rmens prep renders and tokenizes it. */
    rmens_text t = {0}, scratch = {0};
    rmens_ids ids = {0};
    rmens_solution sol = {0};
    rmens_step_encoder enc = encoder_of(lim);
    rmens_status st = RMENS_OK;
    for (size_t i = 0; i < n && st == RMENS_OK; i++) {
        const char *s = NULL;
        size_t sn = 0;
        t.len = 0;
        ids.n = 0;
        if ((st = split_input(&t, json_object_array_get_idx(inputs, i), i, &s, &sn)) != RMENS_OK)
            break;
        if (lim->step_sep) {
            st = input_solution(r, i, &t, s, sn, lim, &sol, &enc);
            continue;
        }
        if (rmens_render_content(&t, s, sn))
            st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
        else if ((st = rmens_template_tokenize(lim->tpl, lim->tk, lim->end, lim->append, t.buf ? t.buf : "", t.len,
                                               &scratch, &ids)) != RMENS_OK && st == RMENS_ERR_INPUT)
            rmens_fail_context(st, "inputs[%zu]: ", i);
        if (st == RMENS_OK)
            st = add_ids(r, (int64_t)i, &ids, lim, "inputs");
    }
    rmens_text_free(&t);
    rmens_text_free(&scratch);
    rmens_ids_free(&ids);
    rmens_solution_free(&sol);
    rmens_step_encoder_free(&enc);
    if (st == RMENS_OK && o != inputs && json_object_object_get_ex(o, "pairs", &v)) {
        if (lim->step_sep)
            return BAD("\"pairs\": a process reward model's solution scores are probabilities, not Bradley-Terry "
                       "rewards: compare the \"reward\" of the inputs instead");
        st = parse_pairs(r, v);
    }
    return st;
}

rmens_status rmens_request_parse(rmens_request *r, rmens_request_kind kind, const char *body, size_t len,
                                 const rmens_request_limits *lim)
{
    memset(r, 0, sizeof *r);
    r->kind = kind;
    /* json-c would pass invalid UTF-8 through; a request must be valid JSON text. */
    size_t ok = rmens_utf8_valid_prefix(body, len);
    if (ok != len)
        return BAD("the body is not valid UTF-8 (byte %zu)", ok);
    if (len > 0x7fffffff)
        return BAD("the body is larger than 2 GiB");
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(tok, body, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue && len > 0) {
        /* A bare number or literal ends only at a following character: say the text ended. */
        o = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        end = len;
    }
    json_tokener_free(tok);
    rmens_status st = RMENS_OK;
    if (jerr == json_tokener_continue)
        st = BAD("the body is not complete JSON (it ends after %zu bytes)", len);
    else if (jerr != json_tokener_success)
        st = BAD("the body is not JSON: %s at byte %zu", json_tokener_error_desc(jerr), end > 0 ? end - 1 : 0);
    while (st == RMENS_OK && end < len && strchr(" \t\r\n", body[end]) && body[end])
        end++;
    if (st == RMENS_OK && end < len)
        st = BAD("the body has more after its JSON value (byte %zu)", end);
    if (st == RMENS_OK)
        st = kind == RMENS_REQ_GET_REWARD ? parse_get_reward(r, o, lim) : parse_rewards(r, o, lim);
    json_object_put(o);
    if (st != RMENS_OK) {
        rmens_request_free(r);
        r->kind = kind;
    }
    return st;
}
