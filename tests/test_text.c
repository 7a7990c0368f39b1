/* Tokenizer unit tests (text/): the merge loop, each pre-tokenizer rule and the added-
 * token rules worked by hand on small tokenizer.json files written here, and every
 * malformed tokenizer.json case refused with the file and the field named. The real
 * tokenizers are compared with independent references in tests/tokenizers.sh. */
#include "tests/check_util.h"
#include "text/pretok.h"
#include "text/template.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

/* GPT-2's byte alphabet: byte b is written as code point cp_of(b). */
static unsigned cp_of(int b)
{
    int k = 0;
    for (int x = 0; x < 256; x++) {
        int printable = (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174;
        if (x == b)
            return printable ? (unsigned)x : 256u + (unsigned)k;
        if (!printable)
            k++;
    }
    return 0;
}

/* A tokenizer.json: the 256 byte tokens (id = byte), then extra vocabulary, merges and
 * the other top-level fields (defaults when NULL). */
static const char *write_tok(const char *name, const char *vocab, const char *merges, const char *model_extra,
                             const char *rest)
{
    static char path[1024];
    size_t cap = 1 << 16;
    char *j = malloc(cap);
    int n = snprintf(j, cap, "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null, \"model\": {\"type\": \"BPE\", %s \"vocab\": {",
                     model_extra ? model_extra : "");
    for (int b = 0; b < 256; b++)
        n += snprintf(j + n, cap - (size_t)n, "%s\"\\u%04x\": %d", b ? ", " : "", cp_of(b), b);
    n += snprintf(j + n, cap - (size_t)n, "%s%s}, \"merges\": [%s]}, %s}", vocab && *vocab ? ", " : "", vocab ? vocab : "",
                  merges ? merges : "",
                  rest ? rest : "\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, "
                                "\"use_regex\": true}, \"post_processor\": null, \"decoder\": {\"type\": \"ByteLevel\"}, \"added_tokens\": []");
    char dir[900];
    snprintf(dir, sizeof dir, "%s/%s", test_dir(), name);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    write_text(path, j);
    free(j);
    return path;
}

static void expect_ids(rmens_tokenizer *t, const char *text, unsigned flags, const int32_t *want, size_t n)
{
    int32_t *ids;
    size_t k;
    ck_assert_msg(rmens_tokenizer_encode(t, text, strlen(text), flags, &ids, &k) == RMENS_OK, "%s", rmens_last_error());
    char got[512] = "";
    for (size_t i = 0; i < k && strlen(got) < 480; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), " %d", ids[i]);
    ck_assert_msg(k == n, "\"%s\": %zu ids (%s), want %zu", text, k, got, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(ids[i] == want[i], "\"%s\": id %zu is %d, want %d (%s)", text, i, ids[i], want[i], got);
    free(ids);
}
#define EXPECT(t, text, flags, ...)                                                  \
    do {                                                                             \
        const int32_t w_[] = {__VA_ARGS__};                                          \
        expect_ids(t, text, flags, w_, sizeof w_ / sizeof *w_);                      \
    } while (0)

static rmens_tokenizer *load(const char *path)
{
    rmens_tokenizer *t = NULL;
    ck_assert_msg(rmens_tokenizer_load(&t, path) == RMENS_OK, "%s", rmens_last_error());
    return t;
}

START_TEST(merge_loop_by_rank)
{
    /* "a b" first, then "ab c": abc -> [abc]; with "b c" ranked first: a + bc */
    rmens_tokenizer *t = load(write_tok("m1", "\"ab\": 256, \"bc\": 257, \"abc\": 258", "\"a b\", \"b c\", \"ab c\"", NULL, NULL));
    EXPECT(t, "abc", 0, 258);
    EXPECT(t, "abcbc", 0, 258, 257);
    EXPECT(t, "cab", 0, 'c', 256);
    rmens_tokenizer_free(t);
    t = load(write_tok("m2", "\"ab\": 256, \"bc\": 257, \"abc\": 258", "\"b c\", \"a b\", \"ab c\"", NULL, NULL));
    EXPECT(t, "abc", 0, 'a', 257);
    rmens_tokenizer_free(t);
    /* equal ranks go left to right: aaa -> [aa, a]; aaaa -> [aaaa] through aa + aa */
    t = load(write_tok("m3", "\"aa\": 256, \"aaaa\": 257", "[\"a\", \"a\"], [\"aa\", \"aa\"]", NULL, NULL));
    EXPECT(t, "aaa", 0, 256, 'a');
    EXPECT(t, "aaaa", 0, 257);
    EXPECT(t, "aaaaa", 0, 257, 'a');
    EXPECT(t, "aaaaaa", 0, 257, 256);
    rmens_tokenizer_free(t);
    /* a merge that appears later in the chain but is ranked lower wins where both can
     * apply: x y z with "y z" (0) and "x y" (1): x + yz */
    t = load(write_tok("m4", "\"xy\": 256, \"yz\": 257", "\"y z\", \"x y\"", NULL, NULL));
    EXPECT(t, "xyz", 0, 'x', 257);
    EXPECT(t, "xyxyz", 0, 256, 'x', 257);
    rmens_tokenizer_free(t);
}
END_TEST

START_TEST(ignore_merges)
{
    /* "abd" is a token no merge reaches: only ignore_merges finds it */
    const char *vocab = "\"ab\": 256, \"abd\": 257";
    rmens_tokenizer *t = load(write_tok("i0", vocab, "\"a b\"", "\"ignore_merges\": false,", NULL));
    EXPECT(t, "abd", 0, 256, 'd');
    rmens_tokenizer_free(t);
    t = load(write_tok("i1", vocab, "\"a b\"", "\"ignore_merges\": true,", NULL));
    EXPECT(t, "abd", 0, 257);
    EXPECT(t, "abdd", 0, 256, 'd', 'd');
    rmens_tokenizer_free(t);
}
END_TEST

/* Pieces of text through a pre-tokenizer, joined by '|'. */
static int collect(void *ctx, const char *s, size_t n)
{
    char *out = ctx;
    size_t l = strlen(out);
    snprintf(out + l, 1024 - l, "%s%.*s", l ? "|" : "", (int)n, s);
    return 0;
}

static void expect_pieces(rmens_pretok *p, const char *text, const char *want)
{
    char got[1024] = "";
    ck_assert_int_eq(rmens_pretok_run(p, text, strlen(text), collect, got), 0);
    ck_assert_msg(strcmp(got, want) == 0, "\"%s\": pieces \"%s\", want \"%s\"", text, got, want);
}

#define QWEN_PATTERN "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

START_TEST(pretokenizer_rules)
{
    rmens_pretok *p;
    ck_assert_int_eq(rmens_pretok_new(&p), RMENS_OK);
    ck_assert_int_eq(rmens_pretok_add_byte_level(p, 0, 1), RMENS_OK);
    /* GPT-2: contractions are lower-case only; a space joins the next word; the last
     * space of a run goes to the next word ((?!\S)); digits in one run */
    expect_pieces(p, "Hello world  I'M you're 12345", "Hello| world| | I|'|M| you|'re| 12345");
    expect_pieces(p, "a\n\nb  \n", "a|\n|\n|b|  \n");
    expect_pieces(p, "x!!?y", "x|!!?|y");
    /* Unicode White_Space, not PCRE2's or JavaScript's \s: U+0085 is space, U+FEFF and
     * U+180E are not */
    expect_pieces(p, "a \xc2\x85" "b", "a| |\xc2\x85|b");
    expect_pieces(p, "a \xef\xbb\xbf" "b", "a| \xef\xbb\xbf|b");
    expect_pieces(p, "a \xe1\xa0\x8e" "b", "a| \xe1\xa0\x8e|b");
    rmens_pretok_free(p);

    /* ByteLevel's add_prefix_space, without the regex */
    ck_assert_int_eq(rmens_pretok_new(&p), RMENS_OK);
    ck_assert_int_eq(rmens_pretok_add_byte_level(p, 1, 0), RMENS_OK);
    expect_pieces(p, "hi there", " hi there");
    expect_pieces(p, " hi", " hi");
    rmens_pretok_free(p);

    /* Qwen2/3's Split: case-insensitive contractions, one digit per piece, a letter run
     * may take one leading non-letter */
    ck_assert_int_eq(rmens_pretok_new(&p), RMENS_OK);
    ck_assert_int_eq(rmens_pretok_add_split(p, QWEN_PATTERN, 0, RMENS_SPLIT_ISOLATED), RMENS_OK);
    expect_pieces(p, "I'M 123 $x\r\n\r\nok", "I|'M| |1|2|3| $|x|\r\n\r\n|ok");
    expect_pieces(p, " \xef\xbb\xbfx", " \xef\xbb\xbf|x");             /* U+FEFF is not space */
    expect_pieces(p, "a \xc2\x85" "b", "a| |\xc2\x85" "b");             /* U+0085 is */
    expect_pieces(p, "a   b", "a|  | b");
    rmens_pretok_free(p);

    /* Split behaviours on "a-b--c" (HF's SplitDelimiterBehavior, worked by hand) */
    static const struct { rmens_split_behavior b; const char *want; } cases[] = {
        {RMENS_SPLIT_ISOLATED, "a|-|b|-|-|c"}, {RMENS_SPLIT_REMOVED, "a|b|c"},
        {RMENS_SPLIT_MERGED_WITH_PREVIOUS, "a-|b-|-|c"}, {RMENS_SPLIT_MERGED_WITH_NEXT, "a|-b|-|-c"},
        {RMENS_SPLIT_CONTIGUOUS, "a|-|b|--|c"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ck_assert_int_eq(rmens_pretok_new(&p), RMENS_OK);
        ck_assert_int_eq(rmens_pretok_add_split(p, "-", 1, cases[i].b), RMENS_OK);
        expect_pieces(p, "a-b--c", cases[i].want);
        rmens_pretok_free(p);
    }
    /* Digits (individual) then ByteLevel with its regex, as SmolLM2 */
    ck_assert_int_eq(rmens_pretok_new(&p), RMENS_OK);
    ck_assert_int_eq(rmens_pretok_add_split(p, "\\p{N}", 0, RMENS_SPLIT_ISOLATED), RMENS_OK);
    ck_assert_int_eq(rmens_pretok_add_byte_level(p, 0, 1), RMENS_OK);
    expect_pieces(p, "ab 123", "ab| |1|2|3");
    rmens_pretok_free(p);
}
END_TEST

START_TEST(nfc_normalizer)
{
    rmens_pretok *p;
    ck_assert_int_eq(rmens_pretok_new(&p), RMENS_OK);
    rmens_pretok_set_nfc(p, 1);
    const char *out;
    size_t n;
    /* e + combining acute -> U+00E9; Angstrom sign -> U+00C5; Hangul jamo -> one syllable */
    static const struct { const char *in, *want; } cases[] = {
        {"Cafe\xcc\x81", "Caf\xc3\xa9"}, {"\xe2\x84\xab", "\xc3\x85"},
        {"\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8", "\xea\xb0\x81"}, {"plain", "plain"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ck_assert_int_eq(rmens_pretok_normalize(p, cases[i].in, strlen(cases[i].in), &out, &n), RMENS_OK);
        ck_assert_uint_eq(n, strlen(cases[i].want));
        ck_assert(memcmp(out, cases[i].want, n) == 0);
    }
    rmens_pretok_free(p);
}
END_TEST

#define ADDED_REST(added, post)                                                                      \
    "\"normalizer\": {\"type\": \"NFC\"}, \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, " \
    "\"use_regex\": true}, \"post_processor\": " post ", \"decoder\": {\"type\": \"ByteLevel\"}, \"added_tokens\": [" added "]"

START_TEST(added_tokens)
{
    const char *added =
        "{\"id\": 256, \"content\": \"<s>\", \"special\": true, \"normalized\": false},"
        "{\"id\": 257, \"content\": \"<x>\", \"special\": false, \"lstrip\": true, \"rstrip\": true, \"normalized\": false},"
        "{\"id\": 258, \"content\": \"<s>>\", \"special\": true, \"normalized\": false},"
        "{\"id\": 259, \"content\": \"\\u00e9!\", \"special\": false, \"normalized\": true}";
    const char *post = "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}}, "
                       "{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, {\"SpecialToken\": {\"id\": \"<s>>\", \"type_id\": 0}}], "
                       "\"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [256], \"tokens\": [\"<s>\"]}, "
                       "\"<s>>\": {\"id\": \"<s>>\", \"ids\": [258], \"tokens\": [\"<s>>\"]}}}";
    char rest[4096];
    snprintf(rest, sizeof rest, ADDED_REST("%s", "%s"), post, added);
    rmens_tokenizer *t = load(write_tok("a1", NULL, NULL, NULL, rest));
    ck_assert_int_eq(rmens_tokenizer_vocab_size(t), 260);
    /* leftmost-longest: "<s>>" over "<s>"; specials split out before pre-tokenization */
    EXPECT(t, "a<s>>b<s>", 0, 'a', 258, 'b', 256);
    /* lstrip/rstrip take the white space around <x> */
    EXPECT(t, "a  <x>  b", 0, 'a', 257, 'b');
    /* special strings read as text when asked; non-special added tokens still match */
    EXPECT(t, "<s><x>", RMENS_TOKENIZE_SPECIAL_AS_TEXT, '<', 's', '>', 257);
    /* the template: <s> A <s>> */
    EXPECT(t, "a", RMENS_TOKENIZE_ADD_SPECIAL, 256, 'a', 258);
    /* a normalized added token matches after NFC: e + U+0257 + ! is U+00E9 + ! */
    EXPECT(t, "e\xcc\x81!", 0, 259);
    ck_assert_int_eq(rmens_tokenizer_is_special(t, 256), 1);
    ck_assert_int_eq(rmens_tokenizer_is_special(t, 257), 0);
    ck_assert_int_eq(rmens_tokenizer_token_id(t, "<x>"), 257);
    /* decode: specials kept or skipped; a cut UTF-8 sequence becomes U+FFFD */
    const int32_t ids[] = {256, 'h', 'i', 0xC3, 258};
    char *text;
    size_t n;
    ck_assert_int_eq(rmens_tokenizer_decode(t, ids, 5, 0, &text, &n), RMENS_OK);
    ck_assert_str_eq(text, "<s>hi\xef\xbf\xbd<s>>");
    free(text);
    ck_assert_int_eq(rmens_tokenizer_decode(t, ids, 5, RMENS_DECODE_SKIP_SPECIAL, &text, &n), RMENS_OK);
    ck_assert_str_eq(text, "hi\xef\xbf\xbd");
    free(text);
    const int32_t bad[] = {260};
    ck_assert_int_eq(rmens_tokenizer_decode(t, bad, 1, 0, &text, &n), RMENS_ERR_ARG);
    /* invalid UTF-8 is refused */
    int32_t *out;
    ck_assert_int_eq(rmens_tokenizer_encode(t, "a\xff", 2, 0, &out, &n), RMENS_ERR_INPUT);
    ck_assert_error_has("not valid UTF-8");
    rmens_tokenizer_free(t);
}
END_TEST

START_TEST(config_and_pair)
{
    /* tokenizer_config.json beside tokenizer.json gives the special ids */
    char rest[2048];
    snprintf(rest, sizeof rest, ADDED_REST("%s", "null"),
             "{\"id\": 256, \"content\": \"<|end|>\", \"special\": true}");
    const char *path = write_tok("c1", NULL, NULL, NULL, rest);
    char cfg[700];
    snprintf(cfg, sizeof cfg, "%s/c1/tokenizer_config.json", test_dir());
    write_text(cfg, "{\"eos_token\": {\"content\": \"<|end|>\"}, \"pad_token\": \"<|end|>\", \"bos_token\": null, "
                    "\"tokenizer_class\": \"Qwen2Tokenizer\", \"chat_template\": \"{{ x }}\"}");
    rmens_tokenizer *t = load(path);
    ck_assert_int_eq(rmens_tokenizer_eos_id(t), 256);
    ck_assert_int_eq(rmens_tokenizer_pad_id(t), 256);
    ck_assert_int_eq(rmens_tokenizer_bos_id(t), -1);
    ck_assert_str_eq(rmens_tokenizer_class(t), "Qwen2Tokenizer");
    ck_assert_str_eq(rmens_tokenizer_chat_template(t), "{{ x }}");
    ck_assert_str_eq(rmens_tokenizer_name(t), "c1");
    ck_assert_uint_eq(strlen(rmens_tokenizer_sha256(t)), 64);
    rmens_tokenizer_free(t);
    write_text(cfg, "{\"eos_token\": \"<|nope|>\"}");
    ck_assert_int_ne(rmens_tokenizer_load(&t, path), RMENS_OK);
    ck_assert_error_has("tokenizer_config.json");
    ck_assert_error_has("eos_token \"<|nope|>\" is not a token");

    /* GPT-2's pair: vocab.json + merges.txt, <|endoftext|> special; SHA-256 of both */
    char dir[600], p[700];
    snprintf(dir, sizeof dir, "%s/pair", test_dir());
    mkdir(dir, 0755);
    size_t cap = 1 << 15;
    char *j = malloc(cap);
    int n = snprintf(j, cap, "{");
    for (int b = 0; b < 256; b++)
        n += snprintf(j + n, cap - (size_t)n, "\"\\u%04x\": %d, ", cp_of(b), b);
    snprintf(j + n, cap - (size_t)n, "\"\\u0120w\": 256, \"<|endoftext|>\": 257}");
    snprintf(p, sizeof p, "%s/vocab.json", dir);
    write_text(p, j);
    free(j);
    snprintf(p, sizeof p, "%s/merges.txt", dir);
    write_text(p, "#version: 0.2\n\xc4\xa0 w\n");
    t = load(dir);
    EXPECT(t, "a w<|endoftext|>", 0, 'a', 256, 257);
    EXPECT(t, "<|e", 0, '<', '|', 'e');
    ck_assert_int_eq(rmens_tokenizer_eos_id(t), 257);
    /* the fingerprint is coreutils' sha256sum of the two files in a row */
    char cmd[1600], want[80] = "";
    snprintf(cmd, sizeof cmd, "cat '%s/vocab.json' '%s/merges.txt' | sha256sum", dir, dir);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%64s", want), 1);
    pclose(f);
    ck_assert_str_eq(rmens_tokenizer_sha256(t), want);
    rmens_tokenizer_free(t);
}
END_TEST

START_TEST(bytes_object)
{
    rmens_tokenizer *t;
    ck_assert_int_eq(rmens_tokenizer_bytes(&t), RMENS_OK);
    ck_assert_str_eq(rmens_tokenizer_name(t), "bytes");
    ck_assert_int_eq(rmens_tokenizer_vocab_size(t), RMENS_BYTES_VOCAB);
    EXPECT(t, "a\xff", RMENS_TOKENIZE_ADD_SPECIAL, 'a', 255, RMENS_BYTES_EOT);
    EXPECT(t, "a", 0, 'a');
    const int32_t ids[] = {'o', 'k', RMENS_BYTES_EOT};
    char *text;
    size_t n;
    ck_assert_int_eq(rmens_tokenizer_decode(t, ids, 3, 0, &text, &n), RMENS_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(text, "ok");
    free(text);
    rmens_tokenizer_free(t);
}
END_TEST

/* Each malformed file: refused, and the message names the file and the field. */
START_TEST(malformed)
{
    static const struct { const char *vocab, *merges, *model, *rest, *want; } cases[] = {
        {NULL, NULL, "\"dropout\": 0.1,", NULL, "model.dropout"},
        {NULL, NULL, "\"byte_fallback\": true,", NULL, "model.byte_fallback"},
        {NULL, NULL, "\"continuing_subword_prefix\": \"##\",", NULL, "model.continuing_subword_prefix"},
        {NULL, "\"a q\"", NULL, NULL, "model.merges[0]"},                          /* result not a token */
        {NULL, "\"a zz\"", NULL, NULL, "not in the vocabulary"},                   /* side not a token */
        {NULL, "\"a b c\"", NULL, NULL, "model.merges[0] is not"},
        {NULL, "42", NULL, NULL, "model.merges[0] is neither"},
        {"\"ab\": 5", NULL, NULL, NULL, "given to two tokens"},                   /* duplicate id */
        /* read by text/jsonscan: strict JSON, duplicates refused, the byte named */
        {"\"ab\": 256, \"ab\": 257", NULL, NULL, NULL, "appears twice"},        /* duplicate key */
        {"\"ab\": 1.0", NULL, NULL, NULL, "model.vocab[\"ab\"] is not an integer id"},
        {"\"ab\": 2e2", NULL, NULL, NULL, "model.vocab[\"ab\"] is not an integer id"},
        {"\"ab\": 01", NULL, NULL, NULL, "not valid JSON at byte"},
        {"\"a\\ud800\": 256", NULL, NULL, NULL, "lone high surrogate"},
        {"\"a\\udc00\": 256", NULL, NULL, NULL, "lone low surrogate"},
        {"\"a\\q\": 256", NULL, NULL, NULL, "unknown escape"},
        {"\"a\tb\": 256", NULL, NULL, NULL, "control character"},
        {"\"ab\": 256,", NULL, NULL, NULL, "not valid JSON at byte"},              /* trailing comma */
        {"\"ab\": 256", "\"a b\",", NULL, NULL, "not valid JSON at byte"},
        {"\"ab\": 256", "[\"a\"]", NULL, NULL, "model.merges[0] is neither"},
        {"\"ab\": 256", "[\"a\", \"b\", \"c\"]", NULL, NULL, "model.merges[0] is neither"},
        {"\"ab\": 256", "[\"a\", 5]", NULL, NULL, "model.merges[0] is neither"},
        {"\"ab\": 256", "[\"a\", \"b\"], []", NULL, NULL, "model.merges[1] is neither"},
        {NULL, NULL, "\"vocab\": {},", NULL, "model.vocab appears twice"},
        {"\"ab\": -1", NULL, NULL, NULL, "out of range"},
        {"\"ab\": 99999999", NULL, NULL, NULL, "out of range"},
        {"\"ab\": \"x\"", NULL, NULL, NULL, "is not an integer id"},
        {"\"ab\": 300", NULL, NULL, NULL, "no token has id 256"},                  /* a gap */
        {"\"\\u4e00\": 256", NULL, NULL, NULL, "not a byte-level token"},
        {NULL, NULL, NULL, "\"normalizer\": {\"type\": \"NFKC\"}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"decoder\": {\"type\": \"ByteLevel\"}", "normalizer: normalizer type \"NFKC\""},
        {NULL, NULL, NULL, "\"pre_tokenizer\": {\"type\": \"Metaspace\"}, \"decoder\": {\"type\": \"ByteLevel\"}", "pre-tokenizer type \"Metaspace\""},
        {NULL, NULL, NULL, "\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\"}, \"decoder\": {\"type\": \"ByteLevel\"}", "pre_tokenizer.pattern"},
        {NULL, NULL, NULL, "\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"a\"}, \"behavior\": \"Sideways\"}, \"decoder\": {\"type\": \"ByteLevel\"}", "pre_tokenizer.behavior"},
        {NULL, NULL, NULL, "\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"a\"}, \"behavior\": \"Isolated\"}, \"decoder\": {\"type\": \"ByteLevel\"}", "no ByteLevel step"},
        {NULL, NULL, NULL, "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"decoder\": {\"type\": \"WordPiece\"}", "decoder type \"WordPiece\""},
        {NULL, NULL, NULL, "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"decoder\": null", "decoder type \"null\""},
        {NULL, NULL, NULL, "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"decoder\": {\"type\": \"ByteLevel\"}, \"post_processor\": {\"type\": \"BertProcessing\"}", "post-processor type \"BertProcessing\""},
        {NULL, NULL, NULL, "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"decoder\": {\"type\": \"ByteLevel\"}, \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\"}}, {\"Sequence\": {\"id\": \"A\"}}]}", "special token \"<s>\" has no ids"},
        {NULL, NULL, NULL, "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"decoder\": {\"type\": \"ByteLevel\"}, \"added_tokens\": [{\"id\": 256, \"content\": \"<a>\"}, {\"id\": 256, \"content\": \"<b>\"}]", "added_tokens[1].id 256 is given to two"},
        {NULL, NULL, NULL, "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"decoder\": {\"type\": \"ByteLevel\"}, \"added_tokens\": [{\"id\": 97, \"content\": \"<a>\"}]", "added_tokens[0]: id 97 is already the model's token"},
        {NULL, NULL, NULL, "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"decoder\": {\"type\": \"ByteLevel\"}, \"added_tokens\": [{\"id\": 256, \"content\": \"<a>\", \"single_word\": true}]", "added_tokens[0].single_word"},
        {NULL, NULL, NULL, "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"decoder\": {\"type\": \"ByteLevel\"}, \"added_tokens\": [{\"content\": \"<a>\"}]", "added_tokens[0].id is not an integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char name[32];
        snprintf(name, sizeof name, "bad%zu", i);
        const char *path = write_tok(name, cases[i].vocab, cases[i].merges, cases[i].model, cases[i].rest);
        rmens_tokenizer *t = (rmens_tokenizer *)1;
        ck_assert_msg(rmens_tokenizer_load(&t, path) != RMENS_OK, "case %zu (%s) accepted", i, cases[i].want);
        ck_assert_ptr_null(t);
        ck_assert_msg(strstr(rmens_last_error(), path) && strstr(rmens_last_error(), cases[i].want),
                      "case %zu: message \"%s\" lacks the file or \"%s\"", i, rmens_last_error(), cases[i].want);
    }
    /* not JSON, truncated, unknown model type, no model, truncation set */
    static const struct { const char *text, *want; } whole[] = {
        {"not json", "not valid JSON"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0", "the file ends early"},
        {"{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}", "model.type \"WordPiece\" is not supported"},
        {"{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", "model.type \"Unigram\""},
        {"{\"normalizer\": null}", "model is missing"},
        {"[1, 2]", "not a JSON object"},
        {"{\"model\": {}, \"model\": {}}", "\"model\" appears twice"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b\"}}", "not valid JSON at byte 61: expected ',' or ']'"},
        {"{\"truncation\": {\"max_length\": 5}, \"model\": {}}", "truncation"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}} x", "text after the JSON value"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}", "no token for byte 0x00"},
    };
    for (size_t i = 0; i < sizeof whole / sizeof *whole; i++) {
        char path[600];
        test_path(path, sizeof path, "whole.json");
        write_text(path, whole[i].text);
        rmens_tokenizer *t;
        ck_assert_msg(rmens_tokenizer_load(&t, path) != RMENS_OK, "whole %zu accepted", i);
        ck_assert_msg(strstr(rmens_last_error(), path) && strstr(rmens_last_error(), whole[i].want),
                      "whole %zu: message \"%s\" lacks the file or \"%s\"", i, rmens_last_error(), whole[i].want);
    }
    rmens_tokenizer *t;
    char p[600];
    ck_assert_int_ne(rmens_tokenizer_load(&t, test_path(p, sizeof p, "absent")), RMENS_OK);
    ck_assert_error_has("absent");
    ck_assert_int_ne(rmens_tokenizer_load(&t, test_dir()), RMENS_OK);
    ck_assert_error_has("no tokenizer.json");
}
END_TEST

START_TEST(utf8_lossy)
{
    char out[64];
    /* Rust's from_utf8_lossy: one U+FFFD per maximal invalid subsequence */
    static const struct { const char *in; size_t n; const char *want; } cases[] = {
        {"ok", 2, "ok"}, {"\xe2\x82", 2, "\xef\xbf\xbd"}, {"\xe2\x82" "a", 3, "\xef\xbf\xbd" "a"},
        {"\xff\xfe", 2, "\xef\xbf\xbd\xef\xbf\xbd"}, {"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n = rmens_utf8_lossy(out, cases[i].in, cases[i].n);
        out[n] = 0;
        ck_assert_msg(strcmp(out, cases[i].want) == 0, "case %zu", i);
    }
    ck_assert(rmens_unicode_white_space(0x85) && !rmens_unicode_white_space(0xFEFF) &&
              !rmens_unicode_white_space(0x180E) && rmens_unicode_white_space(0x3000));
}
END_TEST

START_TEST(templates)
{
    /* hand-rendered: a system turn, text before any header, a header without space */
    const char *hh = "\n\nSystem: Be kind.\n\nHuman: Hi  there \n\nAssistant:Hello.";
    static const struct { rmens_template t; const char *want; } cases[] = {
        {RMENS_TEMPLATE_HH, "\n\nSystem: Be kind.\n\nHuman: Hi  there \n\nAssistant:Hello."},
        {RMENS_TEMPLATE_CHATML, "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nHi  there <|im_end|>\n"
                                "<|im_start|>assistant\nHello.<|im_end|>"},
        {RMENS_TEMPLATE_LLAMA3, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe kind.<|eot_id|>"
                                "<|start_header_id|>user<|end_header_id|>\n\nHi  there<|eot_id|>"
                                "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"},
        {RMENS_TEMPLATE_PLAIN, "Be kind.\n\nHi  there \n\nHello."},
    };
    rmens_text out = {0};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ck_assert_int_eq(rmens_template_render(cases[i].t, hh, strlen(hh), &out), 0);
        ck_assert_msg(out.len == strlen(cases[i].want) && memcmp(out.buf, cases[i].want, out.len) == 0,
                      "%s: \"%.*s\"", rmens_template_name(cases[i].t), (int)out.len, out.buf);
    }
    ck_assert_int_eq(rmens_template_render(RMENS_TEMPLATE_CHATML, "lead\n\nAssistant: x", 18, &out), 0);
    ck_assert(out.len == strlen("<|im_start|>user\nlead<|im_end|>\n<|im_start|>assistant\nx<|im_end|>"));
    rmens_text_free(&out);
    ck_assert_int_eq(rmens_template_from_name("llama3"), RMENS_TEMPLATE_LLAMA3);
    ck_assert_int_eq(rmens_template_from_name("jinja"), -1);
    /* the byte tokenizer: auto is hh, ending with end-of-text; chatml needs its tokens */
    rmens_tokenizer *t;
    ck_assert_int_eq(rmens_tokenizer_bytes(&t), RMENS_OK);
    rmens_template tp = RMENS_TEMPLATE_AUTO;
    int32_t end;
    int append;
    ck_assert_int_eq(rmens_template_resolve(&tp, t, &end, &append), RMENS_OK);
    ck_assert(tp == RMENS_TEMPLATE_HH && end == RMENS_BYTES_EOT && append == 1);
    tp = RMENS_TEMPLATE_CHATML;
    ck_assert_int_eq(rmens_template_resolve(&tp, t, &end, &append), RMENS_ERR_ARG);
    ck_assert_error_has("template chatml needs the token <|im_start|>, which tokenizer bytes lacks");
    rmens_tokenizer_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("text");
    TCase *tc = tcase_create("tokenizer");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, merge_loop_by_rank);
    tcase_add_test(tc, ignore_merges);
    tcase_add_test(tc, pretokenizer_rules);
    tcase_add_test(tc, nfc_normalizer);
    tcase_add_test(tc, added_tokens);
    tcase_add_test(tc, config_and_pair);
    tcase_add_test(tc, bytes_object);
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, utf8_lossy);
    tcase_add_test(tc, templates);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    test_dir();
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    test_dir_cleanup();
    return failed == 0 ? 0 : 1;
}
