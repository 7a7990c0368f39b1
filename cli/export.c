/* rmens export: members of an ensemble checkpoint as Hugging Face reward models (serial). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "cli/cli.h"
#include "io/hfexport.h"

static const char help[] =
    "usage: rmens export --ckpt ens.h5 (--member K | --all) --out DIR [--tokenizer TOKDIR] [--force]\n"
    "\n"
    "Writes members as Hugging Face reward models that transformers, TRL, OpenRLHF and vLLM\n"
    "load as <Arch>ForSequenceClassification (one label): DIR/config.json, DIR/model.safetensors\n"
    "(float32, Hugging Face tensor names, score.weight [1, hidden]) and the tokenizer files.\n"
    "With --all, one such directory per member: DIR/member-K.\n"
    "\n"
    "  --member K         the member to write (0-based)\n"
    "  --all              every member, as DIR/member-K\n"
    "  --tokenizer TOKDIR copy the tokenizer files from TOKDIR (checked against the checkpoint's\n"
    "                     tokenizer); default: the directory the ensemble was trained from\n"
    "                     (train --init DIR) when its tokenizer is still the same. Without either,\n"
    "                     the model is written without tokenizer files, and export says so.\n"
    "  --force            replace DIR if it exists and is not empty\n"
    "\n"
    "config.json is the one of the --init directory (else written from the model's config)\n"
    "with architectures, one label and a pad_token_id chosen so that transformers reads the\n"
    "reward at the same token as rmens: the last token of the sequence (docs/FORMAT.md).\n"
    "DIR is built under DIR.tmp.<pid> and renamed into place when complete.\n";

int rmens_cmd_export(int argc, char **argv, MPI_Comm comm)
{
    static const struct option longopts[] = {
        {"ckpt", 1, 0, 'c'}, {"member", 1, 0, 'm'}, {"all", 0, 0, 'a'}, {"out", 1, 0, 'o'},
        {"tokenizer", 1, 0, 't'}, {"force", 0, 0, 'f'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    rmens_hfexport_options o = {.member = -2};
    int all = 0, c, rank = rmens_cli_rank(comm);
    int64_t k;
    rmens_status st = RMENS_OK;
    opterr = 0;
    optind = 1;
    while (st == RMENS_OK && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o.ckpt = optarg; break;
        case 'o': o.out = optarg; break;
        case 't': o.tokenizer = optarg; break;
        case 'f': o.force = 1; break;
        case 'a': all = 1; break;
        case 'm':
            if (rmens_cli_int(optarg, &k) != 0 || k < 0 || k > 1000000)
                st = rmens_fail(RMENS_ERR_ARG, "--member %s: not a member index", optarg);
            o.member = (int)k;
            break;
        case 'h':
            if (rank == 0)
                fputs(help, stdout);
            return 0;
        default:
            st = rmens_fail(RMENS_ERR_ARG, "unknown or incomplete option '%s' (see rmens export --help)",
                            argv[optind - 1]);
        }
    }
    if (st == RMENS_OK && optind < argc)
        st = rmens_fail(RMENS_ERR_ARG, "unexpected argument '%s' (see rmens export --help)", argv[optind]);
    if (st == RMENS_OK && (!o.ckpt || !o.out))
        st = rmens_fail(RMENS_ERR_ARG, "--ckpt and --out are required (see rmens export --help)");
    if (st == RMENS_OK && all == (o.member >= 0))
        st = rmens_fail(RMENS_ERR_ARG, "give one of --member K and --all");
    if (all)
        o.member = -1;
    rmens_hfexport_result r;
    if (st == RMENS_OK && rank == 0 && (st = rmens_hfexport(&o, &r)) == RMENS_OK) {
        printf("export: %s -> %s (%d %s, %s)\n", o.ckpt, o.out, r.members,
               r.members == 1 ? "member" : "members as member-K", r.arch);
        printf("  config.json   %s; pad_token_id %lld (%s)\n",
               r.config_kept ? "the --init directory's" : "written from the model's config",
               (long long)r.pad_token_id,
               r.pad_unused ? "an id no text tokenizes to" : "not the end token every sequence ends with");
        if (r.tokenizer_from[0])
            printf("  tokenizer     copied from %s\n", r.tokenizer_from);
        else
            printf("  tokenizer     none copied: %s\n", r.no_tokenizer);
    }
    return rmens_cli_report(comm, "export", st);
}
