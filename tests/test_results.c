/* The rules and results the library computes for cli/ to print, on cases worked by hand:
 * the truncation rule, the ensemble's decision rules, and eval's measures. */
#include <math.h>

#include "tests/check_util.h"
#include "model/batch.h"
#include "ensemble/ensemble.h"
#include "ensemble/evaluator.h"
#include "io/dataset.h"

static void cut_is(int64_t lc, int64_t lr, int64_t P, int64_t T, int64_t c, int64_t r, int64_t p, int cut, int lost)
{
    rmens_cut x = rmens_batch_cut(lc, lr, P, T);
    ck_assert_msg(x.chosen == c && x.rejected == r && x.prompt == p && x.cut == cut && x.prompt_lost == lost,
                  "cut(%lld, %lld, P %lld, T %lld) = %lld %lld %lld %d %d", (long long)lc, (long long)lr, (long long)P,
                  (long long)T, (long long)x.chosen, (long long)x.rejected, (long long)x.prompt, x.cut, x.prompt_lost);
}

START_TEST(truncation_rule)
{
    cut_is(8, 5, 3, 8, 0, 0, 3, 0, 0);   /* fits */
    cut_is(10, 8, 4, 8, 2, 2, 2, 1, 0);  /* the prompt outlasts the cut: both sides lose 2 */
    cut_is(10, 8, 2, 8, 2, 0, 0, 1, 1);  /* the cut takes the whole prompt: each side to its last 8 */
    cut_is(10, 9, 0, 8, 2, 1, 0, 1, 0);  /* no prompt to lose */
    cut_is(12, 0, 0, 8, 4, 0, 0, 1, 0);  /* a single sequence */
}
END_TEST

START_TEST(decision_rules)
{
    ck_assert_double_eq(rmens_rule_value(RMENS_RULE_MEAN, 1, -2, 4, 0.5), 1);
    ck_assert_double_eq(rmens_rule_value(RMENS_RULE_MIN, 1, -2, 4, 0.5), -2);
    ck_assert_double_eq(rmens_rule_value(RMENS_RULE_UWO, 1, -2, 4, 0.5), -1);
    double wins[RMENS_RULE_N] = {0};
    /* chosen: mean 2, min 1, var 1; rejected: mean 0.5, min 0, var 0.25 -> every rule prefers chosen */
    rmens_rule_decide(wins, (const double[3]){2, 1, 1}, (const double[3]){0.5, 0, 0.25}, 0.5);
    /* chosen: mean 0.5, min -1, var 2.25; rejected: mean 0, min 0, var 0 -> only the mean prefers it */
    rmens_rule_decide(wins, (const double[3]){0.5, -1, 2.25}, (const double[3]){0, 0, 0}, 0.5);
    ck_assert_double_eq(wins[RMENS_RULE_MEAN], 2);
    ck_assert_double_eq(wins[RMENS_RULE_MIN], 1);
    ck_assert_double_eq(wins[RMENS_RULE_UWO], 1);
    ck_assert_str_eq(rmens_rule_names[RMENS_RULE_UWO], "uwo");
}
END_TEST

/* Three pairs (prompt 1 token): responses of 2 vs 3, 3 vs 1, 2 vs 2 tokens; traps none,
 * length, none. */
static rmens_dataset *three_pairs(void)
{
    rmens_dataset *ds;
    ck_assert_int_eq(rmens_dataset_new(&ds, RMENS_DATA_PAIRS, RMENS_HAS_PROMPT | RMENS_HAS_TRAP, 257, 256, "bytes"),
                     RMENS_OK);
    static const int32_t tok[] = {7, 1, 2, 3, 256};
    const int64_t lens[3][2] = {{3, 4}, {4, 2}, {3, 3}};
    const int8_t traps[3] = {RMENS_TRAP_NONE, RMENS_TRAP_LENGTH, RMENS_TRAP_NONE};
    for (int i = 0; i < 3; i++) {
        rmens_record r = {0};
        r.tok[0] = r.tok[1] = tok;
        r.len[0] = lens[i][0], r.len[1] = lens[i][1];
        r.prompt_len = 1;
        r.trap = traps[i];
        ck_assert_int_eq(rmens_dataset_append(ds, &r), RMENS_OK);
    }
    return ds;
}

static double sig(double x) { return 1 / (1 + exp(-x)); }

START_TEST(eval_by_hand)
{
    rmens_dataset *ds = three_pairs();
    /* [2n][K]: chosen rows, then rejected. Member 0: r_w - r_l = 1, -1, 2; member 1: 2, 0, -1. */
    const float R[] = {1, 3, 0, 0, 2, -1, /* rejected: */ 0, 1, 1, 0, 0, 0};
    const float Rood[] = {0, 2, 1, 1};  /* std over members 1 and 0 */
    rmens_eval_result r;
    ck_assert_int_eq(rmens_eval_compute(ds, R, 2, Rood, 2, 0.5, &r), RMENS_OK);
    ck_assert_int_eq(r.pairs, 3);
    ck_assert_int_eq(r.members, 2);
    ck_assert_double_eq_tol(r.member[0].accuracy, 2.0 / 3, 1e-15);
    ck_assert_double_eq_tol(r.member[1].accuracy, 1.0 / 3, 1e-15);
    ck_assert_double_eq_tol(r.member[0].margin, 2.0 / 3, 1e-15);
    ck_assert_double_eq_tol(r.member[1].margin, 1.0 / 3, 1e-15);
    double b0 = (pow(1 - sig(1), 2) + pow(1 - sig(-1), 2) + pow(1 - sig(2), 2)) / 3;
    ck_assert_double_eq_tol(r.member[0].brier, b0, 1e-12);
    double pe[3] = {(sig(1) + sig(2)) / 2, (sig(-1) + sig(0)) / 2, (sig(2) + sig(-1)) / 2};
    ck_assert_double_eq_tol(r.ensemble.nll, -(log(pe[0]) + log(pe[1]) + log(pe[2])) / 3, 1e-12);
    /* mean rewards 2 vs .5, 0 vs .5, .5 vs 0; minima 1 vs 0, 0 vs 0, -1 vs 0; uwo (lambda
     * .5) 1.5 vs .375, 0 vs .375, -.625 vs 0 */
    ck_assert_double_eq_tol(r.accuracy[RMENS_RULE_MEAN], 2.0 / 3, 1e-15);
    ck_assert_double_eq_tol(r.accuracy[RMENS_RULE_MIN], 1.0 / 3, 1e-15);
    ck_assert_double_eq_tol(r.accuracy[RMENS_RULE_UWO], 1.0 / 3, 1e-15);
    ck_assert_double_eq_tol(r.ensemble.accuracy, 2.0 / 3, 1e-15);
    /* disagreement (std of the margins) .5, .5, 1.5; wrong only on pair 1: AUROC (tie .5 + 0) / 2 */
    const rmens_eval_signal *sd = &r.signal[RMENS_SIGNAL_STD];
    ck_assert_double_eq_tol(sd->auroc, 0.25, 1e-15);
    ck_assert_double_eq_tol(sd->accuracy_at_coverage[0], 0.5, 1e-15);  /* pairs 0 and 1 */
    ck_assert_double_eq_tol(sd->accuracy_at_coverage[2], 2.0 / 3, 1e-15);
    /* risks: the tie {0, 1} holds one error: 1/2 expected at k = 1 and 2; then 1/3 */
    ck_assert_double_eq_tol(sd->aurc, (0.5 + 0.5 + 1.0 / 3) / 3, 1e-15);
    /* ranks of the mean rewards and of the response lengths (average ranks): rho = -4.75 / 15 */
    ck_assert_double_eq_tol(r.spearman_length, -4.75 / 15, 1e-12);
    ck_assert_int_eq(r.pairs_chosen_shorter, 1);
    ck_assert_int_eq(r.pairs_chosen_longer, 1);
    ck_assert_double_eq(r.accuracy_chosen_shorter, 1);
    ck_assert_double_eq(r.accuracy_chosen_longer, 0);
    ck_assert(r.has_traps);
    ck_assert_double_eq(r.trap_accuracy[RMENS_TRAP_NONE], 1);
    ck_assert_double_eq(r.trap_accuracy[RMENS_TRAP_LENGTH], 0);
    ck_assert_int_eq(r.trap_pairs[RMENS_TRAP_NONE], 2);
    ck_assert(isnan(r.trap_accuracy[RMENS_TRAP_FORMAT]));
    /* per-sequence std: in distribution 1, 0, 1.5, .5, .5, 0; out 1, 0 */
    ck_assert(r.has_ood);
    ck_assert_double_eq_tol(r.id_disagreement, 3.5 / 6, 1e-12);
    ck_assert_double_eq_tol(r.ood_disagreement, 0.5, 1e-12);
    ck_assert_double_eq_tol(r.ood_auroc, 5.5 / 12, 1e-12);
    rmens_eval_result_free(&r);
    /* One member: no disagreement to measure, and no AUROC passed off as 0.5. */
    const float R1[] = {1, 0, 2, 0, 1, 0};
    ck_assert_int_eq(rmens_eval_compute(ds, R1, 1, Rood, 4, 0.5, &r), RMENS_OK);
    ck_assert(isnan(r.signal[RMENS_SIGNAL_STD].auroc) && isnan(r.signal[RMENS_SIGNAL_STD].accuracy_at_coverage[0]));
    ck_assert(isnan(r.signal[RMENS_SIGNAL_BALD].aurc) && isnan(r.ood_auroc));
    ck_assert_double_eq_tol(r.signal[RMENS_SIGNAL_STD].accuracy_at_coverage[2], 2.0 / 3, 1e-15);
    /* the entropy of one member's probability is defined: margins 1, -1, 2, wrong on the
     * second; H(sig(1)) = H(sig(-1)) > H(sig(2)): AUROC (tie .5 + 1) / 2 */
    ck_assert_double_eq_tol(r.signal[RMENS_SIGNAL_ENTROPY].auroc, 0.75, 1e-15);
    rmens_eval_result_free(&r);
    rmens_dataset_free(ds);
}
END_TEST

Suite *results_suite(void)
{
    Suite *s = suite_create("results");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, truncation_rule);
    tcase_add_test(tc, decision_rules);
    tcase_add_test(tc, eval_by_hand);
    suite_add_tcase(s, tc);
    return s;
}
