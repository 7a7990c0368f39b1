/* rmens serve: an ensemble's rewards over HTTP. Members are placed on ranks as in
 * rmens score; rank 0 runs the HTTP server (serve/http), takes batches of requests from
 * the queue (serve/batcher), broadcasts each batch's tokens, every rank scores it with
 * its members, and the rewards are summed onto rank 0, which answers. A process reward
 * model's batch also carries each text's step ends, and every step's logits come back. */
#ifndef RMENS_SERVE_SERVER_H
#define RMENS_SERVE_SERVER_H

#include <signal.h>

#include "rmens_mpi.h"
#include "serve/reply.h"

typedef struct {
    const char *ckpt;
    const char *tokenizer;     /* the checkpoint's Hugging Face tokenizer (a directory or file);
                                  NULL for a byte-tokenizer checkpoint */
    const char *host;          /* default 127.0.0.1 */
    int port;                  /* 0: any free port */
    rmens_reward_kind reward;  /* what "rewards" holds */
    double lambda;
    int normalize;
    int truncate_error;        /* --truncate error (default: left) */
    int64_t max_batch_tokens;  /* a batch's token budget */
    double max_wait_s;         /* the longest a request waits for others to join its batch */
    size_t max_body;           /* bytes per request body */
    int max_queue;             /* requests waiting; more are refused with 503 */
    int64_t max_items;         /* texts per request */
    /* Process reward models (a checkpoint of objective prm): the solution score's
     * aggregate (rmens_aggregate; -1: min, rmens score's default), the step separator
     * (NULL: the checkpoint's, else "\n"), and steps per text. Refused for outcome models. */
    int aggregate;
    const char *step_separator;
    int64_t max_steps;
    double drain_s;            /* at a stop, the longest wait for requests in flight */
    const char *token;         /* bearer token, or NULL */
    const char *command;       /* the command line, for /v1/info */
    volatile sig_atomic_t *stop;  /* set (by a signal handler) to stop; read on rank 0 */
    /* Called on rank 0 once the server listens (the port is known), e.g. to write it to a
     * file the RL job reads. */
    void (*ready)(const char *host, int port, void *arg);
    void *ready_arg;
} rmens_serve_options;

void rmens_serve_options_init(rmens_serve_options *o);

typedef struct {
    int64_t requests, texts, tokens, batches, failed_batches;
    double seconds;
} rmens_serve_report;

/* Collective: serves until *o->stop is set on rank 0, then answers the requests in
 * flight and returns on every rank. */
rmens_status rmens_serve(const rmens_serve_options *o, MPI_Comm comm, rmens_serve_report *rep);

#endif
