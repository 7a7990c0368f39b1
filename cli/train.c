/* rmens train: parses options, installs the SLURM-friendly signal handlers, and runs
 * the collective trainer on every rank. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "cli/cli.h"
#include "ensemble/evaluator.h"
#include "ensemble/trainer.h"
#include "io/checkpoint.h"

static const char help[] =
    "usage: mpiexec -n P rmens train --data train.h5 --out ens.h5 [options]\n"
    "\n"
    "Trains K reward models at once, each on its own bootstrap resample of the pairs, and\n"
    "writes one ensemble checkpoint. K >= P: a rank trains several members in turn; P > K\n"
    "with P a multiple of K: each member is trained data-parallel by P/K ranks.\n"
    "\n"
    "data and output:\n"
    "  --data FILE          training pairs (rmens prep / rmens synth)\n"
    "  --val FILE           validation pairs, evaluated every --eval-every steps and at the end\n"
    "  --calibrate          at the end, fit temperature scaling on the --val pairs and record\n"
    "                       it in the checkpoint, as rmens eval --write-temperature does\n"
    "  --out FILE           ensemble checkpoint (written atomically)\n"
    "  --members K          ensemble size (default 4)\n"
    "  --init FILE|DIR      start every member from this model: an rmens model file, or a\n"
    "                       Hugging Face directory (config.json + model.safetensors or its\n"
    "                       shards; GPT-2, Llama, Qwen2, Qwen3, GPT-NeoX). A\n"
    "                       *ForSequenceClassification with one label keeps its score head;\n"
    "                       any other model gets a fresh head per member. Its tokenizer.json\n"
    "                       must be the data's.\n"
    "  --warm-start FILE    continue every member from its weights in this ensemble\n"
    "                       checkpoint (active learning: the next round on the grown data):\n"
    "                       a fresh bootstrap over --data, a fresh optimiser (zero moments,\n"
    "                       warmup and schedule again); shape, tokenizer and --members (by\n"
    "                       default) are the checkpoint's\n"
    "  --metrics FILE       JSON Lines: one object per step and per evaluation\n"
    "model (the file's with --init or --warm-start):\n"
    "  --layers L --heads H --embd C --ctx T   (default 2, 4, 64, 128)\n"
    "optimiser:\n"
    "  --batch B            pairs per step per member (default 32)\n"
    "  --lr X               peak learning rate (default 1e-3)\n"
    "  --warmup N           linear warmup steps (default 50), then cosine decay to lr/10\n"
    "  --weight-decay X     AdamW weight decay on matrices (default 0.01)\n"
    "  --clip X             global gradient-norm clip, 0 for none (default 1)\n"
    "  --epochs E | --steps S   training length (default 3 epochs of a member's sample)\n"
    "ensemble:\n"
    "  --bootstrap F | none resample round(F x N) pairs with replacement per member\n"
    "                       (default 1); none: all pairs, members differ by seed only\n"
    "  --seed S             seeds initialisation, bootstrap and data order (default 1)\n"
    "  --member k           train member k of the --members ensemble alone (a job-array\n"
    "                       task); rmens merge joins the parts into one checkpoint\n"
    "  --lambda X           uncertainty weight in mean - X var (default 0.5)\n"
    "loss:\n"
    "  --objective bt|prm   bt (default): Bradley-Terry on a pairs file; prm: a process\n"
    "                       reward model on a steps file (rmens prep --steps): the head read\n"
    "                       at each step's closing token, sigmoid, binary cross-entropy with\n"
    "                       the step's (soft) label; unlabelled steps and the prompt carry no\n"
    "                       loss; --batch and --bootstrap count solutions\n"
    "  --margin-scale X     subtract X times the data's margin in the Bradley-Terry loss (0)\n"
    "  --center-coef X      reward centering: + X mean((r_w + r_l)^2) (0)\n"
    "running:\n"
    "  --eval-every N       evaluate every N steps (default 200; 0: only at the end)\n"
    "  --keep-best          end with each member's weights of its lowest validation loss\n"
    "                       (evaluated every --eval-every steps and at the last step)\n"
    "  --patience N         stop when N evaluations in a row bring no lower validation loss\n"
    "                       (mean over members); the checkpoint ends at that step\n"
    "  --norm-pairs N       training pairs (evenly spaced) behind each member's reward\n"
    "                       mean and std for standardising (default 32768; 0: all)\n"
    "  --oob-pairs N        out-of-bag pairs (evenly spaced) evaluated per member at each\n"
    "                       evaluation (default 32768; 0: all)\n"
    "  --save-every N       checkpoint every N steps (default 0: only at the end)\n"
    "  --resume             continue --out from its step (bit-identical to an uninterrupted run)\n"
    "  --force              replace an existing --out instead of refusing\n"
    "  --threads N          BLAS threads per rank (default 1)\n"
    "  --data-mem SIZE      memory for data tokens per file and rank, e.g. 512M or 4G; a\n"
    "                       larger file is read in chunks (default auto: a quarter of the\n"
    "                       node's memory, SLURM's allocation or cgroup limit, shared by\n"
    "                       its ranks; 0: always read in chunks)\n"
    "  --no-share           do not compute shared prompts once per pair\n"
    "  --gradient-checkpointing\n"
    "                       keep one layer's activations and the residual stream between\n"
    "                       layers, recomputing each layer in the backward pass: much less\n"
    "                       memory at long contexts (Qwen2.5-0.5B, T 1024, batch 4: 2.2\n"
    "                       instead of 25.9 GiB of activations) for one more forward pass\n"
    "                       per step; the members are bit-identical to those without it\n"
    "  --truncate-prompts   accept prompts longer than --ctx (refused by default): pairs are\n"
    "                       cut from the front, as every longer pair is\n"
    "  --quiet              no progress lines (errors still go to stderr)\n"
    "SIGTERM or SIGUSR1 reaching the ranks (SLURM signals the tasks of a step at a time limit\n"
    "or preemption) makes every rank finish its step, save, and exit 0; --resume continues.\n"
    "mpiexec forwards SIGUSR1 to the ranks but answers SIGTERM by killing the job, so under\n"
    "mpiexec ask SLURM for SIGUSR1 (sbatch --signal=B:USR1@120, forwarded to mpiexec).\n";

static void on_signal(int sig)
{
    (void)sig;
    rmens_train_stop_requested = 1;
}

void rmens_cli_train_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

/* What the user sees of a run: the trainer's events, printed on rank 0. */
typedef struct {
    const rmens_train_options *o;
    int quiet;
    double last_print;        /* elapsed seconds at the last progress line */
    double progress_seconds;  /* between progress lines */
} printer;

static void hms(char *buf, size_t n, double s)
{
    long v = (long)(s + 0.5);
    snprintf(buf, n, "%02ld:%02ld:%02ld", v / 3600, v / 60 % 60, v % 60);
}

static void print_begin(const rmens_train_options *o, const rmens_train_event *ev)
{
    const rmens_model_config *c = &ev->begin.cfg;
    printf("train: %d members on %d ranks (%d per rank, %d ranks per member); model n_layer %d n_head %d n_embd %d "
           "n_ctx %d (%.2f M parameters each)\n", ev->members, ev->begin.ranks, ev->begin.per_rank,
           ev->begin.ranks_per_member, c->n_layer, c->n_head, c->n_embd, c->n_ctx, (double)ev->begin.nparams / 1e6);
    const char *unit = o->objective == RMENS_OBJECTIVE_PRM ? "solutions" : "pairs";
    printf("  data %s: %lld %s%s; bootstrap %s; %lld steps of %d %s%s\n", o->data, (long long)ev->begin.pairs, unit,
           ev->begin.streamed ? " (tokens read in chunks: larger than --data-mem)" : "",
           o->bootstrap < 0 ? "none (seed ensemble)" : "with replacement", (long long)ev->total, o->batch, unit,
           o->resume ? " (resumed)" : "");
    if (o->resume)
        printf("  resuming %s at step %lld\n", o->out, (long long)ev->step);
}

static void print_progress(printer *p, const rmens_train_event *ev)
{
    /* A line every progress_seconds, and at the last step. */
    if (ev->progress.elapsed - p->last_print < p->progress_seconds && ev->step != ev->total)
        return;
    p->last_print = ev->progress.elapsed;
    char e1[32], e2[32];
    hms(e1, sizeof e1, ev->progress.elapsed);
    hms(e2, sizeof e2, ev->progress.eta);
    /* Under SLURM every line names its job, so interleaved or appended logs stay readable. */
    const char *job = getenv("SLURM_JOB_ID"), *task = getenv("SLURM_ARRAY_TASK_ID");
    if (job)
        printf("[job %s%s%s] ", job, task ? "_" : "", task ? task : "");
    printf("step %lld/%lld  epoch %.2f  loss %.4f +- %.4f  acc %.3f  %.1f %s/s  elapsed %s  eta %s\n",
           (long long)ev->step, (long long)ev->total, ev->progress.epoch, ev->progress.loss_mean, ev->progress.loss_std,
           ev->progress.accuracy_mean, ev->progress.pairs_per_s,
           p->o->objective == RMENS_OBJECTIVE_PRM ? "solutions" : "pairs", e1, e2);
}

static void print_eval(const rmens_train_event *ev)
{
    printf("eval step %lld%s:\n", (long long)ev->step, ev->eval.final ? " (final)" : "");
    printf("  member  val_loss  val_acc  val_margin  oob_loss  oob_acc  oob_margin\n");
    for (int k = 0; k < ev->members; k++) {
        const double *a = ev->eval.member + (size_t)k * RMENS_MA_N;
        printf("  %6d  %8.4f  %7.4f  %10.4f  %8.4f  %7.4f  %10.4f\n", k, a[RMENS_MA_VAL_LOSS], a[RMENS_MA_VAL_ACC],
               a[RMENS_MA_VAL_MARGIN], a[RMENS_MA_OOB_LOSS], a[RMENS_MA_OOB_ACC], a[RMENS_MA_OOB_MARGIN]);
    }
    if (ev->eval.has_val)
        printf("  ensemble val_acc: mean %.4f, min (worst case) %.4f, mean - %.2g var %.4f\n",
               ev->eval.accuracy[RMENS_RULE_MEAN], ev->eval.accuracy[RMENS_RULE_MIN], ev->eval.lambda,
               ev->eval.accuracy[RMENS_RULE_UWO]);
}

static void on_event(const rmens_train_event *ev, void *user)
{
    printer *p = user;
    const rmens_train_options *o = p->o;
    if (ev->kind == RMENS_TRAIN_STOPPED)  /* said even with --quiet: the run did not finish */
        printf("stop requested (SIGTERM/SIGUSR1): saved step %lld of %lld to %s; continue with --resume\n",
               (long long)ev->step, (long long)ev->total, o->out);
    if (p->quiet) {
        fflush(stdout);
        return;
    }
    switch (ev->kind) {
    case RMENS_TRAIN_CUT:
        printf("note: %lld of %lld pairs in %s are longer than the context (n_ctx %d) and are cut from the front; "
               "%lld of them lose their whole prompt\n", (long long)ev->cut.cut, (long long)ev->cut.pairs, ev->cut.file,
               ev->cut.n_ctx, (long long)ev->cut.prompt_lost);
        break;
    case RMENS_TRAIN_BEGIN: print_begin(o, ev); break;
    case RMENS_TRAIN_STEP: print_progress(p, ev); break;
    case RMENS_TRAIN_EVAL: print_eval(ev); break;
    case RMENS_TRAIN_SAVED:
        printf("saved %s at step %lld (%.2f s)\n", ev->saved.path, (long long)ev->step, ev->saved.seconds);
        break;
    case RMENS_TRAIN_EARLY_STOP:
        printf("patience: no lower mean validation loss in %d evaluations; stopping at step %lld of %lld\n",
               ev->early_stop.patience, (long long)ev->step, (long long)ev->total);
        break;
    case RMENS_TRAIN_BEST:
        printf("keep-best: member %d ends with its weights of step %lld (validation loss %.4f)\n", ev->best.member,
               (long long)ev->best.step, ev->best.loss);
        break;
    default: break;
    }
    fflush(stdout);
}

/* --calibrate: rmens eval --write-temperature of the new checkpoint on the validation
 * pairs (the one fit and writer, ensemble/evaluator.c), its rewards standardised as eval
 * would by default. */
static rmens_status calibrate_checkpoint(const rmens_train_options *t, MPI_Comm comm, int quiet)
{
    rmens_eval_options e = {0};
    e.ckpt = t->out, e.data = t->val, e.lambda = t->lambda, e.normalize = -1, e.data_budget = t->data_budget;
    e.fit_temperature = e.write_temperature = 1;
    RMENS_TRY(rmens_cli_normalize_default(comm, e.ckpt, &e.normalize));
    rmens_eval_result r;
    rmens_status st = rmens_eval(&e, comm, &r);
    if (st == RMENS_OK && rmens_cli_rank(comm) == 0 && !quiet) {
        printf("calibrate: temperatures fitted on %lld pairs of %s and recorded in %s: member T_k", (long long)r.pairs,
               t->val, t->out);
        for (int k = 0; k < r.members; k++)
            printf(" %.4g", r.member[k].temperature);
        printf("; mean probability ECE %.4f -> %.4f, NLL %.4f -> %.4f\n", r.ensemble.ece, r.ensemble.ece_calibrated,
               r.ensemble.nll, r.ensemble.nll_calibrated);
        fflush(stdout);
    }
    rmens_eval_result_free(&r);
    return st;
}

int rmens_cmd_train(int argc, char **argv, MPI_Comm comm)
{
    static const struct option longopts[] = {
        {"data", 1, 0, 'd'},         {"val", 1, 0, 'v'},          {"out", 1, 0, 'o'},
        {"members", 1, 0, 'K'},      {"init", 1, 0, 'i'},         {"metrics", 1, 0, 'M'},
        {"layers", 1, 0, 'L'},       {"heads", 1, 0, 'H'},        {"embd", 1, 0, 'C'},
        {"ctx", 1, 0, 'T'},          {"batch", 1, 0, 'B'},        {"lr", 1, 0, 'l'},
        {"warmup", 1, 0, 'w'},       {"weight-decay", 1, 0, 'W'}, {"clip", 1, 0, 'g'},
        {"epochs", 1, 0, 'e'},       {"steps", 1, 0, 'S'},        {"bootstrap", 1, 0, 'b'},
        {"seed", 1, 0, 's'},         {"lambda", 1, 0, 'a'},       {"margin-scale", 1, 0, 'm'},
        {"center-coef", 1, 0, 'c'},  {"eval-every", 1, 0, 'E'},   {"save-every", 1, 0, 'V'},
        {"resume", 0, 0, 'R'},       {"force", 0, 0, 'F'},        {"threads", 1, 0, 'n'},
        {"no-share", 0, 0, 'u'},     {"quiet", 0, 0, 'q'},        {"help", 0, 0, 'h'},
        {"truncate-prompts", 0, 0, 'P'}, {"member", 1, 0, 'k'}, {"data-mem", 1, 0, 'D'},
        {"norm-pairs", 1, 0, 'N'},     {"oob-pairs", 1, 0, 'O'},
        {"keep-best", 0, 0, 'Z'},      {"patience", 1, 0, 'Y'},    {"warm-start", 1, 0, 'J'},
        {"calibrate", 0, 0, 'X'},
        {"objective", 1, 0, 'j'},      {"gradient-checkpointing", 0, 0, 'G'},
        {0, 0, 0, 0}};
    rmens_train_options o;
    rmens_train_options_init(&o);
    printer pr = {&o, 0, 0, 5};
    o.on_event = on_event;
    o.event_user = &pr;
    int c, li = 0, rank = rmens_cli_rank(comm), model_given = 0, member_given = 0, members_given = 0, calibrate = 0;
    int64_t iv, threads = 1;
    double dv;
    rmens_status st = RMENS_OK;
    opterr = 0;
    optind = 1;
#define INT_ARG(dst, min)                                                                                     \
    do {                                                                                                      \
        if (rmens_cli_int(optarg, &iv) || iv < (min) || iv > INT32_MAX)                                       \
            st = rmens_fail(RMENS_ERR_ARG, "--%s: expected an integer >= %d, got '%s'", longopts[li].name, (min), \
                            optarg);                                                                          \
        dst = (__typeof__(dst))iv;                                                                            \
    } while (0)
#define DBL_ARG(dst, ok)                                                                                      \
    do {                                                                                                      \
        if (rmens_cli_double(optarg, &dv) || !(ok))                                                           \
            st = rmens_fail(RMENS_ERR_ARG, "--%s: invalid value '%s'", longopts[li].name, optarg);            \
        dst = (__typeof__(dst))dv;                                                                            \
    } while (0)
    while (st == RMENS_OK && (c = getopt_long(argc, argv, "", longopts, &li)) != -1) {
        switch (c) {
        case 'd': o.data = optarg; break;
        case 'v': o.val = optarg; break;
        case 'o': o.out = optarg; break;
        case 'i': o.init = optarg; break;
        case 'M': o.metrics = optarg; break;
        case 'K': INT_ARG(o.members, 1); members_given = 1; break;
        case 'J': o.warm_start = optarg; break;
        case 'L': INT_ARG(o.model.n_layer, 1); model_given = 1; break;
        case 'H': INT_ARG(o.model.n_head, 1); model_given = 1; break;
        case 'C': INT_ARG(o.model.n_embd, 1); model_given = 1; break;
        case 'T': INT_ARG(o.model.n_ctx, 2); model_given = 1; break;
        case 'B': INT_ARG(o.batch, 1); break;
        case 'l': DBL_ARG(o.opt.lr, dv > 0); break;
        case 'w': INT_ARG(o.opt.warmup, 0); break;
        case 'W': DBL_ARG(o.opt.weight_decay, dv >= 0); break;
        case 'g': DBL_ARG(o.opt.clip, dv >= 0); break;
        case 'e': DBL_ARG(o.epochs, dv > 0); o.steps = 0; break;
        case 'S': INT_ARG(o.steps, 1); break;
        case 'b':
            if (strcmp(optarg, "none") == 0)
                o.bootstrap = -1;
            else
                DBL_ARG(o.bootstrap, dv > 0 && dv <= 10);
            break;
        case 's': INT_ARG(o.seed, 0); break;
        case 'a': DBL_ARG(o.lambda, dv >= 0); break;
        case 'm': DBL_ARG(o.margin_scale, 1); break;
        case 'c': DBL_ARG(o.center, dv >= 0); break;
        case 'E': INT_ARG(o.eval_every, 0); break;
        case 'N': INT_ARG(o.norm_pairs, 0); break;
        case 'O': INT_ARG(o.oob_pairs, 0); break;
        case 'V': INT_ARG(o.save_every, 0); break;
        case 'Z': o.keep_best = 1; break;
        case 'X': calibrate = 1; break;
        case 'j':
            if (strcmp(optarg, rmens_objective_names[RMENS_OBJECTIVE_PRM]) == 0)
                o.objective = RMENS_OBJECTIVE_PRM;
            else if (strcmp(optarg, rmens_objective_names[RMENS_OBJECTIVE_BT]) != 0)
                st = rmens_fail(RMENS_ERR_ARG, "--objective: expected bt or prm, got '%s'", optarg);
            break;
        case 'Y': INT_ARG(o.patience, 1); break;
        case 'R': o.resume = 1; break;
        case 'F': o.force = 1; break;
        case 'n': INT_ARG(threads, 1); break;
        case 'u': o.share = 0; break;
        case 'G': o.gradient_checkpointing = 1; break;
        case 'P': o.truncate_prompts = 1; break;
        case 'k': INT_ARG(o.member_offset, 0); member_given = 1; break;
        case 'q': pr.quiet = 1; break;
        case 'D':
            if (rmens_cli_data_mem(optarg, &o.data_budget))
                st = rmens_fail(RMENS_ERR_ARG, "--data-mem: expected a size such as 512M, 4G or 0, got '%s'", optarg);
            break;
        case 'h':
            if (rank == 0)
                fputs(help, stdout);
            return 0;
        default:
            st = rmens_fail(RMENS_ERR_ARG, "unknown or incomplete option '%s' (see rmens train --help)",
                            argv[optind - 1]);
        }
    }
#undef INT_ARG
#undef DBL_ARG
    if (st == RMENS_OK && optind != argc)
        st = rmens_fail(RMENS_ERR_ARG, "unexpected argument '%s'", argv[optind]);
    if (st == RMENS_OK && !o.data)
        st = rmens_fail(RMENS_ERR_ARG, "--data FILE is required");
    if (st == RMENS_OK && !o.out)
        st = rmens_fail(RMENS_ERR_ARG, "--out FILE is required");
    if (st == RMENS_OK && member_given) {
        /* One member of a larger ensemble (a job-array task): --members is the ensemble's
         * size, this run trains member --member alone. */
        if (o.member_offset >= o.members)
            st = rmens_fail(RMENS_ERR_ARG, "--member %d: the ensemble has %d members (0 to %d)", o.member_offset,
                            o.members, o.members - 1);
        o.ensemble_size = o.members;
        o.members = 1;
    }
    if (st == RMENS_OK && calibrate && !o.val)
        st = rmens_fail(RMENS_ERR_ARG, "--calibrate needs --val: the temperatures are fitted on validation pairs");
    if (st == RMENS_OK && calibrate && member_given)
        st = rmens_fail(RMENS_ERR_ARG, "--calibrate with --member: calibrate the merged ensemble (rmens eval "
                        "--write-temperature)");
    if ((o.init || o.warm_start) && !model_given)
        o.model.n_ctx = 0;  /* take the shape from the file */
    if (o.warm_start && !members_given && !member_given)
        o.members = 0;  /* and the members from the checkpoint */
    if (st != RMENS_OK)
        return rmens_cli_report(comm, "train", st);
    /* The command line goes into the checkpoint, for provenance. */
    char cmd[4096];
    rmens_cli_command(cmd, sizeof cmd, "train", argc, argv);
    o.command = cmd;
    rmens_cli_train_signals();
    rmens_set_num_threads((int)threads);
    st = rmens_train(&o, comm);
    if (st == RMENS_OK && calibrate)
        st = calibrate_checkpoint(&o, comm, pr.quiet);
    return rmens_cli_report(comm, "train", st);
}
