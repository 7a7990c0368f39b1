/* Fuzz target: rmens_tokenizer_encode on arbitrary text with a tokenizer that uses every
 * supported part (NFC, a Qwen-style Split regex then ByteLevel, merges, ignore_merges,
 * added tokens, special and not, a template), built once from a tokenizer.json written
 * here; RMENS_FUZZ_TOKENIZER names a real one instead (a directory or tokenizer.json).
 *
 * Input: byte 0 picks flags (bit 0 add the template's specials, bit 1 special strings as
 * text), the rest is the text.
 * Oracles: valid UTF-8 encodes, invalid UTF-8 is refused with RMENS_ERR_INPUT; every id
 * is in the vocabulary; decode(encode(x)) == NFC(x) (the tokenizer has no lstrip/rstrip
 * tokens, and the template's specials are skipped on decode); the word cache gives the
 * same ids the second time. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz_util.h"
#include "text/pretok.h"
#include "text/utf8.h"

static rmens_tokenizer *tok;
static rmens_pretok *nfc;

/* GPT-2's byte alphabet: the code point standing for byte b. */
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

static void build(void)
{
    const char *real = getenv("RMENS_FUZZ_TOKENIZER");
    if (real && *real) {
        if (rmens_tokenizer_load(&tok, real) != RMENS_OK)
            fuzz_fail("RMENS_FUZZ_TOKENIZER: %s", rmens_last_error());
    } else {
        size_t cap = 1 << 16;
        char *j = malloc(cap);
        int n = snprintf(j, cap, "{\"model\": {\"type\": \"BPE\", \"ignore_merges\": true, \"vocab\": {");
        for (int b = 0; b < 256; b++)
            n += snprintf(j + n, cap - (size_t)n, "\"\\u%04x\": %d, ", cp_of(b), b);
        n += snprintf(j + n, cap - (size_t)n,
                      "\"\\u0120t\": 256, \"he\": 257, \"\\u0120the\": 258, \"in\": 259, \"\\u0120in\": 260, "
                      "\"aa\": 261, \"aaaa\": 262, \"\\u00c3\\u00a9\": 263, \"\\u0120\\u0120\": 264, \"12\": 265, "
                      "\"\\u00e6\\u0139\": 266, \"\\u00e6\\u0139\\u00a5\": 267}, "
                      "\"merges\": [\"\\u0120 t\", \"h e\", \"\\u0120t he\", \"i n\", \"\\u0120 in\", \"a a\", \"aa aa\", "
                      "[\"\\u00c3\", \"\\u00a9\"], \"\\u0120 \\u0120\", \"1 2\", \"\\u00e6 \\u0139\", \"\\u00e6\\u0139 \\u00a5\"]}, "
                      "\"normalizer\": {\"type\": \"NFC\"}, "
                      "\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": "
                      "{\"Regex\": \"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"}, "
                      "\"behavior\": \"Isolated\", \"invert\": false}, {\"type\": \"ByteLevel\", \"add_prefix_space\": false, "
                      "\"use_regex\": false}]}, "
                      "\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\"}}, "
                      "{\"Sequence\": {\"id\": \"A\"}}], \"special_tokens\": {\"<s>\": {\"ids\": [268]}}}, "
                      "\"decoder\": {\"type\": \"ByteLevel\"}, "
                      "\"added_tokens\": [{\"id\": 268, \"content\": \"<s>\", \"special\": true, \"normalized\": false}, "
                      "{\"id\": 269, \"content\": \"<s>>\", \"special\": true, \"normalized\": false}, "
                      "{\"id\": 270, \"content\": \"\\u00e9t\\u00e9\", \"special\": false, \"normalized\": true}]}");
        char path[600];
        fuzz_write_file(fuzz_path(path, sizeof path, "tokenizer.json"), j, (size_t)n);
        free(j);
        if (rmens_tokenizer_load(&tok, path) != RMENS_OK)
            fuzz_fail("the target's own tokenizer.json: %s", rmens_last_error());
    }
    if (rmens_pretok_new(&nfc) != RMENS_OK)
        fuzz_fail("pretok");
    rmens_pretok_set_nfc(nfc, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tok)
        build();
    if (size == 0)
        return 0;
    unsigned flags = data[0] & 3u;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    int32_t *ids, *again;
    size_t k, k2;
    rmens_status st = rmens_tokenizer_encode(tok, s, n, flags, &ids, &k);
    int valid = rmens_utf8_valid_prefix(s, n) == n;
    if (!valid) {
        if (st != RMENS_ERR_INPUT)
            fuzz_fail("invalid UTF-8 gave status %d", (int)st);
        return 0;
    }
    if (st != RMENS_OK)
        fuzz_fail("valid UTF-8 refused: %s", rmens_last_error());
    for (size_t i = 0; i < k; i++)
        if (ids[i] < 0 || ids[i] >= rmens_tokenizer_vocab_size(tok))
            fuzz_fail("id %d outside the vocabulary", ids[i]);
    if (rmens_tokenizer_encode(tok, s, n, flags, &again, &k2) != RMENS_OK || k2 != k ||
        memcmp(again, ids, k * sizeof *ids) != 0)
        fuzz_fail("the second encode (word cache) differs");
    free(again);
    char *text;
    size_t len;
    /* the template's specials are skipped; specials in the text come back as their text */
    size_t from = (flags & RMENS_TOKENIZE_ADD_SPECIAL) && k && getenv("RMENS_FUZZ_TOKENIZER") == NULL ? 1 : 0;
    if (rmens_tokenizer_decode(tok, ids + from, k - from, 0, &text, &len) != RMENS_OK)
        fuzz_fail("decode: %s", rmens_last_error());
    const char *want;
    size_t wn;
    if (rmens_pretok_normalize(nfc, s, n, &want, &wn) != RMENS_OK)
        fuzz_fail("NFC: %s", rmens_last_error());
    if (!getenv("RMENS_FUZZ_TOKENIZER") && (len != wn || memcmp(text, want, wn) != 0))
        fuzz_fail("decode(encode(x)) != NFC(x) for %zu bytes", n);
    free(text);
    free(ids);
    return 0;
}
