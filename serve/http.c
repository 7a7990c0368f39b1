#include "serve/http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/error.h"

struct rmens_http {
    const rmens_http_config *c;
    struct MHD_Daemon *d;
    MHD_socket quiesced;     /* the listening socket after MHD_quiesce_daemon, closed at stop */
    pthread_mutex_t lock;    /* orders a request's suspension before its resumption */
    int active, draining, port;
    char log[512];           /* libmicrohttpd's last message (why a start failed) */
};

typedef enum { ROUTE_GET_REWARD, ROUTE_REWARDS } route;

/* One scoring request: its body, then its job through the scoring loop. */
typedef struct {
    rmens_http *h;
    struct MHD_Connection *conn;
    route route;
    char *body;
    size_t len, cap;
    int too_big, queued, done;
    rmens_request req;
    rmens_job job;
} request_ctx;

int rmens_secret_equal(const char *expected, const char *given)
{
    size_t n = strlen(expected), m = strlen(given);
    unsigned char diff = n != m;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(expected[i] ^ (i < m ? given[i] : 0));
    return diff == 0;
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned code, char *json, size_t len, int close)
{
    if (!json)
        return MHD_NO;  /* out of memory: libmicrohttpd closes the connection */
    struct MHD_Response *r = MHD_create_response_from_buffer(len, json, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(json);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (code == MHD_HTTP_SERVICE_UNAVAILABLE)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (code == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "POST");
    if (close)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result fail(struct MHD_Connection *conn, unsigned code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = 0;
    char *json = rmens_reply_error((int)code, msg, &len);
    /* A request refused before its body was read leaves the body on the connection. */
    return answer(conn, code, json, len, code == MHD_HTTP_CONTENT_TOO_LARGE || code == MHD_HTTP_UNAUTHORIZED);
}

static void resume(rmens_job *job)
{
    request_ctx *x = job->owner;
    rmens_http *h = x->h;  /* once resumed, x may be answered and freed at any moment */
    pthread_mutex_lock(&h->lock);
    x->done = 1;
    MHD_resume_connection(x->conn);
    pthread_mutex_unlock(&h->lock);
}

static int authorized(rmens_http *h, struct MHD_Connection *conn)
{
    if (!h->c->token)
        return 1;
    const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return 0;
    return rmens_secret_equal(h->c->token, a + 7);
}

/* A scoring request whose whole body has arrived: parse, queue, suspend. */
static enum MHD_Result submit(rmens_http *h, struct MHD_Connection *conn, request_ctx *x)
{
    if (x->too_big)
        return fail(conn, MHD_HTTP_CONTENT_TOO_LARGE, "the body is larger than the server's limit of %zu bytes "
                    "(--max-body)", h->c->max_body);
    rmens_status st = rmens_request_parse(&x->req, x->route == ROUTE_GET_REWARD ? RMENS_REQ_GET_REWARD : RMENS_REQ_REWARDS,
                                          x->body ? x->body : "", x->len, &h->c->limits);
    if (st == RMENS_ERR_INPUT)
        return fail(conn, MHD_HTTP_BAD_REQUEST, "%s", rmens_last_error());
    if (st != RMENS_OK)
        return fail(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", rmens_last_error());
    free(x->body);  /* parsed: only the tokens are needed now */
    x->body = NULL;
    const int K = h->c->reply.K;
    x->job.req = &x->req;
    x->job.owner = x;
    x->job.done = resume;
    /* A reward per text, or a process reward model's logit per step. */
    const int64_t rows = h->c->reply.prm ? x->req.n_steps : x->req.n;
    x->job.rewards = malloc((size_t)(rows * K + 1) * sizeof *x->job.rewards);
    x->job.cut = calloc((size_t)x->req.n, 1);
    if (!x->job.rewards || !x->job.cut)
        return fail(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory for %lld texts", (long long)x->req.n);
    x->conn = conn;
    pthread_mutex_lock(&h->lock);
    int rc = rmens_batcher_submit(h->c->batcher, &x->job);
    if (rc == 0) {
        x->queued = 1;
        MHD_suspend_connection(conn);
    }
    pthread_mutex_unlock(&h->lock);
    if (rc == -1)
        return fail(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "the queue is full (%d requests waiting): retry later",
                    rmens_batcher_pending(h->c->batcher));
    if (rc == -2)
        return fail(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "the server is shutting down");
    return MHD_YES;
}

static enum MHD_Result finish(rmens_http *h, struct MHD_Connection *conn, request_ctx *x)
{
    if (x->job.failed)
        return fail(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "scoring failed: %s", x->job.err);
    size_t len = 0;
    char *json = rmens_reply_rewards(&x->req, x->job.rewards, x->job.cut, &h->c->reply, &len);
    return answer(conn, MHD_HTTP_OK, json, len, 0);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    rmens_http *h = cls;
    request_ctx *x = *con_cls;
    if (x) {
        if (x->done)
            return finish(h, conn, x);
        if (x->queued)
            return MHD_YES;  /* cannot happen while suspended; harmless */
        if (*upload_size > 0) {
            if (!x->too_big && x->len + *upload_size > h->c->max_body)
                x->too_big = 1;
            if (!x->too_big) {
                if (x->len + *upload_size + 1 > x->cap) {
                    size_t cap = x->cap ? x->cap : 4096;
                    while (cap < x->len + *upload_size + 1)
                        cap *= 2;
                    char *b = realloc(x->body, cap);
                    if (!b)
                        return MHD_NO;
                    x->body = b;
                    x->cap = cap;
                }
                memcpy(x->body + x->len, upload, *upload_size);
                x->len += *upload_size;
            }
            *upload_size = 0;
            return MHD_YES;
        }
        return submit(h, conn, x);
    }
    /* The first call for a request: headers only. */
    int is_get = strcmp(method, "GET") == 0, is_post = strcmp(method, "POST") == 0;
    if (strcmp(url, "/health") == 0) {
        if (!is_get)
            return fail(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "%s %s: only GET", method, url);
        char msg[160];
        int n = snprintf(msg, sizeof msg, "{\"status\": \"%s\", \"queued\": %d}", h->draining ? "draining" : "ok",
                         rmens_batcher_pending(h->c->batcher));
        return answer(conn, h->draining ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK, strdup(msg), (size_t)n, 0);
    }
    route r;
    if (strcmp(url, "/get_reward") == 0)
        r = ROUTE_GET_REWARD;
    else if (strcmp(url, "/v1/rewards") == 0)
        r = ROUTE_REWARDS;
    else if (strcmp(url, "/v1/info") != 0)
        return fail(conn, MHD_HTTP_NOT_FOUND, "no route %s (POST /get_reward, POST /v1/rewards, GET /health, "
                    "GET /v1/info)", url);
    else if (!is_get)
        return fail(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "%s %s: only GET", method, url);
    else if (!authorized(h, conn))
        return fail(conn, MHD_HTTP_UNAUTHORIZED, "missing or wrong bearer token (Authorization: Bearer ...)");
    else
        return answer(conn, MHD_HTTP_OK, strdup(h->c->info), strlen(h->c->info), 0);
    if (!is_post)
        return fail(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "%s %s: only POST", method, url);
    if (!authorized(h, conn))
        return fail(conn, MHD_HTTP_UNAUTHORIZED, "missing or wrong bearer token (Authorization: Bearer ...)");
    if (h->draining)
        return fail(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "the server is shutting down");
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > h->c->max_body)
        return fail(conn, MHD_HTTP_CONTENT_TOO_LARGE, "the body (%s bytes) is larger than the server's limit of %zu "
                    "bytes (--max-body)", cl, h->c->max_body);
    if (!(x = calloc(1, sizeof *x)))
        return MHD_NO;
    x->h = h;
    x->route = r;
    pthread_mutex_lock(&h->lock);
    h->active++;
    pthread_mutex_unlock(&h->lock);
    *con_cls = x;
    return MHD_YES;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    rmens_http *h = cls;
    request_ctx *x = *con_cls;
    if (!x)
        return;
    free(x->body);
    free(x->job.rewards);
    free(x->job.cut);
    rmens_request_free(&x->req);
    free(x);
    *con_cls = NULL;
    pthread_mutex_lock(&h->lock);
    h->active--;
    pthread_mutex_unlock(&h->lock);
}

static void logger(void *cls, const char *fmt, va_list ap)
{
    rmens_http *h = cls;
    vsnprintf(h->log, sizeof h->log, fmt, ap);
    size_t n = strlen(h->log);
    while (n > 0 && (h->log[n - 1] == '\n' || h->log[n - 1] == '.'))
        h->log[--n] = '\0';
}

rmens_status rmens_http_start(rmens_http **out, const rmens_http_config *c)
{
    *out = NULL;
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", c->port);
    int rc = getaddrinfo(c->host, port, &hints, &ai);
    if (rc != 0)
        return rmens_fail(RMENS_ERR_ARG, "`host` %s: %s", c->host, gai_strerror(rc));
    rmens_http *h = calloc(1, sizeof *h);
    if (!h) {
        freeaddrinfo(ai);
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    }
    h->c = c;
    h->quiesced = MHD_INVALID_SOCKET;
    pthread_mutex_init(&h->lock, NULL);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* Idle connections close after 60 s (suspended ones, waiting to be scored, never). */
    h->d = MHD_start_daemon(flags, (uint16_t)c->port, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, h, MHD_OPTION_EXTERNAL_LOGGER, logger, h,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000,
                            MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->d) {
        rmens_status st = rmens_fail(RMENS_ERR_IO, "cannot serve on %s port %d: %s", c->host, c->port,
                                     h->log[0] ? h->log : "libmicrohttpd refused to start");
        pthread_mutex_destroy(&h->lock);
        free(h);
        return st;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : c->port;
    *out = h;
    return RMENS_OK;
}

int rmens_http_port(const rmens_http *h) { return h->port; }

void rmens_http_quiesce(rmens_http *h)
{
    pthread_mutex_lock(&h->lock);
    h->draining = 1;
    pthread_mutex_unlock(&h->lock);
    if (h->quiesced == MHD_INVALID_SOCKET)
        h->quiesced = MHD_quiesce_daemon(h->d);
}

int rmens_http_active(rmens_http *h)
{
    pthread_mutex_lock(&h->lock);
    int n = h->active;
    pthread_mutex_unlock(&h->lock);
    return n;
}

void rmens_http_stop(rmens_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    if (h->quiesced != MHD_INVALID_SOCKET)
        close(h->quiesced);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
