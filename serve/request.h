/* A scoring request's body (docs/SERVE.md), parsed, validated, rendered and tokenized:
 *   POST /get_reward  {"query": [str], "prompts": [str], "labels": [any]}  (OpenRLHF)
 *   POST /v1/rewards  [{"prompt", "response"} | {"messages": [...]}] or
 *                     {"inputs": [...], "per_member": bool, "pairs": [[a, b], ...]}
 * For a process reward model each text is a solution, its response split into steps at
 * the step separator and tokenized as rmens prep --steps tokenizes training data
 * (io/prep_steps.h); a /get_reward query's response is the text after its prompt.
 * Nothing in a request names a file: it carries texts and flags only. */
#ifndef RMENS_SERVE_REQUEST_H
#define RMENS_SERVE_REQUEST_H

#include "rmens.h"
#include "text/template.h"

typedef enum { RMENS_REQ_GET_REWARD = 0, RMENS_REQ_REWARDS = 1 } rmens_request_kind;

typedef struct {
    int n_ctx;           /* the model's context */
    int truncate_error;  /* 1: a text longer than n_ctx tokens is refused; 0: cut from the left */
    int64_t max_items;   /* texts per request */
    /* How texts become ids, as rmens prep made the training data (rmens_request_limits_init):
     * the checkpoint's tokenizer (the byte tokenizer for byte checkpoints; used from one
     * thread, libmicrohttpd's), template, the id every sequence ends with and whether it
     * is appended; and the special-token strings a /get_reward query may end with. */
    rmens_tokenizer *tk;
    rmens_template tpl;
    int32_t end;
    int append;
    int n_strip;
    char strip[3][64];
    /* A process reward model's step separator: texts are solutions read at every step's
     * separator; NULL for an outcome model. max_steps: steps per text. */
    const char *step_sep;
    int64_t max_steps;
} rmens_request_limits;

/* Fills the tokenizer part of lim: template tpl resolved for tk (an error names what tk
 * lacks). tk is not owned. */
rmens_status rmens_request_limits_init(rmens_request_limits *lim, rmens_tokenizer *tk, rmens_template tpl);

typedef struct {
    rmens_request_kind kind;
    int64_t n;         /* texts */
    int64_t n_tokens;  /* tokens of all texts (end-of-text included) */
    int64_t tok_room;  /* tokens the array holds */
    int32_t *tokens;   /* [n_tokens]: every text's tokens, one after the other */
    int64_t *offsets;  /* [n + 1] */
    int per_member;    /* /v1/rewards: every member's reward in the answer */
    /* A process reward model's solutions: text i's steps close one before
     * step_ends[step_off[i] .. step_off[i + 1]) (token positions within text i). */
    int64_t n_steps;
    int64_t *step_off;   /* [n + 1] */
    int32_t *step_ends;  /* [n_steps] */
    int64_t step_room;
    int64_t n_pairs;
    int64_t *pairs;    /* [n_pairs][2]: P(text a > text b) wanted */
} rmens_request;

/* Parses body[len] as a request of the given kind. A bad request returns RMENS_ERR_INPUT
 * with a message saying which field is wrong and why (the caller answers 400); r is then
 * empty. */
rmens_status rmens_request_parse(rmens_request *r, rmens_request_kind kind, const char *body, size_t len,
                                 const rmens_request_limits *lim);
void rmens_request_free(rmens_request *r);

#endif
