/* Two threads, each with its own ensemble, as rmens.h recommends for parallel scoring:
 * every thread opens the ensemble, reads a data set and loads a model file (HDF5 work,
 * serialised by the library's lock), then scores the same texts several times. Their
 * rewards must be bit-identical to a serial run's. tests/threads.sh runs this under
 * helgrind, which must report no race (rmens once shared a FLOP counter between them).
 *
 *   thread_score ENSEMBLE.h5 DATA.h5 MODEL.h5   (MODEL.h5 is written first) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmens.h"

#define NTEXT 4
#define ROUNDS 3
/* Both threads score at once, between two barriers (without them the HDF5 lock, taken
 * by opening and closing, would order much of their work and hide a race). */
static pthread_barrier_t opened, scored;
static int threaded;
static const char *const texts[NTEXT] = {
    "\n\nHuman: sort 3 1 2\n\nAssistant: 1 2 3",
    "\n\nHuman: sort 3 1 2\n\nAssistant: 3 2 1",
    "\n\nHuman: sort 9 0 4 4\n\nAssistant: 0 4 4 9",
    "\n\nHuman: add 2 and 2\n\nAssistant: 5",
};

typedef struct {
    const char *ens, *data, *model;
    float *ref;      /* [NTEXT][K] the serial rewards, or NULL to compute them */
    float *out;      /* [NTEXT][K] */
    int K;
    int ok;
    char msg[512];
} job;

static void *run(void *arg)
{
    job *j = arg;
    for (int round = 0; round < ROUNDS; round++) {
        rmens_ensemble *e = NULL;
        rmens_dataset *ds = NULL;
        rmens_model *m = NULL;
        if (rmens_ensemble_open(&e, j->ens) != RMENS_OK || rmens_dataset_read(&ds, j->data) != RMENS_OK ||
            rmens_model_load(&m, j->model, 1, NULL) != RMENS_OK)
            snprintf(j->msg, sizeof j->msg, "%s", rmens_last_error());
        else
            j->K = rmens_ensemble_members(e);
        if (threaded)  /* a thread that failed still meets the other at both barriers */
            pthread_barrier_wait(&opened);
        for (int i = 0; i < NTEXT && !j->msg[0]; i++) {
            rmens_score_stats s;
            if (rmens_ensemble_score_text(e, texts[i], strlen(texts[i]), 0, 0.5f, j->out + (size_t)i * j->K, &s) !=
                RMENS_OK)
                snprintf(j->msg, sizeof j->msg, "%s", rmens_last_error());
        }
        if (threaded)
            pthread_barrier_wait(&scored);
        if (!j->msg[0] && j->ref && memcmp(j->ref, j->out, sizeof(float) * NTEXT * (size_t)j->K) != 0)
            snprintf(j->msg, sizeof j->msg, "round %d: rewards differ from the serial run's", round);
        rmens_model_free(m);
        rmens_dataset_free(ds);
        rmens_ensemble_close(e);
    }
    j->ok = !j->msg[0];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: thread_score ENSEMBLE.h5 DATA.h5 MODEL.h5\n");
        return 2;
    }
    rmens_set_num_threads(1);
    rmens_model_config cfg = {.vocab_size = RMENS_BYTES_VOCAB, .n_ctx = 32, .n_layer = 1, .n_head = 2, .n_embd = 16};
    rmens_model *m;
    if (rmens_model_new(&m, &cfg, 7) != RMENS_OK || rmens_model_save(m, argv[3]) != RMENS_OK) {
        fprintf(stderr, "thread_score: %s\n", rmens_last_error());
        return 1;
    }
    rmens_model_free(m);
    enum { MAXK = 64 };
    static float ref[NTEXT * MAXK], out[2][NTEXT * MAXK];
    job serial = {argv[1], argv[2], argv[3], NULL, ref, 0, 0, ""};
    run(&serial);
    if (!serial.ok || serial.K > MAXK) {
        fprintf(stderr, "thread_score: serial run: %s\n", serial.ok ? "too many members" : serial.msg);
        return 1;
    }
    job jobs[2];
    pthread_t th[2];
    threaded = 1;
    pthread_barrier_init(&opened, NULL, 2);
    pthread_barrier_init(&scored, NULL, 2);
    for (int t = 0; t < 2; t++) {
        jobs[t] = (job){argv[1], argv[2], argv[3], ref, out[t], 0, 0, ""};
        if (pthread_create(&th[t], NULL, run, &jobs[t]) != 0) {
            fprintf(stderr, "thread_score: pthread_create failed\n");
            return 1;
        }
    }
    int rc = 0;
    for (int t = 0; t < 2; t++) {
        pthread_join(th[t], NULL);
        if (!jobs[t].ok) {
            fprintf(stderr, "thread_score: thread %d: %s\n", t, jobs[t].msg);
            rc = 1;
        }
    }
    if (rc == 0)
        printf("thread_score: 2 threads x %d rounds, %d members, %d texts: rewards bit-identical to the serial run\n",
               ROUNDS, serial.K, NTEXT);
    return rc;
}
