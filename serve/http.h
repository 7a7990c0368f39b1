/* The HTTP side of rmens serve, on libmicrohttpd: one internal polling thread accepts
 * connections, reads bodies up to a limit, checks the bearer token, parses and queues
 * scoring requests (the connection is suspended meanwhile) and answers when the scoring
 * loop is done with them. Routes: POST /get_reward, POST /v1/rewards, GET /health,
 * GET /v1/info (docs/SERVE.md). */
#ifndef RMENS_SERVE_HTTP_H
#define RMENS_SERVE_HTTP_H

#include "serve/batcher.h"
#include "serve/reply.h"
#include "serve/request.h"

typedef struct {
    const char *host;        /* address or name to bind */
    int port;                /* 0: any free port (rmens_http_port says which) */
    size_t max_body;         /* bytes */
    const char *token;       /* bearer token the scoring and info routes require; NULL: none */
    rmens_request_limits limits;
    rmens_reply_config reply;
    rmens_batcher *batcher;
    const char *info;        /* the body of GET /v1/info */
} rmens_http_config;

typedef struct rmens_http rmens_http;

/* Binds and starts serving; the config (and what it points to) must outlive the server. */
rmens_status rmens_http_start(rmens_http **out, const rmens_http_config *c);
int rmens_http_port(const rmens_http *h);
/* Stops accepting connections; a new request on an open one is answered 503. Requests
 * already being received or scored go on. */
void rmens_http_quiesce(rmens_http *h);
/* Scoring requests being received, queued or scored. */
int rmens_http_active(rmens_http *h);
/* Stops the server (every suspended request must have been answered) and frees it. */
void rmens_http_stop(rmens_http *h);

/* Constant-time comparison of a presented secret with the expected one: the time depends
 * on the expected length only. 1 if equal. */
int rmens_secret_equal(const char *expected, const char *given);

#endif
