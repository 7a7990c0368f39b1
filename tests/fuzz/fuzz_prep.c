/* Fuzz target: rmens_prep on JSON Lines / JSON array input, plain or gzip, in every
 * input format (docs/FORMAT.md, "The conversation template").
 *
 * Input: three option bytes, then the file's bytes.
 *   byte 0: bits 0-2 format (0 auto, 1 hh, 2 prompt, 3 messages, 4 sharegpt, 5-7 auto),
 *           bit 3 gzip the file, bit 4 --skip-bad, bit 5 a validation split,
 *           bit 6 --margin-field, bit 7 --max-records
 *   byte 1: bits 0-1 which margin field, bits 2-4 the validation fraction,
 *           bit 7 cut the gzip stream short by bits 0-5 bytes (truncated gzip)
 *   byte 2: bits 0-3 --max-records (1-16), bit 6 a first line longer than 64 KiB (the
 *           reader's initial line buffer: leading blanks before the first record)
 *
 * Oracles besides the sanitizers: no status that input cannot cause (internal error,
 * a failure without a message); a failed prep leaves no output file (nor temporary);
 * a successful one writes files the reader accepts, holding the pairs the report
 * counts, and the report's counts add up (one pair or skip per record, but for rankings);
 * every HDF5 id is closed. The formats of issue 18 are reached through auto, from their
 * seeds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define ZLIB_CONST
#include <zlib.h>

#include "io/dataset.h"
#include "tests/fuzz/fuzz_util.h"

/* gzip-compresses src into a malloc'ed buffer (*out, *n). */
static void gzip_bytes(const uint8_t *src, size_t len, uint8_t **out, size_t *n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        fuzz_fail("deflateInit2");
    size_t cap = deflateBound(&z, (uLong)len) + 32;
    *out = malloc(cap);
    if (!*out)
        fuzz_fail("out of memory");
    z.next_in = (z_const Bytef *)src;
    z.avail_in = (uInt)len;
    z.next_out = *out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        fuzz_fail("deflate");
    *n = cap - z.avail_out;
    deflateEnd(&z);
}

static void check_output(const char *path, int64_t want, const char *what)
{
    rmens_dataset *ds = NULL;
    fuzz_h5_mark();
    rmens_status st = rmens_dataset_read(&ds, path);
    fuzz_h5_check_closed("rmens_dataset_read of prep's output");
    if (st != RMENS_OK)
        fuzz_fail("prep wrote %s, which the reader rejects: %s", what, rmens_last_error());
    if (rmens_dataset_count(ds) != want)
        fuzz_fail("prep reported %lld pairs in %s, the file holds %lld", (long long)want, what,
                  (long long)rmens_dataset_count(ds));
    if (rmens_dataset_kind(ds) != RMENS_DATA_PAIRS || rmens_dataset_vocab_size(ds) != RMENS_BYTES_VOCAB)
        fuzz_fail("prep wrote %s that is not a byte-tokenized pairs file", what);
    rmens_dataset_free(ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint8_t b0 = data[0], b1 = data[1], b2 = data[2];
    const uint8_t *body = data + 3;
    size_t blen = size - 3;

    char in[600], out[600], val[600];
    fuzz_path(in, sizeof in, (b0 & 8) ? "in.jsonl.gz" : "in.jsonl");
    fuzz_path(out, sizeof out, "out.h5");
    fuzz_path(val, sizeof val, "val.h5");
    uint8_t *padded = NULL;
    if (b2 & 64) {
        enum { PAD = (1 << 16) + 100 };
        if (!(padded = malloc(PAD + blen)))
            fuzz_fail("out of memory");
        memset(padded, ' ', PAD);
        memcpy(padded + PAD, body, blen);
        body = padded;
        blen += PAD;
    }
    if (b0 & 8) {
        uint8_t *gz;
        size_t n;
        gzip_bytes(body, blen, &gz, &n);
        if (b1 & 0x80) {
            size_t cut = (size_t)(b1 & 0x3f) + 1;
            n = n > cut ? n - cut : 0;
        }
        fuzz_write_file(in, gz, n);
        free(gz);
    } else {
        fuzz_write_file(in, body, blen);
    }
    free(padded);

    static const rmens_prep_format formats[8] = {RMENS_PREP_AUTO, RMENS_PREP_HH, RMENS_PREP_PROMPT,
                                                 RMENS_PREP_MESSAGES, RMENS_PREP_SHAREGPT, RMENS_PREP_AUTO,
                                                 RMENS_PREP_AUTO, RMENS_PREP_AUTO};
    static const char *const margin_fields[4] = {"margin", "score", "m", "chosen"};
    static const double fractions[8] = {0.5, 0.1, 0.9, 1e-9, 0.999999, 0.0, 1.0, -1.0};
    rmens_prep_options o;
    rmens_prep_options_init(&o);
    o.input = in;
    o.output = out;
    o.format = formats[b0 & 7];
    o.skip_bad = (b0 & 16) != 0;
    if (b0 & 32) {
        o.val_output = val;
        o.val_fraction = fractions[(b1 >> 2) & 7];
        o.seed = b2;
    }
    if (b0 & 64)
        o.margin_field = margin_fields[b1 & 3];
    if (b0 & 128)
        o.max_records = 1 + (b2 & 15);

    rmens_prep_report rep;
    fuzz_h5_mark();
    rmens_status st = rmens_prep(&o, &rep);
    fuzz_h5_check_closed("rmens_prep");
    fuzz_check_status(st, "rmens_prep");
    const char *in_name = strrchr(in, '/') + 1;
    if (st != RMENS_OK) {
        /* docs: bad input stops with a message and no output file */
        if (fuzz_count_files_except(in_name, NULL) != 0)
            fuzz_fail("rmens_prep failed (%s) but left files beside its input", rmens_last_error());
    } else {
        if (fuzz_count_files_except(in_name, NULL) != (o.val_output ? 2 : 1))
            fuzz_fail("rmens_prep succeeded but did not leave exactly its output file(s)");
        int64_t skipped = 0;
        for (int k = 0; k < RMENS_SKIP_NREASONS; k++) {
            if (rep.skipped[k] < 0)
                fuzz_fail("negative skip count %lld for reason %d", (long long)rep.skipped[k], k);
            skipped += rep.skipped[k];
        }
        /* A ranked record gives any number of pairs (K(K-1)/2 minus ties); any other one
         * pair or one skip. */
        int ranked = rep.format == RMENS_PREP_RANKING || rep.format == RMENS_PREP_HELPSTEER2 ||
                     rep.format == RMENS_PREP_ULTRAFEEDBACK_RAW;
        if (rep.pairs_written < 1 ||
            (!ranked && rep.pairs_written + rep.val_pairs_written + skipped != rep.records_read))
            fuzz_fail("report does not add up: %lld records read, %lld + %lld pairs written, %lld skipped",
                      (long long)rep.records_read, (long long)rep.pairs_written,
                      (long long)rep.val_pairs_written, (long long)skipped);
        if (rep.stats.n_records != rep.pairs_written)
            fuzz_fail("report statistics cover %lld records, %lld were written", (long long)rep.stats.n_records,
                      (long long)rep.pairs_written);
        if (rep.format == RMENS_PREP_AUTO)
            fuzz_fail("report does not say which format was read");
        check_output(out, rep.pairs_written, "the output");
        if (o.val_output)
            check_output(val, rep.val_pairs_written, "the validation output");
        rmens_prep_report_print(fuzz_devnull(), &o, &rep);
    }
    fuzz_clean_dir();
    return 0;
}
