/* rmens serve: options, signals, the token file, and where the port is announced. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "cli/cli.h"
#include "comm/verdict.h"
#include "ensemble/prm.h"
#include "serve/server.h"

static const char help[] =
    "usage: mpiexec -n P rmens serve --ckpt ens.h5 [options]\n"
    "\n"
    "Serves an ensemble's rewards over HTTP to RL jobs (docs/SERVE.md). Members are spread\n"
    "over ranks as in rmens score; rank 0 answers, batching concurrent requests.\n"
    "  POST /get_reward  {\"query\": [text, ...], \"prompts\": [...], \"labels\": [...]}  (OpenRLHF)\n"
    "                    -> {\"rewards\", \"scores\", \"extra_logs\": {\"ens_mean\", \"ens_std\", ...}}\n"
    "  POST /v1/rewards  [{\"prompt\", \"response\"} | {\"messages\": [...]}] or\n"
    "                    {\"inputs\": [...], \"per_member\": true, \"pairs\": [[a, b], ...]}\n"
    "  GET /health, GET /v1/info\n"
    "\n"
    "options:\n"
    "  --ckpt FILE|DIR         ensemble checkpoint (rmens train), model file or Hugging Face\n"
    "                          directory\n"
    "  --tokenizer DIR|FILE    the Hugging Face tokenizer the checkpoint was trained with\n"
    "                          (required unless it read bytes or --ckpt is a directory holding\n"
    "                          its tokenizer files; checked by name and SHA-256);\n"
    "                          texts are rendered in the checkpoint's template (rmens info)\n"
    "  --host ADDR             address to bind (default 127.0.0.1: this machine only)\n"
    "  --port N                port (default 5000; 0: any free port)\n"
    "  --port-file FILE        once listening, write HOST:PORT to FILE (atomically)\n"
    "  --advertise NAME        the HOST written there (default --host; e.g. this node's name\n"
    "                          when binding 0.0.0.0)\n"
    "  --reward mean|min|uwo   what \"rewards\" holds (default mean; uwo = mean - lambda var)\n"
    "  --lambda X              uncertainty weight for uwo (default 0.5)\n"
    "  --normalize none|member standardise each member's rewards by its training statistics\n"
    "  --truncate left|error   texts longer than the context: cut from the left, as training\n"
    "                          and rmens score do (default), or refuse the request (400)\n"
    "  --max-batch-tokens N    tokens per scoring batch (default 32768)\n"
    "  --max-wait-ms M         the longest a request waits for others to batch with (default 5)\n"
    "  --max-body BYTES        largest request body (default 16M; K, M, G suffixes)\n"
    "  --max-queue N           requests waiting to be scored; beyond, 503 (default 1024)\n"
    "  --max-items N           texts per request (default 65536)\n"
    "  --token-file FILE       require \"Authorization: Bearer <the file's first line>\"\n"
    "  --drain-s S             at SIGTERM/SIGINT/SIGUSR1, the longest wait for requests in\n"
    "                          flight (default 60)\n"
    "  --threads N             BLAS threads per rank (default 1)\n"
    "  --quiet                 print nothing but errors\n"
    "process reward models (rmens train --objective prm; docs/SERVE.md): each text is a\n"
    "solution, split into steps at the separator and scored per step\n"
    "  --aggregate min|prod|last  the solution score from the ensemble's per-step mean\n"
    "                          probability (default min, as rmens score)\n"
    "  --step-separator S      the text closing each step (default: the one the checkpoint's\n"
    "                          training data recorded, else \"\\n\"; \\n, \\t, \\\\ escapes)\n"
    "  --max-steps N           steps per text (default 64; memory grows with it past 64)\n"
    "SIGTERM, SIGINT or SIGUSR1 reaching the ranks stops taking requests, answers those in\n"
    "flight, and every rank exits 0. mpiexec forwards SIGUSR1; it answers SIGTERM by sending\n"
    "SIGTERM to the ranks and SIGKILL one second later unless OMPI_MCA_odls_base_sigkill_timeout\n"
    "is raised (docs/SERVE.md).\n";

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

typedef struct {
    const char *port_file, *advertise;
    int quiet;
} announce;

/* Rank 0, once listening: say where, and write HOST:PORT for the RL job. */
static void ready(const char *host, int port, void *arg)
{
    announce *a = arg;
    if (!a->quiet)
        printf("rmens serve: listening on http://%s%s%s:%d\n", strchr(host, ':') ? "[" : "", host,
               strchr(host, ':') ? "]" : "", port);
    fflush(stdout);
    if (!a->port_file)
        return;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", a->port_file, (long)getpid());
    FILE *f = fopen(tmp, "w");
    int ok = f && fprintf(f, "%s:%d\n", a->advertise ? a->advertise : host, port) > 0;
    ok = f && fclose(f) == 0 && ok;
    if (!ok || rename(tmp, a->port_file) != 0) {
        fprintf(stderr, "rmens serve: warning: cannot write %s: %s\n", a->port_file, strerror(errno));
        unlink(tmp);
    }
}

/* The token is the file's first line, without surrounding white space. */
static rmens_status read_token(const char *path, char *tok, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return rmens_fail(RMENS_ERR_IO, "--token-file %s: %s", path, strerror(errno));
    char *line = fgets(tok, (int)size, f);
    fclose(f);
    size_t n = line ? strlen(tok) : 0;
    while (n > 0 && isspace((unsigned char)tok[n - 1]))
        tok[--n] = '\0';
    size_t lead = 0;
    while (tok[lead] && isspace((unsigned char)tok[lead]))
        lead++;
    memmove(tok, tok + lead, n - lead + 1);
    if (!line || !tok[0])
        return rmens_fail(RMENS_ERR_ARG, "--token-file %s: the file is empty", path);
    if (n + 1 >= size)
        return rmens_fail(RMENS_ERR_ARG, "--token-file %s: the token is longer than %zu bytes", path, size - 2);
    return RMENS_OK;
}

static int positive(const char *s, int64_t max, int64_t *v)
{
    return rmens_cli_int(s, v) != 0 || *v < 1 || *v > max;
}

int rmens_cmd_serve(int argc, char **argv, MPI_Comm comm)
{
    static const struct option longopts[] = {
        {"ckpt", 1, 0, 'c'},       {"tokenizer", 1, 0, 'K'}, {"host", 1, 0, 'H'},      {"port", 1, 0, 'p'},       {"port-file", 1, 0, 'F'}, {"advertise", 1, 0, 'A'},
        {"reward", 1, 0, 'r'},     {"lambda", 1, 0, 'l'},    {"normalize", 1, 0, 'n'},  {"truncate", 1, 0, 'T'},
        {"max-batch-tokens", 1, 0, 'B'}, {"max-wait-ms", 1, 0, 'W'}, {"max-body", 1, 0, 'b'},
        {"max-queue", 1, 0, 'Q'},  {"max-items", 1, 0, 'I'}, {"token-file", 1, 0, 'k'}, {"drain-s", 1, 0, 'D'},
        {"threads", 1, 0, 't'},    {"quiet", 0, 0, 'q'},     {"help", 0, 0, 'h'},
        {"aggregate", 1, 0, 'g'},  {"step-separator", 1, 0, 'S'}, {"max-steps", 1, 0, 'M'}, {0, 0, 0, 0}};
    rmens_serve_options o;
    rmens_serve_options_init(&o);
    announce an = {0};
    const char *token_file = NULL;
    static char token[4096], sep[64];
    int c, rank = rmens_cli_rank(comm);
    int64_t v, threads = 1;
    double d;
    rmens_status st = RMENS_OK;
    opterr = 0;
    optind = 1;
    while (st == RMENS_OK && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o.ckpt = optarg; break;
        case 'K': o.tokenizer = optarg; break;
        case 'H': o.host = optarg; break;
        case 'F': an.port_file = optarg; break;
        case 'A': an.advertise = optarg; break;
        case 'k': token_file = optarg; break;
        case 'q': an.quiet = 1; break;
        case 'p':
            if (rmens_cli_int(optarg, &v) || v < 0 || v > 65535)
                st = rmens_fail(RMENS_ERR_ARG, "--port: expected 0 to 65535, got '%s'", optarg);
            o.port = (int)v;
            break;
        case 'r':
            if ((c = rmens_reward_from_name(optarg)) < 0)
                st = rmens_fail(RMENS_ERR_ARG, "--reward: expected mean, min or uwo, got '%s'", optarg);
            o.reward = (rmens_reward_kind)c;
            break;
        case 'l':
            if (rmens_cli_double(optarg, &o.lambda) || o.lambda < 0)
                st = rmens_fail(RMENS_ERR_ARG, "--lambda: expected a non-negative number, got '%s'", optarg);
            break;
        case 'n':
            if (rmens_cli_normalize(optarg, &o.normalize))
                st = rmens_fail(RMENS_ERR_ARG, "--normalize: expected none or member, got '%s'", optarg);
            break;
        case 'T':
            if (strcmp(optarg, "left") != 0 && strcmp(optarg, "error") != 0)
                st = rmens_fail(RMENS_ERR_ARG, "--truncate: expected left or error, got '%s'", optarg);
            o.truncate_error = strcmp(optarg, "error") == 0;
            break;
        case 'B':
            if (positive(optarg, (int64_t)1 << 30, &o.max_batch_tokens))
                st = rmens_fail(RMENS_ERR_ARG, "--max-batch-tokens: expected 1 to 2^30, got '%s'", optarg);
            break;
        case 'W':
            if (rmens_cli_double(optarg, &d) || d < 0 || d > 3.6e6)
                st = rmens_fail(RMENS_ERR_ARG, "--max-wait-ms: expected 0 to 3600000, got '%s'", optarg);
            o.max_wait_s = d / 1e3;
            break;
        case 'b':
            if (rmens_cli_data_mem(optarg, &v) || v < 2 || v > (int64_t)1 << 30)
                st = rmens_fail(RMENS_ERR_ARG, "--max-body: expected a size from 2 bytes to 1G, got '%s'", optarg);
            o.max_body = (size_t)v;
            break;
        case 'Q':
            if (positive(optarg, 1 << 20, &v))
                st = rmens_fail(RMENS_ERR_ARG, "--max-queue: expected 1 to 2^20, got '%s'", optarg);
            o.max_queue = (int)v;
            break;
        case 'I':
            if (positive(optarg, (int64_t)1 << 24, &o.max_items))
                st = rmens_fail(RMENS_ERR_ARG, "--max-items: expected 1 to 2^24, got '%s'", optarg);
            break;
        case 'D':
            if (rmens_cli_double(optarg, &o.drain_s) || o.drain_s < 0)
                st = rmens_fail(RMENS_ERR_ARG, "--drain-s: expected a non-negative number, got '%s'", optarg);
            break;
        case 'g':
            for (o.aggregate = 0; o.aggregate < RMENS_AGG_N && strcmp(optarg, rmens_aggregate_names[o.aggregate]) != 0;)
                o.aggregate++;
            if (o.aggregate == RMENS_AGG_N)
                st = rmens_fail(RMENS_ERR_ARG, "--aggregate: expected min, prod or last, got '%s'", optarg);
            break;
        case 'S':
            rmens_cli_unescape(optarg, sep, sizeof sep);
            o.step_separator = sep;
            if (!sep[0] || strlen(optarg) >= sizeof sep)
                st = rmens_fail(RMENS_ERR_ARG, "--step-separator: expected 1 to %zu bytes", sizeof sep - 1);
            break;
        case 'M':
            if (positive(optarg, 1 << 16, &o.max_steps))
                st = rmens_fail(RMENS_ERR_ARG, "--max-steps: expected 1 to 65536, got '%s'", optarg);
            break;
        case 't':
            if (positive(optarg, 1024, &threads))
                st = rmens_fail(RMENS_ERR_ARG, "--threads: expected a positive integer, got '%s'", optarg);
            break;
        case 'h':
            if (rank == 0)
                fputs(help, stdout);
            return 0;
        default:
            st = rmens_fail(RMENS_ERR_ARG, "unknown or incomplete option '%s' (see rmens serve --help)",
                            argv[optind - 1]);
        }
    }
    if (st == RMENS_OK && optind != argc)
        st = rmens_fail(RMENS_ERR_ARG, "unexpected argument '%s'", argv[optind]);
    if (st == RMENS_OK && !o.ckpt)
        st = rmens_fail(RMENS_ERR_ARG, "--ckpt is required");
    if (st == RMENS_OK && token_file && rank == 0 && (st = read_token(token_file, token, sizeof token)) == RMENS_OK)
        o.token = token;
    if ((st = rmens_verdict(comm, st)) != RMENS_OK)
        return rmens_cli_report(comm, "serve", st);
    char cmd[4096];
    o.command = rmens_cli_command(cmd, sizeof cmd, "serve", argc, argv);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    o.stop = &stop_requested;
    o.ready = ready;
    o.ready_arg = &an;
    rmens_set_num_threads((int)threads);
    rmens_serve_report rep;
    st = rmens_serve(&o, comm, &rep);
    if (st == RMENS_OK && rank == 0 && !an.quiet)
        printf("rmens serve: stopped after %.1f s: %lld requests, %lld texts, %lld tokens in %lld batches "
               "(%lld failed)\n", rep.seconds, (long long)rep.requests, (long long)rep.texts, (long long)rep.tokens,
               (long long)rep.batches, (long long)rep.failed_batches);
    return rmens_cli_report(comm, "serve", st);
}
