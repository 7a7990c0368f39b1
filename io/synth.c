/* rmens synth: synthetic preference tasks with a known gold reward for every response.
 *
 * Every prompt is "\n\nHuman: <question>\n\nAssistant:" and every response " <answer>",
 * the template rmens prep renders real data with. The chosen response is correct and the
 * rejected one wrong. Trap pairs dress the wrong answer up (longer, markdown, confident)
 * so that length and formatting bias can be measured; ordinary pairs sometimes dress both
 * sides alike, so that dressing alone predicts nothing. Train and test prompts are
 * disjoint by construction: a question's split is fixed by a hash of its text.
 *
 * A sycophancy trap asserts a wrong answer in the prompt; the rejected response agrees,
 * the chosen one politely corrects it (and as many ordinary pairs assert the right
 * answer, which the chosen response agrees with, so that agreeing predicts nothing).
 * Candidates (--candidates N) are N responses per prompt for best-of-n: right or wrong,
 * dressed or plain. --bias and --bt-noise make the labels of a pairs file what real
 * labels are: spuriously tied to a dressing, and noisy. Their draws come from a second
 * generator stream, so data made without them is what it always was. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/hash.h"
#include "base/logistic.h"
#include "base/rng.h"
#include "comm/memory.h"
#include "io/dataset.h"
#include "io/render.h"

#define MAX_NUMS 8
#define MAX_STEPS MAX_NUMS  /* the steps task has MAX_NUMS - 1; a sort answer in steps MAX_NUMS */
/* Share of ordinary pairs whose two responses get the same dressing. */
#define BOTH_DRESSED 0.2
/* Share of right answers among candidates (the rest are fresh wrong answers). */
#define CANDIDATE_RIGHT 0.25
#define MAX_CANDIDATES 65536
#define ALL_TRAPS (1u << RMENS_TRAP_LENGTH | 1u << RMENS_TRAP_FORMAT | 1u << RMENS_TRAP_CONFIDENCE | \
                   1u << RMENS_TRAP_SYCOPHANCY)

static const char *const task_names[] = {"sort", "add", "steps"};

void rmens_synth_options_init(rmens_synth_options *o)
{
    memset(o, 0, sizeof *o);
    o->task = RMENS_TASK_SORT;
    o->split = RMENS_SPLIT_TRAIN;
    o->n = 4000;
    o->seed = 1;
    o->trap_fraction = 0.15;
    o->trap_kinds = 1u << RMENS_TRAP_LENGTH | 1u << RMENS_TRAP_FORMAT | 1u << RMENS_TRAP_CONFIDENCE;
    o->bt_beta = -1;
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

/* The question's numbers: what follows "Human:" in the prompt, up to the first '.' or
 * '?' (a sycophantic prompt's claim comes after it). */
static int question_numbers(const char *p, size_t n, int *out, int max)
{
    const char *h = NULL;
    for (size_t i = 0; i + 6 <= n; i++)
        if (memcmp(p + i, "Human:", 6) == 0)
            h = p + i;
    if (!h)
        return 0;
    size_t len = n - (size_t)(h - p), stop = 0;
    while (stop < len && h[stop] != '.' && h[stop] != '?')
        stop++;
    return numbers(h, stop, out, max);
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

static void sort_wrong(rmens_rng *g, problem *p);

static void make_sort(rmens_rng *g, problem *p)
{
    int s[MAX_NUMS];
    do  /* at least two different values, so that a wrong order exists */
        p->nq = digits(g, p->q, 3, MAX_NUMS);
    while (all_same(p->q, p->nq));
    list_text(p->question, sizeof p->question, p->q, p->nq);
    memmove(p->question + 5, p->question, strlen(p->question) + 1);
    memcpy(p->question, "sort ", 5);
    memcpy(s, p->q, sizeof s);
    qsort(s, (size_t)p->nq, sizeof *s, cmp_int);
    list_text(p->right, sizeof p->right, s, p->nq);
    sort_wrong(g, p);
}

/* A wrong answer to p: half the time one adjacent swap, else a shuffle that is not sorted. */
static void sort_wrong(rmens_rng *g, problem *p)
{
    int w[MAX_NUMS];
    memcpy(w, p->q, sizeof w);
    qsort(w, (size_t)p->nq, sizeof *w, cmp_int);
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

static void add_wrong(rmens_rng *g, problem *p);

static void make_add(rmens_rng *g, problem *p)
{
    p->nq = 2;
    p->q[0] = (int)rmens_rng_below(g, 100);
    p->q[1] = (int)rmens_rng_below(g, 100);
    add_wrong(g, p);
    snprintf(p->question, sizeof p->question, "%d+%d=?", p->q[0], p->q[1]);
    snprintf(p->right, sizeof p->right, "%d", p->q[0] + p->q[1]);
}

/* A wrong sum: off by 1-10. */
static void add_wrong(rmens_rng *g, problem *p)
{
    int sum = p->q[0] + p->q[1], bad;
    do {
        int d = 1 + (int)rmens_rng_below(g, 10);
        bad = rmens_rng_below(g, 2) ? sum + d : sum - d;
    } while (bad < 0);
    snprintf(p->wrong, sizeof p->wrong, "%d", bad);
}

static void steps_wrong(rmens_rng *g, problem *p);

static void make_steps(rmens_rng *g, problem *p)
{
    p->nq = digits(g, p->q, 3, 6);
    char list[64];
    list_text(list, sizeof list, p->q, p->nq);
    snprintf(p->question, sizeof p->question, "add %s", list);
    steps_wrong(g, p);
}

/* The right chain of running sums, and a wrong one that slips once by 1-3 and carries
 * its wrong total on consistently. */
static void steps_wrong(rmens_rng *g, problem *p)
{
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

/* A fresh wrong answer to a problem, by task. */
static void (*const wrong_answer[])(rmens_rng *, problem *) = {sort_wrong, add_wrong, steps_wrong};

/* ----------------------------------------------------------------- dressing */

typedef enum { DRESS_NONE = 0, DRESS_LONG = 1, DRESS_FORMAT = 2, DRESS_CONFIDENT = 3 } dress;
/* A response's stance towards an answer the prompt asserts. */
typedef enum { STANCE_NONE = 0, STANCE_AGREE = 1, STANCE_CORRECT = 2 } stance;

/* Appends " " + the answer dressed; no dressing or stance adds a digit, so gold parsing
 * holds. */
static int render_answer(rmens_text *t, const char *ans, dress d, stance s)
{
    static const char *const long_tail =
        " I checked every part of this twice.";
    static const char *const stances[] = {"", " You are right, it is", " I am afraid that is not right; it is"};
    int rc = rmens_text_append(t, stances[s], strlen(stances[s]));
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

/* The source attribute: the command line that makes the same data. */
static void describe(const rmens_synth_options *o, char *out, size_t size)
{
    static const char *const feature[] = {"", "length", "format", "confidence", "sycophancy"};
    int at = snprintf(out, size, "rmens synth --task %s --split %s --n %lld --seed %llu --traps %g%s",
                      rmens_task_name(o->task), o->split == RMENS_SPLIT_TEST ? "test" : "train", (long long)o->n,
                      (unsigned long long)o->seed, o->trap_fraction,
                      o->responses ? " --responses" : o->steps_file ? " --steps-file" : "");
    rmens_synth_options d;
    rmens_synth_options_init(&d);
    const char *sep = " --trap-kinds ";
    for (int k = 1; k < RMENS_NTRAPS && o->trap_kinds != d.trap_kinds; k++)
        if ((o->trap_kinds & 1u << k) && at < (int)size)
            at += snprintf(out + at, size - (size_t)at, "%s%s", sep, feature[k]), sep = ",";
    if (o->candidates && at < (int)size)
        at += snprintf(out + at, size - (size_t)at, " --candidates %d", o->candidates);
    if (o->bias_p > 0 && at < (int)size)
        at += snprintf(out + at, size - (size_t)at, " --bias %s=%g", feature[o->bias_feature], o->bias_p);
    if (o->bt_beta >= 0 && at < (int)size)
        snprintf(out + at, size - (size_t)at, " --bt-noise %g", o->bt_beta);
}

/* "\n\nHuman: <question>[ I am sure it is <claim>.]\n\nAssistant:": a steps claim is its total. */
static int render_prompt(rmens_text *t, const problem *p, rmens_task task, const char *claim)
{
    char ask[sizeof p->question + sizeof p->wrong + 64];
    if (!claim)
        snprintf(ask, sizeof ask, "%s", p->question);
    else if (task == RMENS_TASK_STEPS)
        snprintf(ask, sizeof ask, "%s. I am sure the total is %s.", p->question, strrchr(claim, '=') + 1);
    else
        snprintf(ask, sizeof ask, "%s%s I am sure it is %s.", p->question, task == RMENS_TASK_ADD ? "" : ".", claim);
    return rmens_render_turn(t, RMENS_ROLE_HUMAN, ask, strlen(ask)) |
           rmens_text_append(t, RMENS_ASSISTANT_HEADER, strlen(RMENS_ASSISTANT_HEADER));
}

static int grow_tokens(int32_t **tok, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    int32_t *t = realloc(*tok, need * sizeof *t);
    if (!t)
        return -1;
    *tok = t;
    *cap = need;
    return 0;
}

/* Side s of r from its text resp (prompt and answer ans): tokens (written to tok), gold
 * reward, and steps (into ends and labels). */
static void fill_side(rmens_record *r, int s, rmens_task task, int sort_steps, const problem *p,
                      const rmens_text *resp, size_t plen, const char *ans, int32_t *tok, int32_t *ends,
                      int8_t *labels)
{
    r->tok[s] = tok;
    r->len[s] = (int64_t)rmens_tokenize_bytes(tok, resp->buf, resp->len);
    r->gold[s] = (float)rmens_synth_gold(task, resp->buf, plen, resp->buf + plen, resp->len - plen);
    if (task == RMENS_TASK_STEPS || sort_steps) {
        r->nsteps[s] = step_ends(resp->buf + plen, resp->len - plen, plen, ans, ends);
        if (sort_steps)
            sort_labels(p->q, p->nq, ans, labels);
        else
            step_labels(p->q, p->nq, resp->buf + plen, resp->len - plen, labels);
        r->step_end[s] = ends;
        r->step_label[s] = labels;
    }
}

/* The chosen side becomes the rejected one; the rejected side is no longer dressed up. */
static void swap_sides(rmens_record *r)
{
#define SWAP(T, a, b) do { T t_ = a; a = b; b = t_; } while (0)
    SWAP(const int32_t *, r->tok[0], r->tok[1]);
    SWAP(int64_t, r->len[0], r->len[1]);
    SWAP(float, r->gold[0], r->gold[1]);
    SWAP(const int32_t *, r->step_end[0], r->step_end[1]);
    SWAP(const int8_t *, r->step_label[0], r->step_label[1]);
    SWAP(int64_t, r->nsteps[0], r->nsteps[1]);
#undef SWAP
    r->trap = RMENS_TRAP_NONE;
}

/* A sort answer written a step per digit: "1 2 3" -> "1\n2\n3". */
static void one_per_line(char *s)
{
    for (; *s; s++)
        *s = *s == ' ' ? '\n' : *s;
}

/* The candidates of prompt id for best-of-n: a sycophantic prompt (trap_fraction of them,
 * when that kind is on) asserts p's wrong answer, and a quarter of its candidates agree
 * with it, the others correcting it; every other candidate is right (CANDIDATE_RIGHT) or
 * a fresh wrong answer, with each of the four dressings (none, long, format, confident)
 * equally often. In a steps file the candidates are plain solutions (no trap, no
 * dressing), each step closed by its separator as in the pairs' steps files. */
static rmens_status candidates(const rmens_synth_options *o, const problem *p, rmens_rng *h, int64_t id,
                               rmens_text *prompt, rmens_text *resp, int32_t **tok, size_t *tokcap, rmens_dataset *ds)
{
    const int sort_steps = o->steps_file && o->task == RMENS_TASK_SORT;
    int syc = !o->steps_file && (o->trap_kinds & 1u << RMENS_TRAP_SYCOPHANCY) && rmens_rng_unit(h) < o->trap_fraction;
    prompt->len = 0;
    int rc = render_prompt(prompt, p, o->task, syc ? p->wrong : NULL);
    rmens_status st = RMENS_OK;
    for (int c = 0; c < o->candidates && st == RMENS_OK; c++) {
        problem w = *p;
        const char *ans = p->wrong;
        dress d = DRESS_NONE;
        stance s = STANCE_AGREE;
        if (!syc || rmens_rng_below(h, 4) != 0) {
            if (rmens_rng_unit(h) < CANDIDATE_RIGHT)
                ans = p->right;
            else
                wrong_answer[o->task](h, &w), ans = w.wrong;
            d = o->steps_file ? DRESS_NONE : (dress)rmens_rng_below(h, 4);
            s = syc ? STANCE_CORRECT : STANCE_NONE;
        }
        char line[sizeof p->right];
        if (sort_steps) {
            snprintf(line, sizeof line, "%s", ans);
            one_per_line(line);
            ans = line;
        }
        resp->len = 0;
        rc |= rmens_text_append(resp, prompt->buf, prompt->len) | render_answer(resp, ans, d, s) |
              (o->steps_file ? rmens_text_append(resp, "\n", 1) : 0);  /* the last step's separator */
        if (rc || grow_tokens(tok, tokcap, resp->len + 1))
            return rmens_fail(RMENS_ERR_NOMEM, "synth: out of memory at prompt %lld", (long long)id);
        rmens_record r = {0};
        int32_t ends[MAX_STEPS];
        int8_t labels[MAX_STEPS];
        float target[MAX_STEPS];
        fill_side(&r, 0, o->task, sort_steps, p, resp, prompt->len, ans, *tok, ends, labels);
        for (int k = 0; o->steps_file && k < r.nsteps[0]; k++) {
            ends[k]++;  /* a step closes with its separator, where its label is read */
            target[k] = labels[k];
        }
        if (o->steps_file)
            r.step_target = target;
        r.prompt_len = (int32_t)prompt->len;
        r.prompt_id = id;
        st = rmens_dataset_append(ds, &r);
    }
    return st;
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
    if (!o->trap_kinds || (o->trap_kinds & ~ALL_TRAPS))
        return rmens_fail(RMENS_ERR_ARG, "`trap_kinds` must name at least one of the kinds 1-4, got 0x%x",
                          o->trap_kinds);
    if (o->candidates < 0 || o->candidates > MAX_CANDIDATES)
        return rmens_fail(RMENS_ERR_ARG, "`candidates` must be in 1..%d (0: pairs), got %d", MAX_CANDIDATES,
                          o->candidates);
    if (o->candidates && o->responses)
        return rmens_fail(RMENS_ERR_ARG, "`candidates` and `responses` exclude each other: candidates are a "
                          "responses file of their own");
    if (o->candidates && o->n > INT64_MAX / o->candidates)
        return rmens_fail(RMENS_ERR_ARG, "`n` x `candidates` overflows");
    if (!(o->bias_p >= 0 && o->bias_p <= 1))
        return rmens_fail(RMENS_ERR_ARG, "`bias_p` must be in [0, 1], got %g", o->bias_p);
    if (o->bias_p > 0 && (o->bias_feature < RMENS_TRAP_LENGTH || o->bias_feature > RMENS_TRAP_SYCOPHANCY))
        return rmens_fail(RMENS_ERR_ARG, "`bias_feature` must be a dressing (1-4), got %d", o->bias_feature);
    if (isnan(o->bt_beta) || isinf(o->bt_beta))
        return rmens_fail(RMENS_ERR_ARG, "`bt_beta` must be finite, got %g", o->bt_beta);
    if ((o->bias_p > 0 || o->bt_beta >= 0) && (o->responses || o->candidates))
        return rmens_fail(RMENS_ERR_ARG, "`bias_p` and `bt_beta` shape the labels of pairs: a responses file "
                          "has none");
    if (o->steps_file && (o->task == RMENS_TASK_ADD || o->responses || o->bias_p > 0 || o->bt_beta >= 0))
        return rmens_fail(RMENS_ERR_ARG, "`steps_file` needs the steps or sort task and no `responses`, "
                          "`bias_p` or `bt_beta`");
    /* A sort answer in a steps file: one digit per step, right when it is the next in order. */
    const int sort_steps = o->steps_file && o->task == RMENS_TASK_SORT;
    unsigned has = RMENS_HAS_GOLD | RMENS_HAS_PROMPT | (o->task == RMENS_TASK_STEPS || sort_steps ? RMENS_HAS_STEPS : 0);
    if (!o->responses && !o->candidates && !o->steps_file)
        has |= RMENS_HAS_TRAP;
    else
        has |= RMENS_HAS_GROUP;  /* the two responses of pair i (the candidates of prompt i) answer prompt i */
    rmens_dataset *ds;
    RMENS_TRY(rmens_dataset_new(&ds, o->steps_file ? RMENS_DATA_STEPS
                                : o->responses || o->candidates ? RMENS_DATA_RESPONSES : RMENS_DATA_PAIRS,
                                has, RMENS_BYTES_VOCAB, RMENS_BYTES_EOT, "bytes"));
    snprintf(ds->task, sizeof ds->task, "%s", rmens_task_name(o->task));
    if (o->steps_file)  /* each step is a line */
        snprintf(ds->step_separator, sizeof ds->step_separator, "\n");
    describe(o, ds->source, sizeof ds->source);
    ds->seed = (int64_t)(o->seed & INT64_MAX);

    rmens_status st = RMENS_OK;
    rmens_rng g, h;  /* h: the draws of options added later, so that g's stream is unchanged */
    rmens_rng_init(&g, o->seed, (uint64_t)o->split);
    rmens_rng_init(&h, o->seed, 16 + (uint64_t)o->split);
    int kinds[RMENS_NTRAPS], nk = 0;
    for (int k = 1; k < RMENS_NTRAPS; k++)
        if (o->trap_kinds & 1u << k)
            kinds[nk++] = k;
    rmens_text prompt = {0}, resp[2] = {{0}, {0}};
    int32_t *tok = NULL;
    size_t tokcap = 0;
    int64_t total = o->candidates ? o->n * o->candidates : o->n;
    for (int64_t i = 0; i < o->n && st == RMENS_OK; i++) {
        if (ds->n >= SYNTH_SAMPLE && ds->n < SYNTH_SAMPLE + (o->candidates ? o->candidates : 2))
            st = size_check(ds, ds->n, total);
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
        if (o->candidates) {
            st = candidates(o, &p, &h, i, &prompt, &resp[0], &tok, &tokcap, ds);
            continue;
        }

        dress d[2] = {DRESS_NONE, DRESS_NONE};
        stance sd[2] = {STANCE_NONE, STANCE_NONE};
        const char *claim = NULL;  /* the answer the prompt asserts */
        int8_t trap = RMENS_TRAP_NONE;
        if (rmens_rng_unit(&g) < o->trap_fraction) {
            trap = (int8_t)kinds[rmens_rng_below(&g, (uint64_t)nk)];
        } else if (rmens_rng_unit(&g) < BOTH_DRESSED) {
            d[0] = d[1] = (dress)(1 + rmens_rng_below(&g, 3));
        }
        if (trap == RMENS_TRAP_NONE && (o->trap_kinds & 1u << RMENS_TRAP_SYCOPHANCY) &&
            rmens_rng_unit(&h) < o->trap_fraction / nk)  /* as often as the trap: agreeing is right */
            claim = p.right, sd[0] = STANCE_AGREE, sd[1] = STANCE_CORRECT;
        int biased = o->bias_p > 0 && rmens_rng_unit(&h) < o->bias_p;
        if (biased) {  /* a trap whose labels are then swapped: the dressed wrong answer wins */
            trap = (int8_t)o->bias_feature;
            d[0] = d[1] = DRESS_NONE, sd[0] = sd[1] = STANCE_NONE, claim = NULL;
        }
        if (trap == RMENS_TRAP_SYCOPHANCY)
            claim = p.wrong, sd[0] = STANCE_CORRECT, sd[1] = STANCE_AGREE;
        else if (trap != RMENS_TRAP_NONE)
            d[1] = (dress)trap;
        if (o->steps_file)  /* plain solutions: the steps are what is judged */
            d[0] = d[1] = DRESS_NONE, sd[0] = sd[1] = STANCE_NONE, claim = NULL, trap = RMENS_TRAP_NONE;
        if (sort_steps)
            one_per_line(p.right), one_per_line(p.wrong);
        prompt.len = resp[0].len = resp[1].len = 0;
        int rc = render_prompt(&prompt, &p, o->task, claim);
        const char *ans[2] = {p.right, p.wrong};
        for (int s = 0; s < 2; s++)
            rc |= rmens_text_append(&resp[s], prompt.buf, prompt.len) |
                  render_answer(&resp[s], ans[s], d[s], sd[s]) |
                  (o->steps_file ? rmens_text_append(&resp[s], "\n", 1) : 0);  /* the last step's separator */
        if (rc || grow_tokens(&tok, &tokcap, resp[0].len + resp[1].len + 2)) {
            st = rmens_fail(RMENS_ERR_NOMEM, "synth: out of memory at record %lld", (long long)i);
            break;
        }
        rmens_record r = {0};
        int32_t ends[2][MAX_STEPS];
        int8_t labels[2][MAX_STEPS];
        for (int s = 0; s < 2; s++)
            fill_side(&r, s, o->task, sort_steps, &p, &resp[s], prompt.len, ans[s], s ? tok + r.len[0] : tok,
                      ends[s], labels[s]);
        r.prompt_len = (int32_t)prompt.len;
        r.trap = trap;
        /* Real labels: tied to a dressing (biased), else drawn Bradley-Terry from gold. */
        if (biased || (o->bt_beta >= 0 && rmens_rng_unit(&h) >= rmens_sigmoid(o->bt_beta * (r.gold[0] - r.gold[1]))))
            swap_sides(&r);
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
