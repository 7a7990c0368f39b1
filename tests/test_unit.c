/* Serial unit tests (Check, forking): one suite per library noun. */
#include "tests/check_util.h"


int main(void)
{
    SRunner *sr = srunner_create(tokenizer_suite());
    srunner_add_suite(sr, dataset_suite());
    srunner_add_suite(sr, prep_suite());
    srunner_add_suite(sr, synth_suite());
    srunner_add_suite(sr, model_suite());
    srunner_add_suite(sr, kernels_suite());
    srunner_add_suite(sr, arch_suite());
    srunner_add_suite(sr, bootstrap_suite());
    srunner_add_suite(sr, metrics_suite());
    srunner_add_suite(sr, results_suite());
    srunner_add_suite(sr, objective_suite());
    srunner_add_suite(sr, uncertainty_suite());
    srunner_add_suite(sr, acquisition_suite());
    test_dir();  /* created before forking, so every test shares it */
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    test_dir_cleanup();
    return failed == 0 ? 0 : 1;
}
