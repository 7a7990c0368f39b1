/* The trainer speaks through events (ensemble/trainer.h): a 2-step run with validation,
 * an evaluation and a save every step reaches the callback, on rank 0 only, as
 * BEGIN, STEP 1, EVAL 1, SAVED 1, STEP 2, EVAL 2 (final), SAVED 2, DONE, with the user
 * pointer given; the final evaluation's member metrics are the checkpoint's attributes
 * (read back from the file), and the metrics file holds one row per STEP and EVAL. Run
 * on 1 and 2 ranks; Check without fork (MPI); verdict combined over ranks. */
#include <math.h>

#include "tests/check_mpi.h"
#include "ensemble/trainer.h"
#include "io/checkpoint.h"

static int rank, size;
static char dir[512];

#define MAX_EVENTS 32
typedef struct {
    int n;
    rmens_train_event ev[MAX_EVENTS];
    double final_metrics[2 * RMENS_MA_N];  /* copied: the event's arrays live only during the call */
    double step_loss[2][2];
} recorder;

static void record(const rmens_train_event *ev, void *user)
{
    recorder *r = user;
    if (r->n < MAX_EVENTS)
        r->ev[r->n++] = *ev;
    if (ev->kind == RMENS_TRAIN_EVAL && ev->eval.final)
        memcpy(r->final_metrics, ev->eval.member, sizeof r->final_metrics);
    if (ev->kind == RMENS_TRAIN_STEP && ev->step >= 1 && ev->step <= 2)
        memcpy(r->step_loss[ev->step - 1], ev->progress.loss, 2 * sizeof(double));
}

static void path_of(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

START_TEST(two_steps_of_events)
{
    char data[600], val[600], out[600], metrics[600];
    path_of(data, sizeof data, "train.h5");
    path_of(val, sizeof val, "val.h5");
    path_of(out, sizeof out, "ens.h5");
    path_of(metrics, sizeof metrics, "metrics.jsonl");
    rmens_train_options o;
    rmens_train_options_init(&o);
    o.data = data, o.val = val, o.out = out, o.metrics = metrics;
    o.members = 2;
    o.model = (rmens_model_config){RMENS_BYTES_VOCAB, 128, 1, 2, 16};
    o.batch = 8;
    o.steps = 2;
    o.eval_every = 1;
    o.save_every = 1;
    o.truncate_prompts = 1;
    recorder rec = {0};
    o.on_event = record;
    o.event_user = &rec;
    ck_assert_msg(rmens_train(&o, MPI_COMM_WORLD) == RMENS_OK, "%s", rmens_last_error());
    if (rank != 0) {
        ck_assert_int_eq(rec.n, 0);  /* events reach rank 0 only */
        return;
    }
    static const rmens_train_event_kind want[] = {RMENS_TRAIN_BEGIN, RMENS_TRAIN_STEP,  RMENS_TRAIN_EVAL,
                                                  RMENS_TRAIN_SAVED, RMENS_TRAIN_STEP,  RMENS_TRAIN_EVAL,
                                                  RMENS_TRAIN_SAVED, RMENS_TRAIN_DONE};
    static const int64_t want_step[] = {0, 1, 1, 1, 2, 2, 2, 2};
    ck_assert_int_eq(rec.n, 8);  /* no CUT: synthetic pairs fit n_ctx 128 */
    for (int i = 0; i < 8; i++) {
        ck_assert_msg(rec.ev[i].kind == want[i], "event %d is kind %d, expected %d", i, rec.ev[i].kind, want[i]);
        ck_assert_int_eq(rec.ev[i].step, want_step[i]);
        ck_assert_int_eq(rec.ev[i].total, 2);
        ck_assert_int_eq(rec.ev[i].members, 2);
    }
    const rmens_train_event *b = &rec.ev[0];
    ck_assert_int_eq(b->begin.ranks, size);
    ck_assert_int_eq(b->begin.pairs, 200);
    ck_assert_int_eq(b->begin.cfg.n_embd, 16);
    ck_assert_int_eq(b->begin.cfg.vocab_size, RMENS_BYTES_VOCAB);
    for (int s = 0; s < 2; s++) {
        for (int k = 0; k < 2; k++)  /* a fresh model's Bradley-Terry loss: near log 2 */
            ck_assert_msg(fabs(rec.step_loss[s][k] - log(2.0)) < 0.1, "step %d member %d loss %g", s + 1, k,
                          rec.step_loss[s][k]);
    }
    ck_assert(!rec.ev[2].eval.final && rec.ev[2].eval.has_val);
    ck_assert(rec.ev[5].eval.final && rec.ev[5].eval.has_val);
    for (int r = 0; r < RMENS_RULE_N; r++)
        ck_assert(rec.ev[5].eval.accuracy[r] >= 0 && rec.ev[5].eval.accuracy[r] <= 1);
    ck_assert_str_eq(rec.ev[3].saved.path, out);
    ck_assert(rec.ev[3].saved.seconds >= 0);
    /* The final evaluation is what the checkpoint keeps. */
    for (int k = 0; k < 2; k++) {
        double attrs[RMENS_MA_N];
        ck_assert_int_eq(rmens_checkpoint_read_member(out, k, NULL, NULL, NULL, NULL, 0, attrs), RMENS_OK);
        for (int q = 0; q < RMENS_MA_N; q++)
            ck_assert_msg(attrs[q] == rec.final_metrics[k * RMENS_MA_N + q] ||
                              (isnan(attrs[q]) && isnan(rec.final_metrics[k * RMENS_MA_N + q])),
                          "member %d %s: file %g, event %g", k, rmens_member_attr_names[q], attrs[q],
                          rec.final_metrics[k * RMENS_MA_N + q]);
        ck_assert(isfinite(attrs[RMENS_MA_REWARD_STD]) && attrs[RMENS_MA_REWARD_STD] > 0);
    }
    /* The metrics file: a row per STEP and per EVAL, in order. */
    FILE *f = fopen(metrics, "r");
    ck_assert(f != NULL);
    char line[8192], types[8] = "";
    int rows = 0;
    while (fgets(line, sizeof line, f) && rows < 7)
        types[rows++] = strstr(line, "\"type\":\"train\"") ? 't' : strstr(line, "\"type\":\"eval\"") ? 'e' : '?';
    fclose(f);
    ck_assert_str_eq(types, "tete");
}
END_TEST

int main(int argc, char **argv)
{
    check_mpi_init(&argc, &argv, &rank, &size);
    int ok = 1;
    if (rank == 0) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/rmens-events.XXXXXX", t && *t ? t : "/tmp");
        ok = mkdtemp(dir) != NULL;
        for (int split = 0; ok && split < 2; split++) {
            rmens_synth_options so;
            rmens_synth_options_init(&so);
            so.n = split ? 50 : 200;
            so.split = split ? RMENS_SPLIT_TEST : RMENS_SPLIT_TRAIN;
            rmens_dataset *ds;
            char p[600];
            path_of(p, sizeof p, split ? "val.h5" : "train.h5");
            ok = rmens_synth(&so, &ds) == RMENS_OK && rmens_dataset_write(ds, p) == RMENS_OK;
            if (ok)
                rmens_dataset_free(ds);
        }
        if (!ok)
            fprintf(stderr, "setup: %s\n", rmens_last_error());
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (!ok)
        MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    Suite *s = suite_create("train_events");
    TCase *tc = tcase_create("events");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, two_steps_of_events);
    suite_add_tcase(s, tc);
    int total = check_mpi_run(s, rank, size);
    if (rank == 0) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    MPI_Finalize();
    return total == 0 ? 0 : 1;
}
