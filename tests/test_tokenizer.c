/* The byte tokenizer, the UTF-8 check and the counter-based generator. */
#include "tests/check_util.h"
#include "base/rng.h"
#include "text/utf8.h"

START_TEST(bytes_round_trip)
{
    const char text[] = {'a', 0, (char)0xff, '\n', (char)0xc3, (char)0xa9};
    int32_t ids[8];
    ck_assert_uint_eq(rmens_tokenize_bytes(ids, text, sizeof text), 7);
    const int32_t want[] = {97, 0, 255, 10, 195, 169, 256};
    for (int i = 0; i < 7; i++)
        ck_assert_int_eq(ids[i], want[i]);
    char back[8];
    ck_assert_uint_eq(rmens_detokenize_bytes(back, ids, 7), 6);
    ck_assert_mem_eq(back, text, 6);
    int32_t bad[] = {65, 300, 256};
    ck_assert_uint_eq(rmens_detokenize_bytes(back, bad, 3), (size_t)-1);
    int32_t neg[] = {-1};
    ck_assert_uint_eq(rmens_detokenize_bytes(back, neg, 1), (size_t)-1);
    ck_assert_uint_eq(rmens_tokenize_bytes(ids, "", 0), 1);
    ck_assert_int_eq(ids[0], RMENS_BYTES_EOT);
}
END_TEST

START_TEST(utf8_validity)
{
    struct { const char *s; size_t n, valid; } cases[] = {
        {"plain ascii", 11, 11},
        {"caf\xc3\xa9", 5, 5},                   /* 2-byte */
        {"\xe2\x82\xac", 3, 3},                  /* euro sign */
        {"\xf0\x9f\x98\x80!", 5, 5},             /* 4-byte emoji */
        {"ab\xc0\x80", 4, 2},                    /* overlong NUL */
        {"\xed\xa0\x80", 3, 0},                  /* UTF-16 surrogate */
        {"x\xe2\x82", 3, 1},                     /* truncated */
        {"\xf4\x90\x80\x80", 4, 0},              /* above U+10FFFF */
        {"ok\xff", 3, 2},                        /* never valid */
        {"\xc3(", 2, 0},                         /* bad continuation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        ck_assert_msg(rmens_utf8_valid_prefix(cases[i].s, cases[i].n) == cases[i].valid,
                      "case %zu: got %zu, want %zu", i, rmens_utf8_valid_prefix(cases[i].s, cases[i].n),
                      cases[i].valid);
}
END_TEST

/* Reference draws computed independently in Python from the formula in docs/FORMAT.md. */
START_TEST(rng_reference_values)
{
    rmens_rng g;
    rmens_rng_init(&g, 42, 7);
    ck_assert_uint_eq(rmens_rng_u64(&g), 0x50d90904daf7e169ull);
    ck_assert_uint_eq(rmens_rng_u64(&g), 0x1ad17cff2120c4ccull);
    ck_assert_uint_eq(rmens_rng_u64(&g), 0x953138a9736725f3ull);
    rmens_rng_init(&g, 0, 0);
    ck_assert_uint_eq(rmens_rng_u64(&g), 0xbfef8030ddc2d772ull);
    ck_assert_uint_eq(rmens_rng_u64(&g), 0x5f552ce482f2aa47ull);
    rmens_rng_init(&g, 42, 7);
    const uint64_t want[] = {3, 1, 5, 9, 6, 9, 9, 4};
    for (int i = 0; i < 8; i++)
        ck_assert_uint_eq(rmens_rng_below(&g, 10), want[i]);
}
END_TEST

START_TEST(rng_uniform)
{
    /* Chi-square over 16 cells, 160000 draws: 15 degrees of freedom, p = 1e-6 at 55. */
    rmens_rng g;
    rmens_rng_init(&g, 7, 1);
    long cnt[16] = {0};
    for (int i = 0; i < 160000; i++)
        cnt[rmens_rng_below(&g, 16)]++;
    double chi = 0;
    for (int k = 0; k < 16; k++)
        chi += ((double)cnt[k] - 10000.0) * ((double)cnt[k] - 10000.0) / 10000.0;
    ck_assert_double_lt(chi, 55.0);
    double u = 0;
    for (int i = 0; i < 100000; i++) {
        double x = rmens_rng_unit(&g);
        ck_assert(x >= 0 && x < 1);
        u += x;
    }
    ck_assert_double_eq_tol(u / 100000, 0.5, 0.005);
}
END_TEST

START_TEST(status_strings)
{
    ck_assert_str_eq(rmens_strerror(RMENS_OK), "success");
    ck_assert_str_eq(rmens_strerror(RMENS_ERR_FORMAT), "invalid rmens file");
    ck_assert_str_eq(rmens_strerror((rmens_status)999), "unknown error");
}
END_TEST

Suite *tokenizer_suite(void)
{
    Suite *s = suite_create("tokenizer");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, bytes_round_trip);
    tcase_add_test(tc, utf8_validity);
    tcase_add_test(tc, rng_reference_values);
    tcase_add_test(tc, rng_uniform);
    tcase_add_test(tc, status_strings);
    suite_add_tcase(s, tc);
    return s;
}
