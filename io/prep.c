/* rmens prep: preference data in the formats people use -> a pairs file (docs/FORMAT.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/hash.h"
#include "base/rng.h"
#include "io/dataset.h"
#include "io/prep_formats.h"
#include "io/h5.h"
#include "io/output.h"
#include "io/records.h"
#include "io/render.h"
#include "io/stage.h"
#include "text/template.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

void rmens_prep_options_init(rmens_prep_options *o)
{
    memset(o, 0, sizeof *o);
    o->format = RMENS_PREP_AUTO;
    o->val_fraction = 0.1;
    o->seed = 1234;
    o->margin_scale = 1;
    o->step_separator = "\n";
    o->prm800k_neutral = 1;  /* a neutral step is no error (docs/FORMAT.md, "steps" files) */
    o->helpsteer_weights[0] = 1;  /* helpfulness alone */
    o->score_field = "overall_score";
}

/* Formats by value; "ranked" ones hold one prompt's responses, expanded into pairs. */
static const struct {
    const char *name;
    int ranked;
} formats[] = {
    [RMENS_PREP_AUTO] = {"auto", 0},
    [RMENS_PREP_HH] = {"hh", 0},
    [RMENS_PREP_PROMPT] = {"prompt", 0},
    [RMENS_PREP_MESSAGES] = {"messages", 0},
    [RMENS_PREP_SHAREGPT] = {"sharegpt", 0},
    [RMENS_PREP_SUMMARIZE] = {"summarize", 0},
    [RMENS_PREP_ULTRAFEEDBACK] = {"ultrafeedback", 0},
    [RMENS_PREP_HELPSTEER2_PREF] = {"helpsteer2-pref", 0},
    [RMENS_PREP_HELPSTEER2] = {"helpsteer2", 1},
    [RMENS_PREP_RANKING] = {"ranking", 1},
    [RMENS_PREP_ULTRAFEEDBACK_RAW] = {"ultrafeedback-raw", 1},
    [RMENS_PREP_TRL_PRM] = {"trl-prm", 0},
    [RMENS_PREP_MATH_SHEPHERD] = {"math-shepherd", 0},
    [RMENS_PREP_PRM800K] = {"prm800k", 0},
};
#define NFORMATS (sizeof formats / sizeof *formats)

const char *rmens_prep_format_name(rmens_prep_format f)
{
    return (unsigned)f < NFORMATS ? formats[f].name : "?";
}

const char *rmens_prep_skip_reason(int reason)
{
    static const char *const names[RMENS_SKIP_NREASONS] = {
        [RMENS_SKIP_IDENTICAL] = "chosen identical to rejected",
        [RMENS_SKIP_PROMPT_DIFFERS] = "dialogues differ before the final assistant turn",
        [RMENS_SKIP_EMPTY_RESPONSE] = "empty response",
        [RMENS_SKIP_MALFORMED] = "malformed record (--skip-bad)",
        [RMENS_SKIP_TIE] = "tie (strength 0, equal scores or ranks)",
        [RMENS_SKIP_UNRATED] = "completion without a rating (left out)",
    };
    return reason >= 0 && reason < RMENS_SKIP_NREASONS ? names[reason] : "?";
}

/* ------------------------------------------------------ reading a record */

typedef rmens_prep_pair rendered;

const char *rmens_json_type_name(json_object *o)
{
    return o ? json_type_to_name(json_object_get_type(o)) : "null";
}

#define type_name rmens_json_type_name
#define get_field rmens_json_field
#define as_string rmens_json_string
#define read_message rmens_json_message
#define render_messages_into rmens_json_render_messages
typedef rmens_message message;

rmens_status rmens_json_field(json_object *o, const char *key, const char *where, json_object **v)
{
    if (!json_object_object_get_ex(o, key, v))
        return rmens_fail(RMENS_ERR_INPUT, "%s: missing field \"%s\"", where, key);
    return RMENS_OK;
}

rmens_status rmens_json_string(json_object *v, const char *what, const char *where,
                               const char **s, size_t *n)
{
    if (!json_object_is_type(v, json_type_string))
        return rmens_fail(RMENS_ERR_INPUT, "%s: %s is %s, expected a string", where, what,
                          type_name(v));
    *s = json_object_get_string(v);
    *n = (size_t)json_object_get_string_len(v);
    return RMENS_OK;
}

static rmens_status get_string(json_object *o, const char *key, const char *where,
                               const char **s, size_t *n)
{
    json_object *v;
    char what[64];
    RMENS_TRY(get_field(o, key, where, &v));
    snprintf(what, sizeof what, "field \"%s\"", key);
    return as_string(v, what, where, s, n);
}

#define NOMEM(where) rmens_fail(RMENS_ERR_NOMEM, "%s: out of memory", where)

/* One message: {"role","content"} or ShareGPT's {"from","value"}. Content may also be a
 * list of parts ({"type": "text", "text": ...}), whose texts are concatenated. */
rmens_status rmens_json_message(json_object *m, const char *what, const char *where, message *out)
{
    json_object *r = NULL, *c = NULL;
    out->content.len = 0;
    if (!json_object_is_type(m, json_type_object))
        return rmens_fail(RMENS_ERR_INPUT, "%s: %s is %s, expected a message object", where, what,
                          type_name(m));
    if (!json_object_object_get_ex(m, "role", &r))
        json_object_object_get_ex(m, "from", &r);
    if (!json_object_object_get_ex(m, "content", &c))
        json_object_object_get_ex(m, "value", &c);
    if (!r || !c)
        return rmens_fail(RMENS_ERR_INPUT, "%s: %s lacks \"%s\" (a message needs role/content or "
                          "from/value)", where, what, r ? "content" : "role");
    const char *s;
    size_t n;
    RMENS_TRY(as_string(r, "a message role", where, &s, &n));
    int role = rmens_role_from_name(s);
    if (role < 0)
        return rmens_fail(RMENS_ERR_INPUT, "%s: %s has unknown role \"%s\" (known: user, human, "
                          "assistant, gpt, chatgpt, bot, model, bard, bing, system)", where, what, s);
    out->role = (rmens_role)role;
    if (json_object_is_type(c, json_type_array)) {
        for (size_t k = 0; k < json_object_array_length(c); k++) {
            json_object *part = json_object_array_get_idx(c, k), *t;
            if (!json_object_is_type(part, json_type_object) ||
                !json_object_object_get_ex(part, "text", &t))
                return rmens_fail(RMENS_ERR_INPUT, "%s: %s has a content part without \"text\"",
                                  where, what);
            RMENS_TRY(as_string(t, "a content part's text", where, &s, &n));
            if (rmens_text_append(&out->content, s, n))
                return NOMEM(where);
        }
        return RMENS_OK;
    }
    RMENS_TRY(as_string(c, "a message content", where, &s, &n));
    if (rmens_text_append(&out->content, s, n))
        return NOMEM(where);
    return RMENS_OK;
}

static int same_message(json_object *a, json_object *b)
{
    return json_object_equal(a, b);
}

int rmens_json_render_messages(rmens_text *t, json_object *list, size_t from, const char *where,
                               const char *what, rmens_status *st)
{
    message m = {0};
    for (size_t k = from; k < json_object_array_length(list); k++) {
        char w[96];
        snprintf(w, sizeof w, "%s message %zu", what, k);
        if ((*st = read_message(json_object_array_get_idx(list, k), w, where, &m)) != RMENS_OK)
            break;
        if (rmens_render_turn(t, m.role, m.content.buf, m.content.len)) {
            *st = NOMEM(where);
            break;
        }
    }
    rmens_text_free(&m.content);
    return *st == RMENS_OK ? 0 : -1;
}

static size_t find_last(const char *s, size_t n, const char *pat)
{
    size_t m = strlen(pat);
    for (size_t i = n >= m ? n - m + 1 : 0; i-- > 0;)
        if (memcmp(s + i, pat, m) == 0)
            return i;
    return (size_t)-1;
}

static rmens_status render_hh(json_object *o, const char *where, rendered *r)
{
    const char *s[2];
    size_t n[2];
    RMENS_TRY(get_string(o, "chosen", where, &s[0], &n[0]));
    RMENS_TRY(get_string(o, "rejected", where, &s[1], &n[1]));
    for (int k = 0; k < 2; k++)
        if (rmens_text_append(&r->full[k], s[k], n[k]))
            return NOMEM(where);
    size_t at = find_last(s[0], n[0], RMENS_ASSISTANT_HEADER);
    if (at == (size_t)-1)
        return rmens_fail(RMENS_ERR_INPUT, "%s: \"chosen\" has no \"\\n\\nAssistant:\" turn: not an "
                          "HH-RLHF transcript (try `format` prompt)", where);
    r->prompt_len = at + strlen(RMENS_ASSISTANT_HEADER);
    if (n[1] < r->prompt_len || memcmp(s[0], s[1], r->prompt_len) != 0)
        r->skip = RMENS_SKIP_PROMPT_DIFFERS;
    return RMENS_OK;
}

static rmens_status render_prompt_string(json_object *o, const char *where, rendered *r)
{
    const char *p, *s[2];
    size_t pn, n[2];
    rmens_text P = {0};
    RMENS_TRY(get_string(o, "prompt", where, &p, &pn));
    RMENS_TRY(get_string(o, "chosen", where, &s[0], &n[0]));
    RMENS_TRY(get_string(o, "rejected", where, &s[1], &n[1]));
    int ok = !rmens_render_prompt(&P, p, pn);
    for (int k = 0; ok && k < 2; k++)
        ok = !rmens_text_append(&r->full[k], P.buf, P.len) &&
             !rmens_render_content(&r->full[k], s[k], n[k]);
    r->prompt_len = P.len;
    rmens_text_free(&P);
    if (!ok)
        return NOMEM(where);
    if (n[0] == 0 || n[1] == 0)
        r->skip = RMENS_SKIP_EMPTY_RESPONSE;
    return RMENS_OK;
}

/* TRL conversational and ShareGPT: a prompt (list, string, or implicit: the messages the
 * two sides share) followed by responses that start with an assistant message. */
static rmens_status render_conversation(json_object *o, const char *prompt_key, const char *where,
                                        rendered *r)
{
    rmens_status st = RMENS_OK;
    json_object *prompt = NULL, *side[2];
    RMENS_TRY(get_field(o, "chosen", where, &side[0]));
    RMENS_TRY(get_field(o, "rejected", where, &side[1]));
    int has_prompt = prompt_key && json_object_object_get_ex(o, prompt_key, &prompt);
    rmens_text P = {0};
    message first = {0};
    size_t from[2] = {0, 0};
    if (!has_prompt) {
        /* Implicit prompt: the leading messages both sides share. */
        for (int k = 0; k < 2; k++)
            if (!json_object_is_type(side[k], json_type_array))
                return rmens_fail(RMENS_ERR_INPUT, "%s: without \"%s\", \"%s\" must be a list of "
                                  "messages (it is %s)", where, prompt_key ? prompt_key : "prompt", k ? "rejected" : "chosen",
                                  type_name(side[k]));
        size_t nc = json_object_array_length(side[0]), nr = json_object_array_length(side[1]);
        size_t common = 0;
        while (common < nc && common < nr &&
               same_message(json_object_array_get_idx(side[0], common),
                            json_object_array_get_idx(side[1], common)))
            common++;
        for (size_t k = 0; k < common && st == RMENS_OK; k++) {
            message m = {0};
            if ((st = read_message(json_object_array_get_idx(side[0], k), "chosen message", where,
                                   &m)) == RMENS_OK &&
                rmens_render_turn(&P, m.role, m.content.buf, m.content.len))
                st = NOMEM(where);
            rmens_text_free(&m.content);
        }
        from[0] = from[1] = common;
    } else if (json_object_is_type(prompt, json_type_string)) {
        const char *p;
        size_t pn;
        RMENS_TRY(as_string(prompt, "\"prompt\"", where, &p, &pn));
        if (rmens_render_turn(&P, RMENS_ROLE_HUMAN, p, pn))
            st = NOMEM(where);
    } else if (json_object_is_type(prompt, json_type_array)) {
        render_messages_into(&P, prompt, 0, where, prompt_key, &st);
    } else {
        st = rmens_fail(RMENS_ERR_INPUT, "%s: field \"%s\" is %s, expected a list of messages or a "
                        "string", where, prompt_key, type_name(prompt));
    }
    if (st == RMENS_OK && rmens_text_append(&P, RMENS_ASSISTANT_HEADER, strlen(RMENS_ASSISTANT_HEADER)))
        st = NOMEM(where);
    r->prompt_len = P.len;
    for (int k = 0; k < 2 && st == RMENS_OK; k++) {
        const char *name = k ? "rejected" : "chosen";
        json_object *v = side[k];
        if (rmens_text_append(&r->full[k], P.buf, P.len)) {
            st = NOMEM(where);
            break;
        }
        if (json_object_is_type(v, json_type_string)) {
            const char *s;
            size_t n;
            if ((st = as_string(v, name, where, &s, &n)) != RMENS_OK)
                break;
            if (n == 0)
                r->skip = RMENS_SKIP_EMPTY_RESPONSE;
            if (rmens_render_content(&r->full[k], s, n))
                st = NOMEM(where);
            continue;
        }
        json_object *m0 = v;
        size_t rest = 0;
        if (json_object_is_type(v, json_type_array)) {
            if (from[k] >= json_object_array_length(v)) {
                r->skip = RMENS_SKIP_EMPTY_RESPONSE;
                continue;
            }
            m0 = json_object_array_get_idx(v, from[k]);
            rest = from[k] + 1;
        }
        char what[64];
        snprintf(what, sizeof what, "the first %s message", name);
        if ((st = read_message(m0, what, where, &first)) != RMENS_OK)
            break;
        if (first.role != RMENS_ROLE_ASSISTANT) {
            st = rmens_fail(RMENS_ERR_INPUT, "%s: the %s response must begin with an assistant "
                            "message", where, name);
            break;
        }
        if (first.content.len == 0)
            r->skip = RMENS_SKIP_EMPTY_RESPONSE;
        if (rmens_render_content(&r->full[k], first.content.buf, first.content.len)) {
            st = NOMEM(where);
            break;
        }
        if (json_object_is_type(v, json_type_array))
            render_messages_into(&r->full[k], v, rest, where, name, &st);
    }
    rmens_text_free(&first.content);
    rmens_text_free(&P);
    return st;
}

/* The fields that identify each format (--format auto); RMENS_PREP_AUTO stands for the
 * chosen/rejected family, told apart by detect_pair. A record that has the fields of
 * two formats is refused. */
static const struct {
    rmens_prep_format f;
    const char *keys[3];
} signatures[] = {
    {RMENS_PREP_AUTO, {"chosen", "rejected"}},
    {RMENS_PREP_AUTO, {"conversations"}},
    {RMENS_PREP_SUMMARIZE, {"info", "summaries"}},
    {RMENS_PREP_HELPSTEER2_PREF, {"response_1", "response_2", "preference_strength"}},
    {RMENS_PREP_HELPSTEER2, {"response", "helpfulness"}},
    {RMENS_PREP_RANKING, {"responses", "ranking"}},
    {RMENS_PREP_RANKING, {"responses", "scores"}},
    {RMENS_PREP_ULTRAFEEDBACK_RAW, {"instruction", "completions"}},
    {RMENS_PREP_TRL_PRM, {"prompt", "completions", "labels"}},
    {RMENS_PREP_MATH_SHEPHERD, {"input", "label"}},
    {RMENS_PREP_PRM800K, {"question", "label"}},
};

static rmens_status detect_pair(json_object *o, const char *where, rmens_prep_format *f);

static void signature_text(char *buf, size_t n, int k)
{
    int at = 0;
    buf[0] = 0;
    for (int j = 0; j < 3 && signatures[k].keys[j] && at >= 0 && (size_t)at < n; j++)
        at += snprintf(buf + at, n - (size_t)at, "%s\"%s\"", j ? ", " : "", signatures[k].keys[j]);
}

rmens_status rmens_prep_detect(json_object *o, const char *where, rmens_prep_format *f)
{
    if (!json_object_is_type(o, json_type_object))
        return rmens_fail(RMENS_ERR_INPUT, "%s: a record must be a JSON object, not %s", where,
                          type_name(o));
    int found = -1;
    for (int k = 0; k < (int)(sizeof signatures / sizeof *signatures); k++) {
        int all = 1;
        for (int j = 0; j < 3 && signatures[k].keys[j]; j++)
            all &= json_object_object_get_ex(o, signatures[k].keys[j], NULL);
        if (!all || (found >= 0 && signatures[found].f == signatures[k].f))
            continue;
        if (found >= 0) {
            char a[96], b[96];
            signature_text(a, sizeof a, found);
            signature_text(b, sizeof b, k);
            return rmens_fail(RMENS_ERR_INPUT, "%s: ambiguous record: it has the fields of two formats (%s: %s; %s: %s); "
                              "set `format` to say which", where,
                              signatures[found].f == RMENS_PREP_AUTO ? "a chosen/rejected pair" : rmens_prep_format_name(signatures[found].f),
                              a, rmens_prep_format_name(signatures[k].f), b);
        }
        found = k;
    }
    if (found < 0)
        return rmens_fail(RMENS_ERR_INPUT, "%s: cannot tell the format: a record needs \"chosen\" and \"rejected\" "
                          "(with \"prompt\" or \"conversations\"), or the fields of summarize, helpsteer2-pref, "
                          "helpsteer2, ranking or ultrafeedback-raw; with --steps, of trl-prm, math-shepherd or prm800k "
                          "(rmens prep --help)", where);
    if (signatures[found].f != RMENS_PREP_AUTO) {
        *f = signatures[found].f;
        return RMENS_OK;
    }
    return detect_pair(o, where, f);
}

/* A message list whose first message is the user's: UltraFeedback binarized's sides hold
 * the whole conversation although the record also has "prompt". */
static int starts_with_user(json_object *list)
{
    json_object *m, *r;
    if (!json_object_is_type(list, json_type_array) || json_object_array_length(list) == 0)
        return 0;
    m = json_object_array_get_idx(list, 0);
    if (!json_object_is_type(m, json_type_object) ||
        !(json_object_object_get_ex(m, "role", &r) || json_object_object_get_ex(m, "from", &r)) ||
        !json_object_is_type(r, json_type_string))
        return 0;
    return rmens_role_from_name(json_object_get_string(r)) == RMENS_ROLE_HUMAN;
}

static rmens_status detect_pair(json_object *o, const char *where, rmens_prep_format *f)
{
    json_object *c = NULL, *p = NULL, *r = NULL;
    if (json_object_object_get_ex(o, "conversations", NULL)) {
        *f = RMENS_PREP_SHAREGPT;
        return RMENS_OK;
    }
    if (!json_object_object_get_ex(o, "chosen", &c) || !json_object_object_get_ex(o, "rejected", &r))
        return rmens_fail(RMENS_ERR_INPUT, "%s: cannot tell the format: a record needs \"chosen\" "
                          "and \"rejected\" (and optionally \"prompt\" or \"conversations\")", where);
    if (json_object_object_get_ex(o, "prompt", &p))
        *f = json_object_is_type(p, json_type_string) && json_object_is_type(c, json_type_string) ? RMENS_PREP_PROMPT
             : starts_with_user(c) && starts_with_user(r) ? RMENS_PREP_ULTRAFEEDBACK : RMENS_PREP_MESSAGES;
    else
        *f = json_object_is_type(c, json_type_string) ? RMENS_PREP_HH : RMENS_PREP_MESSAGES;
    return RMENS_OK;
}

/* ------------------------------------------------------------------ margin */

typedef enum {
    MARGIN_NONE,
    MARGIN_FIELD,   /* a number field, --margin-field */
    MARGIN_SCORES,  /* score_chosen - score_rejected */
    MARGIN_FORMAT,  /* the format's own: extra.confidence, |preference_strength| */
    MARGIN_GROUP    /* score differences within a ranked group */
} margin_kind;

static rmens_status read_margin(json_object *o, margin_kind mk, const char *field, const char *where,
                                double *m)
{
    double a = 0, b = 0;
    if (mk == MARGIN_FIELD) {
        RMENS_TRY(rmens_json_number(o, field, where, &a));
        *m = a;
    } else if (mk == MARGIN_SCORES) {
        RMENS_TRY(rmens_json_number(o, "score_chosen", where, &a));
        RMENS_TRY(rmens_json_number(o, "score_rejected", where, &b));
        *m = a - b;
    }
    return RMENS_OK;
}

/* --------------------------------------------------------------------- run */

/* Which split a pair goes to: by a hash of its prompt, so pairs that share a prompt
 * never straddle train and validation. */
static int to_val(const rendered *r, const rmens_prep_options *o)
{
    if (!o->val_output)
        return 0;
    uint64_t u = rmens_mix64(rmens_fnv1a(r->full[0].buf, r->prompt_len) ^ rmens_mix64(o->seed));
    return (double)(u >> 11) * 0x1.0p-53 < o->val_fraction;
}

rmens_status rmens_prep_next(rmens_records *in, const rmens_prep_options *o, rmens_prep_report *rep,
                            json_object **rec)
{
    for (;;) {
        rmens_status st = rmens_records_next(in, rec);
        if (st == RMENS_ERR_INPUT && o->skip_bad && !rmens_records_fatal(in)) {
            rep->records_read++;
            rep->skipped[RMENS_SKIP_MALFORMED]++;
            continue;
        }
        if (st != RMENS_OK || !*rec)
            return st;
        if (o->max_records > 0 && rep->records_read >= o->max_records) {
            *rec = NULL;
            return RMENS_OK;
        }
        rep->records_read++;
        return RMENS_OK;
    }
}

/* HelpSteer2's responses, one per record, gathered by prompt until the input ends. */
typedef struct {
    rmens_prompt_table prompts;
    rmens_prep_group all;   /* every response, in input order */
    int64_t *prompt_of;     /* [all.k] its prompt's id */
    int64_t cap;
    rmens_text prompt;      /* scratch: one record's rendered prompt */
} gathered;

/* One conversion: the options, the report, and what the records pass through. */
typedef struct {
    const rmens_prep_options *o;
    rmens_prep_report *rep;
    rmens_records *in;
    rmens_dataset *ds[2];     /* the output, and the validation split */
    rendered r;
    rmens_prep_group g;       /* a ranked record's responses */
    gathered hs;              /* helpsteer2 */
    int32_t *tok;             /* byte tokens of one pair */
    size_t tokcap;
    rmens_prep_format fmt;    /* given, or the first record's */
    margin_kind mk;
    int group_scores;         /* ranking: the file's records carry "scores" (1) or "ranking" (0) */
    const char *mfield;
    rmens_tokenizer *tk;
    rmens_template tpl;
    int32_t end;              /* the end token */
    int append, hf;           /* hf: a Hugging Face tokenizer or a template other than hh */
    rmens_text txt;
    rmens_ids ids;
} prep_run;

/* The tokenizer and template; the byte tokenizer with HH is the original path. */
static rmens_status prep_open(prep_run *p)
{
    const rmens_prep_options *o = p->o;
    p->tpl = RMENS_TEMPLATE_HH;
    p->end = RMENS_BYTES_EOT;
    p->append = 1;
    p->mfield = o->margin_field ? o->margin_field : "margin";
    p->fmt = o->format;
    if ((unsigned)o->format >= NFORMATS)
        return rmens_fail(RMENS_ERR_ARG, "unknown format %d", (int)o->format);
    if (!(isfinite(o->margin_scale) && o->margin_scale >= 0))
        return rmens_fail(RMENS_ERR_ARG, "`margin_scale` must be finite and non-negative, got %g", o->margin_scale);
    if (!o->score_field || (strcmp(o->score_field, "overall_score") != 0 && strcmp(o->score_field, "fine-grained_score") != 0))
        return rmens_fail(RMENS_ERR_ARG, "`score_field` must be overall_score or fine-grained_score, got \"%s\"",
                          o->score_field ? o->score_field : "(null)");
    for (int k = 0; k < 5; k++)
        if (!isfinite(o->helpsteer_weights[k]))
            return rmens_fail(RMENS_ERR_ARG, "`helpsteer_weights`: weight %d is not finite", k + 1);
    if (o->template_name && (int)(p->tpl = (rmens_template)rmens_template_from_name(o->template_name)) < 0)
        return rmens_fail(RMENS_ERR_ARG, "unknown template \"%s\" (hh, chatml, llama3, plain, auto)", o->template_name);
    RMENS_TRY(!o->tokenizer || strcmp(o->tokenizer, "bytes") == 0 ? rmens_tokenizer_bytes(&p->tk)
                                                                  : rmens_tokenizer_load(&p->tk, o->tokenizer));
    RMENS_TRY(rmens_template_resolve(&p->tpl, p->tk, &p->end, &p->append));
    p->hf = !rmens_tokenizer_is_bytes(p->tk) || p->tpl != RMENS_TEMPLATE_HH;
    return rmens_records_open(&p->in, o->input);
}

/* The first record fixes the format (unless given), the margin and the outputs. */
static rmens_status prep_first(prep_run *p, json_object *rec, rmens_prep_format f, const char *where)
{
    const rmens_prep_options *o = p->o;
    json_object *extra;
    if (p->fmt == RMENS_PREP_AUTO)
        p->fmt = f;
    int none = o->margin_field && strcmp(o->margin_field, "none") == 0;
    if (o->margin_field && !none && formats[p->fmt].ranked)
        return rmens_fail(RMENS_ERR_ARG, "`margin_field` does not apply to format %s (its margins are score "
                          "differences)", rmens_prep_format_name(p->fmt));
    if (none)
        p->mk = MARGIN_NONE;
    else if (formats[p->fmt].ranked)
        p->mk = MARGIN_GROUP;  /* unless ranks: decided with the group's first record */
    else if (o->margin_field)
        p->mk = MARGIN_FIELD;
    else if (p->fmt == RMENS_PREP_HELPSTEER2_PREF)
        p->mk = MARGIN_FORMAT;
    else if (p->fmt == RMENS_PREP_SUMMARIZE)
        p->mk = json_object_object_get_ex(rec, "extra", &extra) && json_object_is_type(extra, json_type_object) &&
                json_object_object_get_ex(extra, "confidence", &extra) && extra ? MARGIN_FORMAT : MARGIN_NONE;
    else if (p->fmt == RMENS_PREP_ULTRAFEEDBACK)
        p->mk = MARGIN_SCORES;
    else if (json_object_object_get_ex(rec, "margin", NULL))
        p->mk = MARGIN_FIELD;
    else if (json_object_object_get_ex(rec, "score_chosen", NULL) && json_object_object_get_ex(rec, "score_rejected", NULL))
        p->mk = MARGIN_SCORES;
    if (p->fmt == RMENS_PREP_RANKING) {
        p->group_scores = json_object_object_get_ex(rec, "scores", NULL);
        if (!p->group_scores && p->mk == MARGIN_GROUP)
            p->mk = MARGIN_NONE;
    }
    (void)where;
    unsigned has = RMENS_HAS_SOURCE | (p->mk != MARGIN_NONE ? RMENS_HAS_MARGIN : 0) |
                   (formats[p->fmt].ranked ? RMENS_HAS_WEIGHT : 0);
    p->rep->format = p->fmt;
    for (int k = 0; k < (o->val_output ? 2 : 1); k++)
        RMENS_TRY(rmens_prep_dataset_new(&p->ds[k], RMENS_DATA_PAIRS, has, p->tk, p->end,
                                         rmens_template_name(p->tpl), o->input));
    return RMENS_OK;
}

rmens_status rmens_prep_dataset_new(rmens_dataset **out, rmens_data_kind kind, unsigned has, const rmens_tokenizer *tk,
                                    int32_t end, const char *template_name, const char *input)
{
    char ident[RMENS_TOKENIZER_ID_LEN];
    RMENS_TRY(rmens_dataset_new(out, kind, has, rmens_tokenizer_vocab_size(tk), end,
                                rmens_tokenizer_identity(tk, ident, sizeof ident)));
    rmens_dataset *d = *out;
    snprintf(d->source, sizeof d->source, "%s", input);
    snprintf(d->tokenizer_sha256, sizeof d->tokenizer_sha256, "%s", rmens_tokenizer_sha256(tk));
    snprintf(d->template_name, sizeof d->template_name, "%s", template_name);
    d->bos = rmens_tokenizer_bos_id(tk);
    d->pad = rmens_tokenizer_pad_id(tk);
    return RMENS_OK;
}

/* A record's format: detected (and the same as the first record's) or forced. */
static rmens_status prep_format(prep_run *p, json_object *rec, const char *where)
{
    const rmens_prep_options *o = p->o;
    rmens_prep_format f = o->format;
    if (f == RMENS_PREP_AUTO)
        RMENS_TRY(rmens_prep_detect(rec, where, &f));
    if (f >= RMENS_PREP_TRL_PRM)
        return rmens_fail(RMENS_ERR_INPUT, "%s: a %s record is process supervision (a label per step): prep it with "
                          "--steps, into a steps file", where, rmens_prep_format_name(f));
    else if (!json_object_is_type(rec, json_type_object))
        return rmens_fail(RMENS_ERR_INPUT, "%s: a record must be a JSON object, not %s", where, type_name(rec));
    if (!p->ds[0])
        return prep_first(p, rec, f, where);
    if (o->format == RMENS_PREP_AUTO && f != p->fmt)
        return rmens_fail(RMENS_ERR_INPUT, "%s: record looks like format \"%s\" but the file began as \"%s\" (set "
                          "`format` to force one)", where, rmens_prep_format_name(f), rmens_prep_format_name(p->fmt));
    return RMENS_OK;
}

/* A two-sided record's conversations rendered into p->r, and its margin. */
static rmens_status prep_render(prep_run *p, json_object *rec, const char *where, double *margin)
{
    rendered *r = &p->r;
    double m = 0;
    r->full[0].len = r->full[1].len = 0;
    r->prompt_len = 0;
    r->skip = -1;
    *margin = 0;
    switch (p->fmt) {
    case RMENS_PREP_HH: RMENS_TRY(render_hh(rec, where, r)); break;
    case RMENS_PREP_PROMPT: RMENS_TRY(render_prompt_string(rec, where, r)); break;
    case RMENS_PREP_MESSAGES: RMENS_TRY(render_conversation(rec, "prompt", where, r)); break;
    case RMENS_PREP_SHAREGPT: RMENS_TRY(render_conversation(rec, "conversations", where, r)); break;
    case RMENS_PREP_ULTRAFEEDBACK: RMENS_TRY(render_conversation(rec, NULL, where, r)); break;
    case RMENS_PREP_SUMMARIZE:
        RMENS_TRY(rmens_prep_summarize(rec, where, r, &m));
        if (p->mk == MARGIN_FORMAT && isnan(m))
            return rmens_fail(RMENS_ERR_INPUT, "%s: missing field \"extra.confidence\" (the first record has one, so "
                              "it is the margin; `margin_field` none writes no margins)", where);
        break;
    case RMENS_PREP_HELPSTEER2_PREF:
        RMENS_TRY(rmens_prep_helpsteer2_pref(rec, where, r, &m));
        m = fabs(m);
        break;
    default: return rmens_fail(RMENS_ERR_ARG, "format %s is not a pair format", rmens_prep_format_name(p->fmt));
    }
    if (p->mk == MARGIN_FORMAT)
        *margin = m;
    return read_margin(rec, p->mk, p->mfield, where, margin);
}

/* The rendered pair's tokens into *rr: bytes, or each side rendered and tokenized as one
 * string by the tokenizer, the prompt being the longest common token prefix (BPE may
 * merge across the text's prompt boundary). *same: the sides' tokens are equal (texts
 * that differ only in normalization). */
static rmens_status prep_tokenize(prep_run *p, const char *where, rmens_record *rr, int *same)
{
    const rendered *r = &p->r;
    *same = 0;
    size_t need = r->full[0].len + r->full[1].len + 2;
    if (need > p->tokcap) {
        int32_t *t = realloc(p->tok, need * sizeof *t);
        if (!t)
            return NOMEM(where);
        p->tok = t;
        p->tokcap = need;
    }
    rr->tok[0] = p->tok;
    rr->len[0] = (int64_t)rmens_tokenize_bytes(p->tok, r->full[0].buf, r->full[0].len);
    rr->tok[1] = p->tok + rr->len[0];
    rr->len[1] = (int64_t)rmens_tokenize_bytes(p->tok + rr->len[0], r->full[1].buf, r->full[1].len);
    rr->prompt_len = (int32_t)r->prompt_len;
    if (!p->hf)
        return RMENS_OK;
    p->ids.n = 0;
    for (int k = 0; k < 2; k++) {
        size_t at = p->ids.n;
        rmens_status st = rmens_template_tokenize(p->tpl, p->tk, p->end, p->append, r->full[k].buf, r->full[k].len,
                                                  &p->txt, &p->ids);
        if (st != RMENS_OK)
            return rmens_fail_context(st, "%s: ", where);
        rr->len[k] = (int64_t)(p->ids.n - at);
    }
    rr->tok[0] = p->ids.v;
    rr->tok[1] = p->ids.v + rr->len[0];
    int64_t n = 0;
    while (n < rr->len[0] && n < rr->len[1] && rr->tok[0][n] == rr->tok[1][n])
        n++;
    *same = n == rr->len[0] && n == rr->len[1];
    rr->prompt_len = (int32_t)(n < rr->len[0] && n < rr->len[1] ? n : n - 1);
    return RMENS_OK;
}

/* The rendered pair p->r: checked, tokenized and appended to its split (*split), or
 * skipped and counted. */
static rmens_status prep_emit(prep_run *p, const char *where, double margin, int64_t source, int *split)
{
    const rmens_prep_options *o = p->o;
    rmens_prep_report *rep = p->rep;
    rendered *r = &p->r;
    rmens_status st;
    *split = -1;
    if (r->full[0].len == r->full[1].len && memcmp(r->full[0].buf, r->full[1].buf, r->full[0].len) == 0)
        r->skip = RMENS_SKIP_IDENTICAL;
    else if (r->skip < 0 && (r->full[0].len <= r->prompt_len || r->full[1].len <= r->prompt_len))
        r->skip = RMENS_SKIP_EMPTY_RESPONSE;
    if (r->skip >= 0) {
        rep->skipped[r->skip]++;
        return RMENS_OK;
    }
    int bad_utf8 = 0;
    for (int k = 0; k < 2; k++)
        bad_utf8 |= rmens_utf8_valid_prefix(r->full[k].buf, r->full[k].len) != r->full[k].len;
    if (bad_utf8 && rep->invalid_utf8++ == 0)
        rep->first_invalid_utf8_line = source + 1;
    rmens_record rr = {0};
    int same;
    st = prep_tokenize(p, where, &rr, &same);
    if (st == RMENS_ERR_INPUT && o->skip_bad) {  /* the tokenizer refused the text */
        rep->skipped[RMENS_SKIP_MALFORMED]++;
        return RMENS_OK;
    }
    RMENS_TRY(st);
    if (same) {
        rep->skipped[RMENS_SKIP_IDENTICAL]++;
        return RMENS_OK;
    }
    rr.margin = (float)(margin * o->margin_scale);
    if (!isfinite(rr.margin) && o->skip_bad) {  /* finite as a double, but not as the float32 stored */
        rep->skipped[RMENS_SKIP_MALFORMED]++;
        return RMENS_OK;
    }
    if (!isfinite(rr.margin))
        return rmens_fail(RMENS_ERR_INPUT, "%s: the margin %g does not fit a float32", where, margin * o->margin_scale);
    rr.weight = 1;
    rr.source_record = source;
    if (r->prompt_len > INT32_MAX)
        return rmens_fail(RMENS_ERR_INPUT, "%s: prompt longer than 2^31 bytes", where);
    *split = to_val(r, o);
    return rmens_dataset_append(p->ds[*split], &rr);
}

/* One prompt's responses idx[0..m) of g (prompt P): every two with different scores
 * make a pair, the higher-scored chosen, their score difference the margin (when the
 * file has margins); the prompt's pairs share a weight of 1 (InstructGPT: each prompt
 * counts once in the loss). */
static rmens_status prep_ranked(prep_run *p, const char *P, size_t pn, const rmens_prep_group *g, const int64_t *idx,
                                int64_t m, const char *where)
{
    rendered *r = &p->r;
    int split = -1;
    int64_t n0 = -1;
    for (int64_t a = 0; a < m; a++)
        for (int64_t b = a + 1; b < m; b++) {
            int64_t i = idx[a], j = idx[b];
            if (g->score[i] == g->score[j]) {
                p->rep->skipped[RMENS_SKIP_TIE]++;
                continue;
            }
            int64_t w = g->score[i] > g->score[j] ? i : j, l = w == i ? j : i;
            r->full[0].len = r->full[1].len = 0;
            r->prompt_len = pn;
            r->skip = g->empty[w] || g->empty[l] ? RMENS_SKIP_EMPTY_RESPONSE : -1;
            if (rmens_text_append(&r->full[0], P, pn) ||
                rmens_text_append(&r->full[0], g->resp.buf + g->off[w], g->off[w + 1] - g->off[w]) ||
                rmens_text_append(&r->full[1], P, pn) ||
                rmens_text_append(&r->full[1], g->resp.buf + g->off[l], g->off[l + 1] - g->off[l]))
                return NOMEM(where);
            int s;
            RMENS_TRY(prep_emit(p, where, p->mk == MARGIN_GROUP ? g->score[w] - g->score[l] : 0, g->source[w], &s));
            if (s >= 0 && split < 0) {  /* one prompt: one split */
                split = s;
                n0 = p->ds[s]->n - 1;
            }
        }
    if (split >= 0) {
        rmens_dataset *d = p->ds[split];
        for (int64_t i = n0; i < d->n; i++)
            d->weight[i] = 1.0f / (float)(d->n - n0);
    }
    return RMENS_OK;
}

/* A HelpSteer2 record: its response joins its prompt's, expanded at the end. */
static rmens_status gather(prep_run *p, json_object *rec, const char *where)
{
    gathered *h = &p->hs;
    RMENS_TRY(rmens_prep_helpsteer2(rec, p->o->helpsteer_weights, where, rmens_records_index(p->in), &h->prompt, &h->all));
    int64_t id = rmens_prompt_table_id(&h->prompts, h->prompt.buf, h->prompt.len);
    if (id < 0)
        return NOMEM(where);
    if (h->all.k > h->cap) {
        int64_t c = h->cap ? 2 * h->cap : 1024;
        int64_t *q = realloc(h->prompt_of, (size_t)c * sizeof *q);
        if (!q)
            return NOMEM(where);
        h->prompt_of = q;
        h->cap = c;
    }
    h->prompt_of[h->all.k - 1] = id;
    return RMENS_OK;
}

/* Every HelpSteer2 prompt's responses, in order of first appearance, into pairs. */
static rmens_status gathered_expand(prep_run *p)
{
    gathered *h = &p->hs;
    const int64_t n = h->all.k, np = h->prompts.n;
    int64_t *start = calloc((size_t)np + 1, sizeof *start), *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    rmens_status st = start && order ? RMENS_OK : rmens_fail(RMENS_ERR_NOMEM, "%s: out of memory", p->o->input);
    for (int64_t i = 0; st == RMENS_OK && i < n; i++)  /* counting sort by prompt, stable */
        start[h->prompt_of[i] + 1]++;
    for (int64_t k = 0; st == RMENS_OK && k < np; k++)
        start[k + 1] += start[k];
    for (int64_t i = 0; st == RMENS_OK && i < n; i++)
        order[start[h->prompt_of[i]]++] = i;
    for (int64_t k = 0, at = 0; st == RMENS_OK && k < np; k++) {
        int64_t m = start[k] - at;
        char where[1200];
        snprintf(where, sizeof where, "%s: record %lld (the prompt's first)", p->o->input,
                 (long long)h->all.source[order[at]] + 1);
        st = prep_ranked(p, h->prompts.text.buf + h->prompts.off[k], h->prompts.off[k + 1] - h->prompts.off[k], &h->all,
                         order + at, m, where);
        at = start[k];
    }
    free(start);
    free(order);
    return st;
}

/* One record: rendered, checked, tokenized and appended to its split, or skipped and
 * counted. A malformed record is an error, or skipped with skip_bad. */
static rmens_status prep_record(prep_run *p, json_object *rec, const char *where)
{
    const rmens_prep_options *o = p->o;
    rmens_prep_report *rep = p->rep;
    double margin = 0;
    int split;
    rmens_status st = prep_format(p, rec, where);
    if (st == RMENS_OK && p->fmt == RMENS_PREP_HELPSTEER2) {
        int64_t k = p->hs.all.k;
        size_t len = p->hs.all.resp.len;
        if ((st = gather(p, rec, where)) != RMENS_OK) {  /* a refused record leaves nothing behind */
            p->hs.all.k = k;
            p->hs.all.resp.len = len;
        }
    } else if (st == RMENS_OK && formats[p->fmt].ranked) {
        int scores = 0;
        int64_t src = rmens_records_index(p->in);
        st = p->fmt == RMENS_PREP_RANKING ? rmens_prep_ranking(rec, where, src, &p->g, &scores)
                                          : rmens_prep_ultrafeedback_raw(rec, o->score_field, where, src, &p->g,
                                                                         &rep->skipped[RMENS_SKIP_UNRATED]);
        if (st == RMENS_OK && p->fmt == RMENS_PREP_RANKING && scores != p->group_scores)
            st = rmens_fail(RMENS_ERR_INPUT, "%s: record ranks by \"%s\" but the file began with \"%s\" (margins are "
                            "written for scores only)", where, scores ? "scores" : "ranking",
                            p->group_scores ? "scores" : "ranking");
        if (st == RMENS_OK) {
            int64_t idx[64], *ix = p->g.k <= 64 ? idx : malloc((size_t)p->g.k * sizeof *ix);
            if (!ix)
                return NOMEM(where);
            for (int64_t i = 0; i < p->g.k; i++)
                ix[i] = i;
            st = prep_ranked(p, p->g.prompt.buf, p->g.prompt.len, &p->g, ix, p->g.k, where);
            if (ix != idx)
                free(ix);
            return st;
        }
    } else if (st == RMENS_OK && (st = prep_render(p, rec, where, &margin)) == RMENS_OK) {
        return prep_emit(p, where, margin, rmens_records_index(p->in), &split);
    }
    if (st == RMENS_ERR_INPUT && o->skip_bad) {
        rep->skipped[RMENS_SKIP_MALFORMED]++;
        return RMENS_OK;
    }
    return st;
}

/* Both outputs or neither; an existing file is replaced only by a complete run. */
static rmens_status prep_write(prep_run *p)
{
    const rmens_prep_options *o = p->o;
    rmens_prep_report *rep = p->rep;
    rep->input_bytes = rmens_records_bytes(p->in);
    rep->lone_surrogates = rmens_records_lone_surrogates(p->in, &rep->first_lone_surrogate_line);
    if (!p->ds[0] || p->ds[0]->n == 0)
        return rmens_fail(RMENS_ERR_INPUT, "%s: no usable pairs (%lld records read, all skipped): nothing written",
                          o->input, (long long)rep->records_read);
    if (o->val_output && p->ds[1]->n == 0)
        return rmens_fail(RMENS_ERR_INPUT, "%s: the validation split is empty (%lld pairs, `val_fraction` %g): nothing "
                          "written", o->input, (long long)p->ds[0]->n, o->val_fraction);
    hid_t files[2] = {-1, -1};
    const char *paths[2] = {o->output, o->val_output};
    int n = o->val_output ? 2 : 1;
    rmens_status st = RMENS_OK;
    for (int k = 0; k < n && st == RMENS_OK; k++)
        st = rmens_dataset_build(p->ds[k], paths[k], &files[k]);
    if (st == RMENS_OK)
        st = rmens_stage_finish(files, paths, n);
    for (int k = 0; k < n && st != RMENS_OK; k++)
        rmens_h5_close(files[k]);
    RMENS_TRY(st);
    rep->pairs_written = p->ds[0]->n;
    rep->val_pairs_written = p->ds[1] ? p->ds[1]->n : 0;
    return rmens_dataset_stats_compute(p->ds[0], &rep->stats);
}

static void prep_free(prep_run *p)
{
    free(p->tok);
    rmens_tokenizer_free(p->tk);
    rmens_text_free(&p->txt);
    rmens_ids_free(&p->ids);
    rmens_text_free(&p->r.full[0]);
    rmens_text_free(&p->r.full[1]);
    rmens_prep_group_free(&p->g);
    rmens_prep_group_free(&p->hs.all);
    rmens_prompt_table_free(&p->hs.prompts);
    rmens_text_free(&p->hs.prompt);
    free(p->hs.prompt_of);
    rmens_dataset_free(p->ds[0]);
    rmens_dataset_free(p->ds[1]);
    rmens_records_close(p->in);
}

rmens_status rmens_prep(const rmens_prep_options *o, rmens_prep_report *rep)
{
    if (o->responses)
        return rmens_prep_responses(o, rep);
    memset(rep, 0, sizeof *rep);
    if (!o->input || !o->output)
        return rmens_fail(RMENS_ERR_ARG, "prep needs an input file and `output`");
    if (o->val_output && (!(o->val_fraction > 0) || !(o->val_fraction < 1)))
        return rmens_fail(RMENS_ERR_ARG, "`val_fraction` must be in (0, 1), got %g", o->val_fraction);
    const rmens_file_use inputs[] = {{"input", o->input, 0}};
    const rmens_file_use outs[] = {{"`out`", o->output, o->overwrite}, {"`val_output`", o->val_output, o->overwrite}};
    RMENS_TRY(rmens_output_check(inputs, 1, outs, 2));
    if (o->steps)
        return rmens_prep_steps(o, rep);
    double t0 = rmens_now();
    prep_run p = {.o = o, .rep = rep};
    rmens_status st = prep_open(&p);
    for (;;) {
        json_object *rec;
        if (st == RMENS_OK)
            st = rmens_prep_next(p.in, o, rep, &rec);
        if (st != RMENS_OK || !rec)
            break;
        if ((st = prep_record(&p, rec, rmens_records_where(p.in))) != RMENS_OK)
            break;
    }
    if (st == RMENS_OK && p.fmt == RMENS_PREP_HELPSTEER2)
        st = gathered_expand(&p);
    if (st == RMENS_OK && (st = prep_write(&p)) == RMENS_OK)
        rep->seconds = rmens_now() - t0;
    prep_free(&p);
    return st;
}

void rmens_prep_report_print(FILE *f, const rmens_prep_options *o, const rmens_prep_report *rep)
{
    if (o->responses) {
        rmens_prep_responses_report_print(f, o, rep);
        return;
    }
    if (o->steps) {
        rmens_prep_steps_report_print(f, o, rep);
        return;
    }
    const rmens_dataset_stats *s = &rep->stats;
    int64_t skipped = 0;
    for (int k = 0; k < RMENS_SKIP_NREASONS; k++)
        skipped += rep->skipped[k];
    fprintf(f, "prep: %s -> %s (format %s)\n", o->input, o->output, rmens_prep_format_name(rep->format));
    fprintf(f, "  records read     %lld\n", (long long)rep->records_read);
    fprintf(f, "  pairs written    %lld", (long long)rep->pairs_written);
    if (o->val_output)
        fprintf(f, " (+ %lld to %s)", (long long)rep->val_pairs_written, o->val_output);
    fprintf(f, "\n  pairs skipped    %lld\n", (long long)skipped);
    for (int k = 0; k < RMENS_SKIP_NREASONS; k++)
        if (rep->skipped[k])
            fprintf(f, "    %-48s %lld\n", rmens_prep_skip_reason(k), (long long)rep->skipped[k]);
    if (rep->invalid_utf8)
        fprintf(f, "  warning: %lld kept pairs are not valid UTF-8 (first at %s, line or array element %lld, "
                "1-based); the byte tokenizer keeps their bytes as they are\n", (long long)rep->invalid_utf8, o->input,
                (long long)rep->first_invalid_utf8_line);
    if (rep->lone_surrogates)
        fprintf(f, "  warning: %lld \\u escapes of lone UTF-16 surrogates (first at %s, line %lld; 0: in an array) "
                "were read as U+FFFD, the replacement character\n", (long long)rep->lone_surrogates, o->input,
                (long long)rep->first_lone_surrogate_line);
    fprintf(f, "  tokens/sequence  median %lld, p90 %lld, max %lld (end-of-text included)\n",
            (long long)s->len_median, (long long)s->len_p90, (long long)s->len_max);
    fprintf(f, "  shared prefix    %.1f%% of the longer sequence on average\n", 100.0 * s->prompt_frac);
    fprintf(f, "  chosen longer    %.1f%% of pairs\n", 100.0 * s->chosen_longer);
    double mb = (double)rep->input_bytes / 1e6;
    fprintf(f, "  time             %.3f s for %.2f MB of JSON (%.3f s/MB)\n", rep->seconds, mb,
            mb > 0 ? rep->seconds / mb : 0.0);
}
