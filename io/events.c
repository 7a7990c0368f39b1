#include "io/events.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <math.h>

#include "base/error.h"

struct rmens_events {
    FILE *f;
    char path[4096];
};

/* Table-driven CRC-32C, reflected polynomial 0x82F63B78, built once. */
uint32_t rmens_crc32c(uint32_t crc, const void *data, size_t n)
{
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            table[i] = c;
        }
    const unsigned char *p = data;
    crc = ~crc;
    while (n--)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static uint32_t masked(const void *data, size_t n)
{
    uint32_t c = rmens_crc32c(0, data, n);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

/* ------------------------------------------------ protocol buffer pieces */

typedef struct {
    unsigned char buf[1024];
    size_t n;
} pb;

static void put(pb *b, const void *p, size_t n)
{
    if (b->n + n <= sizeof b->buf)
        memcpy(b->buf + b->n, p, n);
    b->n += n;  /* an overflow is seen by the caller: b->n > sizeof b->buf */
}

static void varint(pb *b, uint64_t v)
{
    unsigned char c[10];
    size_t k = 0;
    do {
        c[k++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    put(b, c, k);
}

static void le(pb *b, uint64_t v, int bytes)
{
    unsigned char c[8];
    for (int k = 0; k < bytes; k++)
        c[k] = (unsigned char)(v >> (8 * k));
    put(b, c, (size_t)bytes);
}

static void field_bytes(pb *b, unsigned field, const void *p, size_t n)
{
    varint(b, (uint64_t)field << 3 | 2);
    varint(b, n);
    put(b, p, n);
}

static rmens_status write_record(rmens_events *ev, const pb *event)
{
    if (event->n > sizeof event->buf)
        return rmens_fail(RMENS_ERR_ARG, "%s: an event of %zu bytes is too long", ev->path, event->n);
    unsigned char head[12];
    uint64_t len = event->n;
    for (int k = 0; k < 8; k++)
        head[k] = (unsigned char)(len >> (8 * k));
    uint32_t c = masked(head, 8), d = masked(event->buf, event->n);
    for (int k = 0; k < 4; k++)
        head[8 + k] = (unsigned char)(c >> (8 * k));
    unsigned char tail[4] = {(unsigned char)d, (unsigned char)(d >> 8), (unsigned char)(d >> 16),
                             (unsigned char)(d >> 24)};
    if (fwrite(head, 1, 12, ev->f) != 12 || fwrite(event->buf, 1, event->n, ev->f) != event->n ||
        fwrite(tail, 1, 4, ev->f) != 4)
        return rmens_fail(RMENS_ERR_IO, "%s: %s", ev->path, strerror(errno));
    return RMENS_OK;
}

/* Event { double wall_time = 1; int64 step = 2; ... } */
static void event_head(pb *b, double wall_time, int64_t step)
{
    uint64_t bits;
    memcpy(&bits, &wall_time, 8);
    varint(b, 1 << 3 | 1);
    le(b, bits, 8);
    varint(b, 2 << 3 | 0);
    varint(b, (uint64_t)step);
}

rmens_status rmens_events_open(rmens_events **out, const char *logdir, const char **path_out)
{
    *out = NULL;
    if (mkdir(logdir, 0777) != 0 && errno != EEXIST)
        return rmens_fail(RMENS_ERR_IO, "%s: cannot create the log folder: %s", logdir, strerror(errno));
    rmens_events *ev = calloc(1, sizeof *ev);
    if (!ev)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(ev->path, sizeof ev->path, "%s/events.out.tfevents.%lld.%s.%ld", logdir, (long long)time(NULL), host,
             (long)getpid());
    if (!(ev->f = fopen(ev->path, "wbx"))) {
        rmens_status st = rmens_fail(RMENS_ERR_IO, "%s: %s", ev->path, strerror(errno));
        free(ev);
        return st;
    }
    pb b = {.n = 0};
    event_head(&b, (double)time(NULL), 0);
    field_bytes(&b, 3, "brain.Event:2", strlen("brain.Event:2"));  /* string file_version = 3 */
    rmens_status st = write_record(ev, &b);
    if (st != RMENS_OK) {
        rmens_events_close(ev);
        return st;
    }
    *out = ev;
    if (path_out)
        *path_out = ev->path;
    return RMENS_OK;
}

rmens_status rmens_events_scalar(rmens_events *ev, const char *tag, int64_t step, double wall_time, float value)
{
    /* Summary { repeated Value value = 1; }  Value { string tag = 1; float simple_value = 2; } */
    pb v = {.n = 0}, s = {.n = 0}, e = {.n = 0};
    uint32_t bits;
    memcpy(&bits, &value, 4);
    field_bytes(&v, 1, tag, strlen(tag));
    varint(&v, 2 << 3 | 5);
    le(&v, bits, 4);
    if (v.n > sizeof v.buf)
        return rmens_fail(RMENS_ERR_ARG, "tag %.40s...: too long", tag);
    field_bytes(&s, 1, v.buf, v.n);
    event_head(&e, wall_time, step);
    field_bytes(&e, 5, s.buf, s.n);  /* Summary summary = 5 */
    return write_record(ev, &e);
}

rmens_status rmens_events_close(rmens_events *ev)
{
    if (!ev)
        return RMENS_OK;
    rmens_status st = RMENS_OK;
    if (fclose(ev->f) != 0)
        st = rmens_fail(RMENS_ERR_IO, "%s: %s", ev->path, strerror(errno));
    free(ev);
    return st;
}

/* ------------------------------------------------------ metrics records */

static int number(json_object *o, const char *key, double *x)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) ||
        !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
        return 0;
    *x = json_object_get_double(v);
    return isfinite(*x);
}

/* The scalar tagged PREFIX/WHAT/member_K ("train/loss/member_0"; no prefix: "loss/member_0"). */
static rmens_status scalar_k(rmens_events *ev, const char *prefix, const char *what, int k, int64_t step, double t,
                             double x, int64_t *n)
{
    char tag[128];
    snprintf(tag, sizeof tag, "%s%s%s/member_%d", prefix, *prefix ? "/" : "", what, k);
    (*n)++;
    return rmens_events_scalar(ev, tag, step, t, (float)x);
}

rmens_status rmens_events_metrics(rmens_events *ev, json_object *rec, const char *where, double start,
                                  double *last_elapsed, int64_t *n)
{
    json_object *type, *list;
    double step_d, x;
    if (!json_object_is_type(rec, json_type_object) || !json_object_object_get_ex(rec, "type", &type) ||
        !json_object_is_type(type, json_type_string))
        return rmens_fail(RMENS_ERR_INPUT, "%s: not a metrics record (an object with a \"type\")", where);
    const char *t = json_object_get_string(type);
    int train = strcmp(t, "train") == 0, eval = strcmp(t, "eval") == 0;
    if (!train && !eval)
        return RMENS_OK;  /* "error" and later kinds carry no scalars */
    if (!number(rec, "step", &step_d))
        return rmens_fail(RMENS_ERR_INPUT, "%s: a %s record without a numeric \"step\"", where, t);
    int64_t step = (int64_t)step_d;
    if (number(rec, "elapsed_s", &x))
        *last_elapsed = x;
    double wall = start + *last_elapsed;
    if (train) {
        static const char *const lists[] = {"loss", "accuracy"};
        double sum = 0;
        int count = 0;
        for (int l = 0; l < 2; l++) {
            if (!json_object_object_get_ex(rec, lists[l], &list) || !json_object_is_type(list, json_type_array))
                return rmens_fail(RMENS_ERR_INPUT, "%s: a train record without a \"%s\" list", where, lists[l]);
            for (size_t k = 0; k < json_object_array_length(list); k++) {
                json_object *v = json_object_array_get_idx(list, k);
                if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
                    continue;  /* null: the member did not train this step */
                x = json_object_get_double(v);
                RMENS_TRY(scalar_k(ev, "train", lists[l], (int)k, step, wall, x, n));
                if (l == 0) {
                    sum += x;
                    count++;
                }
            }
        }
        if (count) {
            RMENS_TRY(rmens_events_scalar(ev, "train/loss_mean", step, wall, (float)(sum / count)));
            (*n)++;
        }
        static const char *const one[] = {"lr", "pairs_per_s"};
        for (int k = 0; k < 2; k++)
            if (number(rec, one[k], &x)) {
                char tag[64];
                snprintf(tag, sizeof tag, "train/%s", one[k]);
                RMENS_TRY(rmens_events_scalar(ev, tag, step, wall, (float)x));
                (*n)++;
            }
        return RMENS_OK;
    }
    if (!json_object_object_get_ex(rec, "members", &list) || !json_object_is_type(list, json_type_array))
        return rmens_fail(RMENS_ERR_INPUT, "%s: an eval record without a \"members\" list", where);
    static const char *const keys[] = {"val_loss", "val_accuracy", "val_margin", "oob_loss", "oob_accuracy", "oob_margin"};
    for (size_t k = 0; k < json_object_array_length(list); k++) {
        json_object *m = json_object_array_get_idx(list, k);
        double member = (double)k;
        number(m, "member", &member);
        for (int j = 0; j < 6; j++)
            if (number(m, keys[j], &x)) {
                char what[16];
                snprintf(what, sizeof what, "%.3s/%s", keys[j], keys[j] + 4);
                RMENS_TRY(scalar_k(ev, "", what, (int)member, step, wall, x, n));
            }
    }
    json_object *e;
    if (json_object_object_get_ex(rec, "ensemble", &e) && json_object_is_type(e, json_type_object)) {
        static const char *const ens[] = {"val_accuracy_mean", "val_accuracy_min", "val_accuracy_uwo"};
        for (int j = 0; j < 3; j++)
            if (number(e, ens[j], &x)) {
                char tag[64];
                snprintf(tag, sizeof tag, "val/ensemble_accuracy_%s", ens[j] + strlen("val_accuracy_"));
                RMENS_TRY(rmens_events_scalar(ev, tag, step, wall, (float)x));
                (*n)++;
            }
    }
    return RMENS_OK;
}
