/* Fuzz target: rmens_tokenizer_load on tokenizer.json (the input is the file's bytes,
 * in a directory beside a fixed tokenizer_config.json).
 *
 * Oracles besides the sanitizers: a failure has a message naming the file; a tokenizer
 * that loads encodes a few fixed texts (and the input itself when it is valid UTF-8) to
 * ids inside its vocabulary, decodes them back without error, and its accessors agree
 * (vocab size positive, special ids in range, a 64-digit fingerprint). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz_util.h"

static void exercise(rmens_tokenizer *t, const char *s, size_t n, unsigned flags)
{
    int32_t *ids;
    size_t k;
    rmens_status st = rmens_tokenizer_encode(t, s, n, flags, &ids, &k);
    if (st != RMENS_OK) {
        fuzz_check_status(st, "encode");
        return;
    }
    int32_t v = rmens_tokenizer_vocab_size(t);
    for (size_t i = 0; i < k; i++)
        if (ids[i] < 0 || ids[i] >= v)
            fuzz_fail("encode gave id %d outside the vocabulary of %d", ids[i], v);
    char *text;
    size_t len;
    if ((st = rmens_tokenizer_decode(t, ids, k, 0, &text, &len)) != RMENS_OK)
        fuzz_fail("decode of encode's ids failed: %s", rmens_last_error());
    if (strlen(text) > len)
        fuzz_fail("decode's length is wrong");
    free(text);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[512], path[600], cfg[600];
    fuzz_path(dir, sizeof dir, "tok");
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    snprintf(cfg, sizeof cfg, "%s/tokenizer_config.json", dir);
    fuzz_write_file(path, data, size);
    static const char config[] = "{\"eos_token\": \"a\", \"tokenizer_class\": \"Fuzz\"}";
    fuzz_write_file(cfg, config, sizeof config - 1);
    rmens_tokenizer *t = NULL;
    rmens_status st = rmens_tokenizer_load(&t, dir);
    if (st != RMENS_OK) {
        fuzz_check_status(st, "rmens_tokenizer_load");
        if (t)
            fuzz_fail("a failed load returned a tokenizer");
        if (!strstr(rmens_last_error(), "tokenizer"))
            fuzz_fail("the message does not name the file: %s", rmens_last_error());
        return 0;
    }
    int32_t v = rmens_tokenizer_vocab_size(t);
    if (v <= 0 || strlen(rmens_tokenizer_sha256(t)) != 64 || rmens_tokenizer_eos_id(t) >= v ||
        rmens_tokenizer_bos_id(t) >= v || rmens_tokenizer_pad_id(t) >= v)
        fuzz_fail("accessors disagree (vocab %d)", v);
    static const char *const texts[] = {"Hello, world!", "I'M  here\r\n\r\n 123456", "Caf\xc3\xa9 e\xcc\x81 \xe6\x97\xa5",
                                        "<|endoftext|><s>", ""};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        exercise(t, texts[i], strlen(texts[i]), 0);
        exercise(t, texts[i], strlen(texts[i]), RMENS_TOKENIZE_ADD_SPECIAL | RMENS_TOKENIZE_SPECIAL_AS_TEXT);
    }
    exercise(t, (const char *)data, size < 4096 ? size : 4096, 0);
    rmens_tokenizer_free(t);
    return 0;
}
