/* The preference formats of rmens prep beyond a chosen/rejected pair (docs/FORMAT.md):
 * records read into a rendered pair (summarize-from-feedback, HelpSteer2-Preference) or
 * into one prompt's ranked responses (rankings, raw UltraFeedback, HelpSteer2), which
 * io/prep.c expands into pairs. */
#ifndef RMENS_IO_PREP_FORMATS_H
#define RMENS_IO_PREP_FORMATS_H

#include "io/prep_json.h"

/* One pair rendered: both whole transcripts and the prompt they share. */
typedef struct {
    rmens_text full[2];  /* chosen, rejected */
    size_t prompt_len;   /* bytes both share as the prompt */
    int skip;            /* -1, or the RMENS_SKIP_* reason */
} rmens_prep_pair;

/* One prompt's responses and their scores (higher is better). */
typedef struct {
    rmens_text prompt;   /* rendered, ending with the assistant header */
    rmens_text resp;     /* each response rendered after the header, concatenated */
    size_t *off;         /* [k + 1] response i is resp.buf[off[i] .. off[i + 1]) */
    double *score;       /* [k] */
    int64_t *source;     /* [k] 0-based input record of each response */
    int *empty;          /* [k] its content is empty */
    int64_t k, cap;
} rmens_prep_group;

void rmens_prep_group_clear(rmens_prep_group *g);
void rmens_prep_group_free(rmens_prep_group *g);

/* A finite number field. */
rmens_status rmens_json_number(json_object *o, const char *key, const char *where, double *x);

/* OpenAI summarize-from-feedback comparison -> r; *confidence: extra.confidence, NAN when
 * the record has none. */
rmens_status rmens_prep_summarize(json_object *o, const char *where, rmens_prep_pair *r, double *confidence);
/* HelpSteer2-Preference -> r (skip = RMENS_SKIP_TIE for strength 0); *strength in [-3, 3]. */
rmens_status rmens_prep_helpsteer2_pref(json_object *o, const char *where, rmens_prep_pair *r, double *strength);
/* {"prompt", "responses", "ranking" | "scores"} -> g; *scores: 1 for "scores" (their
 * differences are margins), 0 for ranks. */
rmens_status rmens_prep_ranking(json_object *o, const char *where, int64_t source, rmens_prep_group *g, int *scores);
/* Raw UltraFeedback {"instruction", "completions"} -> g rated by completions[].<field>;
 * completions without a rating (null) are left out and counted in *unrated. */
rmens_status rmens_prep_ultrafeedback_raw(json_object *o, const char *field, const char *where, int64_t source,
                                          rmens_prep_group *g, int64_t *unrated);
/* One HelpSteer2 response: its prompt rendered into *prompt, its content appended to g,
 * scored weights . (helpfulness, correctness, coherence, complexity, verbosity). */
rmens_status rmens_prep_helpsteer2(json_object *o, const double w[5], const char *where, int64_t source,
                                   rmens_text *prompt, rmens_prep_group *g);

#endif
