#include "io/trainlog.h"

#include <json-c/json.h>
#include <math.h>

#include "base/error.h"
#include "io/checkpoint.h"

rmens_status rmens_trainlog_open(FILE **f, const char *path, int append)
{
    if (!(*f = fopen(path, append ? "a" : "w")))
        return rmens_fail(RMENS_ERR_IO, "cannot open %s for writing", path);
    return RMENS_OK;
}

static void emit(FILE *f, json_object *o)
{
    fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), f);
    fputc('\n', f);
    fflush(f);
    json_object_put(o);
}

static json_object *darray(const double *v, int n)
{
    json_object *a = json_object_new_array();
    for (int i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_double(v[i]));
    return a;
}

static json_object *step_row(const rmens_train_event *ev)
{
    json_object *j = json_object_new_object();
    json_object_object_add(j, "type", json_object_new_string("train"));
    json_object_object_add(j, "step", json_object_new_int64(ev->step));
    json_object_object_add(j, "lr", json_object_new_double(ev->progress.lr));
    json_object_object_add(j, "loss", darray(ev->progress.loss, ev->members));
    json_object_object_add(j, "accuracy", darray(ev->progress.accuracy, ev->members));
    json_object_object_add(j, "pairs_per_s", json_object_new_double(ev->progress.pairs_per_s));
    json_object_object_add(j, "elapsed_s", json_object_new_double(ev->progress.elapsed));
    return j;
}

static json_object *eval_row(const rmens_train_event *ev)
{
    json_object *j = json_object_new_object(), *ms = json_object_new_array();
    json_object_object_add(j, "type", json_object_new_string("eval"));
    json_object_object_add(j, "step", json_object_new_int64(ev->step));
    json_object_object_add(j, "final", json_object_new_boolean(ev->eval.final));
    for (int k = 0; k < ev->members; k++) {
        const double *a = ev->eval.member + (size_t)k * RMENS_MA_N;
        json_object *m = json_object_new_object();
        json_object_object_add(m, "member", json_object_new_int(k));
        for (int q = 0; q < RMENS_MA_N; q++)  /* reward statistics are measured at the end */
            if (isfinite(a[q]) && (ev->eval.final || (q != RMENS_MA_REWARD_MEAN && q != RMENS_MA_REWARD_STD)))
                json_object_object_add(m, rmens_member_attr_names[q], json_object_new_double(a[q]));
        json_object_array_add(ms, m);
    }
    json_object_object_add(j, "members", ms);
    if (ev->eval.has_val) {
        json_object *en = json_object_new_object();
        char key[64];
        for (int r = 0; r < RMENS_RULE_N; r++) {
            snprintf(key, sizeof key, "val_accuracy_%s", rmens_rule_names[r]);
            json_object_object_add(en, key, json_object_new_double(ev->eval.accuracy[r]));
        }
        json_object_object_add(en, "lambda", json_object_new_double(ev->eval.lambda));
        json_object_object_add(j, "ensemble", en);
    }
    return j;
}

void rmens_trainlog_event(FILE *f, const rmens_train_event *ev)
{
    if (f && ev->kind == RMENS_TRAIN_STEP)
        emit(f, step_row(ev));
    else if (f && ev->kind == RMENS_TRAIN_EVAL)
        emit(f, eval_row(ev));
}

void rmens_trainlog_error(FILE *f, int64_t step, rmens_status st, const char *message)
{
    if (!f)
        return;
    json_object *j = json_object_new_object();
    json_object_object_add(j, "type", json_object_new_string("error"));
    json_object_object_add(j, "step", json_object_new_int64(step));
    json_object_object_add(j, "error", json_object_new_string(rmens_strerror(st)));
    json_object_object_add(j, "message", json_object_new_string(message));
    emit(f, j);
}
