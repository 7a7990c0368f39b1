/* rmens prep --steps: process supervision (a label per reasoning step) -> a steps file
 * (docs/FORMAT.md, "steps" files). Three inputs: TRL's PRM format, Math-Shepherd and
 * PRM800K's phase files, each read into one solution (prompt, steps, labels), then
 * rendered and tokenized as TRL's PRMTrainer does: each step and its separator tokenized
 * on their own, the step's label on the separator's last token. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/hash.h"
#include "base/rng.h"
#include "io/dataset.h"
#include "io/h5.h"
#include "io/output.h"
#include "io/prep_formats.h"
#include "io/prep_json.h"
#include "io/prep_steps.h"
#include "io/records.h"
#include "io/render.h"
#include "io/stage.h"
#include "text/template.h"
#include "text/tokenizer.h"

#define NOMEM(where) rmens_fail(RMENS_ERR_NOMEM, "%s: out of memory", where)

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Appends step s[0..n) with its label; an empty (or all-blank) step is refused. */
rmens_status rmens_solution_add_step(rmens_solution *sol, const char *s, size_t n, float label, const char *where, const char *what,
                             size_t k)
{
    size_t blank = 0;
    while (blank < n && is_ws(s[blank]))
        blank++;
    if (blank == n)
        return rmens_fail(RMENS_ERR_INPUT, "%s: %s: step %zu is empty", where, what, k + 1);
    if (sol->n + 2 > sol->cap) {
        size_t c = sol->cap ? 2 * sol->cap : 16;
        size_t *o = realloc(sol->off, c * sizeof *o);
        if (o)
            sol->off = o;
        float *l = o ? realloc(sol->label, c * sizeof *l) : NULL;
        if (!l)
            return NOMEM(where);
        sol->label = l;
        sol->cap = c;
    }
    if (sol->n == 0)
        sol->off[0] = 0;
    if (rmens_text_append(&sol->steps, s, n))
        return NOMEM(where);
    sol->label[sol->n] = label;
    sol->off[++sol->n] = sol->steps.len;
    return RMENS_OK;
}

/* TRL: {"prompt": str | messages, "completions": [str, ...], "labels": [bool, ...]};
 * a label may also be a number in [0, 1] (soft) or null (unlabelled). */
static rmens_status read_trl(json_object *o, const char *where, rmens_solution *sol)
{
    json_object *p, *c, *l;
    RMENS_TRY(rmens_json_field(o, "prompt", where, &p));
    RMENS_TRY(rmens_json_render_prompt(p, where, &sol->prompt));
    RMENS_TRY(rmens_json_field(o, "completions", where, &c));
    RMENS_TRY(rmens_json_field(o, "labels", where, &l));
    if (!json_object_is_type(c, json_type_array) || !json_object_is_type(l, json_type_array))
        return rmens_fail(RMENS_ERR_INPUT, "%s: field \"%s\" is %s, expected a list", where,
                          json_object_is_type(c, json_type_array) ? "labels" : "completions",
                          rmens_json_type_name(json_object_is_type(c, json_type_array) ? l : c));
    size_t n = json_object_array_length(c);
    if (n == 0)
        return rmens_fail(RMENS_ERR_INPUT, "%s: field \"completions\" is empty: a solution has at least one step", where);
    if (json_object_array_length(l) != n)
        return rmens_fail(RMENS_ERR_INPUT, "%s: field \"labels\" has %zu entries, \"completions\" %zu steps: one label "
                          "per step", where, json_object_array_length(l), n);
    for (size_t k = 0; k < n; k++) {
        json_object *v = json_object_array_get_idx(l, k);
        float y;
        if (!v)
            y = RMENS_STEP_UNLABELLED;
        else if (json_object_is_type(v, json_type_boolean))
            y = json_object_get_boolean(v) ? 1.0f : 0.0f;
        else if ((json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)) &&
                 json_object_get_double(v) >= 0 && json_object_get_double(v) <= 1)
            y = (float)json_object_get_double(v);
        else
            return rmens_fail(RMENS_ERR_INPUT, "%s: field \"labels\"[%zu] is %s%s, expected true/false, a number in "
                              "[0, 1] or null", where, k, rmens_json_type_name(v),
                              json_object_is_type(v, json_type_string) ? "" : " out of range");
        const char *s;
        size_t sn;
        char what[48];
        snprintf(what, sizeof what, "field \"completions\"[%zu]", k);
        RMENS_TRY(rmens_json_string(json_object_array_get_idx(c, k), what, where, &s, &sn));
        RMENS_TRY(rmens_solution_add_step(sol, s, sn, y, where, "field \"completions\"", k));
    }
    return RMENS_OK;
}

/* Math-Shepherd: "input" is the question then the steps, each ending with the tag "ки";
 * "label" is the same text with "+" (correct) or "-" (wrong) in place of each tag. The
 * question ends where "Step 1:" (or "step 1:") begins, as TRL's converter splits it; the
 * steps are the texts between tags, trimmed. */
#define SHEPHERD_TAG "\xd0\xba\xd0\xb8"  /* "ки", U+043A U+0438 */
static rmens_status read_shepherd(json_object *o, const char *where, rmens_solution *sol)
{
    const char *in, *lab;
    size_t n, ln;
    json_object *v;
    RMENS_TRY(rmens_json_field(o, "input", where, &v));
    RMENS_TRY(rmens_json_string(v, "field \"input\"", where, &in, &n));
    RMENS_TRY(rmens_json_field(o, "label", where, &v));
    RMENS_TRY(rmens_json_string(v, "field \"label\"", where, &lab, &ln));
    const size_t tl = strlen(SHEPHERD_TAG);
    /* Tags and labels found walking both texts together: they must match elsewhere. */
    size_t i = 0, j = 0, ntag = 0, seg = 0, first_end = 0;
    const char *prompt_end = NULL;
    while (i < n) {
        if (i + tl <= n && memcmp(in + i, SHEPHERD_TAG, tl) == 0) {
            if (j >= ln || (lab[j] != '+' && lab[j] != '-'))
                return rmens_fail(RMENS_ERR_INPUT, "%s: field \"label\" has %s where \"input\" has step tag %zu (byte "
                                  "%zu): expected '+' or '-'", where, j < ln ? "another character" : "nothing",
                                  ntag + 1, i);
            const char *s = in + seg;
            size_t sn = i - seg;
            if (ntag == 0) {  /* the question and the first step */
                const char *a = NULL;
                for (size_t k = 0; k + 7 <= sn && !a; k++)
                    if (memcmp(s + k, "Step 1:", 7) == 0 || memcmp(s + k, "step 1:", 7) == 0)
                        a = s + k;
                if (!a)
                    return rmens_fail(RMENS_ERR_INPUT, "%s: field \"input\": no \"Step 1:\" before the first step tag: "
                                      "cannot tell the question from the first step", where);
                prompt_end = a;
                first_end = (size_t)(a - in);
                sn -= (size_t)(a - s);
                s = a;
            }
            while (sn && is_ws(*s))
                s++, sn--;
            while (sn && is_ws(s[sn - 1]))
                sn--;
            RMENS_TRY(rmens_solution_add_step(sol, s, sn, lab[j] == '+' ? 1.0f : 0.0f, where, "field \"input\"", ntag));
            ntag++;
            i += tl;
            j++;
            seg = i;
            continue;
        }
        if (j >= ln || in[i] != lab[j])
            return rmens_fail(RMENS_ERR_INPUT, "%s: fields \"input\" and \"label\" differ at byte %zu of \"input\" "
                              "(outside the step tags they are the same text)", where, i);
        i++;
        j++;
    }
    if (j != ln)
        return rmens_fail(RMENS_ERR_INPUT, "%s: field \"label\" is longer than \"input\" (%zu bytes left over)", where,
                          ln - j);
    if (ntag == 0)
        return rmens_fail(RMENS_ERR_INPUT, "%s: field \"input\" has no step tag \"ки\": no labelled step", where);
    for (size_t k = seg; k < n; k++)
        if (!is_ws(in[k]))
            return rmens_fail(RMENS_ERR_INPUT, "%s: field \"input\" has text after its last step tag (byte %zu): a step "
                              "without a label", where, k);
    size_t pn = first_end;
    while (pn && is_ws(in[pn - 1]))
        pn--;
    size_t p0 = 0;
    while (p0 < pn && is_ws(in[p0]))
        p0++;
    (void)prompt_end;
    if (p0 == pn)
        return rmens_fail(RMENS_ERR_INPUT, "%s: field \"input\": the question before \"Step 1:\" is empty", where);
    return rmens_render_prompt(&sol->prompt, in + p0, pn - p0) ? NOMEM(where) : RMENS_OK;
}

/* PRM800K phase files: {"question": {"problem"}, "label": {"steps": [{"completions":
 * [{"text", "rating"}], "chosen_completion", "human_completion"}]}}. Each step is its
 * chosen completion; a step without one (where the labeler stopped) is its only
 * completion, or the first rated -1, and ends the solution; a human-written step carries
 * no rating and stays unlabelled. Ratings: 1 -> 1, -1 -> 0, 0 -> `neutral` (NaN:
 * unlabelled). */
static rmens_status read_prm800k(json_object *o, const char *where, double neutral, rmens_solution *sol)
{
    json_object *q, *p, *label, *steps;
    RMENS_TRY(rmens_json_field(o, "question", where, &q));
    if (!json_object_is_type(q, json_type_object))
        return rmens_fail(RMENS_ERR_INPUT, "%s: field \"question\" is %s, expected an object", where,
                          rmens_json_type_name(q));
    RMENS_TRY(rmens_json_field(q, "problem", where, &p));
    const char *ps;
    size_t pn;
    RMENS_TRY(rmens_json_string(p, "field \"question.problem\"", where, &ps, &pn));
    if (rmens_render_prompt(&sol->prompt, ps, pn))
        return NOMEM(where);
    RMENS_TRY(rmens_json_field(o, "label", where, &label));
    if (!json_object_is_type(label, json_type_object))
        return rmens_fail(RMENS_ERR_INPUT, "%s: field \"label\" is %s, expected an object", where,
                          rmens_json_type_name(label));
    RMENS_TRY(rmens_json_field(label, "steps", where, &steps));
    if (!json_object_is_type(steps, json_type_array) || json_object_array_length(steps) == 0)
        return rmens_fail(RMENS_ERR_INPUT, "%s: field \"label.steps\" is %s, expected a non-empty list", where,
                          json_object_is_type(steps, json_type_array) ? "empty" : rmens_json_type_name(steps));
    size_t ns = json_object_array_length(steps);
    for (size_t k = 0; k < ns; k++) {
        char at[96];
        snprintf(at, sizeof at, "label.steps[%zu]", k);
        json_object *st = json_object_array_get_idx(steps, k), *comps = NULL, *chosen = NULL, *human = NULL, *pick = NULL;
        if (!json_object_is_type(st, json_type_object))
            return rmens_fail(RMENS_ERR_INPUT, "%s: field \"%s\" is %s, expected an object", where, at,
                              rmens_json_type_name(st));
        RMENS_TRY(rmens_json_field(st, "completions", where, &comps));
        json_object_object_get_ex(st, "chosen_completion", &chosen);
        json_object_object_get_ex(st, "human_completion", &human);
        size_t nc = json_object_is_type(comps, json_type_array) ? json_object_array_length(comps) : 0;
        int last = 0;
        if (chosen && json_object_is_type(chosen, json_type_int)) {
            int64_t c = json_object_get_int64(chosen);
            if (c < 0 || (size_t)c >= nc)
                return rmens_fail(RMENS_ERR_INPUT, "%s: field \"%s.chosen_completion\" = %lld is not one of its %zu "
                                  "completions", where, at, (long long)c, nc);
            pick = json_object_array_get_idx(comps, (size_t)c);
        } else if (human && json_object_is_type(human, json_type_object)) {
            pick = human;
        } else if (nc == 1) {
            pick = json_object_array_get_idx(comps, 0);
            last = 1;
        } else {
            for (size_t c = 0; c < nc && !pick; c++) {
                json_object *r, *cc = json_object_array_get_idx(comps, c);
                if (json_object_object_get_ex(cc, "rating", &r) && json_object_is_type(r, json_type_int) &&
                    json_object_get_int(r) == -1)
                    pick = cc;
            }
            last = 1;
            if (!pick)
                return rmens_fail(RMENS_ERR_INPUT, "%s: field \"%s\": %zu completions, none chosen and none rated -1: "
                                  "which one continues the solution?", where, at, nc);
        }
        if (!json_object_is_type(pick, json_type_object))
            return rmens_fail(RMENS_ERR_INPUT, "%s: field \"%s\": the completion is %s, expected an object", where, at,
                              rmens_json_type_name(pick));
        json_object *text, *rating = NULL;
        RMENS_TRY(rmens_json_field(pick, "text", where, &text));
        const char *s;
        size_t sn;
        char what[128];
        snprintf(what, sizeof what, "field \"%s\" text", at);
        RMENS_TRY(rmens_json_string(text, what, where, &s, &sn));
        float y = RMENS_STEP_UNLABELLED;
        json_object_object_get_ex(pick, "rating", &rating);
        if (pick != human) {
            if (!rating)
                return rmens_fail(RMENS_ERR_INPUT, "%s: field \"%s\": the completion has no rating (labels are "
                                  "required)", where, at);
            if (!json_object_is_type(rating, json_type_int) || json_object_get_int64(rating) < -1 ||
                json_object_get_int64(rating) > 1)
                return rmens_fail(RMENS_ERR_INPUT, "%s: field \"%s\": rating %s is not -1, 0 or 1", where, at,
                                  json_object_to_json_string(rating));
            int r = json_object_get_int(rating);
            y = r == 1 ? 1.0f : r == -1 ? 0.0f : isnan(neutral) ? RMENS_STEP_UNLABELLED : (float)neutral;
        }
        RMENS_TRY(rmens_solution_add_step(sol, s, sn, y, where, "field \"label.steps\"", k));
        if (last)
            break;
    }
    return RMENS_OK;
}

/* ----------------------------------------------------------- tokenizing */

typedef struct {
    const rmens_prep_options *o;
    rmens_prep_report *rep;
    rmens_records *in;
    rmens_dataset *ds[2];
    rmens_prompt_table prompts;
    rmens_prep_format fmt;
    rmens_step_encoder enc;
    rmens_solution sol;
} steps_run;

void rmens_solution_clear(rmens_solution *sol)
{
    sol->prompt.len = sol->steps.len = 0;
    sol->n = 0;
}

void rmens_solution_free(rmens_solution *sol)
{
    rmens_text_free(&sol->prompt);
    rmens_text_free(&sol->steps);
    free(sol->off);
    free(sol->label);
    memset(sol, 0, sizeof *sol);
}

rmens_status rmens_solution_split(rmens_solution *sol, const char *text, size_t n, const char *sep, const char *where,
                                  const char *what)
{
    const size_t sl = strlen(sep);
    size_t at = 0, k = 0;
    if (sl == 0)
        return rmens_fail(RMENS_ERR_ARG, "the step separator is empty");
    while (at < n) {
        const char *hit = NULL;
        for (size_t i = at; i + sl <= n && !hit; i++)
            if (memcmp(text + i, sep, sl) == 0)
                hit = text + i;
        size_t len = hit ? (size_t)(hit - text) - at : n - at;
        RMENS_TRY(rmens_solution_add_step(sol, text + at, len, RMENS_STEP_UNLABELLED, where, what, k++));
        at += len + (hit ? sl : 0);
    }
    if (k == 0)
        return rmens_fail(RMENS_ERR_INPUT, "%s: %s is empty: a solution has at least one step", where, what);
    return RMENS_OK;
}

void rmens_step_encoder_free(rmens_step_encoder *e)
{
    rmens_text_free(&e->hh);
    rmens_text_free(&e->rendered);
    rmens_ids_free(&e->ids);
    free(e->ends);
    e->ends = NULL;
    e->ends_cap = 0;
}

rmens_status rmens_steps_encode(rmens_step_encoder *e, const char *R, size_t pos, const rmens_solution *s,
                                const char *tail, size_t tail_n, int append, const char *where)
{
    const size_t sl = strlen(e->sep);
    e->ids.n = 0;
    if (s->n > e->ends_cap) {
        int32_t *p = realloc(e->ends, s->n * sizeof *p);
        if (!p)
            return NOMEM(where);
        e->ends = p;
        e->ends_cap = s->n;
    }
    rmens_status st = rmens_tokenizer_encode_append(e->tk, R, pos, 0, &e->ids);
    e->prompt_len = (int32_t)e->ids.n;
    for (size_t k = 0; k < s->n && st == RMENS_OK; k++) {
        st = rmens_tokenizer_encode_append(e->tk, s->steps.buf + s->off[k], s->off[k + 1] - s->off[k], 0, &e->ids);
        if (st == RMENS_OK)
            st = rmens_tokenizer_encode_append(e->tk, e->sep, sl, 0, &e->ids);
        e->ends[k] = (int32_t)e->ids.n;
    }
    if (st == RMENS_OK)
        st = rmens_tokenizer_encode_append(e->tk, tail, tail_n, 0, &e->ids);
    if (st == RMENS_OK && append && rmens_ids_push(&e->ids, e->end))
        return NOMEM(where);
    if (st != RMENS_OK)
        return rmens_fail_context(st, "%s: ", where);
    if (e->ids.n == 0 || e->ids.v[e->ids.n - 1] != e->end)
        return rmens_fail(RMENS_ERR_INPUT, "%s: the rendered solution does not end with the end token %d", where, e->end);
    if (e->ids.n > INT32_MAX)
        return rmens_fail(RMENS_ERR_INPUT, "%s: solution longer than 2^31 tokens", where);
    return RMENS_OK;
}

rmens_status rmens_steps_tokenize(rmens_step_encoder *e, const rmens_solution *s, const char *where)
{
    const size_t sl = strlen(e->sep);
    e->hh.len = 0;
    int rc = rmens_text_append(&e->hh, s->prompt.buf, s->prompt.len);
    if (s->n == 0)
        return rmens_fail(RMENS_ERR_INPUT, "%s: a solution has at least one step", where);
    if (!is_ws(s->steps.buf[0]))
        rc |= rmens_text_append(&e->hh, " ", 1);  /* as io/render.c puts a response after its header */
    const size_t first = e->hh.len;  /* where the steps start in hh */
    for (size_t k = 0; k < s->n; k++)
        rc |= rmens_text_append(&e->hh, s->steps.buf + s->off[k], s->off[k + 1] - s->off[k]) |
              rmens_text_append(&e->hh, e->sep, sl);
    if (rc || rmens_template_render(e->tpl, e->hh.buf, e->hh.len, &e->rendered))
        return NOMEM(where);
    /* The steps, as one text, in the rendered conversation: its last occurrence. */
    const char *J = e->hh.buf + first, *R = e->rendered.buf;
    size_t jn = e->hh.len - first, rn = e->rendered.len, pos = SIZE_MAX;
    for (size_t k = rn >= jn ? rn - jn + 1 : 0; k-- > 0;)
        if (memcmp(R + k, J, jn) == 0) {
            pos = k;
            break;
        }
    if (pos == SIZE_MAX)
        return rmens_fail(RMENS_ERR_INPUT, "%s: template %s changes the solution's text (llama3 trims the separator "
                          "after the last step): use hh, chatml or plain", where, rmens_template_name(e->tpl));
    return rmens_steps_encode(e, R, pos, s, R + pos + jn, rn - pos - jn, e->append, where);
}

/* ------------------------------------------------------------------ run */

static rmens_status open_run(steps_run *r)
{
    const rmens_prep_options *o = r->o;
    r->enc.tpl = RMENS_TEMPLATE_HH;
    r->enc.sep = o->step_separator;
    if (o->format != RMENS_PREP_AUTO && o->format < RMENS_PREP_TRL_PRM)
        return rmens_fail(RMENS_ERR_ARG, "`steps` reads trl-prm, math-shepherd or prm800k, not format %s",
                          rmens_prep_format_name(o->format));
    if (!o->step_separator || !o->step_separator[0])
        return rmens_fail(RMENS_ERR_ARG, "`step_separator` is not set");
    if (strlen(o->step_separator) >= RMENS_STEP_SEP_MAX)
        return rmens_fail(RMENS_ERR_ARG, "`step_separator` is %zu bytes long; at most %d", strlen(o->step_separator),
                          RMENS_STEP_SEP_MAX - 1);
    if (!(isnan(o->prm800k_neutral) || (o->prm800k_neutral >= 0 && o->prm800k_neutral <= 1)))
        return rmens_fail(RMENS_ERR_ARG, "`prm800k_neutral` must be in [0, 1] (or NaN: unlabelled), got %g",
                          o->prm800k_neutral);
    if (o->margin_field)
        return rmens_fail(RMENS_ERR_ARG, "`margin_field` is for pairs; a steps file has labels, not margins");
    if (o->template_name && (int)(r->enc.tpl = (rmens_template)rmens_template_from_name(o->template_name)) < 0)
        return rmens_fail(RMENS_ERR_ARG, "unknown template \"%s\" (hh, chatml, llama3, plain, auto)", o->template_name);
    RMENS_TRY(!o->tokenizer || strcmp(o->tokenizer, "bytes") == 0 ? rmens_tokenizer_bytes(&r->enc.tk)
                                                                  : rmens_tokenizer_load(&r->enc.tk, o->tokenizer));
    RMENS_TRY(rmens_template_resolve(&r->enc.tpl, r->enc.tk, &r->enc.end, &r->enc.append));
    for (int k = 0; k < (o->val_output ? 2 : 1); k++) {
        RMENS_TRY(rmens_prep_dataset_new(&r->ds[k], RMENS_DATA_STEPS, RMENS_HAS_SOURCE | RMENS_HAS_GROUP, r->enc.tk,
                                         r->enc.end, rmens_template_name(r->enc.tpl), o->input));
        snprintf(r->ds[k]->step_separator, sizeof r->ds[k]->step_separator, "%s", o->step_separator);
    }
    return rmens_records_open(&r->in, o->input);
}

/* One record: read in its format, tokenized, appended to its split (by its prompt's hash,
 * so the solutions of a problem stay together). */
static rmens_status one_record(steps_run *r, json_object *rec, const char *where)
{
    const rmens_prep_options *o = r->o;
    rmens_prep_format f = o->format;
    if (f == RMENS_PREP_AUTO) {
        RMENS_TRY(rmens_prep_detect(rec, where, &f));
        if (f < RMENS_PREP_TRL_PRM)
            return rmens_fail(RMENS_ERR_INPUT, "%s: a %s record is not process supervision (--steps reads trl-prm, "
                              "math-shepherd, prm800k)", where, rmens_prep_format_name(f));
        if (r->fmt == RMENS_PREP_AUTO)
            r->fmt = r->rep->format = f;
        else if (f != r->fmt)
            return rmens_fail(RMENS_ERR_INPUT, "%s: record looks like format \"%s\" but the file began as \"%s\" (set "
                              "`format` to force one)", where, rmens_prep_format_name(f), rmens_prep_format_name(r->fmt));
    } else if (!json_object_is_type(rec, json_type_object)) {
        return rmens_fail(RMENS_ERR_INPUT, "%s: a record must be a JSON object, not %s", where,
                          rmens_json_type_name(rec));
    } else {
        r->fmt = r->rep->format = f;
    }
    rmens_solution *s = &r->sol;
    rmens_solution_clear(s);
    RMENS_TRY(f == RMENS_PREP_TRL_PRM ? read_trl(rec, where, s)
              : f == RMENS_PREP_MATH_SHEPHERD ? read_shepherd(rec, where, s)
                                              : read_prm800k(rec, where, o->prm800k_neutral, s));
    rmens_record rr = {0};
    RMENS_TRY(rmens_steps_tokenize(&r->enc, s, where));
    rr.prompt_len = r->enc.prompt_len;
    int split = 0;
    if (o->val_output) {
        uint64_t u = rmens_mix64(rmens_fnv1a(s->prompt.buf, s->prompt.len) ^ rmens_mix64(o->seed));
        split = (double)(u >> 11) * 0x1.0p-53 < o->val_fraction;
    }
    rmens_dataset *ds = r->ds[split];
    int64_t id = rmens_prompt_table_id(&r->prompts, s->prompt.buf, s->prompt.len);
    if (id < 0)
        return NOMEM(where);
    /* Ids number each file's prompts from 0 in order of appearance (rule 6: < N). */
    rr.prompt_id = id;
    rr.tok[0] = r->enc.ids.v;
    rr.len[0] = (int64_t)r->enc.ids.n;
    rr.source_record = rmens_records_index(r->in);
    rr.step_end[0] = r->enc.ends;
    rr.step_target = s->label;
    rr.nsteps[0] = (int64_t)s->n;
    RMENS_TRY(rmens_dataset_append(ds, &rr));
    return RMENS_OK;
}

/* Prompt ids were drawn over both splits: renumber each file's from 0 (first seen first). */
static rmens_status renumber(rmens_dataset *ds, int64_t nprompts)
{
    int64_t *seen = malloc((size_t)(nprompts > 0 ? nprompts : 1) * sizeof *seen), next = 0;
    if (!seen)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    for (int64_t k = 0; k < nprompts; k++)
        seen[k] = -1;
    for (int64_t i = 0; i < ds->n; i++) {
        int64_t *m = &seen[ds->prompt_id[i]];
        if (*m < 0)
            *m = next++;
        ds->prompt_id[i] = *m;
    }
    free(seen);
    return RMENS_OK;
}

/* Reached through rmens_prep, which checked the options and the outputs. */
rmens_status rmens_prep_steps(const rmens_prep_options *o, rmens_prep_report *rep)
{
    double t0 = rmens_now();
    steps_run r = {.o = o, .rep = rep, .fmt = RMENS_PREP_AUTO};
    rmens_status st = open_run(&r);
    for (;;) {
        json_object *rec;
        if (st == RMENS_OK)
            st = rmens_prep_next(r.in, o, rep, &rec);
        if (st != RMENS_OK || !rec)
            break;
        st = one_record(&r, rec, rmens_records_where(r.in));
        if (st == RMENS_ERR_INPUT && o->skip_bad) {
            rep->skipped[RMENS_SKIP_MALFORMED]++;
            st = RMENS_OK;
        }
    }
    const int n = o->val_output ? 2 : 1;
    if (st == RMENS_OK) {
        rep->input_bytes = rmens_records_bytes(r.in);
        if (r.ds[0]->n == 0 || (n == 2 && r.ds[1]->n == 0))
            st = rmens_fail(RMENS_ERR_INPUT, "%s: %s (%lld records read): nothing written", o->input,
                            r.ds[0]->n == 0 ? "no usable solutions" : "the validation split is empty",
                            (long long)rep->records_read);
    }
    for (int k = 0; k < n && st == RMENS_OK; k++)
        st = renumber(r.ds[k], r.prompts.n);
    hid_t files[2] = {-1, -1};
    const char *paths[2] = {o->output, o->val_output};
    for (int k = 0; k < n && st == RMENS_OK; k++)
        st = rmens_dataset_build(r.ds[k], paths[k], &files[k]);
    if (st == RMENS_OK)
        st = rmens_stage_finish(files, paths, n);
    for (int k = 0; k < n && st != RMENS_OK; k++)
        rmens_h5_close(files[k]);
    if (st == RMENS_OK) {
        rep->pairs_written = r.ds[0]->n;
        rep->val_pairs_written = n == 2 ? r.ds[1]->n : 0;
        rep->prompts_written = r.ds[0]->side[0].nsteps;  /* steps, for the report */
        st = rmens_dataset_stats_compute(r.ds[0], &rep->stats);
        rep->seconds = rmens_now() - t0;
    }
    for (int k = 0; k < 2; k++)
        rmens_dataset_free(r.ds[k]);
    rmens_records_close(r.in);
    rmens_tokenizer_free(r.enc.tk);
    rmens_prompt_table_free(&r.prompts);
    rmens_solution_free(&r.sol);
    rmens_step_encoder_free(&r.enc);
    return st;
}

void rmens_prep_steps_report_print(FILE *f, const rmens_prep_options *o, const rmens_prep_report *rep)
{
    const rmens_dataset_stats *s = &rep->stats;
    fprintf(f, "prep: %s -> %s (format %s, steps file)\n", o->input, o->output, rmens_prep_format_name(rep->format));
    fprintf(f, "  records read      %lld\n", (long long)rep->records_read);
    fprintf(f, "  solutions written %lld", (long long)rep->pairs_written);
    if (o->val_output)
        fprintf(f, " (+ %lld to %s)", (long long)rep->val_pairs_written, o->val_output);
    fprintf(f, ", %lld steps\n", (long long)rep->prompts_written);
    if (rep->skipped[RMENS_SKIP_MALFORMED])
        fprintf(f, "  skipped           %lld (%s)\n", (long long)rep->skipped[RMENS_SKIP_MALFORMED],
                rmens_prep_skip_reason(RMENS_SKIP_MALFORMED));
    fprintf(f, "  tokens/sequence   median %lld, p90 %lld, max %lld (end-of-text included)\n",
            (long long)s->len_median, (long long)s->len_p90, (long long)s->len_max);
    fprintf(f, "  time              %.3f s\n", rep->seconds);
}
