/* rmens prep: runs on rank 0; the other ranks only share its verdict. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
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
    "  summarize OpenAI summarize-from-feedback comparisons: {\"info\": {\"post\" | \"article\",\n"
    "            \"title\", \"subreddit\"}, \"summaries\": [{\"text\"}, {\"text\"}], \"choice\": 0 | 1};\n"
    "            margin: \"extra\": {\"confidence\"} when the first record has it\n"
    "  ultrafeedback  UltraFeedback binarized: \"chosen\"/\"rejected\" message lists holding the\n"
    "            whole conversation; margin score_chosen - score_rejected\n"
    "  helpsteer2-pref  {\"prompt\", \"response_1\", \"response_2\", \"preference_strength\": -3..3}:\n"
    "            the sign picks the side (positive: response_2), |strength| is the margin\n"
    "  helpsteer2  one response per record: {\"prompt\", \"response\", \"helpfulness\",\n"
    "            \"correctness\", \"coherence\", \"complexity\", \"verbosity\"} (0-4); responses to\n"
    "            the same prompt make pairs by --helpsteer-weights, difference as margin\n"
    "  ranking   {\"prompt\", \"responses\": [...], \"ranking\": [1 = best, ...] | \"scores\": [...]}\n"
    "  ultrafeedback-raw  {\"instruction\", \"completions\": [{\"response\", \"overall_score\", ...}]}\n"
    "A record of K ranked responses (ranking, ultrafeedback-raw, helpsteer2) gives its\n"
    "K(K-1)/2 pairs, ties skipped, each weighted 1/(its prompt's pairs) in /weight so\n"
    "every prompt counts once in the loss; scores give margins (their difference).\n"
    "All are rendered with the HH template and tokenized by the byte tokenizer, unless\n"
    "--tokenizer and --template say otherwise (docs/TOKENIZERS.md). JSON\n"
    "is read as RFC 8259 defines it (no comments, single quotes, NaN or trailing commas);\n"
    "a UTF-8 byte order mark is skipped; INPUT may be a pipe (/dev/stdin).\n"
    "\n"
    "With --responses, INPUT holds prompts and responses to score (a policy's generations)\n"
    "and the output is a responses file; responses to the same prompt share a /prompt_id:\n"
    "  {\"prompt\": str | messages, \"response\": str | message | messages}\n"
    "  {\"prompt\": ..., \"responses\": [response, ...]}   (several per prompt)\n"
    "  {\"messages\": [...]} or {\"conversations\": [...]}: the last message (the assistant's)\n"
    "  is the response, the ones before it the prompt\n"
    "\n"
    "With --steps, INPUT is process supervision (a label per reasoning step) and the output\n"
    "is a steps file for process reward models (docs/FORMAT.md); --format auto tells these apart:\n"
    "  trl-prm   TRL's PRM format: {\"prompt\", \"completions\": [step, ...], \"labels\": [bool, ...]}\n"
    "            (a label may be a number in [0, 1], or null: unlabelled)\n"
    "  math-shepherd  {\"input\": \"question Step 1: ... ки\\nStep 2: ... ки\", \"label\": the same text\n"
    "            with + or - in place of each tag}; the question ends at \"Step 1:\"\n"
    "  prm800k   PRM800K phase files: question.problem, label.steps[].completions[].rating\n"
    "            (1 correct, -1 wrong, 0 neutral: --prm800k-neutral)\n"
    "Each step is followed by --step-separator; the step's label sits on the separator's last\n"
    "token, as in TRL's PRMTrainer.\n"
    "\n"
    "options:\n"
    "  --out FILE            output pairs file (required)\n"
    "  --responses           prompts and responses to score -> a responses file (above)\n"
    "  --steps               process supervision -> a steps file (above)\n"
    "  --step-separator S    text closing each step (default \"\\n\"; \\n, \\t and \\\\ are read as escapes)\n"
    "  --prm800k-neutral X   label of a PRM800K step rated 0: a number in [0, 1] (default 1: a\n"
    "                        neutral step is no error) or skip (unlabelled: no loss)\n"
    "  --val-out FILE        also write a validation split here\n"
    "  --val-fraction F      share of prompts sent to --val-out (default 0.1); the split\n"
    "                        hashes the prompt, so pairs sharing a prompt stay together\n"
    "  --seed S              seed of the split hash (default 1234)\n"
    "  --format NAME         auto (default), or one of the formats above\n"
    "  --margin-field NAME   per-pair margin field (default: \"margin\" if the first record\n"
    "                        has it, else score_chosen - score_rejected if present);\n"
    "                        none: write no margins\n"
    "  --margin-scale S      multiply every margin written by S (default 1), to make\n"
    "                        margins of different sources comparable (docs/TRAINING.md)\n"
    "  --helpsteer-weights h,c,co,cx,v  helpsteer2 score = h*helpfulness + c*correctness\n"
    "                        + co*coherence + cx*complexity + v*verbosity (default 1,0,0,0,0)\n"
    "  --score-field NAME    ultrafeedback-raw rating: overall_score (default, 1-10) or\n"
    "                        fine-grained_score (1-5)\n"
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
        {"responses", no_argument, 0, 'R'},       {"help", no_argument, 0, 'h'},
        {"margin-scale", required_argument, 0, 'S'}, {"helpsteer-weights", required_argument, 0, 'W'},
        {"score-field", required_argument, 0, 'C'},
        {"steps", no_argument, 0, 'Z'},           {"step-separator", required_argument, 0, 'E'},
        {"prm800k-neutral", required_argument, 0, 'N'},
        {0, 0, 0, 0}};
    char sep[256];
    rmens_prep_options o;
    rmens_prep_options_init(&o);
    int quiet = 0, c, rank = rmens_cli_rank(comm), fraction_given = 0;
    rmens_status st = RMENS_OK;
    int64_t iv;
    opterr = 0;
    optind = 1;
    while (st == RMENS_OK && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o.output = optarg; break;
        case 'v': o.val_output = optarg; break;
        case 'f':
            fraction_given = 1;
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
            for (int f = RMENS_PREP_AUTO; strcmp(rmens_prep_format_name((rmens_prep_format)f), "?") != 0; f++)
                if (strcmp(optarg, rmens_prep_format_name((rmens_prep_format)f)) == 0) {
                    o.format = (rmens_prep_format)f;
                    found = 1;
                }
            if (!found)
                st = rmens_fail(RMENS_ERR_ARG, "--format: unknown format '%s' (auto, hh, prompt, messages, "
                                "sharegpt, summarize, ultrafeedback, helpsteer2-pref, helpsteer2, ranking, "
                                "ultrafeedback-raw; with --steps: trl-prm, math-shepherd, prm800k)", optarg);
            break;
        }
        case 'm': o.margin_field = optarg; break;
        case 'S':
            if (rmens_cli_double(optarg, &o.margin_scale) || !(o.margin_scale >= 0))
                st = rmens_fail(RMENS_ERR_ARG, "--margin-scale: not a non-negative number: '%s'", optarg);
            break;
        case 'W': {
            char *s = optarg, *end;
            for (int k = 0; k < 5 && st == RMENS_OK; k++) {
                o.helpsteer_weights[k] = strtod(s, &end);
                if (end == s || (k < 4 && *end != ',') || (k == 4 && *end) || !isfinite(o.helpsteer_weights[k]))
                    st = rmens_fail(RMENS_ERR_ARG, "--helpsteer-weights: expected five numbers h,c,co,cx,v "
                                    "(helpfulness, correctness, coherence, complexity, verbosity), got '%s'", optarg);
                s = end + 1;
            }
            break;
        }
        case 'C': o.score_field = optarg; break;
        case 'b': o.skip_bad = 1; break;
        case 'n':
            if (rmens_cli_int(optarg, &o.max_records) || o.max_records < 1)
                st = rmens_fail(RMENS_ERR_ARG, "--max-records: not a positive integer: '%s'", optarg);
            break;
        case 'x': o.overwrite = 1; break;
        case 'T': o.tokenizer = optarg; break;
        case 'P': o.template_name = optarg; break;
        case 'R': o.responses = 1; break;
        case 'Z': o.steps = 1; break;
        case 'E':
            rmens_cli_unescape(optarg, sep, sizeof sep);
            o.step_separator = sep;
            break;
        case 'N':
            if (strcmp(optarg, "skip") == 0)
                o.prm800k_neutral = NAN;
            else if (rmens_cli_double(optarg, &o.prm800k_neutral) || !(o.prm800k_neutral >= 0 && o.prm800k_neutral <= 1))
                st = rmens_fail(RMENS_ERR_ARG, "--prm800k-neutral: expected a number in [0, 1] or skip, got '%s'", optarg);
            break;
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
    if (st == RMENS_OK && fraction_given && !o.val_output)
        st = rmens_fail(RMENS_ERR_ARG, "--val-fraction needs --val-out (the file the split goes to)");
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
