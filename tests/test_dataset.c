/* The dataset: builder, validator, HDF5 writer/reader, and corrupted files. */
#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <time.h>

#include "tests/check_util.h"
#include "io/dataset.h"
#include "io/h5.h"

static const char *const P[3] = {"\n\nHuman: hi\n\nAssistant:", "\n\nHuman: 2+2?\n\nAssistant:", "\n\nHuman: x"};
static const char *const C[3] = {" hello", " 4", " y"};
static const char *const R[3] = {" go away", " 5", " zz"};

/* Three pairs with margin, gold and trap, built through the public builder. */
static rmens_dataset *make_small(void)
{
    rmens_dataset *ds;
    ck_assert_int_eq(rmens_dataset_new(&ds, RMENS_DATA_PAIRS,
                                       RMENS_HAS_MARGIN | RMENS_HAS_GOLD | RMENS_HAS_TRAP | RMENS_HAS_SOURCE,
                                       RMENS_BYTES_VOCAB, RMENS_BYTES_EOT, "bytes"), RMENS_OK);
    for (int i = 0; i < 3; i++) {
        char c[64], r[64];
        int32_t tc[64], tr[64];
        snprintf(c, sizeof c, "%s%s", P[i], C[i]);
        snprintf(r, sizeof r, "%s%s", P[i], R[i]);
        rmens_record rec = {0};
        rec.tok[0] = tc;
        rec.tok[1] = tr;
        rec.len[0] = (int64_t)rmens_tokenize_bytes(tc, c, strlen(c));
        rec.len[1] = (int64_t)rmens_tokenize_bytes(tr, r, strlen(r));
        rec.prompt_len = (int32_t)strlen(P[i]);
        rec.margin = 0.5f * (float)i;
        rec.gold[0] = 1.0f;
        rec.gold[1] = 0.25f * (float)i;
        rec.trap = (int8_t)i;
        rec.source_record = 10 + i;
        ck_assert_int_eq(rmens_dataset_append(ds, &rec), RMENS_OK);
    }
    return ds;
}

START_TEST(build_and_access)
{
    rmens_dataset *ds = make_small();
    ck_assert_int_eq(rmens_dataset_count(ds), 3);
    ck_assert_int_eq(rmens_dataset_validate(ds), RMENS_OK);
    int64_t len;
    const int32_t *t = rmens_dataset_seq(ds, RMENS_SIDE_REJECTED, 1, &len);
    ck_assert_int_eq(len, (int64_t)strlen(P[1]) + 2 + 1);
    ck_assert_int_eq(t[len - 2], '5');
    ck_assert_int_eq(t[len - 1], RMENS_BYTES_EOT);
    ck_assert_int_eq(rmens_dataset_prompt_len(ds, 2), (int32_t)strlen(P[2]));
    ck_assert_float_eq(rmens_dataset_margin(ds, 2), 1.0f);
    ck_assert_ptr_null(rmens_dataset_seq(ds, RMENS_SIDE_CHOSEN, 3, &len));
    ck_assert_int_eq(len, 0);
    rmens_dataset_free(ds);
}
END_TEST

START_TEST(grows_past_initial_capacity)
{
    rmens_dataset *ds;
    ck_assert_int_eq(rmens_dataset_new(&ds, RMENS_DATA_RESPONSES, RMENS_HAS_GOLD, 257, 256, "bytes"), RMENS_OK);
    for (int i = 0; i < 1000; i++) {
        int32_t t[3] = {i % 256, (i * 7) % 256, 256};
        rmens_record r = {0};
        r.tok[0] = t;
        r.len[0] = 1 + i % 3;
        t[r.len[0] - 1] = 256;
        r.gold[0] = (float)i;
        ck_assert_int_eq(rmens_dataset_append(ds, &r), RMENS_OK);
    }
    ck_assert_int_eq(rmens_dataset_validate(ds), RMENS_OK);
    ck_assert_float_eq(ds->side[0].gold[999], 999.0f);
    ck_assert_int_eq(ds->side[0].offsets[1000], 333 * (1 + 2 + 3) + 1);
    rmens_dataset_free(ds);
}
END_TEST

START_TEST(write_read_round_trip)
{
    char path[600];
    test_path(path, sizeof path, "small.h5");
    rmens_dataset *ds = make_small();
    snprintf(ds->source, sizeof ds->source, "unit test");
    ck_assert_int_eq(rmens_dataset_write(ds, path), RMENS_OK);
    rmens_dataset *back;
    ck_assert_msg(rmens_dataset_read(&back, path) == RMENS_OK, "%s", rmens_last_error());
    ck_assert_int_eq(back->kind, RMENS_DATA_PAIRS);
    ck_assert_uint_eq(back->has, ds->has);
    ck_assert_int_eq(back->n, 3);
    ck_assert_str_eq(back->tokenizer, "bytes");
    ck_assert_str_eq(back->source, "unit test");
    for (int s = 0; s < 2; s++) {
        ck_assert_int_eq(back->side[s].ntok, ds->side[s].ntok);
        ck_assert_mem_eq(back->side[s].tokens, ds->side[s].tokens, (size_t)ds->side[s].ntok * 4);
        ck_assert_mem_eq(back->side[s].offsets, ds->side[s].offsets, 4 * 8);
        ck_assert_mem_eq(back->side[s].gold, ds->side[s].gold, 3 * 4);
    }
    ck_assert_mem_eq(back->prompt_len, ds->prompt_len, 3 * 4);
    ck_assert_mem_eq(back->margin, ds->margin, 3 * 4);
    ck_assert_mem_eq(back->trap, ds->trap, 3);
    ck_assert_int_eq(back->source_record[2], 12);
    /* No temporary file is left beside the output. */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q 'small.h5.tmp'", test_dir());
    ck_assert_int_ne(system(cmd), 0);
    rmens_dataset_free(back);
    rmens_dataset_free(ds);
}
END_TEST

/* Each in-memory corruption must be caught by the validator with a precise message. */
START_TEST(validator_rules)
{
    rmens_dataset *ds = make_small();
    int32_t save;
#define EXPECT_INVALID(what)                                              \
    do {                                                                  \
        ck_assert_int_eq(rmens_dataset_validate(ds), RMENS_ERR_FORMAT);   \
        ck_assert_error_has(what);                                        \
    } while (0)

    save = ds->side[0].tokens[3];
    ds->side[0].tokens[3] = 257;
    EXPECT_INVALID("record 0: /chosen/tokens[3] = 257 is outside [0, vocab_size = 257)");
    ds->side[0].tokens[3] = save;

    int64_t end = ds->side[1].offsets[1] - 1;
    ds->side[1].tokens[end] = 'x';
    EXPECT_INVALID("record 0: /rejected sequence does not end with the end-of-text token");
    ds->side[1].tokens[end] = 256;

    int64_t o = ds->side[0].offsets[2];
    ds->side[0].offsets[2] = ds->side[0].offsets[1];
    EXPECT_INVALID("record 1: /chosen/offsets not increasing");
    ds->side[0].offsets[2] = o;

    ds->prompt_len[1] += 2;  /* reaches into " 4" vs " 5" */
    EXPECT_INVALID("record 1: prompt_len");
    ck_assert_error_has("differ at token");
    ds->prompt_len[1] = 400;
    EXPECT_INVALID("must be in [0,");
    ds->prompt_len[1] = (int32_t)strlen(P[1]);

    ds->margin[2] = 0.0f / 0.0f;
    EXPECT_INVALID("record 2: margin is not finite");
    ds->margin[2] = 1;

    ds->trap[0] = 9;
    EXPECT_INVALID("record 0: trap = 9");
    ds->trap[0] = 0;

    ds->eot = 300;
    EXPECT_INVALID("eot_token = 300");
    ds->eot = 256;
    ck_assert_int_eq(rmens_dataset_validate(ds), RMENS_OK);

    /* An invalid dataset is never written, and an existing file is left alone. */
    char path[600];
    test_path(path, sizeof path, "keep.h5");
    write_text(path, "precious");
    ds->trap[0] = 9;
    ck_assert_int_ne(rmens_dataset_write(ds, path), RMENS_OK);
    FILE *f = fopen(path, "r");
    char buf[16] = "";
    ck_assert_ptr_nonnull(fgets(buf, sizeof buf, f));
    fclose(f);
    ck_assert_str_eq(buf, "precious");
    rmens_dataset_free(ds);
}
END_TEST

/* --------------------------------------------------- corrupted files on disk */

static void fresh_file(const char *path)
{
    rmens_dataset *ds = make_small();
    ck_assert_int_eq(rmens_dataset_write(ds, path), RMENS_OK);
    rmens_dataset_free(ds);
}

static hid_t open_rw(const char *path)
{
    rmens_h5_init();
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    return f;
}

static void expect_read_error(const char *path, rmens_status code, const char *what)
{
    rmens_dataset *ds = (rmens_dataset *)0x1;
    rmens_status st = rmens_dataset_read(&ds, path);
    ck_assert_msg(st == code, "want status %d, got %d: %s", code, st, rmens_last_error());
    ck_assert_ptr_null(ds);
    ck_assert_error_has(path);
    ck_assert_error_has(what);
}

static void replace_i64(hid_t f, const char *name, const int64_t *v, hsize_t n)
{
    ck_assert_int_ge(H5Ldelete(f, name, H5P_DEFAULT), 0);
    ck_assert_int_eq(rmens_h5_write_1d(f, name, H5T_STD_I64LE, H5T_NATIVE_INT64, v, (int64_t)n), RMENS_OK);
}

START_TEST(corrupt_files)
{
    char path[600];
    test_path(path, sizeof path, "corrupt.h5");
    hid_t f;

    fresh_file(path);
    f = open_rw(path);
    int64_t off[4] = {0, 30, 20, 60};
    replace_i64(f, "/chosen/offsets", off, 4);
    H5Fclose(f);
    expect_read_error(path, RMENS_ERR_FORMAT, "record 1: /chosen/offsets not increasing (30 then 20)");

    fresh_file(path);
    f = open_rw(path);
    int64_t three[3] = {1, 2, 3};
    ck_assert_int_ge(H5Ldelete(f, "/prompt_len", H5P_DEFAULT), 0);
    ck_assert_int_eq(rmens_h5_write_1d(f, "/prompt_len", H5T_STD_I32LE, H5T_NATIVE_INT64, three, 2), RMENS_OK);
    H5Fclose(f);
    expect_read_error(path, RMENS_ERR_FORMAT, "/prompt_len has 2 entries, expected 3");

    fresh_file(path);
    f = open_rw(path);
    ck_assert_int_eq(rmens_h5_attr_write_i64(f, "rmens_version", 3), RMENS_OK);  /* 2: a tokenizer's record */
    H5Fclose(f);
    expect_read_error(path, RMENS_ERR_FORMAT, "rmens_version is 3");

    fresh_file(path);
    f = open_rw(path);
    ck_assert_int_eq(rmens_h5_attr_write_str(f, "rmens_format", "model"), RMENS_OK);
    H5Fclose(f);
    expect_read_error(path, RMENS_ERR_FORMAT, "rmens_format is \"model\"");

    fresh_file(path);
    f = open_rw(path);
    ck_assert_int_ge(H5Adelete(f, "eot_token"), 0);
    H5Fclose(f);
    expect_read_error(path, RMENS_ERR_FORMAT, "attribute eot_token is missing");

    fresh_file(path);
    f = open_rw(path);
    double ft[3] = {1, 2, 3};
    ck_assert_int_ge(H5Ldelete(f, "/rejected/tokens", H5P_DEFAULT), 0);
    ck_assert_int_eq(rmens_h5_write_1d(f, "/rejected/tokens", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, ft, 3), RMENS_OK);
    H5Fclose(f);
    expect_read_error(path, RMENS_ERR_FORMAT, "dataset /rejected/tokens has type float 64-bit");

    fresh_file(path);
    f = open_rw(path);
    ck_assert_int_ge(H5Ldelete(f, "/rejected/offsets", H5P_DEFAULT), 0);
    H5Fclose(f);
    expect_read_error(path, RMENS_ERR_FORMAT, "dataset /rejected/offsets is missing");

    /* Wider-than-documented offsets type that cannot fit: uint64. */
    fresh_file(path);
    f = open_rw(path);
    uint64_t uo[4] = {0, 1, 2, 3};
    ck_assert_int_ge(H5Ldelete(f, "/chosen/offsets", H5P_DEFAULT), 0);
    ck_assert_int_eq(rmens_h5_write_1d(f, "/chosen/offsets", H5T_STD_U64LE, H5T_NATIVE_UINT64, uo, 4), RMENS_OK);
    H5Fclose(f);
    expect_read_error(path, RMENS_ERR_FORMAT, "/chosen/offsets has type unsigned integer 64-bit");
}
END_TEST

START_TEST(not_hdf5_truncated_missing)
{
    char path[600], trunc[600];
    test_path(path, sizeof path, "text.h5");
    write_text(path, "{\"chosen\": \"not hdf5\"}\n");
    expect_read_error(path, RMENS_ERR_FORMAT, "not an HDF5 file");

    test_path(path, sizeof path, "whole.h5");
    fresh_file(path);
    FILE *in = fopen(path, "rb");
    char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, in);
    fclose(in);
    test_path(trunc, sizeof trunc, "truncated.h5");
    for (size_t cut = n / 2; cut >= 512; cut /= 2) {
        write_bytes(trunc, buf, cut);
        rmens_dataset *ds;
        ck_assert_int_ne(rmens_dataset_read(&ds, trunc), RMENS_OK);
        ck_assert_error_has(trunc);
    }
    /* A flipped byte in the middle of the data: an error or a valid file, never a crash. */
    for (size_t at = 800; at < n; at += 997) {
        char copy[1 << 16];
        memcpy(copy, buf, n);
        copy[at] ^= 0x5a;
        write_bytes(trunc, copy, n);
        rmens_dataset *ds = NULL;
        if (rmens_dataset_read(&ds, trunc) == RMENS_OK)
            ck_assert_int_eq(rmens_dataset_validate(ds), RMENS_OK);
        rmens_dataset_free(ds);
    }

    test_path(path, sizeof path, "absent.h5");
    expect_read_error(path, RMENS_ERR_IO, "cannot open");
}
END_TEST

START_TEST(stats_by_hand)
{
    rmens_dataset *ds = make_small();
    rmens_dataset_stats s;
    ck_assert_int_eq(rmens_dataset_stats_compute(ds, &s), RMENS_OK);
    /* lengths: prompt + response + 1 */
    int64_t l[6];
    for (int i = 0; i < 3; i++) {
        l[2 * i] = (int64_t)(strlen(P[i]) + strlen(C[i]) + 1);
        l[2 * i + 1] = (int64_t)(strlen(P[i]) + strlen(R[i]) + 1);
    }
    ck_assert_int_eq(l[0], 30);
    ck_assert_int_eq(l[1], 32);
    ck_assert_int_eq(l[2], 28);
    ck_assert_int_eq(l[3], 28);
    ck_assert_int_eq(l[4], 13);
    ck_assert_int_eq(l[5], 14);
    ck_assert_int_eq(s.n_sequences, 6);
    ck_assert_int_eq(s.n_tokens, 145);
    ck_assert_int_eq(s.len_min, 13);
    ck_assert_int_eq(s.len_median, 28);  /* lower median of 13 14 28 28 30 32 */
    ck_assert_int_eq(s.len_p90, 30);     /* element floor(0.9 * 5) = 4 */
    ck_assert_int_eq(s.len_max, 32);
    double frac = (23.0 / 32 + 25.0 / 28 + 10.0 / 14) / 3;
    ck_assert_double_eq_tol(s.prompt_frac, frac, 1e-12);
    ck_assert_double_eq_tol(s.chosen_longer, 0.0, 1e-12);
    rmens_dataset_free(ds);
}
END_TEST

/* A save removes the temporaries that killed saves of the same path left behind (last
 * modified before this process first used HDF5), and nothing else. */
START_TEST(stale_temporaries)
{
    rmens_h5_init();
    struct stale { const char *name; int old, removed; } f[] = {
        {"sw.h5.tmp.12345", 1, 1},   /* a killed save's */
        {"sw.h5.tmp.777", 0, 0},     /* modified since we started: a running save's */
        {"sw.h5.tmp.12x", 1, 0},     /* not a temporary's name */
        {"sw.h5.tmpl.1", 1, 0},
        {"sw.h5.tmp.", 1, 0},
        {"other.h5.tmp.5", 1, 0},    /* another file's */
    };
    char path[600], own[600], own_name[64];
    snprintf(own_name, sizeof own_name, "sw.h5.tmp.%ld", (long)getpid());
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        test_path(path, sizeof path, f[i].name);
        write_text(path, "partial");
        /* Old: an hour ago. Not old: a minute ahead, so no clock granularity can make
         * it look older than this process. */
        time_t when = f[i].old ? time(NULL) - 3600 : time(NULL) + 60;
        struct timespec t[2] = {{when, 0}, {when, 0}};
        ck_assert_int_eq(utimensat(AT_FDCWD, path, t, 0), 0);
    }
    test_path(path, sizeof path, "sw.h5");
    rmens_dataset *ds = make_small();
    ck_assert_int_eq(rmens_dataset_write(ds, path), RMENS_OK);
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        test_path(path, sizeof path, f[i].name);
        ck_assert_msg(file_exists(path) == !f[i].removed, "%s %s", f[i].name, f[i].removed ? "kept" : "removed");
        remove(path);
    }
    test_path(own, sizeof own, own_name);
    ck_assert(!file_exists(own));
    test_path(path, sizeof path, "sw.h5");
    ck_assert(file_exists(path));
    /* Nothing stale: nothing to remove. */
    ck_assert_int_eq(rmens_h5_sweep_stale(path), 0);
    /* Never this process's own temporary, never a symbolic link (nor its target), and a
     * bare name means the current directory. */
    struct timespec old[2] = {{time(NULL) - 3600, 0}, {time(NULL) - 3600, 0}};
    char target[600], link[600], bare[600], cwd[4096];
    test_path(own, sizeof own, own_name);
    write_text(own, "ours");
    ck_assert_int_eq(utimensat(AT_FDCWD, own, old, 0), 0);
    test_path(target, sizeof target, "elsewhere");
    write_text(target, "x");
    test_path(link, sizeof link, "sw.h5.tmp.9");
    ck_assert_int_eq(symlink(target, link), 0);
    ck_assert_int_eq(utimensat(AT_FDCWD, link, old, AT_SYMLINK_NOFOLLOW), 0);
    ck_assert_int_eq(rmens_h5_sweep_stale(path), 0);
    ck_assert(file_exists(own) && file_exists(link) && file_exists(target));
    remove(own), remove(link), remove(target);
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(test_dir()), 0);
    snprintf(bare, sizeof bare, "bare.h5.tmp.4242");
    write_text(bare, "old");
    ck_assert_int_eq(utimensat(AT_FDCWD, bare, old, 0), 0);
    ck_assert_int_eq(rmens_h5_sweep_stale("bare.h5"), 1);
    ck_assert(!file_exists(bare));
    ck_assert_int_eq(chdir(cwd), 0);
    rmens_dataset_free(ds);
}
END_TEST

Suite *dataset_suite(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, build_and_access);
    tcase_add_test(tc, grows_past_initial_capacity);
    tcase_add_test(tc, write_read_round_trip);
    tcase_add_test(tc, validator_rules);
    tcase_add_test(tc, corrupt_files);
    tcase_add_test(tc, not_hdf5_truncated_missing);
    tcase_add_test(tc, stats_by_hand);
    tcase_add_test(tc, stale_temporaries);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
