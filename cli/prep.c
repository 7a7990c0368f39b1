/* rmens prep: runs on rank 0; the other ranks only share its verdict. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "cli/cli.h"

static const char help[] =
    "usage: rmens prep INPUT --out FILE [options]\n"
    "\n"
    "Converts preference data to an rmens pairs file (docs/FORMAT.md). INPUT is JSON Lines\n"
    "or a JSON array, plain or gzip-compressed, in one of these formats:\n"
    "  hh        {\"chosen\": \"\\n\\nHuman: ...\\n\\nAssistant: ...\", \"rejected\": ...} (HH-RLHF)\n"
    "  prompt    {\"prompt\": str, \"chosen\": str, \"rejected\": str}\n"
    "  messages  prompt/chosen/rejected as [{\"role\", \"content\"}] lists (TRL conversational;\n"
    "            without \"prompt\", the messages both sides share are the prompt)\n"
    "  sharegpt  {\"conversations\": [{\"from\", \"value\"}], \"chosen\": {...}, \"rejected\": {...}}\n"
    "All are rendered with the HH template and tokenized by the byte tokenizer, unless\n"
    "--tokenizer and --template say otherwise (docs/TOKENIZERS.md).\n"
    "\n"
    "options:\n"
    "  --out FILE            output pairs file (required)\n"
    "  --val-out FILE        also write a validation split here\n"
    "  --val-fraction F      share of prompts sent to --val-out (default 0.1); the split\n"
    "                        hashes the prompt, so pairs sharing a prompt stay together\n"
    "  --seed S              seed of the split hash (default 1234)\n"
    "  --format NAME         auto (default), hh, prompt, messages or sharegpt\n"
    "  --margin-field NAME   per-pair margin field (default: \"margin\" if the first record\n"
    "                        has it, else score_chosen - score_rejected if present)\n"
    "  --skip-bad            skip malformed records (counted) instead of stopping\n"
    "  --max-records N       read at most N records\n"
    "  --tokenizer DIR|FILE  a Hugging Face tokenizer (tokenizer.json, or vocab.json +\n"
    "                        merges.txt); each side is rendered and tokenized as one string\n"
    "  --template NAME       hh (default), chatml, llama3, plain, or auto (from the\n"
    "                        tokenizer's chat_template)\n"
    "  --force               replace existing output files\n"
    "  --quiet               print nothing but errors\n";

int rmens_cmd_prep(int argc, char **argv, MPI_Comm comm)
{
    static const struct option longopts[] = {
        {"out", required_argument, 0, 'o'},       {"val-out", required_argument, 0, 'v'},
        {"val-fraction", required_argument, 0, 'f'}, {"seed", required_argument, 0, 's'},
        {"format", required_argument, 0, 'F'},    {"margin-field", required_argument, 0, 'm'},
        {"skip-bad", no_argument, 0, 'b'},        {"max-records", required_argument, 0, 'n'},
        {"force", no_argument, 0, 'x'},           {"quiet", no_argument, 0, 'q'},
        {"tokenizer", required_argument, 0, 'T'}, {"template", required_argument, 0, 'P'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    rmens_prep_options o;
    rmens_prep_options_init(&o);
    int quiet = 0, c, rank = rmens_cli_rank(comm);
    rmens_status st = RMENS_OK;
    int64_t iv;
    opterr = 0;
    optind = 1;
    while (st == RMENS_OK && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o.output = optarg; break;
        case 'v': o.val_output = optarg; break;
        case 'f':
            if (rmens_cli_double(optarg, &o.val_fraction))
                st = rmens_fail(RMENS_ERR_ARG, "--val-fraction: not a number: '%s'", optarg);
            break;
        case 's':
            if (rmens_cli_int(optarg, &iv) || iv < 0)
                st = rmens_fail(RMENS_ERR_ARG, "--seed: not a non-negative integer: '%s'", optarg);
            o.seed = (uint64_t)iv;
            break;
        case 'F': {
            int found = 0;
            for (int f = RMENS_PREP_AUTO; f <= RMENS_PREP_SHAREGPT; f++)
                if (strcmp(optarg, rmens_prep_format_name((rmens_prep_format)f)) == 0) {
                    o.format = (rmens_prep_format)f;
                    found = 1;
                }
            if (!found)
                st = rmens_fail(RMENS_ERR_ARG, "--format: unknown format '%s' (auto, hh, prompt, "
                                "messages, sharegpt)", optarg);
            break;
        }
        case 'm': o.margin_field = optarg; break;
        case 'b': o.skip_bad = 1; break;
        case 'n':
            if (rmens_cli_int(optarg, &o.max_records) || o.max_records < 1)
                st = rmens_fail(RMENS_ERR_ARG, "--max-records: not a positive integer: '%s'", optarg);
            break;
        case 'x': o.overwrite = 1; break;
        case 'T': o.tokenizer = optarg; break;
        case 'P': o.template_name = optarg; break;
        case 'q': quiet = 1; break;
        case 'h':
            if (rank == 0)
                fputs(help, stdout);
            return 0;
        default:
            st = rmens_fail(RMENS_ERR_ARG, "unknown or incomplete option '%s' (see rmens prep --help)",
                            argv[optind - 1]);
        }
    }
    if (st == RMENS_OK && optind != argc - 1)
        st = rmens_fail(RMENS_ERR_ARG, "expected exactly one INPUT file (see rmens prep --help)");
    if (st == RMENS_OK && !o.output)
        st = rmens_fail(RMENS_ERR_ARG, "--out FILE is required");
    if (st == RMENS_OK)
        o.input = argv[optind];
    if (st != RMENS_OK)
        return rmens_cli_report(comm, "prep", st);
    rmens_prep_report rep;
    if (rank == 0) {
        st = rmens_prep(&o, &rep);
        if (st == RMENS_OK && !quiet)
            rmens_prep_report_print(stdout, &o, &rep);
    }
    return rmens_cli_report(comm, "prep", st);
}
