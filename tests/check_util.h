/* Helpers shared by the Check test programs: scratch files and substring asserts. */
#ifndef RMENS_TESTS_CHECK_UTIL_H
#define RMENS_TESTS_CHECK_UTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rmens.h"

/* A fresh scratch directory per test program, under $TMPDIR or /tmp. */
static inline const char *test_dir(void)
{
    /* Each test file has its own copy of this static, so the directory is shared
     * through the environment (forked test processes inherit it). */
    static char dir[512];
    if (!dir[0] && getenv("RMENS_TEST_DIR"))
        snprintf(dir, sizeof dir, "%s", getenv("RMENS_TEST_DIR"));
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/rmens-check.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            exit(1);
        }
        setenv("RMENS_TEST_DIR", dir, 1);
    }
    return dir;
}

static inline const char *test_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", test_dir(), name);
    return buf;
}

static inline void write_bytes(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static inline void write_text(const char *path, const char *text) { write_bytes(path, text, strlen(text)); }

static inline int file_exists(const char *path) { return access(path, F_OK) == 0; }

/* Asserts the last error message contains every given substring. */
#define ck_assert_error_has(sub)                                                        \
    ck_assert_msg(strstr(rmens_last_error(), (sub)) != NULL,                            \
                  "error message \"%s\" lacks \"%s\"", rmens_last_error(), (sub))

/* Removes the scratch directory (best effort) at exit. */
static inline void test_dir_cleanup(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_dir());
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", test_dir());
}

/* The suites of tests/test_unit (one per library noun). */
Suite *tokenizer_suite(void);
Suite *dataset_suite(void);
Suite *prep_suite(void);
Suite *synth_suite(void);
Suite *model_suite(void);
Suite *kernels_suite(void);
Suite *arch_suite(void);
Suite *bootstrap_suite(void);
Suite *metrics_suite(void);
Suite *results_suite(void);
Suite *objective_suite(void);
Suite *uncertainty_suite(void);
Suite *acquisition_suite(void);

#endif
