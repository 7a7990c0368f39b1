#include "serve/batcher.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct rmens_batcher {
    pthread_mutex_t lock;
    pthread_cond_t cond;  /* signalled on submit and close; CLOCK_MONOTONIC */
    rmens_job *head, *tail;
    int pending, max_queue, closed;
    int64_t tokens, max_tokens;  /* queued tokens; the batch budget */
    double max_wait;
};

rmens_batcher *rmens_batcher_new(int64_t max_tokens, double max_wait_s, int max_queue)
{
    rmens_batcher *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->cond, &ca);
    pthread_condattr_destroy(&ca);
    b->max_tokens = max_tokens;
    b->max_wait = max_wait_s;
    b->max_queue = max_queue;
    return b;
}

void rmens_batcher_free(rmens_batcher *b)
{
    if (!b)
        return;
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

int rmens_batcher_submit(rmens_batcher *b, rmens_job *job)
{
    pthread_mutex_lock(&b->lock);
    int rc = b->closed ? -2 : b->pending >= b->max_queue ? -1 : 0;
    if (rc == 0) {
        job->next = NULL;
        job->t_arrival = rmens_now();
        if (b->tail)
            b->tail->next = job;
        else
            b->head = job;
        b->tail = job;
        b->pending++;
        b->tokens += job->req->n_tokens;
        pthread_cond_signal(&b->cond);
    }
    pthread_mutex_unlock(&b->lock);
    return rc;
}

int rmens_batcher_pending(rmens_batcher *b)
{
    pthread_mutex_lock(&b->lock);
    int n = b->pending;
    pthread_mutex_unlock(&b->lock);
    return n;
}

void rmens_batcher_close(rmens_batcher *b)
{
    pthread_mutex_lock(&b->lock);
    b->closed = 1;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

static void deadline(struct timespec *ts, double t)
{
    ts->tv_sec = (time_t)t;
    ts->tv_nsec = (long)((t - (double)ts->tv_sec) * 1e9);
    if (ts->tv_nsec >= 1000000000L)
        ts->tv_sec++, ts->tv_nsec -= 1000000000L;
}

int rmens_batcher_take(rmens_batcher *b, rmens_job **jobs, int max_jobs, double poll_s)
{
    const double give_up = rmens_now() + poll_s;
    pthread_mutex_lock(&b->lock);
    for (;;) {
        double now = rmens_now();
        /* Ready: the budget is full, the oldest has waited long enough, or no more can come. */
        if (b->head && (b->tokens >= b->max_tokens || now >= b->head->t_arrival + b->max_wait || b->closed ||
                        b->pending >= max_jobs))
            break;
        if (now >= give_up) {
            pthread_mutex_unlock(&b->lock);
            return 0;
        }
        double until = b->head && b->head->t_arrival + b->max_wait < give_up ? b->head->t_arrival + b->max_wait
                                                                              : give_up;
        struct timespec ts;
        deadline(&ts, until);
        pthread_cond_timedwait(&b->cond, &b->lock, &ts);
    }
    int n = 0;
    int64_t tokens = 0;
    while (b->head && n < max_jobs && (n == 0 || tokens + b->head->req->n_tokens <= b->max_tokens)) {
        rmens_job *j = b->head;
        b->head = j->next;
        if (!b->head)
            b->tail = NULL;
        tokens += j->req->n_tokens;
        b->pending--;
        b->tokens -= j->req->n_tokens;
        jobs[n++] = j;
    }
    pthread_mutex_unlock(&b->lock);
    return n;
}
