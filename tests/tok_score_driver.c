/* tests/prep_tokenizer.sh's check of rmens_ensemble_score_text with a Hugging Face
 * tokenizer: the first chosen sequence of a pairs file, decoded to its text (special
 * tokens kept), scored as text must give the reward of its tokens scored directly.
 * usage: tok_score_driver CKPT DATA [TOKENIZER]; prints "ok" or the library's message
 * and exits 1. Without TOKENIZER, score_text must refuse. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "rmens.h"

/* Prints what failed with the library's message; the caller frees everything. */
static int die(const char *what)
{
    printf("%s: %s\n", what, rmens_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    rmens_ensemble *e = NULL;
    rmens_dataset *ds = NULL;
    rmens_tokenizer *tk = NULL;
    char *s = NULL;
    size_t n;
    int rc = 1;
    int64_t len;
    const int32_t *seq;
    rmens_score_stats direct, text;
    if (rmens_ensemble_open(&e, argv[1]) != RMENS_OK) {
        rc = die("open");
        goto exit;
    }
    if (rmens_dataset_read(&ds, argv[2]) != RMENS_OK) {
        rc = die("read");
        goto exit;
    }
    seq = rmens_dataset_seq(ds, RMENS_SIDE_CHOSEN, 0, &len);
    if (rmens_ensemble_score(e, &seq, &len, 1, 0, 0.5f, NULL, &direct, NULL) != RMENS_OK) {
        rc = die("score");
        goto exit;
    }
    if (argc < 4) {
        if (rmens_ensemble_score_text(e, "hello", 5, 0, 0.5f, NULL, &text) == RMENS_OK)
            puts("score_text read text without the checkpoint's tokenizer");
        else
            rc = die("refused");
        goto exit;
    }
    if (rmens_tokenizer_load(&tk, argv[3]) != RMENS_OK)
        rc = die("load");
    else if (rmens_ensemble_set_tokenizer(e, tk) != RMENS_OK)
        rc = die("set_tokenizer");
    else if (rmens_tokenizer_decode(tk, seq, (size_t)len - 1, 0, &s, &n) != RMENS_OK)  /* without the end id */
        rc = die("decode");
    else if (rmens_ensemble_score_text(e, s, n, 0, 0.5f, NULL, &text) != RMENS_OK)
        rc = die("score_text");
    else if (text.mean != direct.mean)
        printf("score_text %.9g, the tokens %.9g\n", text.mean, direct.mean);
    else {
        printf("ok: score_text %.6g equals the tokens' reward\n", text.mean);
        rc = 0;
    }
exit:
    fflush(stdout);
    free(s);
    rmens_ensemble_close(e);
    rmens_tokenizer_free(tk);
    rmens_dataset_free(ds);
    return rc;
}
