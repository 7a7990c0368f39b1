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
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
