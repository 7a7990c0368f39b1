/* rmens info: describe any rmens HDF5 file, validating it on the way. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "comm/placement.h"
#include "io/calibration.h"
#include "io/checkpoint.h"
#include "io/dataset.h"
#include "io/h5.h"
#include "io/hfdir.h"

/* Prints bytes readably: printable ASCII and UTF-8 as they are, newlines as a newline
 * plus indent, other control bytes as \xNN; ids that are not bytes as <id>. */
static void print_tokens(FILE *f, const int32_t *t, int64_t n, int32_t eot, const char *indent)
{
    fputs(indent, f);
    for (int64_t i = 0; i < n; i++) {
        int32_t c = t[i];
        if (c == eot)
            fputs("<|endoftext|>", f);
        else if (c == '\n')
            fprintf(f, "\n%s", indent);
        else if (c >= 0 && c < 256 && (c >= 0x20 || c == '\t') && c != 0x7f)
            fputc(c, f);
        else if (c >= 0 && c < 256)
            fprintf(f, "\\x%02x", c);
        else
            fprintf(f, "<%d>", c);
    }
    fputc('\n', f);
}

static void show_record(FILE *f, const rmens_dataset *ds, int64_t i)
{
    int64_t len[2];
    const int32_t *seq[2];
    int ns = rmens_dataset_nsides(ds);
    for (int s = 0; s < ns; s++)
        seq[s] = rmens_dataset_seq(ds, (rmens_side)s, i, &len[s]);
    int32_t p = rmens_dataset_prompt_len(ds, i);
    fprintf(f, "\nrecord %lld", (long long)i);
    if (ds->has & RMENS_HAS_SOURCE)
        fprintf(f, " (source record %lld)", (long long)ds->source_record[i]);
    if (ds->has & RMENS_HAS_GROUP)
        fprintf(f, ", prompt %lld", (long long)ds->prompt_id[i]);
    fprintf(f, "\n");
    if (ds->has & RMENS_HAS_MARGIN)
        fprintf(f, "  margin: %g\n", (double)ds->margin[i]);
    if (ds->has & RMENS_HAS_WEIGHT)
        fprintf(f, "  weight: %g\n", (double)ds->weight[i]);
    if (ds->has & RMENS_HAS_TRAP)
        fprintf(f, "  trap: %s\n", rmens_trap_names[ds->trap[i]]);
    if (p > 0) {
        fprintf(f, "  prompt (%d tokens):\n", p);
        print_tokens(f, seq[0], p, ds->eot, "    | ");
    }
    if (ds->kind == RMENS_DATA_STEPS) {  /* each step decoded, its label after it */
        int64_t nst;
        const int32_t *end = rmens_dataset_step_ends(ds, 0, i, &nst);
        const float *y = rmens_dataset_step_targets(ds, i);
        fprintf(f, "  solution (%lld tokens after the prompt, %lld steps", (long long)(len[0] - p), (long long)nst);
        if (ds->has & RMENS_HAS_GOLD)
            fprintf(f, ", gold %.4g", (double)ds->side[0].gold[i]);
        fprintf(f, "):\n");
        for (int64_t k = 0, at = p; k < nst; at = end[k++]) {
            if (y[k] == RMENS_STEP_UNLABELLED)
                fprintf(f, "    step %lld (tokens %lld-%d, unlabelled):\n", (long long)k + 1, (long long)at, end[k] - 1);
            else
                fprintf(f, "    step %lld (tokens %lld-%d, label %g):\n", (long long)k + 1, (long long)at, end[k] - 1,
                        (double)y[k]);
            print_tokens(f, seq[0] + at, end[k] - at, ds->eot, "    | ");
        }
        if (nst && end[nst - 1] < len[0]) {
            fprintf(f, "    after the last step:\n");
            print_tokens(f, seq[0] + end[nst - 1], len[0] - end[nst - 1], ds->eot, "    | ");
        }
        return;
    }
    for (int s = 0; s < ns; s++) {
        const char *name = ds->kind == RMENS_DATA_RESPONSES ? "response" : s ? "rejected" : "chosen";
        fprintf(f, "  %s (%lld tokens after the prompt", name, (long long)(len[s] - p));
        if (ds->has & RMENS_HAS_GOLD)
            fprintf(f, ", gold reward %.4g", (double)ds->side[s].gold[i]);
        fprintf(f, "):\n");
        print_tokens(f, seq[s] + p, len[s] - p, ds->eot, "    | ");
        if (ds->has & RMENS_HAS_STEPS) {
            const rmens_seqs *q = &ds->side[s];
            fprintf(f, "    steps (end token, label):");
            for (int64_t k = q->step_offsets[i]; k < q->step_offsets[i + 1]; k++)
                fprintf(f, " (%d, %d)", q->step_end[k], q->step_label[k]);
            fprintf(f, "\n");
        }
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Prompts and responses per prompt of a responses file grouped by /prompt_id. */
static void describe_groups(FILE *f, const rmens_dataset *ds)
{
    int64_t *count = calloc((size_t)ds->n, sizeof *count), g = 0;
    if (!count)
        return;
    for (int64_t i = 0; i < ds->n; i++)
        count[ds->prompt_id[i]]++;
    for (int64_t k = 0; k < ds->n; k++)
        if (count[k])
            count[g++] = count[k];
    qsort(count, (size_t)g, sizeof *count, cmp_i64);
    fprintf(f, "  prompts          %lld (/prompt_id); responses per prompt min %lld, median %lld, max %lld\n",
            (long long)g, (long long)count[0], (long long)count[g / 2], (long long)count[g - 1]);
    free(count);
}

/* A steps file's or process reward checkpoint's step separator, escaped as
 * --step-separator takes it. */
static void print_separator(FILE *f, const char *sep)
{
    fputs("  step separator   ", f);
    if (!sep[0]) {
        fputs("not recorded (rmens serve uses \"\\n\")\n", f);
        return;
    }
    fputc('"', f);
    for (const char *c = sep; *c; c++)
        fputs(*c == '\n' ? "\\n" : *c == '\t' ? "\\t" : *c == '\\' ? "\\\\" : (char[2]){*c, 0}, f);
    fputs("\"\n", f);
}

/* A steps file's steps and labels (docs/FORMAT.md). */
static void describe_steps(FILE *f, const rmens_dataset *ds)
{
    const rmens_seqs *q = &ds->side[0];
    int64_t labelled = 0, positive = 0, with_error = 0, most = 0;
    double sum = 0;
    for (int64_t i = 0; i < ds->n; i++) {
        int64_t n;
        rmens_dataset_step_ends(ds, 0, i, &n);
        const float *y = rmens_dataset_step_targets(ds, i);
        int err = 0;
        for (int64_t k = 0; k < n; k++) {
            if (y[k] == RMENS_STEP_UNLABELLED)
                continue;
            labelled++;
            sum += y[k];
            positive += y[k] >= 0.5f;
            err |= y[k] < 0.5f;
        }
        with_error += err;
        most = n > most ? n : most;
    }
    fprintf(f, "  steps            %lld (%.2f per solution, at most %lld); %lld labelled, %lld unlabelled\n",
            (long long)q->nsteps, (double)q->nsteps / (double)ds->n, (long long)most, (long long)labelled,
            (long long)(q->nsteps - labelled));
    if (labelled)
        fprintf(f, "  step labels      mean %.4f; %.1f%% >= 0.5 (correct); %lld solutions with a step < 0.5\n",
                sum / (double)labelled, 100.0 * (double)positive / (double)labelled, (long long)with_error);
}

static rmens_status describe_dataset(FILE *f, const char *path, int64_t show)
{
    rmens_dataset *ds;
    int64_t budget;  /* a large file is validated in chunks, like training reads it */
    RMENS_TRY(rmens_data_budget(MPI_COMM_NULL, 0, &budget));
    RMENS_TRY(rmens_dataset_read_bounded(&ds, path, budget));
    rmens_dataset_stats s;
    rmens_status st = rmens_dataset_stats_compute(ds, &s);
    if (st != RMENS_OK)
        goto exit;
    if (show >= ds->n) {
        st = rmens_fail(RMENS_ERR_ARG, "%s: `show` %lld is past the last record (%lld records)", path,
                        (long long)show, (long long)ds->n);
        goto exit;
    }
    int pairs = ds->kind == RMENS_DATA_PAIRS, steps = ds->kind == RMENS_DATA_STEPS;
    const char *kind = pairs ? "pairs" : steps ? "steps" : "responses";
    fprintf(f, "%s: rmens %s file, version %d\n", path, kind, RMENS_FORMAT_VERSION);
    fprintf(f, "  records          %lld %s\n", (long long)ds->n, steps ? "solutions" : kind);
    fprintf(f, "  tokenizer        %s (vocab_size %d, end-of-text %d)\n", ds->tokenizer, ds->vocab_size,
            ds->eot);
    if (steps)
        print_separator(f, ds->step_separator);
    if (ds->task[0])
        fprintf(f, "  task             %s\n", ds->task);
    if (ds->source[0])
        fprintf(f, "  source           %s\n", ds->source);
    if (ds->seed >= 0)
        fprintf(f, "  seed             %lld\n", (long long)ds->seed);
    fprintf(f, "  tokens           %lld in %lld sequences\n", (long long)s.n_tokens, (long long)s.n_sequences);
    fprintf(f, "  tokens/sequence  min %lld, median %lld, p90 %lld, max %lld\n", (long long)s.len_min,
            (long long)s.len_median, (long long)s.len_p90, (long long)s.len_max);
    if (ds->has & RMENS_HAS_PROMPT)
        fprintf(f, "  shared prefix    %.1f%% of the longer sequence on average\n", 100 * s.prompt_frac);
    if (pairs)
        fprintf(f, "  chosen longer    %.1f%% of pairs\n", 100 * s.chosen_longer);
    if (ds->has & RMENS_HAS_MARGIN) {
        double m = 0;
        for (int64_t i = 0; i < ds->n; i++)
            m += ds->margin[i];
        fprintf(f, "  margin           mean %.4g\n", m / (double)ds->n);
    }
    if (ds->has & RMENS_HAS_WEIGHT) {
        double w = 0;
        for (int64_t i = 0; i < ds->n; i++)
            w += ds->weight[i];
        fprintf(f, "  weight           sum %.6g (mean %.4g)\n", w, w / (double)ds->n);
    }
    if (ds->has & RMENS_HAS_GOLD) {
        double g[2] = {0, 0};
        for (int sd = 0; sd < rmens_dataset_nsides(ds); sd++)
            for (int64_t i = 0; i < ds->n; i++)
                g[sd] += ds->side[sd].gold[i];
        if (pairs)
            fprintf(f, "  gold reward      chosen mean %.4f, rejected mean %.4f\n", g[0] / (double)ds->n,
                    g[1] / (double)ds->n);
        else
            fprintf(f, "  gold reward      mean %.4f\n", g[0] / (double)ds->n);
    }
    if (ds->has & RMENS_HAS_TRAP) {
        int64_t c[RMENS_NTRAPS] = {0};
        for (int64_t i = 0; i < ds->n; i++)
            c[ds->trap[i]]++;
        fprintf(f, "  trap pairs       %lld (", (long long)(ds->n - c[RMENS_TRAP_NONE]));
        for (int t = 1; t < RMENS_NTRAPS; t++)
            fprintf(f, "%s%s %lld", t > 1 ? ", " : "", rmens_trap_names[t], (long long)c[t]);
        fputs(")\n", f);
    }
    if (ds->has & RMENS_HAS_GROUP)
        describe_groups(f, ds);
    if (steps)
        describe_steps(f, ds);
    else if (ds->has & RMENS_HAS_STEPS)
        fprintf(f, "  steps            %lld labelled steps\n",
                (long long)(ds->side[0].nsteps + (pairs ? ds->side[1].nsteps : 0)));
    if (show >= 0)
        show_record(f, ds, show);
exit:
    rmens_dataset_free(ds);
    return st;
}

static rmens_status describe_model(FILE *f, const char *path)
{
    rmens_model *m;
    int fresh = 0;
    RMENS_TRY(rmens_model_load(&m, path, 0, &fresh));
    const rmens_model_config *c = rmens_model_get_config(m);
    if (m->source_config)
        fprintf(f, "%s: Hugging Face model directory (read as %sForSequenceClassification, 1 label)\n", path,
                rmens_arch_of(c)->prefix);
    else
        fprintf(f, "%s: rmens model file, version %d (%sForSequenceClassification, 1 label)\n", path,
                RMENS_FORMAT_VERSION, rmens_arch_of(c)->prefix);
    fprintf(f, "  config           vocab_size %d, n_ctx %d, n_layer %d, n_head %d, n_embd %d\n", c->vocab_size,
            c->n_ctx, c->n_layer, c->n_head, c->n_embd);
    if (c->arch != RMENS_ARCH_GPT2) {
        rmens_dims d;
        rmens_dims_of(c, &d);
        fprintf(f, "  %-16s kv heads %lld, head_dim %lld, intermediate %lld, rope_theta %g%s\n", rmens_arch_of(c)->model_type,
                (long long)d.NKV, (long long)d.HD, (long long)d.FF, (double)d.theta,
                c->rope_type == 1 ? ", rope llama3" : "");
    }
    fprintf(f, "  parameters       %zu (%.2f M), all finite\n", rmens_model_num_params(m),
            (double)rmens_model_num_params(m) / 1e6);
    fprintf(f, "  score head       %s\n", fresh ? "absent: a language-model checkpoint (a fresh head is drawn on load)"
                                                 : "present");
    rmens_model_free(m);
    return RMENS_OK;
}

/* Whether an ensemble records temperatures (io/calibration.h), and which. */
static rmens_status describe_temperature(FILE *f, const char *path, int K)
{
    double *T = malloc((size_t)(K > 0 ? K : 1) * sizeof *T);
    char data[1024];
    rmens_calibration c;
    int has = 0;
    rmens_status st = T ? rmens_calibration_read(path, K, &c, T, data, sizeof data, &has)
                        : rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    if (st == RMENS_OK && !has)
        fprintf(f, "  temperature      none (rmens eval --write-temperature fits and records it)\n");
    else if (st == RMENS_OK) {
        fprintf(f, "  temperature      fitted on %lld pairs of %s (%s rewards): member T_k", (long long)c.pairs, data,
                c.normalized ? "standardised" : "raw");
        for (int k = 0; k < K && k < 16; k++)
            fprintf(f, " %.4g", T[k]);
        fprintf(f, "%s; mean margin T %.4g\n", K > 16 ? " ..." : "", c.temperature);
    }
    free(T);
    return st;
}

static rmens_status describe_ensemble(FILE *f, const char *path)
{
    rmens_ckpt_header h;
    RMENS_TRY(rmens_checkpoint_read_header(path, &h));
    fprintf(f, "%s: rmens ensemble checkpoint, version %d\n", path, RMENS_FORMAT_VERSION);
    fprintf(f, "  members          %d (%s n_layer %d, n_head %d, n_embd %d, n_ctx %d, vocab %d)\n", h.members,
            h.cfg.arch == RMENS_ARCH_GPT2 ? "GPT-2" : rmens_arch_of(&h.cfg)->model_type, h.cfg.n_layer, h.cfg.n_head, h.cfg.n_embd, h.cfg.n_ctx, h.cfg.vocab_size);
    fprintf(f, "  trained          step %lld of %lld%s, batch %d, lr %g, seed %llu\n", (long long)h.step,
            (long long)h.total_steps, h.step < h.total_steps ? " (unfinished: --resume continues)" : "", h.batch, h.lr,
            (unsigned long long)h.seed);
    const int prm = strcmp(h.objective, "prm") == 0;
    const char *unit = prm ? "solutions" : "pairs";
    fprintf(f, "  objective        %s\n", prm ? "prm: a process reward model (per-step binary cross-entropy)"
                                               : "bt: a pairwise reward model (Bradley-Terry)");
    if (h.bootstrap < 0)
        fprintf(f, "  bootstrap        none (seed ensemble) over %lld %s of %s\n", (long long)h.n_pairs, unit, h.data);
    else
        fprintf(f, "  bootstrap        %g x %lld %s of %s, with replacement\n", h.bootstrap, (long long)h.n_pairs,
                unit, h.data);
    fprintf(f, "  tokenizer        %s, template %s\n", h.tokenizer, h.template_name[0] ? h.template_name : "hh");
    if (strcmp(h.objective, "prm") == 0) {
        fprintf(f, "  objective        prm (process reward members)\n");
        print_separator(f, h.step_separator);
    }
    fprintf(f, "  command          %s\n", h.command);
    if (h.hf_config[0])
        fprintf(f, "  init             %s (its config.json is kept: rmens export writes it back)\n", h.hf_dir);
    fprintf(f, "  member  val_loss  val_acc  oob_acc  reward_mean  reward_std\n");
    rmens_model *m = NULL;
    rmens_status st = rmens_model_alloc(&m, &h.cfg);
    for (int k = 0; k < h.members && st == RMENS_OK; k++) {
        double a[RMENS_MA_N];
        /* Reading the weights validates them (shapes, finiteness) as a model file would. */
        st = rmens_checkpoint_read_member(path, k, m, NULL, NULL, NULL, h.n_pairs, a);
        if (st == RMENS_OK)
            fprintf(f, "  %6d  %8.4f  %7.4f  %7.4f  %11.4f  %10.4f\n", k, a[RMENS_MA_VAL_LOSS], a[RMENS_MA_VAL_ACC],
                    a[RMENS_MA_OOB_ACC], a[RMENS_MA_REWARD_MEAN], a[RMENS_MA_REWARD_STD]);
    }
    rmens_model_free(m);
    if (st != RMENS_OK)
        return st;
    /* Reading the weights above verified every member that has checksums. */
    char old[256] = "";
    int n_old = 0;
    for (int k = 0; k < h.members; k++)
        if (rmens_checkpoint_member_checksummed(path, k) != 1 && n_old++ < 8)
            snprintf(old + strlen(old), sizeof old - strlen(old), "%s%d", n_old > 1 ? ", " : "", k);
    if (n_old == 0)
        fprintf(f, "  checksums        CRC-32 of every dataset (weights verified now)\n");
    else
        fprintf(f, "  checksums        none for member%s %s%s (written by an older rmens): weights unverified\n",
                n_old > 1 ? "s" : "", old, n_old > 8 ? ", ..." : "");
    return describe_temperature(f, path, h.members);
}

/* A scores file (docs/FORMAT.md, "scores"): where its rewards came from and what they hold. */
/* A process reward model's scores of a steps file (ensemble/prm.h). */
static rmens_status describe_step_scores(FILE *f, const char *path, hid_t file)
{
    char ckpt[1024] = "", data[1024] = "", agg[16] = "";
    int64_t members = 0, n = 0, S = 0, cut = 0;
    float *score = NULL, *mean = NULL;
    rmens_status st;
    if ((st = rmens_h5_attr_read_str(file, "checkpoint", ckpt, sizeof ckpt)) != RMENS_OK ||
        (st = rmens_h5_attr_read_str(file, "data", data, sizeof data)) != RMENS_OK ||
        (st = rmens_h5_attr_read_str(file, "aggregate", agg, sizeof agg)) != RMENS_OK ||
        (st = rmens_h5_attr_read_i64(file, "members", &members)) != RMENS_OK ||
        (st = rmens_h5_attr_read_i64(file, "steps_cut", &cut)) != RMENS_OK ||
        (st = rmens_h5_read_1d(file, "/score", H5T_FLOAT, H5T_NATIVE_FLOAT, H5P_DEFAULT, (void **)&score, &n)) !=
            RMENS_OK ||
        (st = rmens_h5_read_1d(file, "/steps/mean", H5T_FLOAT, H5T_NATIVE_FLOAT, H5P_DEFAULT, (void **)&mean, &S)) !=
            RMENS_OK) {
        rmens_fail_context(st, "%s: ", path);
        goto exit;
    }
    double ms = 0, ok = 0;
    for (int64_t i = 0; i < n; i++)
        ms += score[i] / (double)n;
    for (int64_t s = 0; s < S; s++)
        ok += mean[s] > 0.5f;
    fprintf(f, "%s: rmens scores file (process reward model on steps)\n", path);
    fprintf(f, "  checkpoint       %s (%lld members)\n  data             %s\n", ckpt, (long long)members, data);
    fprintf(f, "  solutions        %lld, score = %s of the steps' mean probability: mean %.4f\n", (long long)n, agg, ms);
    fprintf(f, "  steps            %lld (%lld cut away: NaN); %.1f%% judged correct (mean p > 1/2)\n", (long long)S,
            (long long)cut, S ? 100.0 * ok / (double)S : 0.0);
exit:
    free(score);
    free(mean);
    return st;
}

static rmens_status describe_scores(FILE *f, const char *path, hid_t file, int64_t show)
{
    char kind[32] = "";
    if (rmens_h5_has_attr(file, "input") && rmens_h5_attr_read_str(file, "input", kind, sizeof kind) == RMENS_OK &&
        strcmp(kind, "steps") == 0)
        return describe_step_scores(f, path, file);
    static const char *const cols[] = {"mean", "min", "max", "var", "std", "uwo", "wco"};
    char input[32] = "", ckpt[1024] = "", data[1024] = "", norm[32] = "";
    int64_t version = 0, members = 0, step = -1, crc = 0, cut = 0, n = -1;
    double lambda = 0;
    float *col[2][7] = {{NULL}};
    int64_t *pid = NULL;
    rmens_status st = RMENS_OK;
    if ((st = rmens_h5_attr_read_i64(file, "rmens_version", &version)) != RMENS_OK ||
        (st = rmens_h5_attr_read_str(file, "input", input, sizeof input)) != RMENS_OK ||
        (st = rmens_h5_attr_read_str(file, "checkpoint", ckpt, sizeof ckpt)) != RMENS_OK ||
        (st = rmens_h5_attr_read_i64(file, "checkpoint_step", &step)) != RMENS_OK ||
        (st = rmens_h5_attr_read_i64(file, "checkpoint_crc32", &crc)) != RMENS_OK ||
        (st = rmens_h5_attr_read_str(file, "data", data, sizeof data)) != RMENS_OK ||
        (st = rmens_h5_attr_read_i64(file, "members", &members)) != RMENS_OK ||
        (st = rmens_h5_attr_read_f64(file, "lambda", &lambda)) != RMENS_OK ||
        (st = rmens_h5_attr_read_str(file, "normalize", norm, sizeof norm)) != RMENS_OK ||
        (st = rmens_h5_attr_read_i64(file, "sequences_cut", &cut)) != RMENS_OK)
        goto exit;
    int pairs = strcmp(input, "pairs") == 0;
    if (!pairs && strcmp(input, "responses") != 0) {
        st = rmens_fail(RMENS_ERR_FORMAT, "input is \"%s\", expected \"pairs\" or \"responses\"", input);
        goto exit;
    }
    /* Every column of every group has the same N entries, all finite. */
    for (int g = 0; g < (pairs ? 2 : 1) && st == RMENS_OK; g++)
        for (int c = 0; c < 7 && st == RMENS_OK; c++) {
            char p[64];
            int64_t got;
            snprintf(p, sizeof p, "%s/%s", pairs ? (g ? "/rejected" : "/chosen") : "", cols[c]);
            if ((st = rmens_h5_read_1d(file, p, H5T_FLOAT, H5T_NATIVE_FLOAT, H5P_DEFAULT, (void **)&col[g][c],
                                       &got)) != RMENS_OK)
                break;
            if (n < 0)
                n = got;
            if (got != n || got < 1)
                st = rmens_fail(RMENS_ERR_FORMAT, "%s has %lld entries, expected %lld", p, (long long)got,
                                (long long)n);
            for (int64_t i = 0; i < got && st == RMENS_OK; i++)
                if (!isfinite(col[g][c][i]))
                    st = rmens_fail(RMENS_ERR_FORMAT, "%s[%lld] is not finite", p, (long long)i);
        }
    if (st != RMENS_OK)
        goto exit;
    if (show >= n) {
        st = rmens_fail(RMENS_ERR_ARG, "`show` %lld is past the last record (%lld records)", (long long)show,
                        (long long)n);
        goto exit;
    }
    fprintf(f, "%s: rmens scores file, version %lld\n", path, (long long)version);
    fprintf(f, "  records          %lld %s\n", (long long)n, pairs ? "pairs (chosen/ and rejected/)" : "responses");
    fprintf(f, "  from             %s (%s), %lld members, CRC-32 0x%08llx\n", ckpt,
            step < 0 ? "a model file" : "checkpoint", (long long)members, (unsigned long long)crc);
    if (step >= 0)
        fprintf(f, "  checkpoint step  %lld\n", (long long)step);
    fprintf(f, "  data             %s\n", data);
    fprintf(f, "  standardised     %s; uwo = mean - %g var, wco = min\n",
            strcmp(norm, "member") == 0 ? "yes (each member by its reward_mean/reward_std)" : "no (raw rewards)",
            lambda);
    if (cut)
        fprintf(f, "  sequences cut    %lld longer than the model's context (from the front)\n", (long long)cut);
    for (int g = 0; g < (pairs ? 2 : 1); g++) {
        double m = 0, sd = 0;
        for (int64_t i = 0; i < n; i++) {
            m += col[g][0][i];
            sd += col[g][4][i];
        }
        fprintf(f, "  %-16s mean reward %.4f, mean std over members %.4f\n",
                pairs ? (g ? "rejected" : "chosen") : "rewards", m / (double)n, sd / (double)n);
    }
    if (pairs) {
        int64_t right = 0;
        for (int64_t i = 0; i < n; i++)
            right += col[0][0][i] > col[1][0][i];
        fprintf(f, "  chosen preferred %.2f%% of pairs by mean reward\n", 100.0 * (double)right / (double)n);
    }
    if (pairs && rmens_h5_exists(file, "/uncertainty"))
        fprintf(f, "  per pair         p = P(chosen > rejected), uncertainty = its entropy (%s)\n",
                rmens_h5_exists(file, "/temperature") ? "calibrated by the checkpoint's temperatures" : "uncalibrated");
    if (rmens_h5_exists(file, pairs ? "/chosen/rewards" : "/rewards"))
        fprintf(f, "  per member       rewards [%lld, %lld]\n", (long long)n, (long long)members);
    if (rmens_h5_exists(file, "/prompt_id")) {
        int64_t got;
        if ((st = rmens_h5_read_1d(file, "/prompt_id", H5T_INTEGER, H5T_NATIVE_INT64, H5P_DEFAULT, (void **)&pid,
                                   &got)) != RMENS_OK)
            goto exit;
        int64_t groups = 0;
        for (int64_t i = 0; i < got; i++)
            groups = pid[i] + 1 > groups ? pid[i] + 1 : groups;
        fprintf(f, "  prompts          %lld (/prompt_id, from the responses file)\n", (long long)groups);
    }
    if (show >= 0) {
        fprintf(f, "\nrecord %lld\n", (long long)show);
        for (int g = 0; g < (pairs ? 2 : 1); g++) {
            fprintf(f, "  %s", pairs ? (g ? "rejected" : "chosen  ") : "");
            for (int c = 0; c < 7; c++)
                fprintf(f, " %s %.6g%s", cols[c], (double)col[g][c][show], c < 6 ? "," : "\n");
        }
    }
exit:
    for (int g = 0; g < 2; g++)
        for (int c = 0; c < 7; c++)
            free(col[g][c]);
    free(pid);
    return st == RMENS_OK ? st : rmens_fail_context(st, "%s: ", path);
}

/* A picks file (docs/FORMAT.md, "picks"): what was picked, from what, by which rule. */
static rmens_status describe_picks(FILE *f, const char *path, hid_t file)
{
    char ckpt[1024] = "", cands[1024] = "", by[32] = "", norm[32] = "", cal[32] = "";
    int64_t members = 0, G = 0, *size = NULL, *cand = NULL;
    float *unc = NULL, *val = NULL;
    double lambda = 0;
    rmens_status st;
    if ((st = rmens_h5_attr_read_str(file, "checkpoint", ckpt, sizeof ckpt)) != RMENS_OK ||
        (st = rmens_h5_attr_read_str(file, "candidates", cands, sizeof cands)) != RMENS_OK ||
        (st = rmens_h5_attr_read_str(file, "by", by, sizeof by)) != RMENS_OK ||
        (st = rmens_h5_attr_read_str(file, "normalize", norm, sizeof norm)) != RMENS_OK ||
        (st = rmens_h5_attr_read_str(file, "calibrated", cal, sizeof cal)) != RMENS_OK ||
        (st = rmens_h5_attr_read_f64(file, "lambda", &lambda)) != RMENS_OK ||
        (st = rmens_h5_attr_read_i64(file, "members", &members)) != RMENS_OK ||
        (st = rmens_h5_read_1d(file, "/group_size", H5T_INTEGER, H5T_NATIVE_INT64, H5P_DEFAULT, (void **)&size, &G)) !=
            RMENS_OK)
        goto exit;
    int64_t n2 = 0, n3 = 0, n4 = 0;
    if ((st = rmens_h5_read_1d(file, "/candidate", H5T_INTEGER, H5T_NATIVE_INT64, H5P_DEFAULT, (void **)&cand, &n2)) !=
            RMENS_OK ||
        (st = rmens_h5_read_1d(file, "/uncertainty", H5T_FLOAT, H5T_NATIVE_FLOAT, H5P_DEFAULT, (void **)&unc, &n3)) !=
            RMENS_OK ||
        (st = rmens_h5_read_1d(file, "/value", H5T_FLOAT, H5T_NATIVE_FLOAT, H5P_DEFAULT, (void **)&val, &n4)) != RMENS_OK)
        goto exit;
    if (n2 != G || n3 != G || n4 != G) {
        st = rmens_fail(RMENS_ERR_FORMAT, "/candidate, /uncertainty and /value must have %lld entries like /group_size",
                        (long long)G);
        goto exit;
    }
    int64_t total = 0, first = 0, single = 0;
    double v = 0, u = 0;
    for (int64_t g = 0; g < G; g++) {
        total += size[g], first += cand[g] == 0, single += size[g] == 1, v += val[g] / (double)G;
        if (size[g] > 1)
            u += unc[g];
    }
    fprintf(f, "%s: rmens best-of-n picks (rmens bon)\n", path);
    fprintf(f, "  picks            %lld prompts, one each, from %lld candidates of %s (%.2f per prompt)\n",
            (long long)G, (long long)total, cands, G ? (double)total / (double)G : 0.0);
    fprintf(f, "  by               %s%s; rewards %s; %lld members of %s\n", by,
            strcmp(by, "uwo") == 0 ? " (mean - lambda var)" : "", strcmp(norm, "member") == 0 ? "standardised" : "raw",
            (long long)members, ckpt);
    if (strcmp(by, "uwo") == 0)
        fprintf(f, "  lambda           %g\n", lambda);
    fprintf(f, "  picked           mean aggregate %.4f; the first candidate for %lld prompts\n", v, (long long)first);
    fprintf(f, "  uncertainty      of the pick over the runner-up (%s): mean %.4f over %lld prompts; none for %lld of "
            "one candidate\n", strcmp(cal, "temperature") == 0 ? "calibrated" : "uncalibrated",
            G - single ? u / (double)(G - single) : 0.0, (long long)(G - single), (long long)single);
    fprintf(f, "  datasets         index, candidate, group_size, prompt_id, value, uncertainty, mean, min, max, var, "
            "std, uwo, wco, rewards [%lld, %lld], responses/tokens and offsets\n", (long long)G, (long long)members);
exit:
    free(size);
    free(cand);
    free(unc);
    free(val);
    return st == RMENS_OK ? st : rmens_fail_context(st, "%s: ", path);
}

static rmens_status info(FILE *f, const char *path, int64_t show)
{
    rmens_h5_init();
    char kind[64] = "";
    hid_t file = -1;
    if (rmens_hfdir_is_dir(path))
        return show >= 0 ? rmens_fail(RMENS_ERR_ARG, "%s: `show` applies to pairs and responses files", path)
                         : describe_model(f, path);
    RMENS_TRY(rmens_h5_open_ro(path, H5P_DEFAULT, &file));
    rmens_status st = RMENS_OK;
    if (!rmens_h5_has_attr(file, "rmens_format"))
        st = rmens_fail(RMENS_ERR_FORMAT, "%s: not an rmens file (no rmens_format attribute on /)", path);
    else if ((st = rmens_h5_attr_read_str(file, "rmens_format", kind, sizeof kind)) != RMENS_OK)
        rmens_fail_context(st, "%s: ", path);
    if (st == RMENS_OK && strcmp(kind, "scores") == 0)
        st = describe_scores(f, path, file, show);
    if (st == RMENS_OK && strcmp(kind, "picks") == 0)
        st = describe_picks(f, path, file);
    H5Fclose(file);
    if (st != RMENS_OK || strcmp(kind, "scores") == 0 || strcmp(kind, "picks") == 0)
        return st;
    if (strcmp(kind, "pairs") == 0 || strcmp(kind, "responses") == 0 || strcmp(kind, "steps") == 0)
        return describe_dataset(f, path, show);
    if (show >= 0 && (strcmp(kind, "model") == 0 || strcmp(kind, "ensemble") == 0))
        return rmens_fail(RMENS_ERR_ARG, "%s: `show` applies to pairs and responses files, this is a %s file", path, kind);
    if (strcmp(kind, "model") == 0)
        return describe_model(f, path);
    if (strcmp(kind, "ensemble") == 0)
        return describe_ensemble(f, path);
    return rmens_fail(RMENS_ERR_FORMAT, "%s: unknown rmens_format \"%s\" (this rmens knows pairs, "
                      "responses, steps, model, ensemble, scores, picks)", path, kind);
}

rmens_status rmens_info(FILE *f, const char *path, int64_t show) { RMENS_H5_LOCKED(info(f, path, show)); }
