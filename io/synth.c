/* rmens synth: synthetic preference tasks with a known gold reward for every response.
 *
 * Every prompt is "\n\nHuman: <question>\n\nAssistant:" and every response " <answer>",
 * the template rmens prep renders real data with. The chosen response is correct and the
 * rejected one wrong. Trap pairs dress the wrong answer up (longer, markdown, confident)
 * so that length and formatting bias can be measured; ordinary pairs sometimes dress both
 * sides alike, so that dressing alone predicts nothing. Train and test prompts are
 * disjoint by construction: a question's split is fixed by a hash of its text. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/hash.h"
#include "base/rng.h"
#include "comm/memory.h"
#include "io/dataset.h"
#include "io/render.h"

#define MAX_NUMS 8
#define MAX_STEPS MAX_NUMS  /* the steps task has MAX_NUMS - 1; a sort answer in steps MAX_NUMS */
/* Share of ordinary pairs whose two responses get the same dressing. */
#define BOTH_DRESSED 0.2

static const char *const task_names[] = {"sort", "add", "steps"};

void rmens_synth_options_init(rmens_synth_options *o)
{
    memset(o, 0, sizeof *o);
    o->task = RMENS_TASK_SORT;
    o->split = RMENS_SPLIT_TRAIN;
    o->n = 4000;
    o->seed = 1;
    o->trap_fraction = 0.15;
}

const char *rmens_task_name(rmens_task t)
{
    return (unsigned)t < sizeof task_names / sizeof *task_names ? task_names[t] : "?";
}

int rmens_task_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof task_names / sizeof *task_names; i++)
        if (strcmp(name, task_names[i]) == 0)
            return (int)i;
    return -1;
}

/* ----------------------------------------------------------------- parsing */

/* Reads the non-negative integers of s in order; returns how many (at most max). */
static int numbers(const char *s, size_t n, int *out, int max)
{
    int k = 0;
    for (size_t i = 0; i < n && k < max;) {
        if (!isdigit((unsigned char)s[i])) {
            i++;
            continue;
        }
        long v = 0;
        while (i < n && isdigit((unsigned char)s[i]) && v < 100000000)
            v = v * 10 + (s[i++] - '0');
        out[k++] = (int)v;
    }
    return k;
}

/* The question's numbers: what follows "Human:" in the prompt. */
static int question_numbers(const char *p, size_t n, int *out, int max)
{
    const char *h = NULL;
    for (size_t i = 0; i + 6 <= n; i++)
        if (memcmp(p + i, "Human:", 6) == 0)
            h = p + i;
    if (!h)
        return 0;
    return numbers(h, n - (size_t)(h - p), out, max);
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* Per-step correctness of a "steps" response: step j ("a+b=c") is right when c is the
 * true running sum after j + 1 additions. Returns the number of steps found. */
static int step_labels(const int *q, int nq, const char *r, size_t rn, int8_t *label)
{
    int found = 0, sum = q[0];
    for (size_t i = 0; i < rn && found < nq - 1; i++) {
        if (r[i] != '=')
            continue;
        int c;
        if (numbers(r + i, rn - i, &c, 1) != 1)
            break;
        sum += q[found + 1];
        label[found++] = (int8_t)(c == sum);
    }
    return found;
}

/* Per-step correctness of a sort answer written a digit per step: step k is right when
 * its digit is the k-th smallest of the question's. */
static void sort_labels(const int *q, int nq, const char *ans, int8_t *label)
{
    int s[MAX_NUMS], a[MAX_NUMS];
    memcpy(s, q, (size_t)nq * sizeof *s);
    qsort(s, (size_t)nq, sizeof *s, cmp_int);
    int na = numbers(ans, strlen(ans), a, MAX_NUMS);
    for (int k = 0; k < nq; k++)
        label[k] = (int8_t)(k < na && a[k] == s[k]);
}

double rmens_synth_gold(rmens_task task, const char *prompt, size_t plen, const char *resp, size_t rlen)
{
    int q[MAX_NUMS + 1], a[64];
    int nq = question_numbers(prompt, plen, q, MAX_NUMS + 1);
    if (nq < 2 || nq > MAX_NUMS)
        return -1;
    switch (task) {
    case RMENS_TASK_SORT: {
        int na = numbers(resp, rlen, a, 64), hit = 0;
        qsort(q, (size_t)nq, sizeof *q, cmp_int);
        for (int i = 0; i < nq && i < na; i++)
            hit += a[i] == q[i];
        return (double)hit / nq;
    }
    case RMENS_TASK_ADD: {
        if (numbers(resp, rlen, a, 1) != 1)
            return 0;
        int err = abs(a[0] - (q[0] + q[1]));
        return 1.0 / (1.0 + err);
    }
    case RMENS_TASK_STEPS: {
        int8_t lab[MAX_STEPS];
        int ns = step_labels(q, nq, resp, rlen, lab), good = 0;
        for (int j = 0; j < ns; j++)
            good += lab[j];
        return (double)good / (nq - 1);
    }
    }
    return -1;
}

/* --------------------------------------------------------------- problems */

typedef struct {
    char question[96];
    int q[MAX_NUMS], nq;
    char right[160], wrong[160];  /* answers, steps separated by '\n' */
} problem;

static int digits(rmens_rng *g, int *q, int lo, int hi)
{
    int k = lo + (int)rmens_rng_below(g, (uint64_t)(hi - lo + 1));
    for (int i = 0; i < k; i++)
        q[i] = (int)rmens_rng_below(g, 10);
    return k;
}

static void list_text(char *out, size_t size, const int *v, int n)
{
    size_t at = 0;
    out[0] = '\0';
    for (int i = 0; i < n && at < size; i++)
        at += (size_t)snprintf(out + at, size - at, i ? " %d" : "%d", v[i]);
}

static int all_same(const int *v, int n)
{
    for (int i = 1; i < n; i++)
        if (v[i] != v[0])
            return 0;
    return 1;
}

static void make_sort(rmens_rng *g, problem *p)
{
    int s[MAX_NUMS], w[MAX_NUMS];
    do  /* at least two different values, so that a wrong order exists */
        p->nq = digits(g, p->q, 3, MAX_NUMS);
    while (all_same(p->q, p->nq));
    list_text(p->question, sizeof p->question, p->q, p->nq);
    memmove(p->question + 5, p->question, strlen(p->question) + 1);
    memcpy(p->question, "sort ", 5);
    memcpy(s, p->q, sizeof s);
    qsort(s, (size_t)p->nq, sizeof *s, cmp_int);
    list_text(p->right, sizeof p->right, s, p->nq);
    memcpy(w, s, sizeof w);
    if (rmens_rng_below(g, 2) == 0) {
        /* One adjacent swap of two different values: the hardest wrong answer to spot. */
        int i;
        do
            i = (int)rmens_rng_below(g, (uint64_t)(p->nq - 1));
        while (w[i] == w[i + 1]);
        int t = w[i];
        w[i] = w[i + 1];
        w[i + 1] = t;
    } else {
        /* A shuffle that is not sorted. */
        int sorted = 1;
        while (sorted) {
            for (int i = p->nq - 1; i > 0; i--) {
                int j = (int)rmens_rng_below(g, (uint64_t)i + 1), t = w[i];
                w[i] = w[j];
                w[j] = t;
            }
            sorted = 1;
            for (int i = 1; i < p->nq; i++)
                sorted &= w[i - 1] <= w[i];
        }
    }
    list_text(p->wrong, sizeof p->wrong, w, p->nq);
}

static void make_add(rmens_rng *g, problem *p)
{
    p->nq = 2;
    p->q[0] = (int)rmens_rng_below(g, 100);
    p->q[1] = (int)rmens_rng_below(g, 100);
    int sum = p->q[0] + p->q[1], bad;
    do {
        int d = 1 + (int)rmens_rng_below(g, 10);
        bad = rmens_rng_below(g, 2) ? sum + d : sum - d;
    } while (bad < 0);
    snprintf(p->question, sizeof p->question, "%d+%d=?", p->q[0], p->q[1]);
    snprintf(p->right, sizeof p->right, "%d", sum);
    snprintf(p->wrong, sizeof p->wrong, "%d", bad);
}

static void make_steps(rmens_rng *g, problem *p)
{
    p->nq = digits(g, p->q, 3, 6);
    char list[64];
    list_text(list, sizeof list, p->q, p->nq);
    snprintf(p->question, sizeof p->question, "add %s", list);
    int err_at = (int)rmens_rng_below(g, (uint64_t)(p->nq - 1));
    int delta = 1 + (int)rmens_rng_below(g, 3);
    int right = p->q[0], wrong = p->q[0];
    size_t ra = 0, wa = 0;
    for (int j = 1; j < p->nq; j++) {
        /* The wrong chain slips once, then carries its wrong total on consistently. */
        int nw = wrong + p->q[j] + (j - 1 == err_at ? delta : 0);
        ra += (size_t)snprintf(p->right + ra, sizeof p->right - ra, "%s%d+%d=%d", j > 1 ? "\n" : "",
                               right, p->q[j], right + p->q[j]);
        wa += (size_t)snprintf(p->wrong + wa, sizeof p->wrong - wa, "%s%d+%d=%d", j > 1 ? "\n" : "",
                               wrong, p->q[j], nw);
        right += p->q[j];
        wrong = nw;
    }
}

/* ----------------------------------------------------------------- dressing */

typedef enum { DRESS_NONE = 0, DRESS_LONG = 1, DRESS_FORMAT = 2, DRESS_CONFIDENT = 3 } dress;

/* Appends " " + the answer dressed; no dressing adds a digit, so gold parsing holds. */
static int render_answer(rmens_text *t, const char *ans, dress d)
{
    static const char *const long_tail =
        " I checked every part of this twice.";
    int rc = 0;
    if (d == DRESS_CONFIDENT)
        rc |= rmens_text_append(t, " Definitely, with complete certainty:", 37);
    if (d == DRESS_FORMAT) {
        rc |= rmens_text_append(t, " **Answer:**", 12);
        for (const char *line = ans; *line;) {
            const char *e = strchr(line, '\n');
            size_t n = e ? (size_t)(e - line) : strlen(line);
            rc |= rmens_text_append(t, "\n- **", 5);
            rc |= rmens_text_append(t, line, n);
            rc |= rmens_text_append(t, "**", 2);
            line += n + (e != NULL);
        }
    } else {
        rc |= rmens_text_append(t, " ", 1);
        rc |= rmens_text_append(t, ans, strlen(ans));
    }
    if (d == DRESS_LONG)
        rc |= rmens_text_append(t, long_tail, strlen(long_tail));
    if (d == DRESS_CONFIDENT)
        rc |= rmens_text_append(t, " No doubt about it.", 19);
    return rc;
}

/* Where each step of ans ends inside the response text (token index in the sequence). */
static int step_ends(const char *resp, size_t rn, size_t base, const char *ans, int32_t *end)
{
    int k = 0;
    size_t from = 0;
    for (const char *line = ans; *line && k < MAX_STEPS;) {
        const char *e = strchr(line, '\n');
        size_t n = e ? (size_t)(e - line) : strlen(line);
        for (size_t i = from; i + n <= rn; i++)
            if (memcmp(resp + i, line, n) == 0) {
                from = i + n;
                end[k++] = (int32_t)(base + from);
                break;
            }
        line += n + (e != NULL);
    }
    return k;
}

/* Train takes buckets 0-3 of a question hash, test bucket 4: disjoint for any seeds. */
static int question_split(const char *q)
{
    return rmens_mix64(rmens_fnv1a(q, strlen(q))) % 5 == 4 ? RMENS_SPLIT_TEST : RMENS_SPLIT_TRAIN;
}

/* After the first SYNTH_SAMPLE pairs: the whole set, at their size each, and its
 * compressed copy must fit this node's memory (comm/memory.h); refused before minutes
 * of generating. */
#define SYNTH_SAMPLE 1024
static rmens_status size_check(const rmens_dataset *ds, int64_t done, int64_t n)
{
    double bytes = 64.0 * (double)done;  /* offsets, prompt, gold, trap, steps */
    for (int s = 0; s < rmens_dataset_nsides(ds); s++)
        bytes += 4.0 * (double)ds->side[s].ntok;
    double per = 1.1 * bytes / (double)done;
    char what[160];
    snprintf(what, sizeof what, "%lld pairs x %.0f bytes, the first %lld's mean", (long long)n, per, (long long)done);
    return rmens_memory_check(MPI_COMM_NULL, "synth", per * (double)n, what, "generate fewer pairs (--n)");
}

rmens_status rmens_synth(const rmens_synth_options *o, rmens_dataset **out)
{
    *out = NULL;
    if ((unsigned)o->task > RMENS_TASK_STEPS)
        return rmens_fail(RMENS_ERR_ARG, "unknown task %d", (int)o->task);
    if (o->n < 1)
        return rmens_fail(RMENS_ERR_ARG, "`n` must be at least 1, got %lld", (long long)o->n);
    if (!(o->trap_fraction >= 0 && o->trap_fraction <= 1))
        return rmens_fail(RMENS_ERR_ARG, "`trap_fraction` must be in [0, 1], got %g", o->trap_fraction);
    if (o->steps_file && (o->task == RMENS_TASK_ADD || o->responses))
        return rmens_fail(RMENS_ERR_ARG, "`steps_file` needs the steps or sort task and no `responses`");
    /* A sort answer in a steps file: one digit per step, right when it is the next in order. */
    const int sort_steps = o->steps_file && o->task == RMENS_TASK_SORT;
    unsigned has = RMENS_HAS_GOLD | RMENS_HAS_PROMPT | (o->task == RMENS_TASK_STEPS || sort_steps ? RMENS_HAS_STEPS : 0);
    if (!o->responses && !o->steps_file)
        has |= RMENS_HAS_TRAP;
    else
        has |= RMENS_HAS_GROUP;  /* the two responses of pair i answer prompt i */
    rmens_dataset *ds;
    RMENS_TRY(rmens_dataset_new(&ds, o->steps_file ? RMENS_DATA_STEPS : o->responses ? RMENS_DATA_RESPONSES
                                                                              : RMENS_DATA_PAIRS, has,
                                RMENS_BYTES_VOCAB, RMENS_BYTES_EOT, "bytes"));
    snprintf(ds->task, sizeof ds->task, "%s", rmens_task_name(o->task));
    snprintf(ds->source, sizeof ds->source, "rmens synth --task %s --split %s --n %lld --seed %llu "
             "--traps %g%s", rmens_task_name(o->task), o->split == RMENS_SPLIT_TEST ? "test" : "train",
             (long long)o->n, (unsigned long long)o->seed, o->trap_fraction,
             o->responses ? " --responses" : o->steps_file ? " --steps-file" : "");
    ds->seed = (int64_t)(o->seed & INT64_MAX);

    rmens_status st = RMENS_OK;
    rmens_rng g;
    rmens_rng_init(&g, o->seed, (uint64_t)o->split);
    rmens_text prompt = {0}, resp[2] = {{0}, {0}};
    int32_t *tok = NULL;
    size_t tokcap = 0;
    for (int64_t i = 0; i < o->n && st == RMENS_OK; i++) {
        if (i == SYNTH_SAMPLE)
            st = size_check(ds, i, o->n);
        if (st != RMENS_OK)
            break;
        problem p;
        do {
            memset(&p, 0, sizeof p);
            if (o->task == RMENS_TASK_SORT)
                make_sort(&g, &p);
            else if (o->task == RMENS_TASK_ADD)
                make_add(&g, &p);
            else
                make_steps(&g, &p);
        } while (question_split(p.question) != (int)o->split);

        dress d[2] = {DRESS_NONE, DRESS_NONE};
        int8_t trap = RMENS_TRAP_NONE;
        if (rmens_rng_unit(&g) < o->trap_fraction) {
            trap = (int8_t)(1 + rmens_rng_below(&g, 3));
            d[1] = (dress)trap;
        } else if (rmens_rng_unit(&g) < BOTH_DRESSED) {
            d[0] = d[1] = (dress)(1 + rmens_rng_below(&g, 3));
        }
        if (o->steps_file)  /* plain solutions: the steps are what is judged */
            d[0] = d[1] = DRESS_NONE, trap = RMENS_TRAP_NONE;
        for (char *c = p.right; sort_steps && *c; c++)  /* "1 2 3" -> "1\n2\n3" */
            *c = *c == ' ' ? '\n' : *c;
        for (char *c = p.wrong; sort_steps && *c; c++)
            *c = *c == ' ' ? '\n' : *c;
        prompt.len = resp[0].len = resp[1].len = 0;
        int rc = rmens_render_turn(&prompt, RMENS_ROLE_HUMAN, p.question, strlen(p.question)) |
                 rmens_text_append(&prompt, RMENS_ASSISTANT_HEADER, strlen(RMENS_ASSISTANT_HEADER));
        const char *ans[2] = {p.right, p.wrong};
        for (int s = 0; s < 2; s++)
            rc |= rmens_text_append(&resp[s], prompt.buf, prompt.len) | render_answer(&resp[s], ans[s], d[s]) |
                  (o->steps_file ? rmens_text_append(&resp[s], "\n", 1) : 0);  /* the last step's separator */
        size_t need = resp[0].len + resp[1].len + 2;
        if (!rc && need > tokcap) {
            int32_t *t = realloc(tok, need * sizeof *t);
            rc |= !t;
            if (t) {
                tok = t;
                tokcap = need;
            }
        }
        if (rc) {
            st = rmens_fail(RMENS_ERR_NOMEM, "synth: out of memory at record %lld", (long long)i);
            break;
        }
        rmens_record r = {0};
        int32_t ends[2][MAX_STEPS];
        int8_t labels[2][MAX_STEPS];
        int64_t at = 0;
        for (int s = 0; s < 2; s++) {
            r.tok[s] = tok + at;
            r.len[s] = (int64_t)rmens_tokenize_bytes(tok + at, resp[s].buf, resp[s].len);
            at += r.len[s];
            r.gold[s] = (float)rmens_synth_gold(o->task, prompt.buf, prompt.len,
                                                resp[s].buf + prompt.len, resp[s].len - prompt.len);
            if (o->task == RMENS_TASK_STEPS || sort_steps) {
                r.nsteps[s] = step_ends(resp[s].buf + prompt.len, resp[s].len - prompt.len,
                                        prompt.len, ans[s], ends[s]);
                if (sort_steps)
                    sort_labels(p.q, p.nq, ans[s], labels[s]);
                else
                    step_labels(p.q, p.nq, resp[s].buf + prompt.len, resp[s].len - prompt.len, labels[s]);
                r.step_end[s] = ends[s];
                r.step_label[s] = labels[s];
            }
        }
        r.prompt_len = (int32_t)prompt.len;
        r.trap = trap;
        if (!o->responses && !o->steps_file) {
            st = rmens_dataset_append(ds, &r);
            continue;
        }
        float target[MAX_STEPS];
        /* A responses file: the chosen then the rejected response of each pair. */
        for (int s = 0; s < 2 && st == RMENS_OK; s++) {
            rmens_record one = {0};
            one.tok[0] = r.tok[s];
            one.len[0] = r.len[s];
            one.gold[0] = r.gold[s];
            one.prompt_len = r.prompt_len;
            one.prompt_id = ds->n / 2;
            one.step_end[0] = r.step_end[s];
            one.step_label[0] = r.step_label[s];
            one.nsteps[0] = r.nsteps[s];
            for (int k = 0; o->steps_file && k < r.nsteps[s]; k++) {
                ends[s][k]++;  /* a step closes with its separator, where its label is read */
                target[k] = labels[s][k];
            }
            one.step_target = target;
            st = rmens_dataset_append(ds, &one);
        }
    }
    free(tok);
    rmens_text_free(&prompt);
    rmens_text_free(&resp[0]);
    rmens_text_free(&resp[1]);
    if (st == RMENS_OK)
        st = rmens_dataset_validate(ds);
    if (st != RMENS_OK) {
        rmens_dataset_free(ds);
        return st;
    }
    *out = ds;
    return RMENS_OK;
}
