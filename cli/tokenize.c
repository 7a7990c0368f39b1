/* rmens tokenize: text to ids, token strings, or back to text, with a real tokenizer.
 * Runs on rank 0; the other ranks share its verdict. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "cli/cli.h"

static const char help[] =
    "usage: rmens tokenize --tokenizer DIR|FILE|bytes [--ids|--tokens|--decode] [--jsonl]\n"
    "                      [--add-special] [--special-as-text] [--skip-special] [FILE]\n"
    "\n"
    "Tokenizes text read from FILE (or standard input) with a Hugging Face tokenizer\n"
    "(a directory with tokenizer.json or vocab.json + merges.txt, or one of those files)\n"
    "or the byte tokenizer, exactly as Hugging Face's tokenizers would.\n"
    "\n"
    "By default the whole input is one text and its ids print on one line, separated by\n"
    "spaces. With --jsonl each input line is a JSON string and each output line the JSON\n"
    "array of its ids (or tokens, or, with --decode, each input line a JSON array of ids\n"
    "and each output line the JSON string of its text).\n"
    "\n"
    "options:\n"
    "  --ids              print ids (the default)\n"
    "  --tokens           print token strings as Hugging Face shows them (\"\\u0120world\")\n"
    "  --decode           read ids (separated by white space or commas) and print the text\n"
    "  --add-special      add the tokenizer's template tokens (Llama 3's BOS)\n"
    "  --special-as-text  special-token strings in the text are ordinary text\n"
    "  --skip-special     with --decode: leave special tokens out of the text\n";

typedef enum { MODE_IDS, MODE_TOKENS, MODE_DECODE } mode;

static rmens_status read_all(const char *path, char **buf, size_t *len)
{
    FILE *f = path ? fopen(path, "rb") : stdin;
    if (!f)
        return rmens_fail(RMENS_ERR_IO, "%s: cannot open", path);
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (size_t got; b && (got = fread(b + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (n + 1 == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                b = NULL;
            }
            b = nb;
        }
    }
    int err = ferror(f);
    if (path)
        fclose(f);
    if (!b)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory reading the input");
    if (err) {
        free(b);
        return rmens_fail(RMENS_ERR_IO, "%s: read error", path ? path : "standard input");
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return RMENS_OK;
}

/* Prints one encoded text: ids on one line, or a JSON array. */
static rmens_status print_encoded(rmens_tokenizer *t, const char *s, size_t n, unsigned flags, mode m,
                                  int jsonl)
{
    int32_t *ids;
    size_t k;
    RMENS_TRY(rmens_tokenizer_encode(t, s, n, flags, &ids, &k));
    char tok[4096];
    if (jsonl || m == MODE_TOKENS) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < k; i++)
            json_object_array_add(a, m == MODE_TOKENS
                                         ? json_object_new_string(rmens_tokenizer_token(t, ids[i], tok, sizeof tok) ? tok : "?")
                                         : json_object_new_int(ids[i]));
        puts(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(a);
    } else {
        for (size_t i = 0; i < k; i++)
            printf(i ? " %d" : "%d", ids[i]);
        putchar('\n');
    }
    free(ids);
    return RMENS_OK;
}

static rmens_status print_decoded(rmens_tokenizer *t, const int32_t *ids, size_t n, unsigned flags, int jsonl)
{
    char *text;
    size_t len;
    RMENS_TRY(rmens_tokenizer_decode(t, ids, n, flags, &text, &len));
    if (jsonl) {
        json_object *s = json_object_new_string_len(text, (int)len);
        puts(json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(s);
    } else {
        fwrite(text, 1, len, stdout);
    }
    free(text);
    return RMENS_OK;
}

static rmens_status parse_ids(const char *s, int32_t **ids, size_t *n)
{
    size_t cap = 64, k = 0;
    int32_t *v = malloc(cap * sizeof *v);
    if (!v)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    while (*s) {
        if (strchr(" \t\r\n,[]", *s)) {
            s++;
            continue;
        }
        char *end;
        long x = strtol(s, &end, 10);
        if (end == s || x < 0 || x > INT32_MAX) {
            free(v);
            return rmens_fail(RMENS_ERR_INPUT, "not an id: '%.20s'", s);
        }
        if (k == cap) {
            int32_t *nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv) {
                free(v);
                return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
            }
            v = nv;
        }
        v[k++] = (int32_t)x;
        s = end;
    }
    *ids = v;
    *n = k;
    return RMENS_OK;
}

static rmens_status run(rmens_tokenizer *t, const char *input, mode m, int jsonl, unsigned flags,
                        unsigned dflags)
{
    char *buf = NULL;
    size_t len = 0;
    RMENS_TRY(read_all(input, &buf, &len));
    rmens_status st = RMENS_OK;
    if (!jsonl) {
        if (m == MODE_DECODE) {
            int32_t *ids = NULL;
            size_t n = 0;
            if ((st = parse_ids(buf, &ids, &n)) == RMENS_OK) {
                st = print_decoded(t, ids, n, dflags, 0);
                free(ids);
            }
        } else {
            st = print_encoded(t, buf, len, flags, m, 0);
        }
        free(buf);
        return st;
    }
    size_t line = 0;
    for (char *p = buf; st == RMENS_OK && p < buf + len; line++) {
        char *nl = memchr(p, '\n', (size_t)(buf + len - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(buf + len - p);
        json_tokener *tk = json_tokener_new();
        json_object *o = tk ? json_tokener_parse_ex(tk, p, (int)ll) : NULL;
        int ok = o && json_tokener_get_error(tk) == json_tokener_success;
        json_tokener_free(tk);
        if (m != MODE_DECODE && ok && json_object_is_type(o, json_type_string)) {
            st = print_encoded(t, json_object_get_string(o), (size_t)json_object_get_string_len(o), flags, m, 1);
        } else if (m == MODE_DECODE && ok && json_object_is_type(o, json_type_array)) {
            size_t n = json_object_array_length(o);
            int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
            if (!ids)
                st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
            for (size_t i = 0; st == RMENS_OK && i < n; i++) {
                json_object *v = json_object_array_get_idx(o, i);
                if (!json_object_is_type(v, json_type_int))
                    st = rmens_fail(RMENS_ERR_INPUT, "line %zu: item %zu is not an id", line + 1, i);
                else
                    ids[i] = (int32_t)json_object_get_int64(v);
            }
            if (st == RMENS_OK)
                st = print_decoded(t, ids, n, dflags, 1);
            free(ids);
        } else if (ll > 0) {
            st = rmens_fail(RMENS_ERR_INPUT, "line %zu is not a JSON %s", line + 1,
                            m == MODE_DECODE ? "array of ids" : "string");
        }
        if (st != RMENS_OK)
            st = rmens_fail_context(st, "%s: ", input ? input : "standard input");
        json_object_put(o);
        p += ll + 1;
    }
    free(buf);
    return st;
}

int rmens_cmd_tokenize(int argc, char **argv, MPI_Comm comm)
{
    static const struct option longopts[] = {
        {"tokenizer", required_argument, 0, 't'}, {"ids", no_argument, 0, 'i'},
        {"tokens", no_argument, 0, 'k'}, {"decode", no_argument, 0, 'd'},
        {"jsonl", no_argument, 0, 'j'}, {"add-special", no_argument, 0, 'a'},
        {"special-as-text", no_argument, 0, 's'}, {"skip-special", no_argument, 0, 'S'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *path = NULL;
    mode m = MODE_IDS;
    int jsonl = 0, c, rank = rmens_cli_rank(comm);
    unsigned flags = 0, dflags = 0;
    rmens_status st = RMENS_OK;
    opterr = 0;
    optind = 1;
    while (st == RMENS_OK && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 't': path = optarg; break;
        case 'i': m = MODE_IDS; break;
        case 'k': m = MODE_TOKENS; break;
        case 'd': m = MODE_DECODE; break;
        case 'j': jsonl = 1; break;
        case 'a': flags |= RMENS_TOKENIZE_ADD_SPECIAL; break;
        case 's': flags |= RMENS_TOKENIZE_SPECIAL_AS_TEXT; break;
        case 'S': dflags |= RMENS_DECODE_SKIP_SPECIAL; break;
        case 'h':
            if (rank == 0)
                fputs(help, stdout);
            return 0;
        default:
            st = rmens_fail(RMENS_ERR_ARG, "unknown or incomplete option '%s' (see rmens tokenize --help)",
                            argv[optind - 1]);
        }
    }
    if (st == RMENS_OK && !path)
        st = rmens_fail(RMENS_ERR_ARG, "--tokenizer is required (see rmens tokenize --help)");
    if (st == RMENS_OK && optind < argc - 1)
        st = rmens_fail(RMENS_ERR_ARG, "at most one input FILE (see rmens tokenize --help)");
    if (st == RMENS_OK && rank == 0) {
        rmens_tokenizer *t = NULL;
        st = strcmp(path, "bytes") == 0 ? rmens_tokenizer_bytes(&t) : rmens_tokenizer_load(&t, path);
        if (st == RMENS_OK)
            st = run(t, optind < argc ? argv[optind] : NULL, m, jsonl, flags, dflags);
        rmens_tokenizer_free(t);
        if (fflush(stdout) != 0 && st == RMENS_OK)
            st = rmens_fail(RMENS_ERR_IO, "cannot write the output");
    }
    return rmens_cli_report(comm, "tokenize", st);
}
