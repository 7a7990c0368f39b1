/* rmens info: describe any rmens HDF5 file, validating it on the way. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "comm/placement.h"
#include "io/checkpoint.h"
#include "io/dataset.h"
#include "io/h5.h"

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
    static const char *const trap_names[] = {"none", "length", "format", "confidence"};
    int64_t len[2];
    const int32_t *seq[2];
    int ns = rmens_dataset_nsides(ds);
    for (int s = 0; s < ns; s++)
        seq[s] = rmens_dataset_seq(ds, (rmens_side)s, i, &len[s]);
    int32_t p = rmens_dataset_prompt_len(ds, i);
    fprintf(f, "\nrecord %lld", (long long)i);
    if (ds->has & RMENS_HAS_SOURCE)
        fprintf(f, " (source record %lld)", (long long)ds->source_record[i]);
    fprintf(f, "\n");
    if (ds->has & RMENS_HAS_MARGIN)
        fprintf(f, "  margin: %g\n", (double)ds->margin[i]);
    if (ds->has & RMENS_HAS_TRAP)
        fprintf(f, "  trap: %s\n", trap_names[ds->trap[i]]);
    if (p > 0) {
        fprintf(f, "  prompt (%d tokens):\n", p);
        print_tokens(f, seq[0], p, ds->eot, "    | ");
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
    int pairs = ds->kind == RMENS_DATA_PAIRS;
    fprintf(f, "%s: rmens %s file, version %d\n", path, pairs ? "pairs" : "responses", RMENS_FORMAT_VERSION);
    fprintf(f, "  records          %lld %s\n", (long long)ds->n, pairs ? "pairs" : "responses");
    fprintf(f, "  tokenizer        %s (vocab_size %d, end-of-text %d)\n", ds->tokenizer, ds->vocab_size,
            ds->eot);
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
        int64_t c[4] = {0, 0, 0, 0};
        for (int64_t i = 0; i < ds->n; i++)
            c[ds->trap[i]]++;
        fprintf(f, "  trap pairs       %lld (length %lld, format %lld, confidence %lld)\n",
                (long long)(c[1] + c[2] + c[3]), (long long)c[1], (long long)c[2], (long long)c[3]);
    }
    if (ds->has & RMENS_HAS_STEPS)
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
    fprintf(f, "%s: rmens model file, version %d (GPT2ForSequenceClassification, 1 label)\n", path,
            RMENS_FORMAT_VERSION);
    fprintf(f, "  config           vocab_size %d, n_ctx %d, n_layer %d, n_head %d, n_embd %d\n", c->vocab_size,
            c->n_ctx, c->n_layer, c->n_head, c->n_embd);
    fprintf(f, "  parameters       %zu (%.2f M), all finite\n", rmens_model_num_params(m),
            (double)rmens_model_num_params(m) / 1e6);
    fprintf(f, "  score head       %s\n", fresh ? "absent: a language-model checkpoint (a fresh head is drawn on load)"
                                                 : "present");
    rmens_model_free(m);
    return RMENS_OK;
}

static rmens_status describe_ensemble(FILE *f, const char *path)
{
    rmens_ckpt_header h;
    RMENS_TRY(rmens_checkpoint_read_header(path, &h));
    fprintf(f, "%s: rmens ensemble checkpoint, version %d\n", path, RMENS_FORMAT_VERSION);
    fprintf(f, "  members          %d (GPT-2 n_layer %d, n_head %d, n_embd %d, n_ctx %d, vocab %d)\n", h.members,
            h.cfg.n_layer, h.cfg.n_head, h.cfg.n_embd, h.cfg.n_ctx, h.cfg.vocab_size);
    fprintf(f, "  trained          step %lld of %lld%s, batch %d, lr %g, seed %llu\n", (long long)h.step,
            (long long)h.total_steps, h.step < h.total_steps ? " (unfinished: --resume continues)" : "", h.batch, h.lr,
            (unsigned long long)h.seed);
    if (h.bootstrap < 0)
        fprintf(f, "  bootstrap        none (seed ensemble) over %lld pairs of %s\n", (long long)h.n_pairs, h.data);
    else
        fprintf(f, "  bootstrap        %g x %lld pairs of %s, with replacement\n", h.bootstrap, (long long)h.n_pairs,
                h.data);
    fprintf(f, "  command          %s\n", h.command);
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
    return RMENS_OK;
}

static rmens_status info(FILE *f, const char *path, int64_t show)
{
    rmens_h5_init();
    char kind[64] = "";
    hid_t file = -1;
    RMENS_TRY(rmens_h5_open_ro(path, H5P_DEFAULT, &file));
    rmens_status st = RMENS_OK;
    if (!rmens_h5_has_attr(file, "rmens_format"))
        st = rmens_fail(RMENS_ERR_FORMAT, "%s: not an rmens file (no rmens_format attribute on /)", path);
    else if ((st = rmens_h5_attr_read_str(file, "rmens_format", kind, sizeof kind)) != RMENS_OK)
        rmens_fail_context(st, "%s: ", path);
    H5Fclose(file);
    if (st != RMENS_OK)
        return st;
    if (strcmp(kind, "pairs") == 0 || strcmp(kind, "responses") == 0)
        return describe_dataset(f, path, show);
    if (show >= 0 && (strcmp(kind, "model") == 0 || strcmp(kind, "ensemble") == 0))
        return rmens_fail(RMENS_ERR_ARG, "%s: `show` applies to pairs and responses files, this is a %s file", path, kind);
    if (strcmp(kind, "model") == 0)
        return describe_model(f, path);
    if (strcmp(kind, "ensemble") == 0)
        return describe_ensemble(f, path);
    return rmens_fail(RMENS_ERR_FORMAT, "%s: unknown rmens_format \"%s\" (this rmens knows pairs, "
                      "responses, model, ensemble)", path, kind);
}

rmens_status rmens_info(FILE *f, const char *path, int64_t show) { RMENS_H5_LOCKED(info(f, path, show)); }
