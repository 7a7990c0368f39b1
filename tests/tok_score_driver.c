/* tests/prep_tokenizer.sh's check of rmens_ensemble_score_text with a Hugging Face
 * tokenizer: the first chosen sequence of a pairs file, decoded to its text (special
 * tokens kept), scored as text must give the reward of its tokens scored directly.
 * usage: tok_score_driver CKPT DATA [TOKENIZER]; prints "ok" or the library's message
 * and exits 1. Without TOKENIZER, score_text must refuse. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "rmens.h"

static int die(const char *what)
{
    printf("%s: %s\n", what, rmens_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    rmens_ensemble *e;
    rmens_dataset *ds;
    if (rmens_ensemble_open(&e, argv[1]) != RMENS_OK)
        return die("open");
    if (rmens_dataset_read(&ds, argv[2]) != RMENS_OK)
        return die("read");
    int64_t len;
    const int32_t *seq = rmens_dataset_seq(ds, RMENS_SIDE_CHOSEN, 0, &len);
    rmens_score_stats direct, text;
    if (rmens_ensemble_score(e, &seq, &len, 1, 0, 0.5f, NULL, &direct, NULL) != RMENS_OK)
        return die("score");
    if (argc < 4) {
        if (rmens_ensemble_score_text(e, "hello", 5, 0, 0.5f, NULL, &text) == RMENS_OK) {
            puts("score_text read text without the checkpoint's tokenizer");
            return 1;
        }
        return die("refused");
    }
    rmens_tokenizer *tk;
    if (rmens_tokenizer_load(&tk, argv[3]) != RMENS_OK)
        return die("load");
    if (rmens_ensemble_set_tokenizer(e, tk) != RMENS_OK)
        return die("set_tokenizer");
    char *s;
    size_t n;
    if (rmens_tokenizer_decode(tk, seq, (size_t)len - 1, 0, &s, &n) != RMENS_OK)  /* without the end id */
        return die("decode");
    if (rmens_ensemble_score_text(e, s, n, 0, 0.5f, NULL, &text) != RMENS_OK)
        return die("score_text");
    if (text.mean != direct.mean) {
        printf("score_text %.9g, the tokens %.9g\n", text.mean, direct.mean);
        return 1;
    }
    printf("ok: score_text %.6g equals the tokens' reward\n", text.mean);
    free(s);
    rmens_tokenizer_free(tk);
    rmens_dataset_free(ds);
    rmens_ensemble_close(e);
    return 0;
}
