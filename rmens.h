/* rmens: ensembles of reward models for RLHF, trained with MPI on HPC clusters.
 *
 * Usage (convert preference data, then read it back; build with
 * `cc app.c $(pkg-config --cflags --libs rmens)`, no MPI compiler needed):
 *
 *     #include <rmens.h>
 *
 *     rmens_prep_options po;
 *     rmens_prep_options_init(&po);
 *     po.input = "hh.jsonl.gz";            // JSON Lines or JSON array, plain or gzip
 *     po.output = "train.h5";              // written to a temporary name, renamed on success
 *     rmens_prep_report rep;
 *     if (rmens_prep(&po, &rep) != RMENS_OK)
 *         fprintf(stderr, "%s\n", rmens_last_error());
 *
 *     rmens_dataset *ds;
 *     if (rmens_dataset_read(&ds, "train.h5") == RMENS_OK) {
 *         int64_t len;
 *         const int32_t *tok = rmens_dataset_seq(ds, RMENS_SIDE_CHOSEN, 0, &len);
 *         ...
 *         rmens_dataset_free(ds);
 *     }
 *
 * Conventions: names are rmens_<noun>_<verb>; structs are opaque unless they are
 * option or report records; functions return rmens_status and leave a message for
 * rmens_last_error(), which names option fields as `field` (the struct member); nothing
 * in the library prints, exits or aborts. Everything here
 * is serial and needs no MPI; the collective entry points (taking an MPI_Comm) are in
 * <rmens_mpi.h>. Only what is declared RMENS_API is exported. Enums only ever grow.
 */
#ifndef RMENS_H
#define RMENS_H

/* Marks the library's exported symbols (it is built with -fvisibility=hidden). */
#if defined(__GNUC__) && __GNUC__ >= 4
#define RMENS_API __attribute__((visibility("default")))
#else
#define RMENS_API
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- errors */

typedef enum {
    RMENS_OK = 0,
    RMENS_ERR_NOMEM = 1,
    RMENS_ERR_IO = 2,       /* a file could not be opened, read, written or renamed */
    RMENS_ERR_HDF5 = 3,     /* the HDF5 library failed */
    RMENS_ERR_FORMAT = 4,   /* an rmens HDF5 file violates docs/FORMAT.md */
    RMENS_ERR_INPUT = 5,    /* input data (JSON, text) is malformed */
    RMENS_ERR_ARG = 6,      /* a caller passed an invalid argument or option */
    RMENS_ERR_MPI = 7,      /* an MPI call failed */
    RMENS_ERR_NUMERIC = 8,  /* NaN or Inf where a finite value is required */
    RMENS_ERR_INTERNAL = 9
} rmens_status;

RMENS_API const char *rmens_strerror(rmens_status code);
/* The message of the calling thread's last failure: what went wrong and where. */
RMENS_API const char *rmens_last_error(void);
RMENS_API const char *rmens_version_string(void);

/* ------------------------------------------------------------- tokenizer */

/* The built-in byte tokenizer: ids 0-255 are bytes, 256 is end-of-text. */
#define RMENS_BYTES_VOCAB 257
#define RMENS_BYTES_EOT 256

/* Writes len + 1 ids (the bytes, then end-of-text) to out; returns len + 1. */
RMENS_API size_t rmens_tokenize_bytes(int32_t *out, const char *text, size_t len);
/* Writes the bytes of ids 0-255 to out (at most n bytes, no terminator), stopping at the
 * first end-of-text; returns the number written, or (size_t)-1 if an id is not a byte. */
RMENS_API size_t rmens_detokenize_bytes(char *out, const int32_t *ids, size_t n);

/* A tokenizer object: the byte tokenizer above, or a Hugging Face byte-level BPE
 * (GPT-2, GPT-NeoX/Pythia, Llama 3, SmolLM2, Qwen2/2.5/3) read from a directory holding
 * tokenizer.json (+ tokenizer_config.json) or GPT-2's vocab.json + merges.txt, or from
 * one of those files. Ids equal Hugging Face tokenizers' (docs/TOKENIZERS.md says what is
 * supported and what is refused by name). Encoding uses scratch space and a word cache
 * inside the object: one thread at a time per tokenizer (load one per thread).
 *
 *     rmens_tokenizer *tk;
 *     if (rmens_tokenizer_load(&tk, "Qwen3-0.6B/") != RMENS_OK) ...rmens_last_error()...
 *     int32_t *ids; size_t n;
 *     rmens_tokenizer_encode(tk, text, strlen(text), 0, &ids, &n);  // free(ids)
 */
typedef struct rmens_tokenizer rmens_tokenizer;

RMENS_API rmens_status rmens_tokenizer_load(rmens_tokenizer **out, const char *path);
RMENS_API rmens_status rmens_tokenizer_bytes(rmens_tokenizer **out);
RMENS_API void rmens_tokenizer_free(rmens_tokenizer *t);

/* Encoding flags. ADD_SPECIAL: the post-processor's tokens (Llama 3's BOS; the byte
 * tokenizer's end-of-text), as HF's add_special_tokens=True. SPECIAL_AS_TEXT: special-
 * token strings inside the text are ordinary text (HF's split_special_tokens=True);
 * by default they become their special ids, as in Hugging Face. */
#define RMENS_TOKENIZE_ADD_SPECIAL 1u
#define RMENS_TOKENIZE_SPECIAL_AS_TEXT 2u
/* Tokenizes text (valid UTF-8 for a BPE tokenizer); *ids is allocated (free()). */
RMENS_API rmens_status rmens_tokenizer_encode(rmens_tokenizer *t, const char *text, size_t len, unsigned flags,
                                    int32_t **ids, size_t *n);
#define RMENS_DECODE_SKIP_SPECIAL 1u
/* Text of ids, NUL-terminated, allocated (free()); invalid UTF-8 that a cut through a
 * character leaves becomes U+FFFD, as in Hugging Face's decode. */
RMENS_API rmens_status rmens_tokenizer_decode(const rmens_tokenizer *t, const int32_t *ids, size_t n,
                                    unsigned flags, char **text, size_t *len);

/* "bytes", or the name of the directory the tokenizer was read from. */
RMENS_API const char *rmens_tokenizer_name(const rmens_tokenizer *t);
/* Hex SHA-256 of tokenizer.json's bytes (of vocab.json's then merges.txt's for the
 * pair); "" for the byte tokenizer. */
RMENS_API const char *rmens_tokenizer_sha256(const rmens_tokenizer *t);
/* One more than the largest id. */
RMENS_API int32_t rmens_tokenizer_vocab_size(const rmens_tokenizer *t);
/* Special ids from tokenizer_config.json (-1 when there is none). */
RMENS_API int32_t rmens_tokenizer_bos_id(const rmens_tokenizer *t);
RMENS_API int32_t rmens_tokenizer_eos_id(const rmens_tokenizer *t);
RMENS_API int32_t rmens_tokenizer_pad_id(const rmens_tokenizer *t);
/* The id of a token given as its text (an added token's content or a vocabulary
 * token's bytes), or -1. */
RMENS_API int32_t rmens_tokenizer_token_id(const rmens_tokenizer *t, const char *token);
RMENS_API int rmens_tokenizer_is_special(const rmens_tokenizer *t, int32_t id);
/* The token string of id as Hugging Face shows it (convert_ids_to_tokens: GPT-2's byte
 * alphabet, "\u0120world"; an added token's content), NUL-terminated in buf of cap bytes;
 * NULL when id is not a token or buf is too small. */
RMENS_API const char *rmens_tokenizer_token(const rmens_tokenizer *t, int32_t id, char *buf, size_t cap);
RMENS_API int rmens_tokenizer_is_bytes(const rmens_tokenizer *t);
/* tokenizer_config.json's tokenizer_class and chat_template ("" / NULL when absent). */
RMENS_API const char *rmens_tokenizer_class(const rmens_tokenizer *t);
RMENS_API const char *rmens_tokenizer_chat_template(const rmens_tokenizer *t);

/* --------------------------------------------------------------- dataset */

/* A preference ("pairs") or single-response ("responses") data set: docs/FORMAT.md. */
typedef struct rmens_dataset rmens_dataset;

/* STEPS: solutions with a label per reasoning step, for process reward models; a step's
 * label is in [0, 1], or RMENS_STEP_UNLABELLED (no loss, no metric). */
#define RMENS_STEP_UNLABELLED (-1.0f)
typedef enum { RMENS_DATA_PAIRS = 1, RMENS_DATA_RESPONSES = 2, RMENS_DATA_STEPS = 3 } rmens_data_kind;
typedef enum { RMENS_SIDE_CHOSEN = 0, RMENS_SIDE_REJECTED = 1, RMENS_SIDE_RESPONSE = 0 } rmens_side;
typedef enum {
    RMENS_TRAP_NONE = 0,
    RMENS_TRAP_LENGTH = 1,      /* the rejected response is longer */
    RMENS_TRAP_FORMAT = 2,      /* the rejected response has bullets / bold */
    RMENS_TRAP_CONFIDENCE = 3,  /* the rejected response sounds more certain */
    RMENS_TRAP_SYCOPHANCY = 4   /* the prompt asserts a wrong answer; the rejected response agrees */
} rmens_trap;

/* Reads and validates a file (rmens_mpi.h: the same, collectively, through MPI-IO). */
RMENS_API rmens_status rmens_dataset_read(rmens_dataset **out, const char *path);
/* The same, within a memory budget: when the tokens would take more than max_bytes they
 * stay in the file and are read on demand, sequentially in large chunks or record by
 * record (max_bytes < 0: no limit; docs/RELIABILITY.md). A streamed data set must not be
 * used by two threads at once. */
RMENS_API rmens_status rmens_dataset_read_bounded(rmens_dataset **out, const char *path, int64_t max_bytes);
/* 1 if the tokens are read on demand. */
RMENS_API int rmens_dataset_streamed(const rmens_dataset *ds);
/* Writes to path + a temporary suffix, then renames: path is never left half-written. */
RMENS_API rmens_status rmens_dataset_write(const rmens_dataset *ds, const char *path);
RMENS_API void rmens_dataset_free(rmens_dataset *ds);

RMENS_API rmens_data_kind rmens_dataset_kind(const rmens_dataset *ds);
RMENS_API int64_t rmens_dataset_count(const rmens_dataset *ds);
RMENS_API int32_t rmens_dataset_vocab_size(const rmens_dataset *ds);
/* Tokens of record i on one side (RMENS_SIDE_RESPONSE for a responses file). For a
 * streamed data set the pointer is valid until the next call for the same side, and a
 * failed read returns NULL with *len 0 and the message set (rmens_last_error). */
RMENS_API const int32_t *rmens_dataset_seq(const rmens_dataset *ds, rmens_side side, int64_t i,
                                 int64_t *len);
/* Length in tokens of record i on one side, without reading the tokens. */
RMENS_API int64_t rmens_dataset_len(const rmens_dataset *ds, rmens_side side, int64_t i);
/* Shared leading tokens of pair i (the prompt); 0 when the file has none. */
RMENS_API int32_t rmens_dataset_prompt_len(const rmens_dataset *ds, int64_t i);
/* Which prompt response i answers (0-based; equal ids, equal prompt); -1 when the file
 * has no /prompt_id. */
RMENS_API int64_t rmens_dataset_prompt_id(const rmens_dataset *ds, int64_t i);
/* Preference strength of pair i; 0 when the file has no /margin. */
RMENS_API float rmens_dataset_margin(const rmens_dataset *ds, int64_t i);
RMENS_API int rmens_dataset_has_margin(const rmens_dataset *ds);

typedef struct {
    int64_t n_records, n_sequences, n_tokens;
    int64_t len_median, len_p90, len_max, len_min;  /* tokens per sequence, EOT included */
    double prompt_frac;    /* mean over pairs of prompt_len / longer sequence */
    double chosen_longer;  /* fraction of pairs whose chosen sequence is the longer one */
} rmens_dataset_stats;
RMENS_API rmens_status rmens_dataset_stats_compute(const rmens_dataset *ds, rmens_dataset_stats *st);

/* ----------------------------------------------------------------- model */

/* Shape of a reward model (Hugging Face <Arch>ForSequenceClassification, 1 label). The
 * first five fields are all GPT-2 needs; the rest are zero for GPT-2, and zero means the
 * architecture's default (model/arch.h: rmens_arch_from_hf fills them from config.json). */
typedef struct {
    int vocab_size, n_ctx, n_layer, n_head, n_embd;
    int arch;            /* RMENS_ARCH_*: 0 GPT-2, 1 Llama, 2 Qwen2, 3 Qwen3, 4 GPT-NeoX */
    int n_kv_head;       /* key/value heads (grouped-query attention); 0: n_head */
    int head_dim;        /* 0: n_embd / n_head */
    int n_inner;         /* MLP width; 0: 4 n_embd */
    int qkv_bias, o_bias;/* q/k/v projections and o_proj carry biases */
    int qk_norm;         /* per-head RMSNorm of q and k before RoPE (Qwen3) */
    int tie_embeddings;  /* config's tie_word_embeddings (lm_head is not part of an RM) */
    float norm_eps;      /* RMSNorm epsilon; 0: 1e-6 */
    float rope_theta;    /* 0: 10000 */
    float partial_rotary;/* fraction of head_dim rotated; 0: 1 */
    int rope_type;       /* 0: default, 1: llama3 */
    float rope_factor, rope_low_freq, rope_high_freq;
    int rope_original_ctx;
    int parallel_residual; /* GPT-NeoX: x + attn(ln1(x)) + mlp(ln2(x)) instead of two steps */
} rmens_model_config;

typedef struct rmens_model rmens_model;

/* A freshly initialised model (GPT-2 initialisation, reproducible from seed). */
RMENS_API rmens_status rmens_model_new(rmens_model **out, const rmens_model_config *cfg, uint64_t seed);
/* Loads a "model" file, or a Hugging Face model directory (config.json + safetensors;
 * docs/FORMAT.md); a model without score.weight (a language model) gets a fresh head
 * drawn from seed, and *fresh_head (if not NULL) is set to 1. */
RMENS_API rmens_status rmens_model_load(rmens_model **out, const char *path, uint64_t seed, int *fresh_head);
/* Writes a "model" file (temporary name, then rename). */
RMENS_API rmens_status rmens_model_save(const rmens_model *m, const char *path);
RMENS_API void rmens_model_free(rmens_model *m);
RMENS_API const rmens_model_config *rmens_model_get_config(const rmens_model *m);
/* Threads OpenBLAS uses for the products (the result is bit-identical for a given count). */
RMENS_API void rmens_set_num_threads(int n);
RMENS_API size_t rmens_model_num_params(const rmens_model *m);

/* --------------------------------------------------------------- scoring */

/* An ensemble opened for scoring: an ensemble checkpoint, or a model file as a
 * one-member ensemble. No MPI needed. Thread-safe: concurrent calls on one ensemble are
 * serialised by a lock (the members share one activation buffer); for parallel scoring
 * open one ensemble per thread (opening and closing take a process-wide lock, since
 * HDF5 as Debian builds it is not thread-safe; scoring does no HDF5 work). Opening
 * loads the weights only; the forward pass's buffers (64 sequences of up to n_ctx
 * tokens, one layer at a time) are reserved by the first score. */
typedef struct rmens_ensemble rmens_ensemble;

/* Aggregates of one sequence's rewards over the members. */
typedef struct {
    float mean, min, max;
    float var;  /* population variance across members */
    float std;
    float uwo;  /* mean - lambda * var: uncertainty-weighted optimisation */
} rmens_score_stats;

RMENS_API rmens_status rmens_ensemble_open(rmens_ensemble **out, const char *path);
RMENS_API void rmens_ensemble_close(rmens_ensemble *e);
RMENS_API int rmens_ensemble_members(const rmens_ensemble *e);
RMENS_API const rmens_model_config *rmens_ensemble_config(const rmens_ensemble *e);
/* Member k's reward mean and std over its training data, or an evenly spaced sample of
 * train --norm-pairs of its pairs (0 and 1 for a model file). */
RMENS_API void rmens_ensemble_member_stats(const rmens_ensemble *e, int k, double *mean, double *std);
/* Scores n token sequences (prompt + response + end-of-text; longer than n_ctx: cut from
 * the front, counted in *n_cut if not NULL). normalize: each
 * member's rewards are first standardised by its training statistics. rewards: [n][K]
 * per member (or NULL); stats: [n] aggregates (or NULL). */
RMENS_API rmens_status rmens_ensemble_score(rmens_ensemble *e, const int32_t *const *seqs, const int64_t *lens,
                                  int64_t n, int normalize, float lambda, float *rewards,
                                  rmens_score_stats *stats, int64_t *n_cut);
/* The same for one text, tokenized by the checkpoint's tokenizer: the byte tokenizer
 * (end-of-text appended), or the Hugging Face tokenizer given to
 * rmens_ensemble_set_tokenizer (the text is the rendered conversation; the EOS id is
 * appended unless its last token is already a special token such as <|im_end|>, as
 * rmens prep does). A checkpoint trained on another tokenizer with none given is
 * refused, never read as bytes. */
RMENS_API rmens_status rmens_ensemble_score_text(rmens_ensemble *e, const char *text, size_t len, int normalize,
                                       float lambda, float *rewards, rmens_score_stats *stats);
/* The tokenizer score_text uses (not owned; it must outlive e, and is used from e's
 * calls only). Refused unless it is the checkpoint's: same name and SHA-256. */
RMENS_API rmens_status rmens_ensemble_set_tokenizer(rmens_ensemble *e, rmens_tokenizer *tk);

/* ------------------------------------------------------------------ prep */

typedef enum {
    RMENS_PREP_AUTO = 0,
    RMENS_PREP_HH = 1,        /* {"chosen": "\n\nHuman: ...\n\nAssistant: ...", "rejected": ...} */
    RMENS_PREP_PROMPT = 2,    /* {"prompt": str, "chosen": str, "rejected": str} */
    RMENS_PREP_MESSAGES = 3,  /* prompt/chosen/rejected as [{"role","content"}] lists */
    RMENS_PREP_SHAREGPT = 4,  /* {"conversations": [{"from","value"}], "chosen": {...}, ...} */
    RMENS_PREP_SUMMARIZE = 5, /* OpenAI summarize-from-feedback: {"info", "summaries", "choice"} */
    RMENS_PREP_ULTRAFEEDBACK = 6,   /* UltraFeedback binarized: chosen/rejected lists + scores */
    RMENS_PREP_HELPSTEER2_PREF = 7, /* {"prompt", "response_1", "response_2", "preference_strength"} */
    RMENS_PREP_HELPSTEER2 = 8,      /* {"prompt", "response", "helpfulness", ...}: pairs by prompt */
    RMENS_PREP_RANKING = 9,         /* {"prompt", "responses", "ranking" | "scores"}: K(K-1)/2 pairs */
    RMENS_PREP_ULTRAFEEDBACK_RAW = 10, /* {"instruction", "completions": [{"response", ratings}]} */
    /* Process supervision -> a steps file (io/prep_steps.c): */
    RMENS_PREP_TRL_PRM = 11,        /* TRL: {"prompt", "completions": [step, ...], "labels": [bool, ...]} */
    RMENS_PREP_MATH_SHEPHERD = 12,  /* {"input": "... step ки\n...", "label": "... step +\n..."} */
    RMENS_PREP_PRM800K = 13         /* PRM800K phase files: label.steps[].completions[].rating */
} rmens_prep_format;

typedef struct {
    const char *input;         /* .jsonl/.json, optionally .gz */
    const char *output;        /* pairs file */
    const char *val_output;    /* optional second file receiving a held-out split */
    double val_fraction;       /* fraction of pairs sent to val_output (by hash of record) */
    uint64_t seed;             /* seeds the split hash */
    rmens_prep_format format;
    const char *margin_field;  /* NULL: "margin" if present, else score_chosen - score_rejected */
    int skip_bad;              /* 1: skip malformed records (counted) instead of failing */
    int64_t max_records;       /* stop after this many input records; <= 0: all */
    int overwrite;             /* 1: replace existing outputs */
    const char *tokenizer;     /* NULL or "bytes": the byte tokenizer; else a Hugging Face
                                * tokenizer directory or file (rmens_tokenizer_load) */
    const char *template_name; /* NULL or "hh"; "chatml", "llama3", "plain", "auto"
                                * (docs/TOKENIZERS.md) */
    int responses;             /* 1: prompts and responses to score -> a responses file
                                  grouped by /prompt_id (docs/FORMAT.md) */
    double margin_scale;       /* every margin written is multiplied by this (1) */
    double helpsteer_weights[5]; /* helpsteer2: score = weights . (helpfulness, correctness,
                                  * coherence, complexity, verbosity); default 1,0,0,0,0 */
    int steps;                 /* 1: process supervision (trl-prm, math-shepherd, prm800k) -> a
                                * steps file (docs/FORMAT.md) */
    const char *step_separator; /* steps formats: text after each step ("\n") */
    double prm800k_neutral;    /* PRM800K rating 0 becomes this label (1), or NaN: unlabelled */
    const char *score_field;   /* ultrafeedback-raw: the completions' rating, "overall_score"
                                * (default) or "fine-grained_score" */
} rmens_prep_options;

/* Reasons a record is skipped; the list only grows. */
enum {
    RMENS_SKIP_IDENTICAL = 0,   /* chosen text equals rejected text */
    RMENS_SKIP_PROMPT_DIFFERS,  /* the two dialogues differ before the final assistant turn */
    RMENS_SKIP_EMPTY_RESPONSE,  /* a response is empty */
    RMENS_SKIP_MALFORMED,       /* malformed record, with skip_bad */
    RMENS_SKIP_TIE,             /* no preference: strength 0, or equal scores or ranks */
    RMENS_SKIP_UNRATED,         /* a completion without a rating, left out of its ranking */
    RMENS_SKIP_NREASONS
};
RMENS_API const char *rmens_prep_skip_reason(int reason);

typedef struct {
    rmens_prep_format format;          /* the detected format */
    int64_t records_read, pairs_written, val_pairs_written;
    int64_t skipped[RMENS_SKIP_NREASONS];
    int64_t invalid_utf8;              /* records kept although not valid UTF-8 */
    int64_t first_invalid_utf8_line;
    int64_t input_bytes;               /* uncompressed */
    double seconds;
    rmens_dataset_stats stats;         /* of the main output */
    int64_t lone_surrogates;           /* \uD800-\uDFFF escapes without their pair (read as U+FFFD) */
    int64_t first_lone_surrogate_line; /* 1-based line (JSON Lines) where the first was, 0 in an array */
    int64_t prompts_written;           /* responses: distinct prompts (pairs_written: responses) */
} rmens_prep_report;

RMENS_API void rmens_prep_options_init(rmens_prep_options *o);
RMENS_API const char *rmens_prep_format_name(rmens_prep_format f);
RMENS_API rmens_status rmens_prep(const rmens_prep_options *o, rmens_prep_report *rep);
/* Human-readable summary of a report (what rmens prep prints). */
RMENS_API void rmens_prep_report_print(FILE *f, const rmens_prep_options *o, const rmens_prep_report *rep);

/* ----------------------------------------------------------------- synth */

typedef enum {
    RMENS_TASK_SORT = 0,   /* sort single digits: learnable to >90% by a small model */
    RMENS_TASK_ADD = 1,    /* check a two-number sum */
    RMENS_TASK_STEPS = 2   /* running sums written as steps, a gold label per step */
} rmens_task;

typedef enum { RMENS_SPLIT_TRAIN = 0, RMENS_SPLIT_TEST = 1 } rmens_split;

typedef struct {
    rmens_task task;
    rmens_split split;       /* train and test prompts are disjoint by construction */
    int64_t n;               /* records */
    uint64_t seed;
    double trap_fraction;    /* fraction of pairs that are traps (kinds in equal shares) */
    int responses;           /* 1: write a responses file (each response on its own) */
    int overwrite;
    unsigned trap_kinds;     /* bit k: trap kind k (rmens_trap 1-4) is drawn; default 1-3 */
    int candidates;          /* > 0: a responses file of this many candidates for each of n prompts */
    int bias_feature;        /* rmens_trap 1-4: with probability bias_p a pair prefers that dressing */
    double bias_p;           /*   on a wrong answer to the plain right one (0: no bias) */
    double bt_beta;          /* >= 0: labels drawn P(a over b) = sigmoid(beta (gold_a - gold_b)); < 0: none */
    int steps_file;          /* 1 (task steps): a steps file, the right then the wrong solution
                              * of each problem, every step closed by "\n" (docs/FORMAT.md) */
} rmens_synth_options;

RMENS_API void rmens_synth_options_init(rmens_synth_options *o);
RMENS_API const char *rmens_task_name(rmens_task t);
RMENS_API int rmens_task_from_name(const char *name);  /* -1 if unknown */
RMENS_API rmens_status rmens_synth(const rmens_synth_options *o, rmens_dataset **out);
/* Gold reward of a response text for a task's prompt text, in [0, 1]; -1 if unparsable. */
RMENS_API double rmens_synth_gold(rmens_task task, const char *prompt, size_t plen, const char *resp,
                        size_t rlen);

/* ------------------------------------------------------------------ info */

/* Prints a description of any rmens file; show >= 0 also decodes record `show`. */
RMENS_API rmens_status rmens_info(FILE *f, const char *path, int64_t show);

#ifdef __cplusplus
}
#endif
#endif
