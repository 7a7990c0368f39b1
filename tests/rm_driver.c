/* Test driver for the PyTorch parity test (tests/torch_parity.sh): runs the C reward
 * model on the first B pairs of a pairs file and writes what it computed to HDF5.
 *
 *   rm_driver MODEL.h5 PAIRS.h5 OUT.h5 [--pairs B] [--share 0|1] [--compact 0|1]
 *             [--steps K] [--lr X] [--warmup W] [--total T] [--min-lr-frac X]
 *             [--wd X] [--clip X] [--margin-scale X] [--center X]
 *
 * PAIRS.h5 may be a steps file (docs/FORMAT.md): the first B solutions are then read at
 * their labelled steps' closing tokens (a process reward model), /rewards holds those S
 * logits in order, /labels their labels, and the loss is the mean binary cross-entropy.
 *
 * OUT.h5 holds:
 *   /rewards      float32 [2B]  r(chosen_0), r(rejected_0), r(chosen_1), ... before training
 *   /grads/<HF name>             gradient of the loss of that first forward pass
 *   attribute loss               that loss (float64); attribute cut: pairs cut to n_ctx
 *   /losses       float64 [K]    loss before each of K AdamW steps on the same batch
 *   /grad_norms   float64 [K]    global gradient norm before clipping, per step
 *   /params/<HF name>            parameters after the K steps
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/adamw.h"
#include "io/h5.h"
#include "io/modelfile.h"

static void die(const char *what)
{
    fprintf(stderr, "rm_driver: %s: %s\n", what, rmens_last_error());
    exit(1);
}

int main(int argc, char **argv)
{
    int B = 4, share = 1, compact = 1, steps = 0;
    float margin_scale = 0, center = 0;
    rmens_adamw_config oc;
    rmens_adamw_config_init(&oc);
    static const struct option opts[] = {
        {"pairs", 1, 0, 'B'}, {"share", 1, 0, 's'}, {"compact", 1, 0, 'c'}, {"steps", 1, 0, 'k'},
        {"lr", 1, 0, 'l'}, {"warmup", 1, 0, 'w'}, {"total", 1, 0, 't'}, {"min-lr-frac", 1, 0, 'f'},
        {"wd", 1, 0, 'd'}, {"clip", 1, 0, 'g'}, {"margin-scale", 1, 0, 'm'}, {"center", 1, 0, 'C'},
        {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'B': B = atoi(optarg); break;
        case 's': share = atoi(optarg); break;
        case 'c': compact = atoi(optarg); break;
        case 'k': steps = atoi(optarg); break;
        case 'l': oc.lr = strtof(optarg, NULL); break;
        case 'w': oc.warmup = atoi(optarg); break;
        case 't': oc.total_steps = atoi(optarg); break;
        case 'f': oc.min_lr_frac = strtof(optarg, NULL); break;
        case 'd': oc.weight_decay = strtof(optarg, NULL); break;
        case 'g': oc.clip = strtof(optarg, NULL); break;
        case 'm': margin_scale = strtof(optarg, NULL); break;
        case 'C': center = strtof(optarg, NULL); break;
        default: fprintf(stderr, "rm_driver: bad option\n"); return 2;
        }
    }
    if (argc - optind != 3) {
        fprintf(stderr, "usage: rm_driver MODEL.h5 PAIRS.h5 OUT.h5 [options]\n");
        return 2;
    }
    rmens_model *m;
    rmens_dataset *ds;
    if (rmens_model_load(&m, argv[optind], 1, NULL) != RMENS_OK)
        die("load model");
    if (rmens_dataset_read(&ds, argv[optind + 1]) != RMENS_OK)
        die("read pairs");
    if (B > rmens_dataset_count(ds))
        B = (int)rmens_dataset_count(ds);
    m->compact_last = compact;
    rmens_batch b;
    int64_t *idx = malloc((size_t)B * sizeof *idx);
    for (int i = 0; i < B; i++)
        idx[i] = i;
    const int prm = rmens_dataset_kind(ds) == RMENS_DATA_STEPS;
    int cap = B;  /* a steps batch reads every labelled step: room for all of them */
    for (int i = 0; prm && i < B; i++)
        cap += rmens_batch_steps_read(ds, i, m->cfg.n_ctx, 1);
    float *y = malloc((size_t)2 * cap * sizeof *y);
    if (rmens_batch_init(&b, cap, m->cfg.n_ctx, m->cfg.n_head) != RMENS_OK ||
        (prm ? rmens_batch_build_steps(&b, ds, idx, B, 1, y) : rmens_batch_build(&b, ds, idx, B, share, margin_scale)) !=
            RMENS_OK ||
        rmens_model_reserve(m, cap) != RMENS_OK)
        die("batch");
    float *dr = malloc((size_t)2 * cap * sizeof *dr), *r0 = malloc((size_t)2 * cap * sizeof *r0);
    rmens_model_zero_grad(m);
    if (rmens_model_forward(m, &b) != RMENS_OK)
        die("forward");
    memcpy(r0, rmens_model_rewards(m), (size_t)b.S * sizeof *r0);
    double loss0 = prm ? rmens_prm_loss(dr, r0, y, b.S, b.S, NULL) : rmens_bt_loss(dr, r0, b.margin, B, center, NULL);
    if (rmens_model_backward(m, &b, dr) != RMENS_OK)
        die("backward");

    char tmp[4200];
    hid_t f;
    if (rmens_h5_create_tmp(argv[optind + 2], 1, RMENS_H5_OVERHEAD(8), &f, tmp, sizeof tmp) != RMENS_OK)
        die("create output");
    int64_t n2 = b.S;
    if ((prm && rmens_h5_write_1d(f, "/labels", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, y, n2) != RMENS_OK) ||
        rmens_h5_write_1d(f, "/rewards", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, r0, n2) != RMENS_OK ||
        rmens_modelfile_write_tensors(f, "/grads", m, 1) != RMENS_OK ||
        rmens_h5_attr_write_f64(f, "loss", loss0) != RMENS_OK || rmens_h5_attr_write_i64(f, "cut", b.n_cut) != RMENS_OK)
        die("write");

    rmens_adamw opt;
    if (rmens_adamw_init(&opt, m, &oc) != RMENS_OK)
        die("optimizer");
    double *losses = calloc((size_t)steps + 1, sizeof *losses), *norms = calloc((size_t)steps + 1, sizeof *norms);
    for (int k = 0; k < steps; k++) {
        rmens_model_zero_grad(m);
        if (rmens_model_forward(m, &b) != RMENS_OK)
            die("forward");
        losses[k] = prm ? rmens_prm_loss(dr, rmens_model_rewards(m), y, b.S, b.S, NULL)
                        : rmens_bt_loss(dr, rmens_model_rewards(m), b.margin, B, center, NULL);
        if (rmens_model_backward(m, &b, dr) != RMENS_OK)
            die("backward");
        norms[k] = rmens_adamw_step(&opt, m);
    }
    if (rmens_h5_write_1d(f, "/losses", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, losses, steps) != RMENS_OK ||
        rmens_h5_write_1d(f, "/grad_norms", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, norms, steps) != RMENS_OK ||
        rmens_modelfile_write_tensors(f, "/params", m, 0) != RMENS_OK ||
        rmens_h5_commit(f, tmp, argv[optind + 2]) != RMENS_OK)
        die("write");
    printf("rm_driver: %d pairs, loss %.6f, %d cut, %d AdamW steps\n", B, loss0, b.n_cut, steps);
    rmens_adamw_free(&opt);
    rmens_batch_free(&b);
    rmens_dataset_free(ds);
    rmens_model_free(m);
    free(idx);
    free(dr);
    free(r0);
    free(y);
    free(losses);
    free(norms);
    return 0;
}
