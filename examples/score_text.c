/* Scores text with an rmens ensemble through the library API: no MPI needed.
 *
 *   score_text ENSEMBLE.h5 [--normalize] [--lambda X] < transcripts.txt
 *
 * Each input line is one transcript (prompt and response, in the HH template that
 * rmens prep renders: "\n\nHuman: ...\n\nAssistant: ..."), with the two characters \n
 * standing for a newline so a multi-turn transcript fits on a line. For each line it
 * prints the ensemble's mean, std, min and mean - lambda var, then every member's reward.
 *
 * Build outside the tree, with any C compiler (no MPI needed):
 *     cc score_text.c -o score_text $(pkg-config --cflags --libs rmens) */
#include <rmens.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: score_text ENSEMBLE.h5 [--normalize] [--lambda X] < transcripts\n");
        return 2;
    }
    int normalize = 0;
    float lambda = 0.5f;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--normalize") == 0)
            normalize = 1;
        else if (strcmp(argv[i], "--lambda") == 0 && i + 1 < argc)
            lambda = strtof(argv[++i], NULL);
    }
    rmens_ensemble *e;
    if (rmens_ensemble_open(&e, argv[1]) != RMENS_OK) {
        fprintf(stderr, "score_text: %s\n", rmens_last_error());
        return 1;
    }
    int K = rmens_ensemble_members(e), rc = 0;
    float *r = malloc((size_t)K * sizeof *r);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        size_t k = 0;  /* unescape \n in place */
        for (ssize_t i = 0; i < n; i++) {
            if (line[i] == '\\' && i + 1 < n && line[i + 1] == 'n') {
                line[k++] = '\n';
                i++;
            } else {
                line[k++] = line[i];
            }
        }
        rmens_score_stats s;
        if (rmens_ensemble_score_text(e, line, k, normalize, lambda, r, &s) != RMENS_OK) {
            fprintf(stderr, "score_text: %s\n", rmens_last_error());
            rc = 1;
            break;
        }
        printf("mean %.7g std %.7g min %.7g uwo %.7g members", s.mean, s.std, s.min, s.uwo);
        for (int j = 0; j < K; j++)
            printf(" %.7g", r[j]);
        printf("\n");
    }
    free(line);
    free(r);
    rmens_ensemble_close(e);
    return rc;
}
