/* Dynamic batching: requests from many HTTP connections wait in one queue until the
 * scoring loop takes them together, as soon as their tokens fill the budget or the
 * oldest has waited long enough. A bounded queue: a request beyond it is refused (503)
 * rather than left to wait without end. */
#ifndef RMENS_SERVE_BATCHER_H
#define RMENS_SERVE_BATCHER_H

#include "base/clock.h"
#include <stdint.h>

#include "serve/request.h"

/* One request on its way through the scoring loop. The HTTP side owns it; the loop
 * fills rewards and cut and then calls done, after which it does not touch it again. */
typedef struct rmens_job {
    struct rmens_job *next;
    const rmens_request *req;
    double t_arrival;        /* seconds, CLOCK_MONOTONIC */
    float *rewards;          /* [req->n][K], filled by the loop */
    unsigned char *cut;      /* [req->n]: cut to the context from the left */
    int failed;              /* the loop could not score it (message in err) */
    char err[512];
    void (*done)(struct rmens_job *job);
    void *owner;             /* the HTTP side's context */
} rmens_job;

typedef struct rmens_batcher rmens_batcher;

rmens_batcher *rmens_batcher_new(int64_t max_tokens, double max_wait_s, int max_queue);
void rmens_batcher_free(rmens_batcher *b);
/* 0: queued; -1: the queue is full; -2: closed (shutting down). */
int rmens_batcher_submit(rmens_batcher *b, rmens_job *job);
/* Waits at most poll_s seconds for a batch: up to max_jobs jobs, in arrival order, whose
 * tokens stay within the budget (the first one always goes, whatever its size). Returns
 * how many were placed in jobs[] (0: none ready yet). */
int rmens_batcher_take(rmens_batcher *b, rmens_job **jobs, int max_jobs, double poll_s);
/* Requests waiting in the queue. */
int rmens_batcher_pending(rmens_batcher *b);
/* No more submissions; the queued ones are still taken, without waiting for more. */
void rmens_batcher_close(rmens_batcher *b);

#endif
