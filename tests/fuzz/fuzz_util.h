/* Shared by the fuzz targets (tests/fuzz/README.md): a reader that decodes fuzz input
 * into decisions, a private scratch directory for the files a target writes, the oracles
 * every target applies after each input, and HDF5 writers that can break any rule of
 * docs/FORMAT.md on purpose (types, ranks, lengths, missing parts) for the
 * structure-aware targets. An oracle that fails prints why and aborts: libFuzzer and
 * the replay driver report that as a crash with the input that caused it. */
#ifndef RMENS_TESTS_FUZZ_UTIL_H
#define RMENS_TESTS_FUZZ_UTIL_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rmens.h"

/* libFuzzer's entry points; replay_main.c calls them too. Every target shares the
 * first (fuzz_util.c: HDF5's error printing off, the scratch directory made). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ------------------------------------------------------------ input reader */

/* Decisions drawn from the input; past its end every draw returns 0 (never fails).
 * Byte 0 always takes the usual path, so all-zero input builds a valid file. */
typedef struct {
    const uint8_t *p;
    size_t n;
} fz_in;

uint8_t fz_u8(fz_in *in);
uint16_t fz_u16(fz_in *in);
uint32_t fz_u32(fz_in *in);
uint64_t fz_u64(fz_in *in);
int fz_bit(fz_in *in);                               /* one byte: 0 or 1 */
int fz_chance(fz_in *in, int per256);                /* 1 with probability per256/256; 0 on byte 0 */
int64_t fz_range(fz_in *in, int64_t lo, int64_t hi); /* in [lo, hi] */
/* want, or one time in sixteen fz_int_other. */
int64_t fz_int(fz_in *in, int64_t want);
/* An "interesting" int64 instead of want: 0, -1, want +- 1, limits, powers of two, ... */
int64_t fz_int_other(fz_in *in, int64_t want);
/* want, or one time in sixteen fz_float_other. */
float fz_float(fz_in *in, float want);
/* NaN, +-Inf, 0, huge, tiny, -want, random bits or a small fraction instead of want. */
float fz_float_other(fz_in *in, float want);
double fz_double(fz_in *in, double want);
/* Takes up to max bytes from the input (fewer at its end); returns the count. */
size_t fz_bytes(fz_in *in, void *out, size_t max);

/* ------------------------------------------------------- scratch directory */

/* A directory private to this process ($RMENS_FUZZ_TMPDIR, else /dev/shm, else
 * $TMPDIR or /tmp), created on first use and removed at exit. */
const char *fuzz_dir(void);
/* fuzz_dir()/name into buf. */
const char *fuzz_path(char *buf, size_t size, const char *name);
void fuzz_write_file(const char *path, const void *data, size_t n);
/* Copies the file a structure-aware target built to $RMENS_FUZZ_SAVE, if set: that
 * file is the decoder-independent reproducer for the byte-level target. */
void fuzz_save_built(const char *path);
/* Removes every file in fuzz_dir(); returns how many there were. */
int fuzz_clean_dir(void);
/* Number of files in fuzz_dir() whose name is not keep (NULL: all). */
int fuzz_count_files_except(const char *keep1, const char *keep2);

/* ----------------------------------------------------------------- oracles */

/* Records the HDF5 objects open now (files, groups, datasets, attributes, datatypes,
 * dataspaces, property lists); fuzz_h5_check_closed aborts if more are open later:
 * an rmens error path that leaks an HDF5 id (rule: one exit: label closes everything). */
void fuzz_h5_mark(void);
void fuzz_h5_check_closed(const char *what);
/* Aborts when an rmens call returned a status no input may cause (RMENS_ERR_INTERNAL,
 * an unknown code, RMENS_ERR_NOMEM on these small inputs) or a failure without a
 * message. */
void fuzz_check_status(rmens_status st, const char *what);
/* Prints a failed oracle with context and aborts. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Walks a dataset the reader accepted through the public accessors and statistics and
 * checks what the validator promises (records end with end-of-text, prompts shared and
 * shorter than each sequence, statistics consistent): a validator that lets a bad
 * file through shows up here as a failed check or an out-of-bounds read. */
void fuzz_walk_dataset(const rmens_dataset *ds, FILE *out);
/* Runs every loader on an ensemble checkpoint or model file: the header reader,
 * rmens_checkpoint_read_member (weights, moments, counts, metrics) of the first
 * members, rmens_checkpoint_merge of a one-member checkpoint (a job-array part),
 * rmens_model_load, rmens_ensemble_open with scoring of a short and an over-long
 * sequence (plain and normalised) and of a text, and rmens info. Returns the status of
 * rmens_ensemble_open. Checks what a loaded model promises (finite weights, a valid
 * config, at least one member), what a merge writes, and that no HDF5 id stays open. */
rmens_status fuzz_exercise_checkpoint(const char *path);
/* Writes an accepted dataset back with rmens_dataset_write (to fuzz_dir()/back.h5),
 * reads it again and checks that every field is the same. */
void fuzz_round_trip(const rmens_dataset *ds);
/* Reads a pairs/responses file whole and streamed (rmens_dataset_read_bounded with a
 * budget of 0 bytes: tokens read on demand), which must agree on the verdict and, for an
 * accepted file, on every record (read forwards and backwards, so the streamed window
 * both reads ahead and jumps); walks it (fuzz_walk_dataset), writes it back
 * (fuzz_round_trip) and describes it with rmens info, decoding the first record or
 * the last. Returns the status of the whole read. */
rmens_status fuzz_check_dataset_file(const char *path, int show_last);
/* /dev/null opened for writing, for what rmens prints (rmens info, reports). */
FILE *fuzz_devnull(void);
/* Prints rmens_last_error() when RMENS_FUZZ_VERBOSE is set (debugging a target). */
void fuzz_trace(rmens_status st, const char *what);

/* ------------------------------------------ HDF5 writers that may break rules */

/* How a numeric attribute is stored: the right way, or one of the wrong ways. */
typedef enum {
    FZA_I64, FZA_I32, FZA_I8, FZA_U8, FZA_U16, FZA_U32, FZA_U64, FZA_I64BE,
    FZA_F64, FZA_F32, FZA_STRING, FZA_ARRAY2, FZA_ARRAY0, FZA_ARRAY999, FZA_NULLSPACE, FZA_MISSING,
    FZA_NKINDS
} fza_kind;
/* Mostly FZA_I64 (or FZA_F64 when is_float), the rest evenly. */
fza_kind fz_attr_kind(fz_in *in, int is_float, int wrong_per256);
/* Writes name on obj holding value in the way kind says (for integer kinds value is
 * converted by HDF5, so an out-of-range value saturates or wraps as HDF5 converts it). */
void fuzz_attr_num(hid_t obj, const char *name, fza_kind kind, double value, int64_t ivalue);

typedef enum {
    FZS_VLEN_UTF8, FZS_VLEN_ASCII, FZS_FIXED_NUL, FZS_FIXED_FULL, FZS_FIXED_SPACEPAD,
    FZS_INT, FZS_ARRAY2, FZS_NULLSPACE, FZS_MISSING, FZS_NKINDS
} fzs_kind;
fzs_kind fz_str_kind(fz_in *in, int wrong_per256);
void fuzz_attr_str(hid_t obj, const char *name, fzs_kind kind, const char *value, size_t len);

/* How a dataset is stored. filetype < 0: the natural type for memtype. rank: 1 for the
 * rule, 0 (scalar) or 2 ([n, 1]) to break it. chunked: chunked + deflate. */
typedef struct {
    hid_t filetype;
    int rank;
    int chunked;
    int as_group;   /* a group where the dataset should be */
} fzd_layout;
/* The usual layout with probability 1 - wrong/256, else a wrong one: a narrower or wider
 * integer, unsigned, float for integers (and integers for floats), double, string, big
 * endian, another rank, a group. memtype: the type the rule wants. */
void fz_layout(fz_in *in, hid_t memtype, int wrong_per256, fzd_layout *l);
/* Creates path (with intermediate groups) holding n elements of memtype from data as l
 * says. Failures of the HDF5 library here are the target's problem: it aborts. */
void fuzz_write_dataset(hid_t file, const char *path, hid_t memtype, const void *data, int64_t n,
                        const fzd_layout *l);
/* An n-d dataset (rank 0: scalar) of dims from data (memtype), stored as filetype. */
void fuzz_write_nd(hid_t file, const char *path, hid_t filetype, hid_t memtype, const void *data, int rank,
                   const int64_t *dims, int chunked);
/* A file created (truncated) at path for the structure-aware targets; aborts on failure. */
hid_t fuzz_h5_create(const char *path);
void fuzz_h5_close_file(hid_t f);

#endif
