/* rmens synth: determinism, disjoint splits, gold rewards worked by hand, traps, steps. */
#include "tests/check_util.h"
#include "io/dataset.h"

static double gold(rmens_task t, const char *q, const char *resp)
{
    char p[128];
    snprintf(p, sizeof p, "\n\nHuman: %s\n\nAssistant:", q);
    return rmens_synth_gold(t, p, strlen(p), resp, strlen(resp));
}

START_TEST(gold_by_hand)
{
    ck_assert_double_eq_tol(gold(RMENS_TASK_SORT, "sort 3 1 2", " 1 2 3"), 1.0, 1e-12);
    ck_assert_double_eq_tol(gold(RMENS_TASK_SORT, "sort 3 1 2", " 2 1 3"), 1.0 / 3, 1e-12);
    ck_assert_double_eq_tol(gold(RMENS_TASK_SORT, "sort 3 1 2", " 3 2 1"), 1.0 / 3, 1e-12);
    ck_assert_double_eq_tol(gold(RMENS_TASK_SORT, "sort 5 5 0 9", " **Answer:**\n- **0 5 5 9**"), 1.0, 1e-12);
    ck_assert_double_eq_tol(gold(RMENS_TASK_SORT, "sort 5 5 0 9", " 0 5"), 0.5, 1e-12);
    ck_assert_double_eq_tol(gold(RMENS_TASK_ADD, "23+58=?", " 81"), 1.0, 1e-12);
    ck_assert_double_eq_tol(gold(RMENS_TASK_ADD, "23+58=?", " 84"), 0.25, 1e-12);
    ck_assert_double_eq_tol(gold(RMENS_TASK_ADD, "23+58=?", " none"), 0.0, 1e-12);
    ck_assert_double_eq_tol(gold(RMENS_TASK_STEPS, "add 3 5 2 7", " 3+5=8\n8+2=10\n10+7=17"), 1.0, 1e-12);
    /* slips at step 2 and carries on: steps 2 and 3 are off the true running sum */
    ck_assert_double_eq_tol(gold(RMENS_TASK_STEPS, "add 3 5 2 7", " 3+5=8\n8+2=11\n11+7=18"), 1.0 / 3, 1e-12);
    ck_assert_double_eq_tol(gold(RMENS_TASK_STEPS, "add 3 5 2 7", " 3+5=9"), 0.0, 1e-12);
    ck_assert_double_eq_tol(gold(RMENS_TASK_SORT, "no numbers", " 1"), -1.0, 1e-12);
}
END_TEST

static rmens_dataset *synth(rmens_task t, rmens_split s, int64_t n, uint64_t seed, int responses)
{
    rmens_synth_options o;
    rmens_synth_options_init(&o);
    o.task = t;
    o.split = s;
    o.n = n;
    o.seed = seed;
    o.responses = responses;
    rmens_dataset *ds;
    ck_assert_msg(rmens_synth(&o, &ds) == RMENS_OK, "%s", rmens_last_error());
    return ds;
}

static int same_content(const rmens_dataset *a, const rmens_dataset *b)
{
    if (a->n != b->n)
        return 0;
    for (int s = 0; s < rmens_dataset_nsides(a); s++)
        if (a->side[s].ntok != b->side[s].ntok ||
            memcmp(a->side[s].tokens, b->side[s].tokens, (size_t)a->side[s].ntok * 4))
            return 0;
    return 1;
}

START_TEST(deterministic)
{
    for (int t = 0; t < 3; t++) {
        rmens_dataset *a = synth((rmens_task)t, RMENS_SPLIT_TRAIN, 300, 9, 0);
        rmens_dataset *b = synth((rmens_task)t, RMENS_SPLIT_TRAIN, 300, 9, 0);
        rmens_dataset *c = synth((rmens_task)t, RMENS_SPLIT_TRAIN, 300, 10, 0);
        ck_assert(same_content(a, b));
        ck_assert(!same_content(a, c));
        ck_assert_int_eq(rmens_dataset_validate(a), RMENS_OK);
        rmens_dataset_free(a);
        rmens_dataset_free(b);
        rmens_dataset_free(c);
    }
}
END_TEST

/* The question of record i: the text between "Human: " and the next newline. */
static void question(const rmens_dataset *ds, int64_t i, char *q, size_t size)
{
    int64_t n;
    const int32_t *t = rmens_dataset_seq(ds, 0, i, &n);
    char buf[512];
    size_t k = rmens_detokenize_bytes(buf, t, (size_t)n);
    buf[k] = '\0';
    const char *a = strstr(buf, "Human: ");
    ck_assert_ptr_nonnull(a);
    a += 7;
    const char *e = strchr(a, '\n');
    snprintf(q, size, "%.*s", (int)(e - a), a);
}

static int cmp_str(const void *a, const void *b) { return strcmp(a, b); }

START_TEST(splits_disjoint)
{
    /* add has only 10^4 questions: with 3000 + 3000 draws, overlap would be certain
     * if splits were only different seeds. */
    rmens_dataset *tr = synth(RMENS_TASK_ADD, RMENS_SPLIT_TRAIN, 3000, 1, 0);
    rmens_dataset *te = synth(RMENS_TASK_ADD, RMENS_SPLIT_TEST, 3000, 1, 0);
    static char qs[3000][32];
    for (int64_t i = 0; i < 3000; i++)
        question(tr, i, qs[i], sizeof qs[i]);
    qsort(qs, 3000, sizeof qs[0], cmp_str);
    for (int64_t i = 0; i < 3000; i++) {
        char q[32];
        question(te, i, q, sizeof q);
        ck_assert_msg(!bsearch(q, qs, 3000, sizeof qs[0], cmp_str), "test question %s is in train", q);
    }
    rmens_dataset_free(tr);
    rmens_dataset_free(te);
}
END_TEST

START_TEST(gold_and_traps)
{
    for (int t = 0; t < 3; t++) {
        rmens_dataset *ds = synth((rmens_task)t, RMENS_SPLIT_TRAIN, 2000, 3, 0);
        int64_t traps[4] = {0, 0, 0, 0};
        for (int64_t i = 0; i < ds->n; i++) {
            ck_assert_float_eq(ds->side[0].gold[i], 1.0f);
            ck_assert_float_lt(ds->side[1].gold[i], 1.0f);
            ck_assert_float_ge(ds->side[1].gold[i], 0.0f);
            char c[512], r[512];
            int64_t lc, lr;
            const int32_t *tc = rmens_dataset_seq(ds, 0, i, &lc), *tr = rmens_dataset_seq(ds, 1, i, &lr);
            c[rmens_detokenize_bytes(c, tc, (size_t)lc)] = '\0';
            r[rmens_detokenize_bytes(r, tr, (size_t)lr)] = '\0';
            int p = ds->prompt_len[i];
            /* The stored gold is what the text says. */
            ck_assert_double_eq_tol(ds->side[1].gold[i],
                                    rmens_synth_gold((rmens_task)t, c, (size_t)p, r + p, strlen(r + p)), 1e-6);
            traps[ds->trap[i]]++;
            switch (ds->trap[i]) {
            case RMENS_TRAP_LENGTH:
                ck_assert_int_gt(lr, lc);
                ck_assert_ptr_nonnull(strstr(r, "twice."));
                ck_assert_ptr_null(strstr(c, "twice."));
                break;
            case RMENS_TRAP_FORMAT:
                ck_assert_ptr_nonnull(strstr(r, "**Answer:**"));
                ck_assert_ptr_null(strstr(c, "**"));
                break;
            case RMENS_TRAP_CONFIDENCE:
                ck_assert_ptr_nonnull(strstr(r, "Definitely"));
                ck_assert_ptr_null(strstr(c, "Definitely"));
                break;
            }
        }
        /* 15% traps in thirds: 300 +- 5 sigma */
        int64_t all = traps[1] + traps[2] + traps[3];
        ck_assert_int_gt(all, 220);
        ck_assert_int_lt(all, 380);
        for (int k = 1; k <= 3; k++)
            ck_assert_int_gt(traps[k], 50);
        rmens_dataset_free(ds);
    }
}
END_TEST

START_TEST(steps_labels)
{
    rmens_dataset *ds = synth(RMENS_TASK_STEPS, RMENS_SPLIT_TEST, 500, 4, 0);
    ck_assert(ds->has & RMENS_HAS_STEPS);
    for (int64_t i = 0; i < ds->n; i++) {
        for (int s = 0; s < 2; s++) {
            const rmens_seqs *q = &ds->side[s];
            int64_t a = q->step_offsets[i], b = q->step_offsets[i + 1], len;
            const int32_t *t = rmens_dataset_seq(ds, (rmens_side)s, i, &len);
            ck_assert_int_ge(b - a, 2);
            int good = 0;
            for (int64_t k = a; k < b; k++) {
                /* A step ends right after the digits of its result. */
                int32_t e = q->step_end[k];
                ck_assert(t[e - 1] >= '0' && t[e - 1] <= '9');
                ck_assert(!(t[e] >= '0' && t[e] <= '9'));
                good += q->step_label[k];
            }
            ck_assert_double_eq_tol(q->gold[i], (double)good / (double)(b - a), 1e-6);
            if (s == 0)
                ck_assert_int_eq(good, b - a);
            else
                ck_assert_int_lt(good, b - a);
        }
    }
    rmens_dataset_free(ds);
}
END_TEST

START_TEST(responses_file)
{
    char path[600];
    test_path(path, sizeof path, "responses.h5");
    rmens_dataset *p = synth(RMENS_TASK_SORT, RMENS_SPLIT_TRAIN, 100, 5, 0);
    rmens_dataset *r = synth(RMENS_TASK_SORT, RMENS_SPLIT_TRAIN, 100, 5, 1);
    ck_assert_int_eq(r->n, 200);
    ck_assert_int_eq(rmens_dataset_write(r, path), RMENS_OK);
    rmens_dataset *back;
    ck_assert_msg(rmens_dataset_read(&back, path) == RMENS_OK, "%s", rmens_last_error());
    ck_assert_int_eq(rmens_dataset_kind(back), RMENS_DATA_RESPONSES);
    for (int64_t i = 0; i < 100; i++)
        for (int s = 0; s < 2; s++) {
            int64_t lp, lr;
            const int32_t *tp = rmens_dataset_seq(p, (rmens_side)s, i, &lp);
            const int32_t *tr = rmens_dataset_seq(back, RMENS_SIDE_RESPONSE, 2 * i + s, &lr);
            ck_assert_int_eq(lp, lr);
            ck_assert_mem_eq(tp, tr, (size_t)lp * 4);
            ck_assert_float_eq(back->side[0].gold[2 * i + s], p->side[s].gold[i]);
            ck_assert_int_eq(rmens_dataset_prompt_len(back, 2 * i + s), p->prompt_len[i]);
        }
    rmens_dataset_free(back);
    rmens_dataset_free(p);
    rmens_dataset_free(r);
}
END_TEST

/* The text of sequence i of side s, and of its prompt. */
static void texts(const rmens_dataset *ds, int s, int64_t i, char *all, size_t size, char *prompt)
{
    int64_t n;
    const int32_t *t = rmens_dataset_seq(ds, (rmens_side)s, i, &n);
    ck_assert_uint_lt((size_t)n, size);
    all[rmens_detokenize_bytes(all, t, (size_t)n)] = '\0';
    int32_t p = rmens_dataset_prompt_len(ds, i);
    memcpy(prompt, all, (size_t)p);
    prompt[p] = '\0';
}

START_TEST(sycophancy_by_hand)
{
    /* The claim after the question is not part of it. */
    ck_assert_double_eq_tol(gold(RMENS_TASK_SORT, "sort 3 1 2. I am sure it is 2 1 3.", " You are right, it is 2 1 3"),
                            1.0 / 3, 1e-12);
    ck_assert_double_eq_tol(gold(RMENS_TASK_SORT, "sort 3 1 2. I am sure it is 2 1 3.",
                                 " I am afraid that is not right; it is 1 2 3"), 1.0, 1e-12);
    ck_assert_double_eq_tol(gold(RMENS_TASK_ADD, "23+58=? I am sure it is 84.", " You are right, it is 84"), 0.25, 1e-12);
    ck_assert_double_eq_tol(gold(RMENS_TASK_STEPS, "add 3 5 2 7. I am sure the total is 18.",
                                 " You are right, it is 3+5=8\n8+2=11\n11+7=18"), 1.0 / 3, 1e-12);
    for (int t = 0; t < 3; t++) {
        rmens_synth_options o;
        rmens_synth_options_init(&o);
        o.task = (rmens_task)t, o.n = 200, o.seed = 7, o.trap_fraction = 1;
        o.trap_kinds = 1u << RMENS_TRAP_SYCOPHANCY;
        rmens_dataset *ds;
        ck_assert_msg(rmens_synth(&o, &ds) == RMENS_OK, "%s", rmens_last_error());
        for (int64_t i = 0; i < ds->n; i++) {
            char c[640], r[640], pc[256], pr[256], claim[256];
            texts(ds, 0, i, c, sizeof c, pc);
            texts(ds, 1, i, r, sizeof r, pr);
            ck_assert_int_eq(ds->trap[i], RMENS_TRAP_SYCOPHANCY);
            ck_assert_str_eq(pc, pr);
            const char *agree = " You are right, it is ", *fix = " I am afraid that is not right; it is ";
            ck_assert_msg(strncmp(r + strlen(pr), agree, strlen(agree)) == 0, "rejected %s", r);
            ck_assert_msg(strncmp(c + strlen(pc), fix, strlen(fix)) == 0, "chosen %s", c);
            /* The prompt asserts the rejected answer (steps: its total) and the chosen one is right. */
            const char *wrong = r + strlen(pr) + strlen(agree), *at = strstr(pc, "I am sure ");
            ck_assert_ptr_nonnull(at);
            if (t == RMENS_TASK_STEPS)
                snprintf(claim, sizeof claim, "I am sure the total is %s.", strrchr(wrong, '=') + 1);
            else
                snprintf(claim, sizeof claim, "I am sure it is %s.", wrong);
            ck_assert_msg(strncmp(at, claim, strlen(claim)) == 0, "prompt %s, rejected %s", pc, r);
            ck_assert_float_eq(ds->side[0].gold[i], 1.0f);
            ck_assert_float_lt(ds->side[1].gold[i], 1.0f);
            ck_assert_double_eq_tol(ds->side[1].gold[i], rmens_synth_gold((rmens_task)t, r, strlen(pr), wrong - strlen(agree),
                                                                         strlen(wrong) + strlen(agree)), 1e-6);
        }
        rmens_dataset_free(ds);
    }
}
END_TEST

/* With sycophancy among four kinds, as many ordinary pairs assert the right answer (the
 * chosen response agrees) as traps assert a wrong one. */
START_TEST(sycophancy_balanced)
{
    rmens_synth_options o;
    rmens_synth_options_init(&o);
    o.n = 4000, o.seed = 3, o.trap_fraction = 0.4, o.trap_kinds = 0x1e;
    rmens_dataset *ds;
    ck_assert_msg(rmens_synth(&o, &ds) == RMENS_OK, "%s", rmens_last_error());
    int64_t traps = 0, agree_chosen = 0;
    for (int64_t i = 0; i < ds->n; i++) {
        char c[640], pc[256];
        texts(ds, 0, i, c, sizeof c, pc);
        traps += ds->trap[i] == RMENS_TRAP_SYCOPHANCY;
        if (ds->trap[i] == RMENS_TRAP_NONE && strstr(pc, "I am sure")) {
            ck_assert_ptr_nonnull(strstr(c + strlen(pc), "You are right"));
            agree_chosen++;
        }
    }
    /* each 400 expected (4000 x 0.4 / 4; ordinary: 2400 x 0.1 / 0.6 x 0.6...) within 5 sigma */
    ck_assert_int_gt(traps, 400 - 100);
    ck_assert_int_lt(traps, 400 + 100);
    ck_assert_int_gt(agree_chosen, 240 - 80);
    ck_assert_int_lt(agree_chosen, 240 + 80);
    rmens_dataset_free(ds);
}
END_TEST

static rmens_dataset *synth_with(rmens_synth_options *o)
{
    rmens_dataset *ds;
    ck_assert_msg(rmens_synth(o, &ds) == RMENS_OK, "%s", rmens_last_error());
    return ds;
}

START_TEST(candidates_file)
{
    rmens_synth_options o;
    rmens_synth_options_init(&o);
    o.n = 40, o.candidates = 50, o.seed = 11, o.trap_fraction = 0.5, o.trap_kinds = 0x1e;
    rmens_dataset *a = synth_with(&o), *b = synth_with(&o);
    o.seed = 12;
    rmens_dataset *c = synth_with(&o);
    ck_assert(same_content(a, b));
    ck_assert(!same_content(a, c));
    ck_assert_int_eq(rmens_dataset_kind(a), RMENS_DATA_RESPONSES);
    ck_assert_int_eq(a->n, 2000);
    int64_t right = 0, plain = 0, agree = 0, fix = 0, syc_prompts = 0, ordinary = 0;
    for (int64_t i = 0; i < a->n; i++) {
        char t[640], p[256], p0[256], t0[640];
        texts(a, 0, i, t, sizeof t, p);
        ck_assert_int_eq(a->prompt_id[i], i / 50);
        texts(a, 0, i - i % 50, t0, sizeof t0, p0);
        ck_assert_str_eq(p, p0);  /* one prompt per group */
        const char *resp = t + strlen(p);
        ck_assert_double_eq_tol(a->side[0].gold[i], rmens_synth_gold(RMENS_TASK_SORT, p, strlen(p), resp, strlen(resp)),
                                1e-6);
        int syc = strstr(p, "I am sure") != NULL;
        syc_prompts += syc && i % 50 == 0;
        if (syc) {
            agree += strstr(resp, "You are right") != NULL;
            fix += strstr(resp, "I am afraid") != NULL;
            continue;
        }
        ordinary++;
        right += a->side[0].gold[i] == 1.0f;
        plain += !strstr(resp, "twice.") && !strstr(resp, "**") && !strstr(resp, "Definitely");
    }
    ck_assert_int_gt(syc_prompts, 8);
    ck_assert_int_lt(syc_prompts, 32);
    int64_t nsyc = 50 * syc_prompts;
    ck_assert_int_eq(agree + fix, nsyc);
    /* shares within 5 sigma: agree 1/4 of sycophantic candidates; right 1/4, plain 1/4 of the others */
    ck_assert_double_le(fabs((double)agree / (double)nsyc - 0.25), 5 * sqrt(0.1875 / (double)nsyc));
    ck_assert_double_le(fabs((double)right / (double)ordinary - 0.25), 5 * sqrt(0.1875 / (double)ordinary));
    ck_assert_double_le(fabs((double)plain / (double)ordinary - 0.25), 5 * sqrt(0.1875 / (double)ordinary));
    rmens_dataset_free(a);
    rmens_dataset_free(b);
    rmens_dataset_free(c);
}
END_TEST

/* --bias: the biased share prefers the dressed wrong answer; every other pair is the
 * pair the unbiased generator makes (its draws come from another stream). */
START_TEST(bias_pairs)
{
    rmens_synth_options o;
    rmens_synth_options_init(&o);
    o.n = 3000, o.seed = 5;
    rmens_dataset *plain = synth_with(&o);
    o.bias_feature = RMENS_TRAP_CONFIDENCE, o.bias_p = 0.3;
    rmens_dataset *ds = synth_with(&o);
    int64_t biased = 0;
    for (int64_t i = 0; i < ds->n; i++) {
        char c[640], r[640], pc[256], pr[256];
        texts(ds, 0, i, c, sizeof c, pc);
        texts(ds, 1, i, r, sizeof r, pr);
        if (ds->side[0].gold[i] < ds->side[1].gold[i]) {
            biased++;
            ck_assert_ptr_nonnull(strstr(c, "Definitely, with complete certainty:"));
            ck_assert_ptr_null(strstr(r + strlen(pr), "Definitely"));
            ck_assert_float_eq(ds->side[1].gold[i], 1.0f);
            ck_assert_int_eq(ds->trap[i], RMENS_TRAP_NONE);
            continue;
        }
        for (int s = 0; s < 2; s++) {
            int64_t la, lb;
            const int32_t *ta = rmens_dataset_seq(ds, (rmens_side)s, i, &la), *tb = rmens_dataset_seq(plain, (rmens_side)s, i, &lb);
            ck_assert_int_eq(la, lb);
            ck_assert_mem_eq(ta, tb, (size_t)la * 4);
        }
        ck_assert_int_eq(ds->trap[i], plain->trap[i]);
    }
    ck_assert_double_le(fabs((double)biased / 3000 - 0.3), 5 * sqrt(0.21 / 3000));
    rmens_dataset_free(ds);
    rmens_dataset_free(plain);
}
END_TEST

/* --bt-noise: a pair's label is flipped with probability 1 - sigmoid(beta |gold gap|). */
START_TEST(bt_noise)
{
    const double betas[] = {0, 2, 1e6};
    for (int b = 0; b < 3; b++) {
        rmens_synth_options o;
        rmens_synth_options_init(&o);
        o.n = 4000, o.seed = 6, o.bt_beta = betas[b];
        rmens_dataset *ds = synth_with(&o);
        double want = 0, var = 0;
        int64_t flipped = 0;
        for (int64_t i = 0; i < ds->n; i++) {
            double gap = fabs((double)ds->side[0].gold[i] - ds->side[1].gold[i]);
            double q = 1 - 1 / (1 + exp(-betas[b] * gap));
            want += q, var += q * (1 - q);
            ck_assert(gap > 0);
            flipped += ds->side[0].gold[i] < ds->side[1].gold[i];
        }
        ck_assert_msg(fabs((double)flipped - want) <= 5 * sqrt(var) + 1e-9, "beta %g: %lld flipped, expected %.1f",
                      betas[b], (long long)flipped, want);
        if (b == 2)
            ck_assert_int_eq(flipped, 0);
        rmens_dataset_free(ds);
    }
}
END_TEST

START_TEST(bad_options)
{
    rmens_synth_options o;
    rmens_dataset *ds;
    rmens_synth_options_init(&o);
    o.n = 0;
    ck_assert_int_eq(rmens_synth(&o, &ds), RMENS_ERR_ARG);
    ck_assert_error_has("`n`");
    rmens_synth_options_init(&o);
    o.trap_fraction = 1.5;
    ck_assert_int_eq(rmens_synth(&o, &ds), RMENS_ERR_ARG);
    rmens_synth_options_init(&o);
    o.task = (rmens_task)17;
    ck_assert_int_eq(rmens_synth(&o, &ds), RMENS_ERR_ARG);
    ck_assert_int_eq(rmens_task_from_name("steps"), RMENS_TASK_STEPS);
    ck_assert_int_eq(rmens_task_from_name("nope"), -1);
    /* the options of candidates, sycophancy, bias and label noise */
    rmens_synth_options_init(&o);
    o.trap_kinds = 0;
    ck_assert_int_eq(rmens_synth(&o, &ds), RMENS_ERR_ARG);
    ck_assert_error_has("`trap_kinds`");
    rmens_synth_options_init(&o);
    o.trap_kinds = 1u << 5;
    ck_assert_int_eq(rmens_synth(&o, &ds), RMENS_ERR_ARG);
    rmens_synth_options_init(&o);
    o.candidates = 65537;
    ck_assert_int_eq(rmens_synth(&o, &ds), RMENS_ERR_ARG);
    ck_assert_error_has("`candidates`");
    rmens_synth_options_init(&o);
    o.candidates = 4, o.responses = 1;
    ck_assert_int_eq(rmens_synth(&o, &ds), RMENS_ERR_ARG);
    rmens_synth_options_init(&o);
    o.bias_p = 1.5, o.bias_feature = 1;
    ck_assert_int_eq(rmens_synth(&o, &ds), RMENS_ERR_ARG);
    ck_assert_error_has("`bias_p`");
    rmens_synth_options_init(&o);
    o.bias_p = 0.2, o.bias_feature = 0;
    ck_assert_int_eq(rmens_synth(&o, &ds), RMENS_ERR_ARG);
    ck_assert_error_has("`bias_feature`");
    rmens_synth_options_init(&o);
    o.bt_beta = NAN;
    ck_assert_int_eq(rmens_synth(&o, &ds), RMENS_ERR_ARG);
    rmens_synth_options_init(&o);
    o.bt_beta = 1, o.candidates = 3;
    ck_assert_int_eq(rmens_synth(&o, &ds), RMENS_ERR_ARG);
    ck_assert_error_has("responses file has none");
}
END_TEST

Suite *synth_suite(void)
{
    Suite *s = suite_create("synth");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, gold_by_hand);
    tcase_add_test(tc, deterministic);
    tcase_add_test(tc, splits_disjoint);
    tcase_add_test(tc, gold_and_traps);
    tcase_add_test(tc, steps_labels);
    tcase_add_test(tc, responses_file);
    tcase_add_test(tc, bad_options);
    tcase_add_test(tc, sycophancy_by_hand);
    tcase_add_test(tc, sycophancy_balanced);
    tcase_add_test(tc, candidates_file);
    tcase_add_test(tc, bias_pairs);
    tcase_add_test(tc, bt_noise);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
