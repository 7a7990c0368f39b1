/* rmens prep --responses: prompts and the responses to score (a policy's generations)
 * -> a responses file whose /prompt_id keeps the responses to one prompt together
 * (docs/FORMAT.md, "responses" files). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "io/dataset.h"
#include "io/prep_json.h"
#include "io/records.h"
#include "io/render.h"
#include "text/utf8.h"

#define NOMEM(where) rmens_fail(RMENS_ERR_NOMEM, "%s: out of memory", where)

/* ------------------------------------------------ prompts -> prompt ids */

typedef rmens_prompt_table prompt_table;
#define prompt_table_free rmens_prompt_table_free
#define render_prompt_value rmens_json_render_prompt
#define render_response rmens_json_render_response

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

static int64_t *find_slot(prompt_table *t, const char *s, size_t n)
{
    for (uint64_t i = fnv1a(s, n) & (uint64_t)(t->nslot - 1);; i = (i + 1) & (uint64_t)(t->nslot - 1)) {
        int64_t id = t->slot[i] - 1;
        if (id < 0 || (t->off[id + 1] - t->off[id] == n && memcmp(t->text.buf + t->off[id], s, n) == 0))
            return &t->slot[i];
    }
}

/* The id of prompt s[0..n), adding it when new; -1 out of memory. */
int64_t rmens_prompt_table_id(prompt_table *t, const char *s, size_t n)
{
    if (2 * (t->n + 1) > t->nslot) {  /* keep the table at most half full */
        int64_t ns = t->nslot ? 2 * t->nslot : 1024;
        int64_t *old = t->slot, on = t->nslot;
        if (!(t->slot = calloc((size_t)ns, sizeof *t->slot))) {
            t->slot = old;
            return -1;
        }
        t->nslot = ns;
        for (int64_t k = 0; k < on; k++)
            if (old[k])
                *find_slot(t, t->text.buf + t->off[old[k] - 1], t->off[old[k]] - t->off[old[k] - 1]) = old[k];
        free(old);
    }
    int64_t *sl = find_slot(t, s, n);
    if (*sl)
        return *sl - 1;
    if (t->n + 2 > t->cap) {
        int64_t c = t->cap ? 2 * t->cap : 1024;
        size_t *o = realloc(t->off, (size_t)c * sizeof *o);
        if (!o)
            return -1;
        t->off = o;
        t->cap = c;
    }
    if (t->n == 0)
        t->off[0] = 0;
    if (rmens_text_append(&t->text, s, n))
        return -1;
    t->off[t->n + 1] = t->text.len;
    *sl = ++t->n;
    return t->n - 1;
}

void prompt_table_free(prompt_table *t)
{
    rmens_text_free(&t->text);
    free(t->off);
    free(t->slot);
}

/* ------------------------------------------------------ one record */

/* The prompt of a record: a string (HH transcript kept verbatim, else one Human turn) or
 * a list of messages, then the assistant header. */
rmens_status render_prompt_value(json_object *p, const char *where, rmens_text *P)
{
    rmens_status st = RMENS_OK;
    if (json_object_is_type(p, json_type_string)) {
        const char *s;
        size_t n;
        RMENS_TRY(rmens_json_string(p, "field \"prompt\"", where, &s, &n));
        return rmens_render_prompt(P, s, n) ? NOMEM(where) : RMENS_OK;
    }
    if (!json_object_is_type(p, json_type_array))
        return rmens_fail(RMENS_ERR_INPUT, "%s: field \"prompt\" is %s, expected a string or a list of "
                          "messages", where, rmens_json_type_name(p));
    if (rmens_json_render_messages(P, p, 0, where, "prompt", &st))
        return st;
    return rmens_text_append(P, RMENS_ASSISTANT_HEADER, strlen(RMENS_ASSISTANT_HEADER)) ? NOMEM(where)
                                                                                         : RMENS_OK;
}

/* Appends one response: a string (the assistant's content), a message, or a list of
 * messages whose first is the assistant's. *empty: its first content is empty. */
rmens_status render_response(json_object *v, const char *what, const char *where, rmens_text *t,
                                    int *empty)
{
    rmens_status st = RMENS_OK;
    *empty = 0;
    if (json_object_is_type(v, json_type_string)) {
        const char *s;
        size_t n;
        RMENS_TRY(rmens_json_string(v, what, where, &s, &n));
        *empty = n == 0;
        return rmens_render_content(t, s, n) ? NOMEM(where) : RMENS_OK;
    }
    json_object *m0 = v;
    if (json_object_is_type(v, json_type_array)) {
        if (json_object_array_length(v) == 0) {
            *empty = 1;
            return RMENS_OK;
        }
        m0 = json_object_array_get_idx(v, 0);
    }
    rmens_message first = {0};
    if ((st = rmens_json_message(m0, what, where, &first)) == RMENS_OK) {
        if (first.role != RMENS_ROLE_ASSISTANT)
            st = rmens_fail(RMENS_ERR_INPUT, "%s: %s must be an assistant message", where, what);
        else if (rmens_render_content(t, first.content.buf, first.content.len))
            st = NOMEM(where);
        *empty = first.content.len == 0;
    }
    rmens_text_free(&first.content);
    if (st == RMENS_OK && json_object_is_type(v, json_type_array))
        rmens_json_render_messages(t, v, 1, where, what, &st);
    return st;
}

/* The responses of one record, rendered whole into out[0..*n) (prompt included); the
 * prompt is the first *prompt_len bytes of each. Forms: {"prompt", "response"},
 * {"prompt", "responses": [...]}, and a conversation {"messages": [...]} (or ShareGPT's
 * "conversations") whose last message is the assistant's response. */
typedef struct {
    rmens_text *r;
    int *empty;
    size_t n, cap;
} rendered_set;

static rmens_status render_record(json_object *o, const char *where, rendered_set *out, size_t *prompt_len)
{
    rmens_status st = RMENS_OK;
    rmens_text P = {0};
    json_object *p, *resp, *conv;
    json_object *list = NULL;
    out->n = 0;
    if (!json_object_is_type(o, json_type_object))
        return rmens_fail(RMENS_ERR_INPUT, "%s: a record must be a JSON object, not %s", where,
                          rmens_json_type_name(o));
    int has_prompt = json_object_object_get_ex(o, "prompt", &p);
    if (has_prompt && json_object_object_get_ex(o, "responses", &resp)) {
        if (!json_object_is_type(resp, json_type_array))
            return rmens_fail(RMENS_ERR_INPUT, "%s: field \"responses\" is %s, expected a list of "
                              "responses", where, rmens_json_type_name(resp));
        list = resp;
    } else if (has_prompt && json_object_object_get_ex(o, "response", &resp)) {
        list = NULL;
    } else if (json_object_object_get_ex(o, "messages", &conv) ||
               json_object_object_get_ex(o, "conversations", &conv)) {
        size_t n = json_object_is_type(conv, json_type_array) ? json_object_array_length(conv) : 0;
        if (n < 2)
            return rmens_fail(RMENS_ERR_INPUT, "%s: a conversation needs a list of at least two messages "
                              "(a prompt and the assistant's response)", where);
        rmens_message last = {0};
        st = rmens_json_message(json_object_array_get_idx(conv, n - 1), "the last message", where, &last);
        int assistant = st == RMENS_OK && last.role == RMENS_ROLE_ASSISTANT;
        rmens_text_free(&last.content);
        if (st == RMENS_OK && !assistant)
            st = rmens_fail(RMENS_ERR_INPUT, "%s: the last message of the conversation must be the "
                            "assistant's response", where);
        json_object *head = json_object_new_array_ext((int)n - 1);
        for (size_t k = 0; head && k + 1 < n; k++)
            json_object_array_add(head, json_object_get(json_object_array_get_idx(conv, k)));
        if (!head)
            st = NOMEM(where);
        if (st == RMENS_OK && !rmens_json_render_messages(&P, head, 0, where, "message", &st) &&
            rmens_text_append(&P, RMENS_ASSISTANT_HEADER, strlen(RMENS_ASSISTANT_HEADER)))
            st = NOMEM(where);
        json_object_put(head);
        resp = json_object_array_get_idx(conv, n - 1);
        has_prompt = 0;
    } else {
        return rmens_fail(RMENS_ERR_INPUT, "%s: a responses record needs \"prompt\" with \"response\" or "
                          "\"responses\", or a conversation in \"messages\" or \"conversations\"", where);
    }
    if (st == RMENS_OK && has_prompt)
        st = render_prompt_value(p, where, &P);
    size_t count = list ? json_object_array_length(list) : 1;
    if (st == RMENS_OK && count == 0)
        st = rmens_fail(RMENS_ERR_INPUT, "%s: field \"responses\" is empty", where);
    if (st == RMENS_OK && count > out->cap) {
        rmens_text *r = realloc(out->r, count * sizeof *r);
        int *e = r ? realloc(out->empty, count * sizeof *e) : NULL;
        if (r) {
            memset(r + out->cap, 0, (count - out->cap) * sizeof *r);
            out->r = r;
        }
        if (e)
            out->empty = e;
        if (!r || !e)
            st = NOMEM(where);
        else
            out->cap = count;
    }
    for (size_t k = 0; st == RMENS_OK && k < count; k++) {
        char what[64];
        snprintf(what, sizeof what, list ? "response %zu" : "the response", k);
        out->r[k].len = 0;
        if (rmens_text_append(&out->r[k], P.buf, P.len))
            st = NOMEM(where);
        else
            st = render_response(list ? json_object_array_get_idx(list, k) : resp, what, where, &out->r[k],
                                 &out->empty[k]);
        out->n = k + 1;
    }
    *prompt_len = P.len;
    rmens_text_free(&P);
    return st;
}

/* --------------------------------------------------------------------- run */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

rmens_status rmens_prep_responses(const rmens_prep_options *o, rmens_prep_report *rep)
{
    memset(rep, 0, sizeof *rep);
    if (!o->input || !o->output)
        return rmens_fail(RMENS_ERR_ARG, "prep needs an input file and `output`");
    if (o->val_output)
        return rmens_fail(RMENS_ERR_ARG, "`val_output`: a responses file is not split (responses are scored, "
                          "not trained on)");
    if ((o->tokenizer && strcmp(o->tokenizer, "bytes") != 0) || (o->template_name && strcmp(o->template_name, "hh") != 0))
        return rmens_fail(RMENS_ERR_ARG, "`responses` renders with the HH template and the byte tokenizer only, "
                          "for now (--tokenizer/--template apply to pairs)");
    if (o->format != RMENS_PREP_AUTO || o->margin_field)
        return rmens_fail(RMENS_ERR_ARG, "`responses` reads its own forms (see rmens prep --help); "
                          "--format and --margin-field are for pairs");
    if (!o->overwrite && access(o->output, F_OK) == 0)
        return rmens_fail(RMENS_ERR_ARG, "%s already exists (set `force` to replace it)", o->output);
    double t0 = now();
    rmens_status st = RMENS_OK;
    rmens_records *in = NULL;
    rmens_dataset *ds = NULL;
    rendered_set set = {0};
    prompt_table prompts = {0};
    int32_t *tok = NULL;
    size_t tokcap = 0;

    if ((st = rmens_records_open(&in, o->input)) != RMENS_OK)
        goto exit;
    if ((st = rmens_dataset_new(&ds, RMENS_DATA_RESPONSES, RMENS_HAS_PROMPT | RMENS_HAS_SOURCE | RMENS_HAS_GROUP,
                                RMENS_BYTES_VOCAB, RMENS_BYTES_EOT, "bytes")) != RMENS_OK)
        goto exit;
    snprintf(ds->source, sizeof ds->source, "%s", o->input);
    for (;;) {
        json_object *rec;
        size_t plen = 0;
        st = rmens_prep_next(in, o, rep, &rec);
        const char *where = rmens_records_where(in);
        if (st != RMENS_OK || !rec)
            break;
        st = render_record(rec, where, &set, &plen);
        if (st == RMENS_ERR_INPUT && o->skip_bad) {
            rep->skipped[RMENS_SKIP_MALFORMED]++;
            st = RMENS_OK;
            continue;
        }
        if (st != RMENS_OK)
            break;
        if (plen > INT32_MAX) {
            st = rmens_fail(RMENS_ERR_INPUT, "%s: prompt longer than 2^31 bytes", where);
            break;
        }
        int64_t id = -1;
        for (size_t k = 0; k < set.n; k++) {
            const rmens_text *t = &set.r[k];
            if (set.empty[k] || t->len <= plen) {
                rep->skipped[RMENS_SKIP_EMPTY_RESPONSE]++;
                continue;
            }
            if (id < 0 && (id = rmens_prompt_table_id(&prompts, t->buf, plen)) < 0) {
                st = NOMEM(where);
                break;
            }
            if (rmens_utf8_valid_prefix(t->buf, t->len) != t->len && rep->invalid_utf8++ == 0)
                rep->first_invalid_utf8_line = rmens_records_index(in) + 1;
            if (t->len + 1 > tokcap) {
                int32_t *p = realloc(tok, (t->len + 1) * sizeof *tok);
                if (!p) {
                    st = NOMEM(where);
                    break;
                }
                tok = p;
                tokcap = t->len + 1;
            }
            rmens_record rr = {0};
            rr.tok[0] = tok;
            rr.len[0] = (int64_t)rmens_tokenize_bytes(tok, t->buf, t->len);
            rr.prompt_len = (int32_t)plen;
            rr.source_record = rmens_records_index(in);
            rr.prompt_id = id;
            if ((st = rmens_dataset_append(ds, &rr)) != RMENS_OK)
                break;
        }
        if (st != RMENS_OK)
            break;
    }
    if (st != RMENS_OK)
        goto exit;
    rep->input_bytes = rmens_records_bytes(in);
    if (ds->n == 0) {
        st = rmens_fail(RMENS_ERR_INPUT, "%s: no usable responses (%lld records read, all skipped): "
                        "nothing written", o->input, (long long)rep->records_read);
        goto exit;
    }
    if ((st = rmens_dataset_write(ds, o->output)) != RMENS_OK)
        goto exit;
    rep->pairs_written = ds->n;
    rep->prompts_written = prompts.n;
    st = rmens_dataset_stats_compute(ds, &rep->stats);
    rep->seconds = now() - t0;
exit:
    free(tok);
    for (size_t k = 0; k < set.cap; k++)
        rmens_text_free(&set.r[k]);
    free(set.r);
    free(set.empty);
    prompt_table_free(&prompts);
    rmens_dataset_free(ds);
    rmens_records_close(in);
    return st;
}

void rmens_prep_responses_report_print(FILE *f, const rmens_prep_options *o, const rmens_prep_report *rep)
{
    const rmens_dataset_stats *s = &rep->stats;
    fprintf(f, "prep: %s -> %s (responses)\n", o->input, o->output);
    fprintf(f, "  records read      %lld\n", (long long)rep->records_read);
    fprintf(f, "  responses written %lld to %lld prompts (/prompt_id)\n", (long long)rep->pairs_written,
            (long long)rep->prompts_written);
    for (int k = 0; k < RMENS_SKIP_NREASONS; k++)
        if (rep->skipped[k])
            fprintf(f, "  skipped           %lld (%s)\n", (long long)rep->skipped[k], rmens_prep_skip_reason(k));
    if (rep->invalid_utf8)
        fprintf(f, "  warning: %lld responses are not valid UTF-8 (first at %s, record %lld, 1-based); the byte "
                "tokenizer keeps their bytes as they are\n", (long long)rep->invalid_utf8, o->input,
                (long long)rep->first_invalid_utf8_line);
    fprintf(f, "  tokens/sequence   median %lld, p90 %lld, max %lld (end-of-text included)\n",
            (long long)s->len_median, (long long)s->len_p90, (long long)s->len_max);
    double mb = (double)rep->input_bytes / 1e6;
    fprintf(f, "  time              %.3f s for %.2f MB of JSON\n", rep->seconds, mb);
}
