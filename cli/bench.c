/* rmens bench: training and scoring throughput of one reward model, FLOP rate against
 * a sgemm peak measured in the same run, and memory against its theoretical size.
 * Figures are ratios within one run, so a noisy shared machine still compares fairly. */
#include <cblas.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/rng.h"
#include "cli/cli.h"
#include "comm/memory.h"
#include "model/adamw.h"
#include "io/dataset.h"

static const char help[] =
    "usage: rmens bench [--layers L] [--heads H] [--embd C] [--ctx T] [--batch B] [--steps S]\n"
    "                   [--threads N] [--data FILE] [--no-share] [--full-last] [--seed S]\n"
    "                   [--model DIR|FILE] [--gradient-checkpointing]\n"
    "\n"
    "Trains S steps of B pairs of a freshly initialised reward model and prints pairs/s for\n"
    "training and for scoring (forward only), the executed GFLOP/s, a cblas_sgemm peak\n"
    "measured now, their ratio (mfu), and peak memory against weights + grads + Adam +\n"
    "activations. Without --data the pairs are random tokens filling the whole context\n"
    "with no shared prompt (the kernel-level figure); with --data they come from a pairs\n"
    "file (the system-level figure). Defaults: L=4 H=4 C=256 T=256 B=8 S=10, 1 thread.\n"
    "  --no-share   lay out both sequences of a pair whole (no shared-prompt saving)\n"
    "  --full-last  compute the last layer at every position (no reward-position saving)\n"
    "  --gradient-checkpointing  train as rmens train --gradient-checkpointing does: one\n"
    "               layer's activations and every layer's input kept, layers recomputed in\n"
    "               the backward pass\n"
    "  --model M    the model to train instead: a Hugging Face directory (Llama, Qwen2, Qwen3,\n"
    "               GPT-NeoX, GPT-2) or an rmens model file; --layers/--heads/--embd are then its own,\n"
    "               and --ctx (default 256) is the length of the random sequences\n";

/* Best sgemm rate over square sizes large enough to keep every thread busy, after a
 * warm-up call (thread start-up would otherwise count against the peak), in GFLOP/s. */
static double sgemm_peak(void)
{
    double best = 0;
    for (int n = 1024; n <= 2048; n *= 2) {
        float *a = malloc((size_t)n * n * sizeof *a), *b = malloc((size_t)n * n * sizeof *b),
              *c = malloc((size_t)n * n * sizeof *c);
        for (size_t i = 0; i < (size_t)n * n; i++)
            a[i] = b[i] = 0.001f * (float)(i % 1000);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        for (int rep = 0; rep < 3; rep++) {
            double t0 = rmens_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
            double g = 2.0 * n * n * n / (rmens_now() - t0) / 1e9;
            best = g > best ? g : best;
        }
        free(a), free(b), free(c);
    }
    return best;
}

/* CPU seconds of the whole process (every thread): on a shared machine, where wall time
 * measures the neighbours too, the rate per CPU-second of a one-thread run is the
 * figure to compare with a peer's (tools/bench_torch.py prints the same). */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* B pairs of n_ctx random byte tokens each (the last is end-of-text), no shared prompt. */
static rmens_status random_pairs(rmens_dataset **out, int B, int T, uint64_t seed)
{
    RMENS_TRY(rmens_dataset_new(out, RMENS_DATA_PAIRS, 0, RMENS_BYTES_VOCAB, RMENS_BYTES_EOT, "bytes"));
    int32_t *tok = malloc((size_t)2 * T * sizeof *tok);
    if (!tok)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    rmens_rng g;
    rmens_rng_init(&g, seed, 7);
    rmens_status st = RMENS_OK;
    for (int i = 0; i < B && st == RMENS_OK; i++) {
        for (int k = 0; k < 2 * T; k++)
            tok[k] = (int32_t)rmens_rng_below(&g, 256);
        tok[T - 1] = tok[2 * T - 1] = RMENS_BYTES_EOT;
        rmens_record r = {0};
        r.tok[0] = tok, r.tok[1] = tok + T, r.len[0] = r.len[1] = T;
        st = rmens_dataset_append(*out, &r);
    }
    free(tok);
    return st;
}

static rmens_status run(int64_t L, int64_t H, int64_t C, int64_t T, int64_t B, int64_t S, int64_t threads,
                        int64_t seed, const char *data, const char *model, int share, int compact, rmens_acts_kind kind);

/* Before any work: sizes that fit an int, and a model, activations and data that fit
 * the node's memory (comm/memory.h). */
static rmens_status size_check(const rmens_model_config *cfg, int64_t L, int64_t H, int64_t C, int64_t T, int64_t B,
                               rmens_acts_kind kind)
{
    if (L > INT32_MAX || H > INT32_MAX || C > INT32_MAX || T > INT32_MAX || B > INT32_MAX / 2)
        return rmens_fail(RMENS_ERR_ARG, "--layers, --heads, --embd, --ctx and --batch must fit a 32-bit int");
    RMENS_TRY(rmens_model_config_check(cfg));
    double nparams = 0;
    for (int k = 0; k < RMENS_NTENSORS; k++)
        nparams += (double)rmens_tensor_numel(cfg, k);
    double acts = rmens_model_acts_bytes(cfg, (int)B, (int)T, kind), data = 8.0 * (double)B * (double)T + 64.0 * (double)B;
    char what[160];
    snprintf(what, sizeof what, "%.3g MiB of weights, gradients and Adam moments, %.3g MiB of activations, %.3g MiB "
             "of data", 16.0 * nparams / 1048576.0, acts / 1048576.0, data / 1048576.0);
    char advice[256];
    rmens_memory_advice(advice, sizeof advice, kind == RMENS_ACTS_RECOMPUTE ? 0 : 16.0 * nparams + data +
                        rmens_model_acts_bytes(cfg, (int)B, (int)T, RMENS_ACTS_RECOMPUTE), "--gradient-checkpointing",
                        "use a smaller model or batch");
    return rmens_memory_check(MPI_COMM_NULL, "bench", 16.0 * nparams + acts + data, what, advice);
}

int rmens_cmd_bench(int argc, char **argv, MPI_Comm comm)
{
    for (int i = 1; i < argc; i++)  /* the tokenizer benchmark: cli/bench_tokenizer.c */
        if (strcmp(argv[i], "--tokenizer") == 0 || strncmp(argv[i], "--tokenizer=", 12) == 0)
            return rmens_cmd_bench_tokenizer(argc, argv, comm);
    static const struct option longopts[] = {
        {"layers", 1, 0, 'L'}, {"heads", 1, 0, 'H'}, {"embd", 1, 0, 'C'}, {"ctx", 1, 0, 'T'},
        {"batch", 1, 0, 'B'}, {"steps", 1, 0, 'S'}, {"threads", 1, 0, 'n'}, {"data", 1, 0, 'd'},
        {"no-share", 0, 0, 'u'}, {"full-last", 0, 0, 'f'}, {"seed", 1, 0, 's'}, {"help", 0, 0, 'h'},
        {"model", 1, 0, 'm'}, {"gradient-checkpointing", 0, 0, 'G'},
        {0, 0, 0, 0}};
    int64_t L = 4, H = 4, C = 256, T = 256, B = 8, S = 10, threads = 1, seed = 1;
    const char *data = NULL, *model = NULL;
    int share = 1, compact = 1, c, rank = rmens_cli_rank(comm);
    rmens_acts_kind kind = RMENS_ACTS_TRAIN;
    rmens_status st = RMENS_OK;
    opterr = 0;
    optind = 1;
    int li = 0;
    while (st == RMENS_OK && (c = getopt_long(argc, argv, "", longopts, &li)) != -1) {
        int64_t *dst = c == 'L' ? &L : c == 'H' ? &H : c == 'C' ? &C : c == 'T' ? &T : c == 'B' ? &B
                     : c == 'S' ? &S : c == 'n' ? &threads : c == 's' ? &seed : NULL;
        if (dst) {
            if (rmens_cli_int(optarg, dst) || *dst < (c == 's' ? 0 : 1))
                st = rmens_fail(RMENS_ERR_ARG, "--%s: expected a %s integer, got '%s'", longopts[li].name,
                                c == 's' ? "non-negative" : "positive", optarg);
        } else if (c == 'd') {
            data = optarg;
        } else if (c == 'm') {
            model = optarg;
        } else if (c == 'u') {
            share = 0;
        } else if (c == 'f') {
            compact = 0;
        } else if (c == 'G') {
            kind = RMENS_ACTS_RECOMPUTE;
        } else if (c == 'h') {
            if (rank == 0)
                fputs(help, stdout);
            return 0;
        } else {
            st = rmens_fail(RMENS_ERR_ARG, "unknown or incomplete option '%s' (see rmens bench --help)",
                            argv[optind - 1]);
        }
    }
    if (st == RMENS_OK && optind != argc)
        st = rmens_fail(RMENS_ERR_ARG, "unexpected argument '%s'", argv[optind]);
    if (st == RMENS_OK && rank == 0)
        st = run(L, H, C, T, B, S, threads, seed, data, model, share, compact, kind);
    return rmens_cli_report(comm, "bench", st);
}

static rmens_status run(int64_t L, int64_t H, int64_t C, int64_t T, int64_t B, int64_t S, int64_t threads,
                        int64_t seed, const char *data, const char *model, int share, int compact, rmens_acts_kind kind)
{
    rmens_status st = RMENS_OK;
    rmens_set_num_threads((int)threads);
    rmens_model_config cfg = {.vocab_size = RMENS_BYTES_VOCAB, .n_ctx = (int)T, .n_layer = (int)L, .n_head = (int)H, .n_embd = (int)C};
    rmens_model *m = NULL;
    rmens_dataset *ds = NULL;
    rmens_batch b = {0};
    rmens_adamw opt = {0};
    int64_t *idx = NULL;
    float *dr = NULL;
    if (model) {  /* its own shape; T only sizes the sequences (and activations) */
        if ((st = rmens_model_load(&m, model, (uint64_t)seed, NULL)) != RMENS_OK)
            goto exit;
        cfg = m->cfg;
        L = cfg.n_layer, H = cfg.n_head, C = cfg.n_embd;
        if (T > cfg.n_ctx)
            T = cfg.n_ctx;
        cfg.n_ctx = (int)T;  /* for the memory check only */
        if ((st = size_check(&cfg, L, H, C, T, B, kind)) != RMENS_OK)
            goto exit;
    } else if ((st = size_check(&cfg, L, H, C, T, B, kind)) != RMENS_OK ||
               (st = rmens_model_new(&m, &cfg, (uint64_t)seed)) != RMENS_OK) {
        goto exit;
    }
    m->compact_last = compact;
    st = data ? rmens_dataset_read(&ds, data) : random_pairs(&ds, (int)B, (int)T, (uint64_t)seed);
    if (st != RMENS_OK)
        goto exit;
    if (ds->vocab_size > cfg.vocab_size) {
        st = rmens_fail(RMENS_ERR_INPUT, "%s: vocab_size %d, the bench model has %d", data, ds->vocab_size,
                        cfg.vocab_size);
        goto exit;
    }
    rmens_adamw_config oc;
    rmens_adamw_config_init(&oc);
    oc.total_steps = (int)S + 1;
    /* Sequences are cut to T (a model's own context may be longer: T sized the activations). */
    if ((st = rmens_batch_init(&b, (int)B, (int)T, (int)H)) != RMENS_OK ||
        (st = rmens_model_reserve_kind(m, (int)B, (int)T, kind)) != RMENS_OK ||
        (st = rmens_adamw_init(&opt, m, &oc)) != RMENS_OK)
        goto exit;
    idx = malloc((size_t)B * sizeof *idx);
    dr = malloc((size_t)2 * B * sizeof *dr);
    if (!idx || !dr) {
        st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
        goto exit;
    }
    printf("bench: L=%lld H=%lld C=%lld T=%lld B=%lld, %lld thread(s), %s%s%s%s\n", (long long)L, (long long)H,
           (long long)C, (long long)T, (long long)B, (long long)threads,
           data ? "pairs from " : "random full-length tokens, no shared prompt (kernel level)", data ? data : "",
           share && compact ? "" : share ? "; full last layer" : compact ? "; no prompt sharing" : "; no savings",
           kind == RMENS_ACTS_RECOMPUTE ? "; gradient checkpointing (layers recomputed in the backward pass)" : "");
    if (model)
        printf("  model            %s: %s, vocab %d, kv heads %d, head_dim %d, intermediate %d\n", model,
               rmens_arch_of(&m->cfg)->model_type, m->cfg.vocab_size, m->cfg.n_kv_head, m->cfg.head_dim, m->cfg.n_inner);
    printf("  parameters       %.2f M\n", (double)m->nparams / 1e6);

    /* Training: one untimed warm-up step, then S timed steps over consecutive batches. */
    int64_t n = rmens_dataset_count(ds), next = 0, rows = 0, cut = 0;
    double flops = 0, t_train = 0, c_train = 0, loss = 0;
    for (int64_t s = 0; s <= S; s++) {
        for (int64_t i = 0; i < B; i++)
            idx[i] = next++ % n;
        if ((st = rmens_batch_build(&b, ds, idx, (int)B, share, 0.0f)) != RMENS_OK)
            goto exit;
        double f0 = rmens_layers_flops(), t0 = rmens_now(), c0 = cpu_now();
        rmens_model_zero_grad(m);
        if ((st = rmens_model_forward(m, &b)) != RMENS_OK)
            goto exit;
        loss = rmens_bt_loss(dr, rmens_model_rewards(m), b.margin, (int)B, 0.0f, NULL);
        if ((st = rmens_model_backward(m, &b, dr)) != RMENS_OK)
            goto exit;
        rmens_adamw_step(&opt, m);
        if (s > 0) {
            t_train += rmens_now() - t0;
            c_train += cpu_now() - c0;
            flops += rmens_layers_flops() - f0;
            rows += b.N;
            cut += b.n_cut;
        }
    }
    /* Scoring: forward only over the same batches, with the scoring reservation that
     * rmens score and the library use (one layer's activations at a time). */
    const double acts_train = (double)m->acts_floats * 4;
    if ((st = rmens_model_reserve_forward(m, (int)B, model ? (int)T : 0)) != RMENS_OK)
        goto exit;
    const double acts_score = (double)m->acts_floats * 4;
    double t_score = 0, c_score = 0;
    next = 0;
    /* One untimed batch first, as for training: the fresh buffers' first touch. */
    for (int64_t s = -1; s < S; s++) {
        for (int64_t i = 0; i < B; i++)
            idx[i] = next++ % n;
        if ((st = rmens_batch_build(&b, ds, idx, (int)B, share, 0.0f)) != RMENS_OK)
            goto exit;
        double t0 = rmens_now(), c0 = cpu_now();
        if ((st = rmens_model_forward(m, &b)) != RMENS_OK)
            goto exit;
        if (s < 0) {
            next = 0;  /* the timed batches are the training ones */
            continue;
        }
        t_score += rmens_now() - t0;
        c_score += cpu_now() - c0;
    }
    /* Peak memory of the model's own work, read before the sgemm-peak buffers exist. */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double peak = sgemm_peak();
    printf("  sgemm peak       %.1f GFLOP/s (square 1024 and 2048, best of 3 after a warm-up)\n", peak);
    double train_pps = (double)(S * B) / t_train, score_pps = (double)(S * B) / t_score;
    double gflops = flops / t_train / 1e9, mfu = gflops / peak;
    double mib = 1.0 / (1 << 20), P4 = (double)m->nparams * 4;
    double acts = acts_train, theory = 4 * P4 + acts;
    printf("  train            %.1f ms/step, %.2f pairs/s, %.0f rows/step (%lld pairs cut), loss %.4f\n",
           1e3 * t_train / (double)S, train_pps, (double)rows / (double)S, (long long)cut, loss);
    printf("  score            %.1f ms/batch, %.2f pairs/s, activations %.1f MiB (training reserves %.1f: %.1fx)\n",
           1e3 * t_score / (double)S, score_pps, acts_score * mib, acts_train * mib, acts_train / acts_score);
    printf("  cpu              train %.3f, score %.3f pairs per CPU-second of the process (all threads)\n",
           (double)(S * B) / c_train, (double)(S * B) / c_score);
    printf("  compute          %.2f GFLOP/s executed in products = %.0f%% of the sgemm peak\n", gflops, 100 * mfu);
    printf("  memory           peak RSS %.0f MiB (process, with MPI and HDF5); theoretical %.0f MiB = weights %.0f + grads %.0f + Adam %.0f + "
           "activations %.0f\n", (double)ru.ru_maxrss / 1024, theory * mib, P4 * mib, P4 * mib, 2 * P4 * mib,
           acts * mib);
    printf("train_pairs_per_s=%.3f score_pairs_per_s=%.3f gflops=%.3f peak_gflops=%.3f mfu=%.3f "
           "train_pairs_per_cpu_s=%.3f score_pairs_per_cpu_s=%.3f\n", train_pps, score_pps, gflops, peak, mfu,
           (double)(S * B) / c_train, (double)(S * B) / c_score);
exit:
    free(idx);
    free(dr);
    rmens_adamw_free(&opt);
    rmens_batch_free(&b);
    rmens_dataset_free(ds);
    rmens_model_free(m);
    return st;
}
