#include "config.h"
#include "io/checkpoint.h"

#include <stddef.h>
#include <stdlib.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "comm/verdict.h"
#include "ensemble/bootstrap.h"
#include "io/dataset.h"
#include "io/h5.h"
#include "io/modelfile.h"

const char *const rmens_member_attr_names[RMENS_MA_N] = {"val_loss", "val_accuracy", "val_margin",
                                                          "oob_accuracy", "reward_mean", "reward_std",
                                                          "oob_loss", "oob_margin"};

/* Numeric header fields, one table for writing, reading and comparing. */
typedef struct {
    const char *name;
    int is_int;
    size_t off;
} hfield;
#define HI(f) {#f, 1, offsetof(rmens_ckpt_header, f)}
#define HD(f) {#f, 0, offsetof(rmens_ckpt_header, f)}
static const hfield hfields[] = {
    {"members", 1, offsetof(rmens_ckpt_header, members)}, HI(batch), HI(warmup), HI(share), HI(member_offset), HI(ensemble_size),
    HD(lr), HD(min_lr_frac), HD(beta1), HD(beta2), HD(eps), HD(weight_decay), HD(clip), HD(margin_scale), HD(center),
    HD(bootstrap),
};

static rmens_status write_header(hid_t f, const rmens_ckpt_header *h)
{
    RMENS_TRY(rmens_h5_attr_write_str(f, "rmens_format", "ensemble"));
    RMENS_TRY(rmens_h5_attr_write_i64(f, "rmens_version", RMENS_FORMAT_VERSION));
    RMENS_TRY(rmens_h5_attr_write_str(f, "created_by", "rmens " PACKAGE_VERSION));
    RMENS_TRY(rmens_h5_attr_write_str(f, "architecture", "GPT2ForSequenceClassification"));
    RMENS_TRY(rmens_h5_attr_write_str(f, "tokenizer", "bytes"));
    RMENS_TRY(rmens_modelfile_write_config(f, &h->cfg));
    RMENS_TRY(rmens_h5_attr_write_i64(f, "step", h->step));
    RMENS_TRY(rmens_h5_attr_write_i64(f, "total_steps", h->total_steps));
    RMENS_TRY(rmens_h5_attr_write_i64(f, "n_pairs", h->n_pairs));
    RMENS_TRY(rmens_h5_attr_write_i64(f, "data_crc32", h->data_crc32));
    RMENS_TRY(rmens_h5_attr_write_i64(f, "seed", (int64_t)h->seed));
    RMENS_TRY(rmens_h5_attr_write_str(f, "generator", RMENS_GENERATOR_NAME));
    RMENS_TRY(rmens_h5_attr_write_str(f, "data", h->data));
    RMENS_TRY(rmens_h5_attr_write_str(f, "command_line", h->command));
    for (size_t i = 0; i < sizeof hfields / sizeof *hfields; i++) {
        const char *p = (const char *)h + hfields[i].off;
        if (hfields[i].is_int)
            RMENS_TRY(rmens_h5_attr_write_i64(f, hfields[i].name, *(const int *)p));
        else
            RMENS_TRY(rmens_h5_attr_write_f64(f, hfields[i].name, *(const double *)p));
    }
    return RMENS_OK;
}

/* Phase 1, collective: every rank creates every dataset and attribute, identically. */
static rmens_status create_all(hid_t f, const rmens_ckpt_header *h, const double *attrs)
{
    RMENS_TRY(write_header(f, h));
    for (int k = 0; k < h->members; k++) {
        char g[64], sub[96];
        snprintf(g, sizeof g, "/members/%03d", k);
        static const char *const parts[] = {"params", "optimizer/m", "optimizer/v"};
        for (int q = 0; q < 3; q++) {
            snprintf(sub, sizeof sub, "%s/%s", g, parts[q]);
            RMENS_TRY(rmens_modelfile_write_flat(f, sub, &h->cfg, NULL));
        }
        snprintf(sub, sizeof sub, "%s/bootstrap_counts", g);
        RMENS_TRY(rmens_h5_write_nd(f, sub, H5T_STD_I32LE, H5T_NATIVE_INT32, NULL, 1, &h->n_pairs));
        hid_t grp = H5Gopen2(f, g, H5P_DEFAULT);
        if (grp < 0)
            return rmens_h5_fail("cannot open %s", g);
        rmens_status st = rmens_h5_attr_write_i64(grp, "member", h->member_offset + k);
        if (st == RMENS_OK)
            st = rmens_h5_attr_write_i64(grp, "step", h->step);
        if (st == RMENS_OK)
            st = rmens_h5_attr_write_i64(grp, "seed", (int64_t)h->seed);
        for (int a = 0; a < RMENS_MA_N && st == RMENS_OK; a++)
            st = rmens_h5_attr_write_f64(grp, rmens_member_attr_names[a], attrs[k * RMENS_MA_N + a]);
        H5Gclose(grp);
        RMENS_TRY(st);
    }
    return RMENS_OK;
}

/* Phase 2, independent: each owner writes its members' data. A failure here is local
 * and makes no rank skip a collective call. */
static rmens_status fill_local(hid_t f, const rmens_ckpt_header *h, const rmens_ckpt_member *local, int n_local)
{
    for (int j = 0; j < n_local; j++) {
        char sub[96];
        const float *src[3] = {local[j].params, local[j].adam_m, local[j].adam_v};
        static const char *const parts[] = {"params", "optimizer/m", "optimizer/v"};
        for (int q = 0; q < 3; q++) {
            snprintf(sub, sizeof sub, "/members/%03d/%s", local[j].index, parts[q]);
            RMENS_TRY(rmens_modelfile_fill_flat(f, sub, &h->cfg, src[q]));
        }
        snprintf(sub, sizeof sub, "/members/%03d/bootstrap_counts", local[j].index);
        RMENS_TRY(rmens_h5_fill(f, sub, H5T_NATIVE_INT32, local[j].counts));
    }
    return RMENS_OK;
}

/* Fault injection for the tests: RMENS_FAULT_SAVE="R:N" makes rank R die (exit 9) in the
 * middle of its N-th save of this process, after its data went into the temporary file. */
static void fault_point(int rank)
{
    static int saves = 0;
    const char *f = getenv("RMENS_FAULT_SAVE");
    int r, n;
    saves++;
    if (f && sscanf(f, "%d:%d", &r, &n) == 2 && r == rank && n == saves)
        _exit(9);
}

rmens_status rmens_checkpoint_save(const char *path, MPI_Comm comm, const rmens_ckpt_header *h, const double *attrs,
                                   const rmens_ckpt_member *local, int n_local)
{
    rmens_h5_init();
    int rank;
    RMENS_TRY(rmens_mpi_check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank"));
    /* One temporary name for all ranks: rank 0's pid. */
    long pid = (long)getpid();
    RMENS_TRY(rmens_mpi_check(MPI_Bcast(&pid, 1, MPI_LONG, 0, comm), "MPI_Bcast"));
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, pid);
    /* The space is reserved before HDF5 writes anything: a full disk is an error here,
     * with no file open. A write failing inside parallel HDF5 instead leaves the file
     * impossible to close, and the ranks' closes deadlocked (HDF5 1.10). */
    double bytes = 0;  /* per member: weights and two Adam moments, bootstrap counts */
    for (int t = 0; t < RMENS_NTENSORS; t++)
        bytes += 3.0 * sizeof(float) * (double)rmens_tensor_numel(&h->cfg, t);
    bytes = h->members * (bytes + sizeof(int32_t) * (double)h->n_pairs + RMENS_H5_OVERHEAD(3 * RMENS_NTENSORS)) +
            RMENS_H5_OVERHEAD(16);
    rmens_status st = rank == 0 ? rmens_h5_reserve(tmp, bytes) : RMENS_OK;
    if ((st = rmens_verdict(comm, st)) != RMENS_OK) {
        if (rank == 0)
            remove(tmp);
        return st;
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), file = -1;
    if (fapl < 0 || H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) < 0 ||
        H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) < 0 ||
        (file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)) < 0)
        st = rmens_h5_fail("%s: cannot create", tmp);
    /* Creation is collective and identical on every rank; agree on it before the
     * independent writes, whose failures are local. Every rank then closes the file
     * (collective) whatever happened, and the verdict settles the outcome. */
    if (st == RMENS_OK)
        st = create_all(file, h, attrs);
    if (st == RMENS_OK && rank == 0)  /* the create truncated the file */
        st = rmens_h5_reserve(tmp, bytes);
    st = rmens_verdict(comm, st);
    if (st == RMENS_OK)
        st = fill_local(file, h, local, n_local);
    fault_point(rank);
    if (file >= 0 && H5Fclose(file) < 0 && st == RMENS_OK)
        st = rmens_h5_fail("%s: cannot finish writing", tmp);
    rmens_h5_close(fapl);
    if (st == RMENS_OK && rank == 0)
        st = rmens_h5_trim(tmp);
    st = rmens_verdict(comm, st);
    if (st == RMENS_OK && rank == 0 && rename(tmp, path) != 0)
        st = rmens_fail(RMENS_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (st != RMENS_OK && rank == 0)
        remove(tmp);
    return rmens_verdict(comm, st);
}

rmens_status rmens_checkpoint_read_header(const char *path, rmens_ckpt_header *h)
{
    rmens_h5_init();
    memset(h, 0, sizeof *h);
    hid_t f;
    RMENS_TRY(rmens_h5_open_ro(path, H5P_DEFAULT, &f));
    rmens_status st = RMENS_OK;
    char kind[32];
    int64_t v;
    if ((st = rmens_h5_attr_read_str(f, "rmens_format", kind, sizeof kind)) != RMENS_OK)
        goto exit;
    if (strcmp(kind, "ensemble") != 0) {
        st = rmens_fail(RMENS_ERR_FORMAT, "rmens_format is \"%s\", expected \"ensemble\"", kind);
        goto exit;
    }
    if ((st = rmens_h5_attr_read_i64(f, "rmens_version", &v)) != RMENS_OK)
        goto exit;
    if (v != RMENS_FORMAT_VERSION) {
        st = rmens_fail(RMENS_ERR_FORMAT, "checkpoint version %lld; this rmens %s reads version %d", (long long)v,
                        PACKAGE_VERSION, RMENS_FORMAT_VERSION);
        goto exit;
    }
    if ((st = rmens_modelfile_read_config(f, &h->cfg)) != RMENS_OK)
        goto exit;
    struct {
        const char *n;
        int64_t *p;
    } ints[] = {{"step", &h->step}, {"total_steps", &h->total_steps}, {"n_pairs", &h->n_pairs}};
    for (size_t i = 0; i < 3 && st == RMENS_OK; i++)
        st = rmens_h5_attr_read_i64(f, ints[i].n, ints[i].p);
    if (st == RMENS_OK && (st = rmens_h5_attr_read_i64(f, "seed", &v)) == RMENS_OK)
        h->seed = (uint64_t)v;
    /* Added after the first checkpoints were written: absent reads as unknown. */
    h->data_crc32 = -1;
    h->share = 1;
    if (st == RMENS_OK && rmens_h5_has_attr(f, "data_crc32"))
        st = rmens_h5_attr_read_i64(f, "data_crc32", &h->data_crc32);
    for (size_t i = 0; i < sizeof hfields / sizeof *hfields && st == RMENS_OK; i++) {
        char *p = (char *)h + hfields[i].off;
        if ((strcmp(hfields[i].name, "share") == 0 || strcmp(hfields[i].name, "member_offset") == 0 ||
             strcmp(hfields[i].name, "ensemble_size") == 0) && !rmens_h5_has_attr(f, hfields[i].name))
            continue;
        if (hfields[i].is_int) {
            st = rmens_h5_attr_read_i64(f, hfields[i].name, &v);
            *(int *)p = (int)v;
        } else {
            hid_t a = H5Aopen(f, hfields[i].name, H5P_DEFAULT);
            if (a < 0 || H5Aread(a, H5T_NATIVE_DOUBLE, p) < 0)
                st = rmens_fail(RMENS_ERR_FORMAT, "attribute %s is missing or not a number", hfields[i].name);
            rmens_h5_close(a);
        }
    }
    if (st == RMENS_OK)
        st = rmens_h5_attr_read_str(f, "data", h->data, sizeof h->data);
    if (st == RMENS_OK)
        st = rmens_h5_attr_read_str(f, "command_line", h->command, sizeof h->command);
exit:
    H5Fclose(f);
    return st == RMENS_OK ? st : rmens_fail_context(st, "%s: ", path);
}

rmens_status rmens_checkpoint_merge(const char *out, const char *const *parts, int n, const char *command,
                                    int overwrite)
{
    if (n < 1)
        return rmens_fail(RMENS_ERR_ARG, "merge: no parts given");
    rmens_ckpt_header h0, h;
    int *seen = calloc((size_t)n, sizeof *seen);
    if (!seen)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    rmens_status st = RMENS_OK;
    for (int i = 0; i < n && st == RMENS_OK; i++) {
        rmens_ckpt_header *x = i ? &h : &h0;
        if ((st = rmens_checkpoint_read_header(parts[i], x)) != RMENS_OK)
            break;
        if (x->members != 1)
            st = rmens_fail(RMENS_ERR_ARG, "%s holds %d members; merge takes one-member parts (rmens train --member k)",
                            parts[i], x->members);
        else if (x->ensemble_size > 0 && x->ensemble_size != n)
            st = rmens_fail(RMENS_ERR_ARG, "%s is member %d of a %d-member ensemble, but %d parts were given",
                            parts[i], x->member_offset, x->ensemble_size, n);
        else if (x->member_offset < 0 || x->member_offset >= n || seen[x->member_offset]++)
            st = rmens_fail(RMENS_ERR_ARG, "%s is member %d: the %d parts must be members 0 to %d, each once", parts[i],
                            x->member_offset, n, n - 1);
        else if (x->step != x->total_steps)
            st = rmens_fail(RMENS_ERR_ARG, "%s is unfinished (step %lld of %lld): resume it first", parts[i],
                            (long long)x->step, (long long)x->total_steps);
        else if (i > 0) {
            /* Everything that defines the run must agree; only the member differs. */
            rmens_ckpt_header a = h0, b = h;
            a.member_offset = b.member_offset = 0;
            memset(a.command, 0, sizeof a.command), memset(b.command, 0, sizeof b.command);
            memset(a.data, 0, sizeof a.data), memset(b.data, 0, sizeof b.data);
            if (memcmp(&a, &b, sizeof a) != 0)
                st = rmens_fail(RMENS_ERR_ARG, "%s was trained with other settings or data than %s (model, steps, "
                                "seed, bootstrap, optimiser or data fingerprint differ)", parts[i], parts[0]);
        }
    }
    free(seen);
    RMENS_TRY(st);
    h0.members = n;
    h0.member_offset = 0;
    h0.ensemble_size = n;
    snprintf(h0.command, sizeof h0.command, "%s", command ? command : "rmens merge");
    char tmp[4200];
    hid_t f = -1;
    double bytes = RMENS_H5_OVERHEAD(64);  /* the parts' data, copied */
    for (int i = 0; i < n; i++) {
        struct stat sb;
        bytes += stat(parts[i], &sb) == 0 ? (double)sb.st_size : 0.0;
    }
    RMENS_TRY(rmens_h5_create_tmp(out, overwrite, bytes, &f, tmp, sizeof tmp));
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0)
        st = rmens_h5_fail("H5Pcreate");
    if (st == RMENS_OK)
        st = write_header(f, &h0);
    for (int i = 0; i < n && st == RMENS_OK; i++) {
        rmens_ckpt_header x;
        if ((st = rmens_checkpoint_read_header(parts[i], &x)) != RMENS_OK)
            break;
        hid_t src = H5Fopen(parts[i], H5F_ACC_RDONLY, H5P_DEFAULT);
        char dst[64];
        snprintf(dst, sizeof dst, "/members/%03d", x.member_offset);
        /* An object copy keeps every dataset and attribute of the member as it was. */
        if (src < 0 || H5Ocopy(src, "/members/000", f, dst, H5P_DEFAULT, lcpl) < 0)
            st = rmens_h5_fail("%s: cannot copy its member into %s", parts[i], out);
        rmens_h5_close(src);
    }
    rmens_h5_close(lcpl);
    if (st != RMENS_OK) {
        rmens_h5_abandon(f, tmp);
        return st;
    }
    return rmens_h5_commit(f, tmp, out);
}

rmens_status rmens_checkpoint_read_member(const char *path, int k, rmens_model *m, float *adam_m, float *adam_v,
                                          int32_t *counts, int64_t n_pairs, double *attrs)
{
    rmens_h5_init();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return rmens_h5_fail("%s: cannot open", path);
    char g[64], sub[96];
    snprintf(g, sizeof g, "/members/%03d", k);
    rmens_status st = RMENS_OK;
    int has_head;
    snprintf(sub, sizeof sub, "%s/params", g);
    if (m)
        st = rmens_modelfile_read_tensors(f, sub, m, &has_head);
    if (st == RMENS_OK && m && !has_head)
        st = rmens_fail(RMENS_ERR_FORMAT, "%s has no score.weight", sub);
    snprintf(sub, sizeof sub, "%s/optimizer/m", g);
    if (st == RMENS_OK && adam_m)
        st = rmens_modelfile_read_flat(f, sub, &m->cfg, adam_m);
    snprintf(sub, sizeof sub, "%s/optimizer/v", g);
    if (st == RMENS_OK && adam_v)
        st = rmens_modelfile_read_flat(f, sub, &m->cfg, adam_v);
    snprintf(sub, sizeof sub, "%s/bootstrap_counts", g);
    if (st == RMENS_OK && counts) {
        void *buf = NULL;
        int64_t got;
        st = rmens_h5_read_1d(f, sub, H5T_INTEGER, H5T_NATIVE_INT32, H5P_DEFAULT, &buf, &got);
        if (st == RMENS_OK && got != n_pairs)
            st = rmens_fail(RMENS_ERR_FORMAT, "%s has %lld entries, the data %lld pairs", sub, (long long)got,
                            (long long)n_pairs);
        if (st == RMENS_OK)
            memcpy(counts, buf, (size_t)n_pairs * sizeof *counts);
        free(buf);
    }
    if (st == RMENS_OK && attrs) {
        hid_t grp = H5Gopen2(f, g, H5P_DEFAULT);
        if (grp < 0)
            st = rmens_fail(RMENS_ERR_FORMAT, "group %s is missing", g);
        for (int a = 0; a < RMENS_MA_N && st == RMENS_OK; a++) {
            /* Metrics are informative: one a writer did not record reads as NaN. */
            attrs[a] = NAN;
            if (!rmens_h5_has_attr(grp, rmens_member_attr_names[a]))
                continue;
            hid_t at = H5Aopen(grp, rmens_member_attr_names[a], H5P_DEFAULT);
            if (at < 0 || H5Aread(at, H5T_NATIVE_DOUBLE, &attrs[a]) < 0)
                st = rmens_fail(RMENS_ERR_FORMAT, "%s: attribute %s is not a number", g, rmens_member_attr_names[a]);
            rmens_h5_close(at);
        }
        rmens_h5_close(grp);
    }
    H5Fclose(f);
    return st == RMENS_OK ? st : rmens_fail_context(st, "%s: ", path);
}
