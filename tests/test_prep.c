/* rmens prep: each input format rendered by hand, and every bad input. */
#include <zlib.h>

#include "tests/check_util.h"
#include "io/dataset.h"

/* Decodes record i, side s of a pairs file into buf (NUL-terminated). */
static const char *decode(const rmens_dataset *ds, int s, int64_t i, char *buf, size_t size)
{
    int64_t n;
    const int32_t *t = rmens_dataset_seq(ds, (rmens_side)s, i, &n);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t[n - 1], RMENS_BYTES_EOT);
    ck_assert_uint_lt((size_t)n, size);
    size_t k = rmens_detokenize_bytes(buf, t, (size_t)n);
    ck_assert_uint_eq(k, (size_t)n - 1);
    buf[k] = '\0';
    return buf;
}

typedef struct {
    const char *chosen, *rejected, *prompt;
    int64_t source;
    float margin;
} want_pair;

static rmens_dataset *run_prep(const char *name, const char *content, rmens_prep_format fmt,
                               rmens_prep_report *rep)
{
    char in[600], out[700];
    test_path(in, sizeof in, name);
    snprintf(out, sizeof out, "%s.h5", in);
    write_text(in, content);
    rmens_prep_options o;
    rmens_prep_options_init(&o);
    o.input = in;
    o.output = out;
    o.format = fmt;
    o.overwrite = 1;
    ck_assert_msg(rmens_prep(&o, rep) == RMENS_OK, "%s", rmens_last_error());
    rmens_dataset *ds;
    ck_assert_msg(rmens_dataset_read(&ds, out) == RMENS_OK, "%s", rmens_last_error());
    return ds;
}

static void check_pairs(const rmens_dataset *ds, const want_pair *w, int n)
{
    char buf[4096];
    ck_assert_int_eq(rmens_dataset_count(ds), n);
    for (int i = 0; i < n; i++) {
        ck_assert_str_eq(decode(ds, 0, i, buf, sizeof buf), w[i].chosen);
        ck_assert_str_eq(decode(ds, 1, i, buf, sizeof buf), w[i].rejected);
        ck_assert_int_eq(rmens_dataset_prompt_len(ds, i), (int32_t)strlen(w[i].prompt));
        ck_assert_int_eq(strncmp(w[i].chosen, w[i].prompt, strlen(w[i].prompt)), 0);
        ck_assert_int_eq(ds->source_record[i], w[i].source);
        ck_assert_float_eq(rmens_dataset_margin(ds, i), w[i].margin);
    }
}

START_TEST(format_hh)
{
    rmens_prep_report rep;
    rmens_dataset *ds = run_prep("hh.jsonl",
        "{\"chosen\": \"\\n\\nHuman: Hi\\n\\nAssistant: Hello there\", \"rejected\": \"\\n\\nHuman: Hi\\n\\nAssistant: Go away\"}\n"
        "\n"
        "{\"chosen\": \"\\n\\nHuman: A\\n\\nAssistant: B\\n\\nHuman: C\\n\\nAssistant: D\", "
        "\"rejected\": \"\\n\\nHuman: A\\n\\nAssistant: B\\n\\nHuman: C\\n\\nAssistant: E!\"}\n",
        RMENS_PREP_AUTO, &rep);
    ck_assert_int_eq(rep.format, RMENS_PREP_HH);
    ck_assert_int_eq(rep.records_read, 2);
    ck_assert_int_eq(rep.pairs_written, 2);
    ck_assert_int_eq(rmens_dataset_has_margin(ds), 0);
    const want_pair w[] = {
        {"\n\nHuman: Hi\n\nAssistant: Hello there", "\n\nHuman: Hi\n\nAssistant: Go away",
         "\n\nHuman: Hi\n\nAssistant:", 0, 0},
        {"\n\nHuman: A\n\nAssistant: B\n\nHuman: C\n\nAssistant: D",
         "\n\nHuman: A\n\nAssistant: B\n\nHuman: C\n\nAssistant: E!",
         "\n\nHuman: A\n\nAssistant: B\n\nHuman: C\n\nAssistant:", 2, 0},
    };
    check_pairs(ds, w, 2);
    rmens_dataset_free(ds);
}
END_TEST

START_TEST(format_prompt)
{
    rmens_prep_report rep;
    rmens_dataset *ds = run_prep("prompt.jsonl",
        "{\"prompt\": \"What is 2+2?\", \"chosen\": \"4\", \"rejected\": \" 5\", \"margin\": 1.5}\n"
        "{\"prompt\": \"\\n\\nHuman: Hey\\n\\nAssistant:\", \"chosen\": \" Yo\", \"rejected\": \"No\", \"margin\": -2}\n"
        "{\"prompt\": \"\\n\\nHuman: Hey\", \"chosen\": \"\\tTab\", \"rejected\": \"No\", \"margin\": 0}\n",
        RMENS_PREP_AUTO, &rep);
    ck_assert_int_eq(rep.format, RMENS_PREP_PROMPT);
    ck_assert_int_eq(rmens_dataset_has_margin(ds), 1);
    const want_pair w[] = {
        {"\n\nHuman: What is 2+2?\n\nAssistant: 4", "\n\nHuman: What is 2+2?\n\nAssistant: 5",
         "\n\nHuman: What is 2+2?\n\nAssistant:", 0, 1.5f},
        {"\n\nHuman: Hey\n\nAssistant: Yo", "\n\nHuman: Hey\n\nAssistant: No", "\n\nHuman: Hey\n\nAssistant:", 1, -2.0f},
        {"\n\nHuman: Hey\n\nAssistant:\tTab", "\n\nHuman: Hey\n\nAssistant: No", "\n\nHuman: Hey\n\nAssistant:", 2, 0.0f},
    };
    check_pairs(ds, w, 3);
    rmens_dataset_free(ds);
}
END_TEST

START_TEST(format_messages)
{
    rmens_prep_report rep;
    rmens_dataset *ds = run_prep("messages.jsonl",
        "{\"prompt\": [{\"role\": \"system\", \"content\": \"Be nice.\"}, {\"role\": \"user\", \"content\": \"Hi\"}],"
        " \"chosen\": [{\"role\": \"assistant\", \"content\": \"Hello!\"}],"
        " \"rejected\": [{\"role\": \"assistant\", \"content\": \"What?\"}, {\"role\": \"user\", \"content\": \"ok\"}],"
        " \"score_chosen\": 8, \"score_rejected\": 5.5}\n"
        "{\"prompt\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Hel\"}, {\"type\": \"text\", \"text\": \"lo\"}]}],"
        " \"chosen\": \"Yes\", \"rejected\": {\"role\": \"assistant\", \"content\": \"No\"},"
        " \"score_chosen\": 1, \"score_rejected\": 1}\n",
        RMENS_PREP_AUTO, &rep);
    ck_assert_int_eq(rep.format, RMENS_PREP_MESSAGES);
    const want_pair w[] = {
        {"\n\nSystem: Be nice.\n\nHuman: Hi\n\nAssistant: Hello!",
         "\n\nSystem: Be nice.\n\nHuman: Hi\n\nAssistant: What?\n\nHuman: ok",
         "\n\nSystem: Be nice.\n\nHuman: Hi\n\nAssistant:", 0, 2.5f},
        {"\n\nHuman: Hello\n\nAssistant: Yes", "\n\nHuman: Hello\n\nAssistant: No",
         "\n\nHuman: Hello\n\nAssistant:", 1, 0.0f},
    };
    check_pairs(ds, w, 2);
    rmens_dataset_free(ds);

    /* TRL's implicit prompt: the shared leading messages. */
    ds = run_prep("implicit.jsonl",
        "{\"chosen\": [{\"role\": \"user\", \"content\": \"Q\"}, {\"role\": \"assistant\", \"content\": \"A1\"}],"
        " \"rejected\": [{\"role\": \"user\", \"content\": \"Q\"}, {\"role\": \"assistant\", \"content\": \"A2\"}]}\n",
        RMENS_PREP_AUTO, &rep);
    ck_assert_int_eq(rep.format, RMENS_PREP_MESSAGES);
    const want_pair w2[] = {{"\n\nHuman: Q\n\nAssistant: A1", "\n\nHuman: Q\n\nAssistant: A2",
                             "\n\nHuman: Q\n\nAssistant:", 0, 0}};
    check_pairs(ds, w2, 1);
    rmens_dataset_free(ds);
}
END_TEST

START_TEST(format_sharegpt_array_and_gzip)
{
    const char *json =
        "[\n {\"conversations\": [{\"from\": \"system\", \"value\": \"S\"}, {\"from\": \"human\", \"value\": \"Tell me\"}],"
        " \"chosen\": {\"from\": \"gpt\", \"value\": \"Sure\"}, \"rejected\": {\"from\": \"gpt\", \"value\": \"No\"}},\n"
        " {\"conversations\": [{\"from\": \"human\", \"value\": \"caf\\u00e9\"}],"
        " \"chosen\": {\"from\": \"gpt\", \"value\": \"\\u00e9t\\u00e9\"}, \"rejected\": {\"from\": \"gpt\", \"value\": \"hiver\"}}\n]\n";
    const want_pair w[] = {
        {"\n\nSystem: S\n\nHuman: Tell me\n\nAssistant: Sure", "\n\nSystem: S\n\nHuman: Tell me\n\nAssistant: No",
         "\n\nSystem: S\n\nHuman: Tell me\n\nAssistant:", 0, 0},
        {"\n\nHuman: caf\xc3\xa9\n\nAssistant: \xc3\xa9t\xc3\xa9", "\n\nHuman: caf\xc3\xa9\n\nAssistant: hiver",
         "\n\nHuman: caf\xc3\xa9\n\nAssistant:", 1, 0},
    };
    rmens_prep_report rep;
    rmens_dataset *ds = run_prep("sharegpt.json", json, RMENS_PREP_AUTO, &rep);
    ck_assert_int_eq(rep.format, RMENS_PREP_SHAREGPT);
    check_pairs(ds, w, 2);
    rmens_dataset_free(ds);

    /* The same array, gzip-compressed, gives the same pairs. */
    char gz[600], out[600];
    test_path(gz, sizeof gz, "sharegpt.json.gz");
    test_path(out, sizeof out, "sharegpt-gz.h5");
    gzFile g = gzopen(gz, "wb");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(gzwrite(g, json, (unsigned)strlen(json)), (int)strlen(json));
    gzclose(g);
    rmens_prep_options o;
    rmens_prep_options_init(&o);
    o.input = gz;
    o.output = out;
    ck_assert_msg(rmens_prep(&o, &rep) == RMENS_OK, "%s", rmens_last_error());
    ck_assert_int_eq(rep.input_bytes, (int64_t)strlen(json));
    ck_assert_int_eq(rmens_dataset_read(&ds, out), RMENS_OK);
    check_pairs(ds, w, 2);
    rmens_dataset_free(ds);
}
END_TEST

START_TEST(skips_are_counted)
{
    rmens_prep_report rep;
    rmens_dataset *ds = run_prep("skips.jsonl",
        "{\"chosen\": \"\\n\\nHuman: a\\n\\nAssistant: same\", \"rejected\": \"\\n\\nHuman: a\\n\\nAssistant: same\"}\n"
        "{\"chosen\": \"\\n\\nHuman: a\\n\\nAssistant: x\", \"rejected\": \"\\n\\nHuman: b\\n\\nAssistant: y\"}\n"
        "{\"chosen\": \"\\n\\nHuman: a\\n\\nAssistant:\", \"rejected\": \"\\n\\nHuman: a\\n\\nAssistant: y\"}\n"
        "{\"chosen\": \"\\n\\nHuman: a\\n\\nAssistant: ok\", \"rejected\": \"\\n\\nHuman: a\\n\\nAssistant: \\u00ff\"}\n"
        "{\"chosen\": \"\\n\\nHuman: \xff\xfe\\n\\nAssistant: raw\", \"rejected\": \"\\n\\nHuman: \xff\xfe\\n\\nAssistant: bytes\"}\n",
        RMENS_PREP_AUTO, &rep);
    ck_assert_int_eq(rep.records_read, 5);
    ck_assert_int_eq(rep.skipped[RMENS_SKIP_IDENTICAL], 1);
    ck_assert_int_eq(rep.skipped[RMENS_SKIP_PROMPT_DIFFERS], 1);
    ck_assert_int_eq(rep.skipped[RMENS_SKIP_EMPTY_RESPONSE], 1);
    ck_assert_int_eq(rep.pairs_written, 2);
    /* Invalid UTF-8 is kept byte for byte, and reported. */
    ck_assert_int_eq(rep.invalid_utf8, 1);
    ck_assert_int_eq(rep.first_invalid_utf8_line, 5);
    char buf[256];
    ck_assert_str_eq(decode(ds, 0, 1, buf, sizeof buf), "\n\nHuman: \xff\xfe\n\nAssistant: raw");
    ck_assert_str_eq(decode(ds, 1, 0, buf, sizeof buf), "\n\nHuman: a\n\nAssistant: \xc3\xbf");
    rmens_dataset_free(ds);
}
END_TEST

/* ------------------------------------------------------------- bad input */

/* Runs prep on content and expects failure with a message containing each of want[]
 * and no output file. */
static void expect_prep_error(const char *name, const char *content, size_t len, rmens_prep_format fmt,
                              rmens_status code, const char *const *want)
{
    char in[600], out[700];
    test_path(in, sizeof in, name);
    snprintf(out, sizeof out, "%s.h5", in);
    remove(out);
    write_bytes(in, content, len);
    rmens_prep_options o;
    rmens_prep_options_init(&o);
    o.input = in;
    o.output = out;
    o.format = fmt;
    rmens_prep_report rep;
    rmens_status st = rmens_prep(&o, &rep);
    ck_assert_msg(st == code, "%s: want status %d, got %d (%s)", name, code, st, rmens_last_error());
    ck_assert_error_has(in);
    for (; *want; want++)
        ck_assert_error_has(*want);
    ck_assert_msg(!file_exists(out), "%s: output written despite the error", name);
    char cmd[800];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q '%s.h5.tmp'", test_dir(), name);
    ck_assert_msg(system(cmd) != 0, "a temporary file was left behind");
}

#define BAD(name, text, fmt, code, ...)                                               \
    do {                                                                              \
        const char *const w_[] = {__VA_ARGS__, NULL};                                 \
        expect_prep_error(name, text, strlen(text), fmt, code, w_);                   \
    } while (0)

static const char good_hh[] = "{\"chosen\": \"\\n\\nHuman: a\\n\\nAssistant: x\", \"rejected\": \"\\n\\nHuman: a\\n\\nAssistant: y\"}\n";

START_TEST(bad_inputs)
{
    char text[1024];
    snprintf(text, sizeof text, "%s{\"chosen\": \"a\", \n%s", good_hh, good_hh);
    BAD("malformed.jsonl", text, RMENS_PREP_AUTO, RMENS_ERR_INPUT, "malformed.jsonl:2: malformed JSON");

    snprintf(text, sizeof text, "%s{\"chosen\": \"x\"} trailing\n", good_hh);
    BAD("trailing.jsonl", text, RMENS_PREP_AUTO, RMENS_ERR_INPUT, "trailing.jsonl:2:", "unexpected text");

    snprintf(text, sizeof text, "%s\n\n{\"chosen\": \"\\n\\nHuman: a\\n\\nAssistant: x\"}\n", good_hh);
    BAD("missing.jsonl", text, RMENS_PREP_HH, RMENS_ERR_INPUT, "missing.jsonl:4: missing field \"rejected\"");
    BAD("missing-auto.jsonl", text, RMENS_PREP_AUTO, RMENS_ERR_INPUT, "missing-auto.jsonl:4: cannot tell the format");

    snprintf(text, sizeof text, "%s{\"chosen\": 5, \"rejected\": \"y\"}\n", good_hh);
    BAD("nonstring.jsonl", text, RMENS_PREP_HH, RMENS_ERR_INPUT,
        "nonstring.jsonl:2: field \"chosen\" is int, expected a string");
    BAD("nonstring-auto.jsonl", text, RMENS_PREP_AUTO, RMENS_ERR_INPUT, "nonstring-auto.jsonl:2:",
        "looks like format \"messages\" but the file began as \"hh\"");

    BAD("notobject.jsonl", "[1, 2]\n", RMENS_PREP_AUTO, RMENS_ERR_INPUT, "element 0: a record must be a JSON object");
    BAD("empty.jsonl", "", RMENS_PREP_AUTO, RMENS_ERR_INPUT, "the file is empty");
    BAD("blank.jsonl", "  \n\n \t\n", RMENS_PREP_AUTO, RMENS_ERR_INPUT, "the file is empty");
    BAD("emptyarray.json", " [ ] ", RMENS_PREP_AUTO, RMENS_ERR_INPUT, "the array is empty");
    BAD("badarray.json", "[{\"chosen\": \"a\",}", RMENS_PREP_AUTO, RMENS_ERR_INPUT, "malformed JSON");
    BAD("allsame.jsonl",
        "{\"chosen\": \"\\n\\nHuman: a\\n\\nAssistant: x\", \"rejected\": \"\\n\\nHuman: a\\n\\nAssistant: x\"}\n",
        RMENS_PREP_AUTO, RMENS_ERR_INPUT, "no usable pairs (1 records read, all skipped)");
    BAD("nohh.jsonl", "{\"chosen\": \"just text\", \"rejected\": \"other\"}\n", RMENS_PREP_AUTO, RMENS_ERR_INPUT,
        "nohh.jsonl:1: \"chosen\" has no \"\\n\\nAssistant:\" turn");
    BAD("role.jsonl", "{\"prompt\": [{\"role\": \"wizard\", \"content\": \"x\"}], \"chosen\": \"a\", \"rejected\": \"b\"}\n",
        RMENS_PREP_AUTO, RMENS_ERR_INPUT, "role.jsonl:1:", "unknown role \"wizard\"");
    BAD("firstuser.jsonl", "{\"prompt\": \"q\", \"chosen\": [{\"role\": \"user\", \"content\": \"a\"}], \"rejected\": \"b\"}\n",
        RMENS_PREP_AUTO, RMENS_ERR_INPUT, "firstuser.jsonl:1: the chosen response must begin with an assistant message");
    BAD("margin.jsonl", "{\"prompt\": \"q\", \"chosen\": \"a\", \"rejected\": \"b\", \"margin\": \"big\"}\n",
        RMENS_PREP_AUTO, RMENS_ERR_INPUT, "margin.jsonl:1: field \"margin\" is string, expected a number");
    snprintf(text, sizeof text, "{\"prompt\": \"q\", \"chosen\": \"a\", \"rejected\": \"b\", \"margin\": 1}\n"
                                "{\"prompt\": \"q\", \"chosen\": \"a\", \"rejected\": \"c\"}\n");
    BAD("margin2.jsonl", text, RMENS_PREP_AUTO, RMENS_ERR_INPUT, "margin2.jsonl:2: missing field \"margin\"");

    char absent[600];
    test_path(absent, sizeof absent, "absent.jsonl");
    rmens_prep_options o;
    rmens_prep_options_init(&o);
    o.input = absent;
    o.output = "/nonexistent-dir/x.h5";
    rmens_prep_report rep;
    ck_assert_int_eq(rmens_prep(&o, &rep), RMENS_ERR_IO);
    ck_assert_error_has("absent.jsonl: cannot open");
}
END_TEST

START_TEST(truncated_gzip)
{
    char big[1 << 15];
    size_t n = 0;
    while (n + sizeof good_hh < sizeof big) {
        memcpy(big + n, good_hh, sizeof good_hh - 1);
        n += sizeof good_hh - 1;
    }
    char gz[600];
    test_path(gz, sizeof gz, "whole.jsonl.gz");
    gzFile g = gzopen(gz, "wb");
    gzwrite(g, big, (unsigned)n);
    gzclose(g);
    FILE *f = fopen(gz, "rb");
    char comp[1 << 15];
    size_t cn = fread(comp, 1, sizeof comp, f);
    fclose(f);
    const char *const w[] = {"corrupt or truncated gzip data", NULL};
    expect_prep_error("cut.jsonl.gz", comp, cn - 12, RMENS_PREP_AUTO, RMENS_ERR_INPUT, w);
}
END_TEST

START_TEST(existing_output_refused)
{
    char in[600], out[700];
    test_path(in, sizeof in, "exists.jsonl");
    test_path(out, sizeof out, "exists.h5");
    write_text(in, good_hh);
    write_text(out, "old");
    rmens_prep_options o;
    rmens_prep_options_init(&o);
    o.input = in;
    o.output = out;
    rmens_prep_report rep;
    ck_assert_int_eq(rmens_prep(&o, &rep), RMENS_ERR_ARG);
    ck_assert_error_has("already exists");
    o.overwrite = 1;
    ck_assert_int_eq(rmens_prep(&o, &rep), RMENS_OK);
    ck_assert_int_eq(rep.pairs_written, 1);
}
END_TEST

START_TEST(skip_bad_and_max_records)
{
    char in[600], out[700];
    test_path(in, sizeof in, "skipbad.jsonl");
    test_path(out, sizeof out, "skipbad.h5");
    char text[2048];
    snprintf(text, sizeof text, "%s{oops\n%s{\"chosen\": 1, \"rejected\": 2}\n%s%s", good_hh, good_hh, good_hh, good_hh);
    write_text(in, text);
    rmens_prep_options o;
    rmens_prep_options_init(&o);
    o.input = in;
    o.output = out;
    o.overwrite = 1;
    o.format = RMENS_PREP_HH;
    o.skip_bad = 1;
    rmens_prep_report rep;
    ck_assert_msg(rmens_prep(&o, &rep) == RMENS_OK, "%s", rmens_last_error());
    ck_assert_int_eq(rep.records_read, 6);
    ck_assert_int_eq(rep.skipped[RMENS_SKIP_MALFORMED], 2);
    ck_assert_int_eq(rep.pairs_written, 4);
    o.max_records = 3;
    ck_assert_int_eq(rmens_prep(&o, &rep), RMENS_OK);
    ck_assert_int_eq(rep.records_read, 3);
    ck_assert_int_eq(rep.pairs_written, 2);
}
END_TEST

START_TEST(validation_split)
{
    /* 200 pairs over 40 prompts: a prompt's pairs all land in the same file. */
    char in[600], out[600], val[600];
    test_path(in, sizeof in, "split.jsonl");
    test_path(out, sizeof out, "split-train.h5");
    test_path(val, sizeof val, "split-val.h5");
    FILE *f = fopen(in, "w");
    for (int i = 0; i < 200; i++)
        fprintf(f, "{\"prompt\": \"question %d\", \"chosen\": \"good %d\", \"rejected\": \"bad %d\"}\n", i % 40, i, i);
    fclose(f);
    rmens_prep_options o;
    rmens_prep_options_init(&o);
    o.input = in;
    o.output = out;
    o.val_output = val;
    o.val_fraction = 0.3;
    o.overwrite = 1;
    rmens_prep_report rep;
    ck_assert_msg(rmens_prep(&o, &rep) == RMENS_OK, "%s", rmens_last_error());
    ck_assert_int_eq(rep.pairs_written + rep.val_pairs_written, 200);
    ck_assert_int_eq(rep.val_pairs_written % 5, 0);
    ck_assert_int_gt(rep.val_pairs_written, 20);
    ck_assert_int_lt(rep.val_pairs_written, 120);
    rmens_dataset *a, *b;
    ck_assert_int_eq(rmens_dataset_read(&a, out), RMENS_OK);
    ck_assert_int_eq(rmens_dataset_read(&b, val), RMENS_OK);
    int seen[40] = {0};
    for (int k = 0; k < 2; k++) {
        rmens_dataset *d = k ? b : a;
        for (int64_t i = 0; i < d->n; i++) {
            int q = (int)(d->source_record[i] % 40);
            ck_assert_msg(seen[q] == 0 || seen[q] == k + 1, "prompt %d in both splits", q);
            seen[q] = k + 1;
        }
    }
    rmens_dataset_free(a);
    rmens_dataset_free(b);
    /* The same seed splits the same way; --out equal to --val-out is refused. */
    rmens_prep_report rep2;
    ck_assert_int_eq(rmens_prep(&o, &rep2), RMENS_OK);
    ck_assert_int_eq(rep2.val_pairs_written, rep.val_pairs_written);
    o.val_output = out;
    ck_assert_int_eq(rmens_prep(&o, &rep2), RMENS_ERR_ARG);
}
END_TEST

Suite *prep_suite(void)
{
    Suite *s = suite_create("prep");
    TCase *tc = tcase_create("formats");
    tcase_add_test(tc, format_hh);
    tcase_add_test(tc, format_prompt);
    tcase_add_test(tc, format_messages);
    tcase_add_test(tc, format_sharegpt_array_and_gzip);
    tcase_add_test(tc, skips_are_counted);
    suite_add_tcase(s, tc);
    tc = tcase_create("bad_input");
    tcase_add_test(tc, bad_inputs);
    tcase_add_test(tc, truncated_gzip);
    tcase_add_test(tc, existing_output_refused);
    tcase_add_test(tc, skip_bad_and_max_records);
    tcase_add_test(tc, validation_split);
    suite_add_tcase(s, tc);
    return s;
}
