/* rmens eval: options for the collective evaluator. */
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "cli/cli.h"
#include "comm/verdict.h"
#include "ensemble/ensemble.h"
#include "ensemble/evaluator.h"
#include "ensemble/prm.h"
#include "ensemble/uncertainty.h"

static const char help[] =
    "usage: mpiexec -n P rmens eval --ckpt ens.h5 --data pairs.h5 [--json report.json] [options]\n"
    "\n"
    "Prints, and writes as JSON: each member's pairwise accuracy and the ensemble's deciding\n"
    "by mean, min (worst case) and mean - lambda var; calibration of sigmoid(r_w - r_l)\n"
    "(expected calibration error over 15 bins, Brier score, NLL) per member and for the\n"
    "ensemble's mean probability; for spotting the ensemble's errors, side by side, the\n"
    "members' margin std, vote split, BALD (mutual information), the predictive entropy\n"
    "(the `uncertainty` of score and serve) and std / |mean margin|: AUROC, area under the\n"
    "risk-coverage curve, and accuracy when only the 50%, 80%, 100% least uncertain pairs\n"
    "are kept; reward against response length; accuracy on each\n"
    "trap kind (synthetic data); with --ood, disagreement in vs out of distribution.\n"
    "\n"
    "options:\n"
    "  --ckpt FILE              ensemble checkpoint or model file\n"
    "  --data FILE              pairs file\n"
    "  --ood FILE               pairs or responses file from another distribution (or give\n"
    "                           --data a second time)\n"
    "  --json FILE              the report as JSON (written atomically; refused if it exists)\n"
    "  --force                  replace an existing --json\n"
    "  --lambda X               uncertainty weight (default 0.5)\n"
    "  --normalize none|member  standardise each member's rewards by its training statistics\n"
    "                           first (default member when the checkpoint has them)\n"
    "  --threads N              BLAS threads per rank (default 1)\n"
    "  --data-mem SIZE          memory for data tokens per file and rank (e.g. 512M, 4G); a\n"
    "                           larger file is read in chunks (default auto; 0: always)\n"
    "  --fit-temperature        fit temperature scaling on these pairs: each member's T_k\n"
    "                           (sigmoid(d / T_k)), the ensemble's mean probability with\n"
    "                           them, and one T of the mean margin; ECE/NLL before, after\n"
    "  --write-temperature      fit, and record the temperatures in the checkpoint (its\n"
    "                           members are not rewritten); score and serve then calibrate\n"
    "                           P(chosen > rejected) with them\n"
    "  --quiet                  no table\n";

/* The table users read. */
static void print_table(const rmens_eval_options *o, const rmens_eval_result *r)
{
    const int K = r->members;
    printf("eval: %s on %lld pairs of %s (%d member%s, rewards %s)\n", o->ckpt, (long long)r->pairs, o->data, K,
           K > 1 ? "s" : "", o->normalize ? "standardised per member" : "raw");
    printf("  %-22s %8s %8s %8s %8s %8s\n", "", "accuracy", "ECE", "Brier", "NLL", "margin");
    for (int k = 0; k < K; k++) {
        const rmens_eval_calib *c = &r->member[k];
        printf("  member %-15d %8.4f %8.4f %8.4f %8.4f %8.4f\n", k, c->accuracy, c->ece, c->brier, c->nll, c->margin);
    }
    const rmens_eval_calib *e = &r->ensemble;
    printf("  %-22s %8.4f %8.4f %8.4f %8.4f\n", "ensemble (mean prob.)", e->accuracy, e->ece, e->brier, e->nll);
    printf("  ensemble accuracy deciding by mean %.4f, min (worst case) %.4f, mean - %g var %.4f\n",
           r->accuracy[RMENS_RULE_MEAN], r->accuracy[RMENS_RULE_MIN], o->lambda, r->accuracy[RMENS_RULE_UWO]);
    printf("  %-22s %8s %8s %8s %8s %8s\n", "spotting its errors by", "AUROC", "AURC", "acc@50%", "acc@80%",
           "acc@100%");
    for (int g = 0; g < RMENS_SIGNAL_N; g++) {
        const rmens_eval_signal *sg = &r->signal[g];
        if (K == 1 && rmens_signal_needs_members((rmens_signal)g))
            continue;
        char name[40];
        snprintf(name, sizeof name, "%s%s", rmens_signal_names[g], g == RMENS_UNCERTAINTY ? " (uncertainty)" : "");
        printf("  %-22s %8.4f %8.4f %8.4f %8.4f %8.4f\n", name, sg->auroc, sg->aurc, sg->accuracy_at_coverage[0],
               sg->accuracy_at_coverage[1], sg->accuracy_at_coverage[2]);
    }
    if (K == 1)
        printf("  disagreement: none with one member (std, votes, bald and spread need two or more)\n");
    printf("  length: Spearman(reward, response length) %.4f; accuracy when the chosen response is shorter "
           "%.4f (%lld pairs), longer %.4f (%lld pairs)\n", r->spearman_length, r->accuracy_chosen_shorter,
           (long long)r->pairs_chosen_shorter, r->accuracy_chosen_longer, (long long)r->pairs_chosen_longer);
    if (r->has_traps) {
        printf("  traps (accuracy by mean):");
        for (int t = 0; t < RMENS_NTRAPS; t++)
            printf(" %s %.4f (%d)", rmens_trap_names[t], r->trap_accuracy[t], (int)r->trap_pairs[t]);
        printf("\n");
    }
    if (r->has_temperature) {
        printf("  %-22s %8s %8s %8s %8s %8s\n", "temperature scaling", "T", "ECE", "-> ECE", "NLL", "-> NLL");
        for (int k = 0; k <= K + 1; k++) {
            const rmens_eval_calib *c = k < K ? &r->member[k] : k == K ? &r->ensemble : &r->mean_margin;
            char name[40];
            snprintf(name, sizeof name, k < K ? "member %d" : k == K ? "ensemble (mean prob.)" : "ensemble mean margin",
                     k);
            char T[16] = "T_k";  /* the mean probability takes each member's own */
            if (isfinite(c->temperature))
                snprintf(T, sizeof T, "%.4f", c->temperature);
            printf("  %-22s %8s %8.4f %8.4f %8.4f %8.4f\n", name, T, c->ece, c->ece_calibrated, c->nll, c->nll_calibrated);
        }
        if (o->write_temperature)
            printf("  temperatures recorded in %s\n", o->ckpt);
    }
    if (r->has_ood && K == 1)
        printf("  out of distribution (%s): no disagreement with one member\n", o->ood);
    else if (r->has_ood)
        printf("  out of distribution (%s): mean disagreement %.4f vs %.4f in distribution; AUROC %.4f\n", o->ood,
               r->ood_disagreement, r->id_disagreement, r->ood_auroc);
    fflush(stdout);
}

/* The JSON report: every measure once in a table (section, key, where in the result),
 * walked once; NaN is written as null. 't' stands for the trap kinds. */
typedef struct {
    const char *section, *key;
    size_t off;
    char kind;  /* 'd' double, 'i' int64, 't' every trap kind's accuracy */
} measure;
#define D(sec, key, f) {sec, key, offsetof(rmens_eval_result, f), 'd'}
#define I(sec, key, f) {sec, key, offsetof(rmens_eval_result, f), 'i'}
static const measure measures[] = {
    D("ensemble", "accuracy_mean", accuracy[RMENS_RULE_MEAN]), D("ensemble", "accuracy_min", accuracy[RMENS_RULE_MIN]),
    D("ensemble", "accuracy_uwo", accuracy[RMENS_RULE_UWO]), D("ensemble", "ece", ensemble.ece),
    D("ensemble", "brier", ensemble.brier), D("ensemble", "nll", ensemble.nll),
    D("uncertainty", "error_auroc", signal[RMENS_UNCERTAINTY].auroc),
    D("uncertainty", "aurc", signal[RMENS_UNCERTAINTY].aurc),
    D("uncertainty", "accuracy_at_coverage_50", signal[RMENS_UNCERTAINTY].accuracy_at_coverage[0]),
    D("uncertainty", "accuracy_at_coverage_80", signal[RMENS_UNCERTAINTY].accuracy_at_coverage[1]),
    D("uncertainty", "accuracy_at_coverage_100", signal[RMENS_UNCERTAINTY].accuracy_at_coverage[2]),
    D("length", "spearman_reward_length", spearman_length), D("length", "accuracy_chosen_shorter", accuracy_chosen_shorter),
    D("length", "accuracy_chosen_longer", accuracy_chosen_longer), I("length", "pairs_chosen_shorter", pairs_chosen_shorter),
    I("length", "pairs_chosen_longer", pairs_chosen_longer),
    {"traps", NULL, offsetof(rmens_eval_result, trap_accuracy), 't'},
    D("ood", "mean_disagreement_ood", ood_disagreement), D("ood", "mean_disagreement_id", id_disagreement),
    D("ood", "auroc", ood_auroc),
};
static const measure member_measures[] = {
    {NULL, "accuracy", offsetof(rmens_eval_calib, accuracy), 'd'}, {NULL, "ece", offsetof(rmens_eval_calib, ece), 'd'},
    {NULL, "brier", offsetof(rmens_eval_calib, brier), 'd'}, {NULL, "nll", offsetof(rmens_eval_calib, nll), 'd'},
    {NULL, "mean_margin", offsetof(rmens_eval_calib, margin), 'd'},
};
static const measure temperature_measures[] = {
    {NULL, "temperature", offsetof(rmens_eval_calib, temperature), 'd'},
    {NULL, "ece_before", offsetof(rmens_eval_calib, ece), 'd'},
    {NULL, "ece_after", offsetof(rmens_eval_calib, ece_calibrated), 'd'},
    {NULL, "nll_before", offsetof(rmens_eval_calib, nll), 'd'},
    {NULL, "nll_after", offsetof(rmens_eval_calib, nll_calibrated), 'd'},
};
static const measure signal_measures[] = {
    {NULL, "error_auroc", offsetof(rmens_eval_signal, auroc), 'd'},
    {NULL, "aurc", offsetof(rmens_eval_signal, aurc), 'd'},
    {NULL, "accuracy_at_coverage_50", offsetof(rmens_eval_signal, accuracy_at_coverage[0]), 'd'},
    {NULL, "accuracy_at_coverage_80", offsetof(rmens_eval_signal, accuracy_at_coverage[1]), 'd'},
    {NULL, "accuracy_at_coverage_100", offsetof(rmens_eval_signal, accuracy_at_coverage[2]), 'd'},
};
#undef D
#undef I

static json_object *num(double x) { return isfinite(x) ? json_object_new_double(x) : NULL; }

static void add_measure(json_object *to, const measure *m, const void *from)
{
    const char *p = (const char *)from + m->off;
    if (m->kind == 'i')
        json_object_object_add(to, m->key, json_object_new_int64(*(const int64_t *)p));
    else if (m->kind == 'd')
        json_object_object_add(to, m->key, num(*(const double *)p));
    else
        for (int t = 0; t < RMENS_NTRAPS; t++)
            json_object_object_add(to, rmens_trap_names[t], num(((const double *)p)[t]));
}

static json_object *report_json(const rmens_eval_options *o, const rmens_eval_result *r)
{
    json_object *j = json_object_new_object(), *ms = json_object_new_array(), *sec = NULL;
    json_object_object_add(j, "checkpoint", json_object_new_string(o->ckpt));
    json_object_object_add(j, "data", json_object_new_string(o->data));
    json_object_object_add(j, "pairs", json_object_new_int64(r->pairs));
    json_object_object_add(j, "members_count", json_object_new_int(r->members));
    json_object_object_add(j, "normalize", json_object_new_string(o->normalize ? "member" : "none"));
    json_object_object_add(j, "lambda", json_object_new_double(o->lambda));
    json_object_object_add(j, "sequences_cut", json_object_new_int64(r->sequences_cut));
    for (int k = 0; k < r->members; k++) {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "member", json_object_new_int(k));
        for (size_t q = 0; q < sizeof member_measures / sizeof *member_measures; q++)
            add_measure(m, &member_measures[q], &r->member[k]);
        json_object_array_add(ms, m);
    }
    json_object_object_add(j, "members", ms);
    /* every error signal side by side; "uncertainty" below repeats the default's */
    json_object *sig = json_object_new_object();
    for (int g = 0; g < RMENS_SIGNAL_N; g++) {
        json_object *m = json_object_new_object();
        for (size_t q = 0; q < sizeof signal_measures / sizeof *signal_measures; q++)
            add_measure(m, &signal_measures[q], &r->signal[g]);
        json_object_object_add(sig, rmens_signal_names[g], m);
    }
    json_object_object_add(j, "signals", sig);
    if (r->has_temperature) {
        json_object *t = json_object_new_object(), *tm = json_object_new_array();
        for (int k = 0; k <= r->members + 1; k++) {
            json_object *m = json_object_new_object();
            const rmens_eval_calib *c = k < r->members ? &r->member[k] : k == r->members ? &r->ensemble : &r->mean_margin;
            for (size_t q = 0; q < sizeof temperature_measures / sizeof *temperature_measures; q++)
                add_measure(m, &temperature_measures[q], c);
            if (k < r->members)
                json_object_array_add(tm, m);
            else
                json_object_object_add(t, k == r->members ? "ensemble" : "mean_margin", m);
        }
        json_object_object_add(t, "members", tm);
        json_object_object_add(t, "written", json_object_new_boolean(o->write_temperature));
        json_object_object_add(j, "temperature", t);
    }
    for (size_t q = 0; q < sizeof measures / sizeof *measures; q++) {
        const measure *m = &measures[q];
        if ((strcmp(m->section, "traps") == 0 && !r->has_traps) || (strcmp(m->section, "ood") == 0 && !r->has_ood))
            continue;
        if (!json_object_object_get_ex(j, m->section, &sec)) {
            sec = json_object_new_object();
            if (strcmp(m->section, "ood") == 0)
                json_object_object_add(sec, "data", json_object_new_string(o->ood));
            if (strcmp(m->section, "uncertainty") == 0)
                json_object_object_add(sec, "signal", json_object_new_string(rmens_signal_names[RMENS_UNCERTAINTY]));
            json_object_object_add(j, m->section, sec);
        }
        add_measure(sec, m, r);
    }
    return j;
}

/* The report to path, atomically (a temporary name renamed into place). */
static rmens_status write_json(const char *path, json_object *j)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f || fputs(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY), f) < 0 || fputc('\n', f) < 0 ||
        fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return rmens_fail(RMENS_ERR_IO, "cannot write %s", path);
    }
    return RMENS_OK;
}

/* A process reward model's report: printed, and as JSON. */
static void print_prm(const char *ckpt, const char *data, const rmens_prm_eval_result *r)
{
    printf("eval: process reward model %s on %s: %lld solutions, %lld steps (%lld labelled, %.1f%% correct)\n", ckpt,
           data, (long long)r->solutions, (long long)r->steps, (long long)r->labelled,
           r->labelled ? 100.0 * (double)r->positive / (double)r->labelled : 0.0);
    printf("  step accuracy   members");
    for (int k = 0; k < r->members; k++)
        printf(" %.4f", r->member_accuracy[k]);
    printf("\n                  ensemble by mean probability %.4f, by min %.4f\n", r->accuracy[RMENS_PRM_BY_MEAN],
           r->accuracy[RMENS_PRM_BY_MIN]);
    printf("  AUROC           ensemble mean %.4f, min %.4f; members' mean %.4f\n", r->auroc[RMENS_PRM_BY_MEAN],
           r->auroc[RMENS_PRM_BY_MIN], r->member_auroc_mean);
    printf("  ECE (10 bins)   ensemble mean %.4f, min %.4f\n", r->ece[RMENS_PRM_BY_MEAN], r->ece[RMENS_PRM_BY_MIN]);
    printf("  first error     F1 %.4f (ProcessBench): right first wrong step in %.4f of %lld solutions with an error,\n"
           "                  no error judged in %.4f of %lld without\n", r->first_error_f1, r->first_error_acc,
           (long long)r->with_error, r->no_error_acc, (long long)r->without_error);
    printf("  members' std    AUROC %.4f for the ensemble's wrong steps\n", r->std_auroc);
}

static json_object *prm_json(const char *ckpt, const char *data, const rmens_prm_eval_result *r)
{
    json_object *j = json_object_new_object(), *m = json_object_new_array();
    json_object_object_add(j, "checkpoint", json_object_new_string(ckpt));
    json_object_object_add(j, "data", json_object_new_string(data));
    json_object_object_add(j, "objective", json_object_new_string("prm"));
    json_object_object_add(j, "solutions", json_object_new_int64(r->solutions));
    json_object_object_add(j, "steps", json_object_new_int64(r->steps));
    json_object_object_add(j, "labelled_steps", json_object_new_int64(r->labelled));
    for (int k = 0; k < r->members; k++)
        json_object_array_add(m, num(r->member_accuracy[k]));
    json_object_object_add(j, "member_step_accuracy", m);
    static const char *const by[RMENS_PRM_BY_N] = {"mean", "min"};
    for (int b = 0; b < RMENS_PRM_BY_N; b++) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "step_accuracy", num(r->accuracy[b]));
        json_object_object_add(e, "auroc", num(r->auroc[b]));
        json_object_object_add(e, "ece", num(r->ece[b]));
        json_object_object_add(j, by[b], e);
    }
    json_object_object_add(j, "member_auroc_mean", num(r->member_auroc_mean));
    json_object_object_add(j, "std_auroc", num(r->std_auroc));
    json_object *fe = json_object_new_object();
    json_object_object_add(fe, "f1", num(r->first_error_f1));
    json_object_object_add(fe, "error_accuracy", num(r->first_error_acc));
    json_object_object_add(fe, "no_error_accuracy", num(r->no_error_acc));
    json_object_object_add(fe, "with_error", json_object_new_int64(r->with_error));
    json_object_object_add(fe, "without_error", json_object_new_int64(r->without_error));
    json_object_object_add(j, "first_error", fe);
    return j;
}

int rmens_cmd_eval(int argc, char **argv, MPI_Comm comm)
{
    static const struct option longopts[] = {
        {"ckpt", 1, 0, 'c'}, {"data", 1, 0, 'd'},      {"ood", 1, 0, 'O'},   {"json", 1, 0, 'j'},
        {"lambda", 1, 0, 'l'}, {"normalize", 1, 0, 'n'}, {"threads", 1, 0, 't'}, {"quiet", 0, 0, 'q'},
        {"help", 0, 0, 'h'}, {"data-mem", 1, 0, 'D'}, {"force", 0, 0, 'f'},
        {"fit-temperature", 0, 0, 'T'}, {"write-temperature", 0, 0, 'W'}, {0, 0, 0, 0}};
    rmens_eval_options o = {0};
    o.lambda = 0.5;
    o.normalize = -1;
    int c, rank = rmens_cli_rank(comm), quiet = 0;
    int64_t threads = 1;
    rmens_status st = RMENS_OK;
    opterr = 0;
    optind = 1;
    while (st == RMENS_OK && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o.ckpt = optarg; break;
        case 'd':
            /* --data given twice: the second file is the out-of-distribution one. */
            if (o.data && !o.ood)
                o.ood = optarg;
            else if (o.data)
                st = rmens_fail(RMENS_ERR_ARG, "--data given three times (or with --ood)");
            else
                o.data = optarg;
            break;
        case 'O':
            if (o.ood)
                st = rmens_fail(RMENS_ERR_ARG, "--ood given twice (or with a second --data)");
            o.ood = optarg;
            break;
        case 'f': o.force = 1; break;
        case 'T': o.fit_temperature = 1; break;
        case 'W': o.fit_temperature = o.write_temperature = 1; break;
        case 'j': o.json = optarg; break;
        case 'l':
            if (rmens_cli_double(optarg, &o.lambda) || o.lambda < 0)
                st = rmens_fail(RMENS_ERR_ARG, "--lambda: expected a non-negative number, got '%s'", optarg);
            break;
        case 'n':
            if (rmens_cli_normalize(optarg, &o.normalize))
                st = rmens_fail(RMENS_ERR_ARG, "--normalize: expected none or member, got '%s'", optarg);
            break;
        case 't':
            if (rmens_cli_int(optarg, &threads) || threads < 1)
                st = rmens_fail(RMENS_ERR_ARG, "--threads: expected a positive integer, got '%s'", optarg);
            break;
        case 'q': quiet = 1; break;
        case 'D':
            if (rmens_cli_data_mem(optarg, &o.data_budget))
                st = rmens_fail(RMENS_ERR_ARG, "--data-mem: expected a size such as 512M, 4G or 0, got '%s'", optarg);
            break;
        case 'h':
            if (rank == 0)
                fputs(help, stdout);
            return 0;
        default:
            st = rmens_fail(RMENS_ERR_ARG, "unknown or incomplete option '%s' (see rmens eval --help)", argv[optind - 1]);
        }
    }
    if (st == RMENS_OK && optind != argc)
        st = rmens_fail(RMENS_ERR_ARG, "unexpected argument '%s'", argv[optind]);
    if (st == RMENS_OK && (!o.ckpt || !o.data))
        st = rmens_fail(RMENS_ERR_ARG, "--ckpt and --data are required");
    if (st != RMENS_OK)
        return rmens_cli_report(comm, "eval", st);
    if (rmens_prm_wanted(o.ckpt, o.data)) {  /* a process reward model on a steps file */
        if (o.ood || o.fit_temperature)
            st = rmens_fail(RMENS_ERR_ARG, "--ood and temperatures apply to pairwise reward models");
        else if (rank == 0 && o.json && !o.force && access(o.json, F_OK) == 0)
            st = rmens_fail(RMENS_ERR_ARG, "--json %s already exists (--force replaces it)", o.json);
        if ((st = rmens_verdict(comm, st)) != RMENS_OK)
            return rmens_cli_report(comm, "eval", st);
        rmens_set_num_threads((int)threads);
        rmens_prm_eval_result pr;
        if ((st = rmens_prm_eval(o.ckpt, o.data, comm, &pr)) == RMENS_OK && rank == 0) {
            if (!quiet)
                print_prm(o.ckpt, o.data, &pr);
            if (o.json) {
                json_object *j = prm_json(o.ckpt, o.data, &pr);
                st = j ? write_json(o.json, j) : rmens_fail(RMENS_ERR_NOMEM, "out of memory for the JSON report");
                json_object_put(j);
            }
        }
        rmens_prm_eval_result_free(&pr);
        return rmens_cli_report(comm, "eval", st);
    }
    if ((st = rmens_cli_normalize_default(comm, o.ckpt, &o.normalize)) != RMENS_OK)
        return rmens_cli_report(comm, "eval", st);
    rmens_set_num_threads((int)threads);
    rmens_eval_result r;
    if ((st = rmens_eval(&o, comm, &r)) == RMENS_OK && rank == 0) {
        if (!quiet)
            print_table(&o, &r);
        if (o.json) {
            json_object *j = report_json(&o, &r);
            st = j ? write_json(o.json, j) : rmens_fail(RMENS_ERR_NOMEM, "out of memory for the JSON report");
            json_object_put(j);
        }
    }
    rmens_eval_result_free(&r);
    return rmens_cli_report(comm, "eval", st);
}
