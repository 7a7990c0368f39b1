/* The JSON answers of rmens serve (docs/SERVE.md): rewards with the ensemble's spread,
 * pair preferences with their uncertainty, and errors. */
#ifndef RMENS_SERVE_REPLY_H
#define RMENS_SERVE_REPLY_H

#include "serve/request.h"

typedef enum { RMENS_REWARD_MEAN = 0, RMENS_REWARD_MIN = 1, RMENS_REWARD_UWO = 2 } rmens_reward_kind;

typedef struct {
    int K;                   /* members */
    rmens_reward_kind reward;
    double lambda;           /* uwo = mean - lambda var */
    int normalize;           /* rewards were standardised by each member's statistics */
    const double *rstd;      /* [K] those statistics' std: margins are turned back into the
                              * members' own scale for P(a > b) */
    const double *tau;       /* [K] the checkpoint's temperatures of those margins, or NULL */
    int prm;                 /* a process reward model: rewards are per-step logits */
    int aggregate;           /* its solution score (rmens_aggregate: min, prod, last) */
} rmens_reply_config;

/* NUL-terminated JSON (malloc'ed; *len its length) answering r, given every member's
 * reward rewards[i * K + k] of its texts (a process reward model: logit of step s,
 * rewards[s * K + k], NaN for a step cut away) and which texts were cut to the context
 * (cut[i], or NULL). NULL when out of memory. */
char *rmens_reply_rewards(const rmens_request *r, const float *rewards, const unsigned char *cut,
                          const rmens_reply_config *c, size_t *len);
/* {"error": {"code": code, "message": msg}} */
char *rmens_reply_error(int code, const char *msg, size_t *len);
/* The name of a reward kind, and back (-1 if unknown). */
const char *rmens_reward_name(rmens_reward_kind k);
int rmens_reward_from_name(const char *s);

#endif
