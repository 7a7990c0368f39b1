/* Fuzz target: the request bodies of rmens serve (serve/request.c) and the answers built
 * for them (serve/reply.c), as an HTTP client could send them.
 *
 * Input: one option byte, then the body.
 *   byte 0: bit 0 the route (0 POST /get_reward, 1 POST /v1/rewards), bit 1 --truncate
 *           error, bits 2-3 the context (8, 48, 1024, 2^20 tokens), bits 4-5 the members
 *           (1, 2, 3, 8), bit 6 the reward (mean or uwo), bit 7 --normalize member
 *
 * Oracles besides the sanitizers: a body is accepted or refused as bad input (no other
 * status, and never without a message); a refused one leaves the request empty; an
 * accepted one holds at least one text, offsets that start at 0, grow and end at the
 * token count, byte tokens each text ending with end-of-text, no text over the context
 * under --truncate error, pairs of two different texts in range; its answer (from made-up
 * rewards, some of them not finite) is JSON that json-c reads back, with one entry per
 * text (and per pair), and so is the error answer.
 *
 * Every body is parsed a second time as for a process reward model (step separator "\n",
 * at most 8 steps per text): accepted, each text has 1 to 8 steps whose ends strictly grow
 * within it, each closing a "\n" before the end-of-text, step offsets from 0 to the step
 * count; its answer (made-up logits, some NaN) holds one entry per text and one per step. */
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "serve/reply.h"
#include "serve/request.h"
#include "tests/fuzz/fuzz_util.h"

static json_object *parse_back(const char *json, size_t len, const char *what)
{
    if (!json)
        fuzz_fail("%s: no answer built", what);
    if (strlen(json) != len)
        fuzz_fail("%s: the answer's length is %zu, strlen %zu", what, len, strlen(json));
    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(tok, json, (int)len + 1);
    if (json_tokener_get_error(tok) != json_tokener_success || !o)
        fuzz_fail("%s: the answer is not JSON: %.200s", what, json);
    json_tokener_free(tok);
    return o;
}

static size_t list_len(json_object *o, const char *key, const char *what)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array))
        fuzz_fail("%s: the answer has no list \"%s\"", what, key);
    return json_object_array_length(v);
}

/* The body parsed for a process reward model, with its oracles. */
static void steps_case(const uint8_t *data, size_t size, rmens_request_limits lim, int K)
{
    lim.step_sep = "\n";
    lim.max_steps = 8;
    rmens_request r;
    rmens_status st = rmens_request_parse(&r, (data[0] & 1) ? RMENS_REQ_REWARDS : RMENS_REQ_GET_REWARD,
                                          (const char *)data + 1, size - 1, &lim);
    if (st != RMENS_OK && st != RMENS_ERR_INPUT)
        fuzz_fail("steps: status %d (%s): a body is accepted or bad input", (int)st, rmens_last_error());
    if (st != RMENS_OK) {
        if (!rmens_last_error()[0])
            fuzz_fail("steps: a refused body without a message");
        if (r.n || r.tokens || r.step_off || r.step_ends || r.n_steps)
            fuzz_fail("steps: a refused body left a request behind");
        return;
    }
    if (r.step_off[0] != 0 || r.step_off[r.n] != r.n_steps || r.n_pairs)
        fuzz_fail("steps: offsets from %lld to %lld of %lld steps", (long long)r.step_off[0],
                  (long long)r.step_off[r.n], (long long)r.n_steps);
    for (int64_t i = 0; i < r.n; i++) {
        const int64_t a = r.step_off[i], b = r.step_off[i + 1], len = r.offsets[i + 1] - r.offsets[i];
        if (b - a < 1 || b - a > lim.max_steps)
            fuzz_fail("steps: text %lld has %lld steps", (long long)i, (long long)(b - a));
        for (int64_t s = a; s < b; s++) {
            const int32_t e = r.step_ends[s];
            if (e < 1 || e >= len || (s > a && e <= r.step_ends[s - 1]) || r.tokens[r.offsets[i] + e - 1] != '\n')
                fuzz_fail("steps: text %lld of %lld tokens: step %lld ends at %d", (long long)i, (long long)len,
                          (long long)(s - a), e);
        }
    }
    float *lg = malloc((size_t)(r.n_steps * K + 1) * sizeof *lg);
    if (!lg)
        fuzz_fail("out of memory");
    for (int64_t i = 0; i < r.n_steps * K; i++)
        lg[i] = i % 5 == 4 ? NAN : (float)sin((double)i) * 4.0f;
    rmens_reply_config c = {.K = K, .prm = 1, .aggregate = (int)(r.n % 3)};
    size_t len = 0;
    char *json = rmens_reply_rewards(&r, lg, NULL, &c, &len);
    json_object *o = parse_back(json, len, "the steps answer"), *res, *e, *steps;
    if (r.kind == RMENS_REQ_GET_REWARD) {
        if (list_len(o, "rewards", "steps get_reward") != (size_t)r.n)
            fuzz_fail("steps get_reward: not one reward per text");
    } else {
        if (list_len(o, "results", "steps rewards") != (size_t)r.n || !json_object_object_get_ex(o, "results", &res))
            fuzz_fail("steps rewards: not one result per text");
        for (int64_t i = 0; i < r.n; i++)
            if (!(e = json_object_array_get_idx(res, (size_t)i)) || !json_object_object_get_ex(e, "steps", &steps) ||
                json_object_array_length(steps) != (size_t)(r.step_off[i + 1] - r.step_off[i]))
                fuzz_fail("steps rewards: text %lld has not one entry per step", (long long)i);
    }
    json_object_put(o);
    free(json);
    free(lg);
    rmens_request_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const int ctx[4] = {8, 48, 1024, 1 << 20}, members[4] = {1, 2, 3, 8};
    const uint8_t b0 = data[0];
    static rmens_tokenizer *bytes;  /* the byte tokenizer and the hh template, as a byte checkpoint */
    rmens_request_limits lim = {.n_ctx = ctx[(b0 >> 2) & 3], .truncate_error = (b0 >> 1) & 1, .max_items = 64};
    if ((!bytes && rmens_tokenizer_bytes(&bytes) != RMENS_OK) ||
        rmens_request_limits_init(&lim, bytes, RMENS_TEMPLATE_HH) != RMENS_OK)
        fuzz_fail("the byte tokenizer: %s", rmens_last_error());
    steps_case(data, size, lim, members[(b0 >> 4) & 3]);
    rmens_request r;
    rmens_status st = rmens_request_parse(&r, (b0 & 1) ? RMENS_REQ_REWARDS : RMENS_REQ_GET_REWARD,
                                          (const char *)data + 1, size - 1, &lim);
    if (st != RMENS_OK && st != RMENS_ERR_INPUT)
        fuzz_fail("rmens_request_parse: status %d (%s): a body is accepted or bad input", (int)st, rmens_last_error());
    if (st != RMENS_OK && !rmens_last_error()[0])
        fuzz_fail("a refused body without a message");
    if (st != RMENS_OK) {
        if (r.n || r.tokens || r.offsets || r.pairs || r.n_pairs)
            fuzz_fail("a refused body left a request behind");
        size_t len = 0;
        char *e = rmens_reply_error(400, rmens_last_error(), &len);
        json_object_put(parse_back(e, len, "the error answer"));
        free(e);
        return 0;
    }
    if (r.n < 1 || r.n > lim.max_items || r.offsets[0] != 0 || r.offsets[r.n] != r.n_tokens)
        fuzz_fail("accepted: %lld texts, offsets from %lld to %lld of %lld tokens", (long long)r.n,
                  (long long)r.offsets[0], (long long)r.offsets[r.n], (long long)r.n_tokens);
    for (int64_t i = 0; i < r.n; i++) {
        int64_t a = r.offsets[i], b = r.offsets[i + 1];
        if (b <= a || r.tokens[b - 1] != RMENS_BYTES_EOT)
            fuzz_fail("text %lld: tokens [%lld, %lld) do not end with end-of-text", (long long)i, (long long)a,
                      (long long)b);
        for (int64_t t = a; t < b - 1; t++)
            if (r.tokens[t] < 0 || r.tokens[t] > 255)
                fuzz_fail("text %lld: token %d is not a byte", (long long)i, r.tokens[t]);
        if (lim.truncate_error && b - a > lim.n_ctx)
            fuzz_fail("text %lld: %lld tokens over the context %d accepted under --truncate error", (long long)i,
                      (long long)(b - a), lim.n_ctx);
    }
    for (int64_t q = 0; q < r.n_pairs; q++) {
        int64_t a = r.pairs[2 * q], b = r.pairs[2 * q + 1];
        if (a < 0 || b < 0 || a >= r.n || b >= r.n || a == b)
            fuzz_fail("pair %lld: (%lld, %lld) of %lld texts", (long long)q, (long long)a, (long long)b,
                      (long long)r.n);
    }
    /* An answer from made-up rewards: every eighth one not finite (JSON null). */
    const int K = members[(b0 >> 4) & 3];
    float *rw = malloc((size_t)r.n * K * sizeof *rw);
    unsigned char *cut = malloc((size_t)r.n);
    double rstd[8];
    if (!rw || !cut)
        fuzz_fail("out of memory");
    for (int64_t i = 0; i < r.n * K; i++)
        rw[i] = i % 8 == 7 ? (i % 16 == 7 ? NAN : INFINITY) : (float)sin((double)i) * 3.0f;
    for (int64_t i = 0; i < r.n; i++)
        cut[i] = r.offsets[i + 1] - r.offsets[i] > lim.n_ctx;
    for (int k = 0; k < 8; k++)
        rstd[k] = 0.5 + k;
    rmens_reply_config c = {K, (b0 & 64) ? RMENS_REWARD_UWO : RMENS_REWARD_MEAN, 0.5, (b0 >> 7) & 1, rstd, NULL, 0, 0};
    size_t len = 0;
    char *json = rmens_reply_rewards(&r, rw, cut, &c, &len);
    json_object *o = parse_back(json, len, "the answer");
    if (r.kind == RMENS_REQ_GET_REWARD) {
        json_object *logs;
        if (list_len(o, "rewards", "get_reward") != (size_t)r.n || list_len(o, "scores", "get_reward") != (size_t)r.n ||
            !json_object_object_get_ex(o, "extra_logs", &logs) ||
            list_len(logs, "ens_std", "get_reward") != (size_t)r.n)
            fuzz_fail("get_reward: the answer does not hold one value per text");
    } else if (list_len(o, "results", "rewards") != (size_t)r.n ||
               (r.n_pairs > 0 && list_len(o, "pairs", "rewards") != (size_t)r.n_pairs)) {
        fuzz_fail("rewards: the answer does not hold one entry per text and pair");
    }
    json_object_put(o);
    free(json);
    free(rw);
    free(cut);
    rmens_request_free(&r);
    return 0;
}
