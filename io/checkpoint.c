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
#include "base/fault.h"
#include "comm/verdict.h"
#include "ensemble/bootstrap.h"
#include "io/checksum.h"
#include "io/dataset.h"
#include "io/h5.h"
#include "io/modelfile.h"
#include "io/output.h"

const char *const rmens_member_attr_names[RMENS_MA_N] = {"val_loss", "val_accuracy", "val_margin",
                                                          "oob_accuracy", "reward_mean", "reward_std",
                                                          "oob_loss", "oob_margin"};

/* Every header field, one table for comparing; the generic ones (io) also for writing
 * and reading, as attributes of their name. */
typedef struct {
    const char *name;
    char kind;  /* 'i' int, 'l' int64_t, 'u' uint64_t, 'd' double, 's' char array */
    int io;     /* written and read by the generic loops */
    size_t off;
} hfield;
#define HI(f) {#f, 'i', 1, offsetof(rmens_ckpt_header, f)}
#define HD(f) {#f, 'd', 1, offsetof(rmens_ckpt_header, f)}
#define HX(f, k) {#f, k, 0, offsetof(rmens_ckpt_header, f)}
#define HC(f) {#f, 'i', 0, offsetof(rmens_ckpt_header, cfg.f)}
static const hfield hfields[] = {
    HC(vocab_size), HC(n_ctx), HC(n_layer), HC(n_head), HC(n_embd), HX(step, 'l'), HX(total_steps, 'l'),
    HX(n_pairs, 'l'), HX(seed, 'u'), HX(data_crc32, 'l'), HX(eot_token, 'l'), HX(tokenizer, 's'), HX(template_name, 's'),
    HX(objective, 's'), HX(step_separator, 's'),
    HI(members), HI(batch), HI(warmup), HI(share), HI(member_offset), HI(ensemble_size),
    HD(lr), HD(min_lr_frac), HD(beta1), HD(beta2), HD(eps), HD(weight_decay), HD(clip), HD(margin_scale), HD(center),
    HD(bootstrap), HX(data, 's'), HX(command, 's'),
};

static int listed(const char *name, const char *const *names)
{
    for (int i = 0; names && names[i]; i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

static void field_text(const hfield *f, const rmens_ckpt_header *h, char *buf, size_t n)
{
    const char *p = (const char *)h + f->off;
    switch (f->kind) {
    case 'i': snprintf(buf, n, "%d", *(const int *)p); break;
    case 'l': snprintf(buf, n, "%lld", (long long)*(const int64_t *)p); break;
    case 'u': snprintf(buf, n, "%llu", (unsigned long long)*(const uint64_t *)p); break;
    case 'd': snprintf(buf, n, "%g", *(const double *)p); break;
    default: snprintf(buf, n, "%s", p); break;
    }
}

int rmens_ckpt_header_differ(const rmens_ckpt_header *a, const rmens_ckpt_header *b, const char *const *names,
                             int only, rmens_hdiff *d)
{
    for (size_t i = 0; i < sizeof hfields / sizeof *hfields; i++) {
        const hfield *f = &hfields[i];
        if (listed(f->name, names) != only)
            continue;
        const char *pa = (const char *)a + f->off, *pb = (const char *)b + f->off;
        int differ;
        switch (f->kind) {
        case 'i': differ = *(const int *)pa != *(const int *)pb; break;
        case 'l': differ = *(const int64_t *)pa != *(const int64_t *)pb; break;
        case 'u': differ = *(const uint64_t *)pa != *(const uint64_t *)pb; break;
        case 'd': differ = *(const double *)pa != *(const double *)pb; break;
        default: differ = strcmp(pa, pb) != 0; break;
        }
        if (differ) {
            snprintf(d->field, sizeof d->field, "%s", f->name);
            field_text(f, a, d->a, sizeof d->a);
            field_text(f, b, d->b, sizeof d->b);
            return 1;
        }
    }
    return 0;
}

static rmens_status write_header(hid_t f, const rmens_ckpt_header *h)
{
    RMENS_TRY(rmens_h5_attr_write_str(f, "rmens_format", "ensemble"));
    RMENS_TRY(rmens_h5_attr_write_i64(f, "rmens_version", RMENS_FORMAT_VERSION));
    RMENS_TRY(rmens_h5_attr_write_str(f, "created_by", "rmens " PACKAGE_VERSION));
    RMENS_TRY(rmens_modelfile_write_architecture(f, &h->cfg));
    RMENS_TRY(rmens_h5_attr_write_str(f, "tokenizer", h->tokenizer[0] ? h->tokenizer : "bytes"));
    RMENS_TRY(rmens_modelfile_write_config(f, &h->cfg));
    RMENS_TRY(rmens_h5_attr_write_i64(f, "step", h->step));
    RMENS_TRY(rmens_h5_attr_write_i64(f, "total_steps", h->total_steps));
    RMENS_TRY(rmens_h5_attr_write_i64(f, "n_pairs", h->n_pairs));
    RMENS_TRY(rmens_h5_attr_write_i64(f, "data_crc32", h->data_crc32));
    if (h->eot_token >= 0)
        RMENS_TRY(rmens_h5_attr_write_i64(f, "eot_token", h->eot_token));
    if (h->template_name[0])
        RMENS_TRY(rmens_h5_attr_write_str(f, "template", h->template_name));
    RMENS_TRY(rmens_h5_attr_write_str(f, "objective", h->objective[0] ? h->objective : "bt"));
    if (h->step_separator[0])
        RMENS_TRY(rmens_h5_attr_write_str(f, "step_separator", h->step_separator));
    RMENS_TRY(rmens_h5_attr_write_i64(f, "seed", (int64_t)h->seed));
    RMENS_TRY(rmens_h5_attr_write_str(f, "generator", RMENS_GENERATOR_NAME));
    RMENS_TRY(rmens_h5_attr_write_str(f, "data", h->data));
    RMENS_TRY(rmens_h5_attr_write_str(f, "command_line", h->command));
    if (h->hf_config[0])
        RMENS_TRY(rmens_h5_attr_write_str(f, "hf_config", h->hf_config));
    if (h->hf_dir[0])
        RMENS_TRY(rmens_h5_attr_write_str(f, "hf_dir", h->hf_dir));
    if (h->data_vocab > 0)
        RMENS_TRY(rmens_h5_attr_write_i64(f, "data_vocab_size", h->data_vocab));
    for (size_t i = 0; i < sizeof hfields / sizeof *hfields; i++) {
        const char *p = (const char *)h + hfields[i].off;
        if (!hfields[i].io)
            continue;
        if (hfields[i].kind == 'i')
            RMENS_TRY(rmens_h5_attr_write_i64(f, hfields[i].name, *(const int *)p));
        else
            RMENS_TRY(rmens_h5_attr_write_f64(f, hfields[i].name, *(const double *)p));
    }
    return RMENS_OK;
}

/* Checksums of one member: its tensors' CRC-32 for params, optimizer/m and optimizer/v
 * in flat order, then its bootstrap counts'. */
static int crc_slots(const rmens_model_config *cfg) { return 3 * rmens_modelfile_ntensors(cfg) + 1; }

static const char *const flat_parts[] = {"params", "optimizer/m", "optimizer/v"};

/* Phase 0, local: the owner checks its members' weights and moments are finite (NaN or
 * Inf is never saved) and computes their checksums into crcs[k][crc_slots]. */
static rmens_status seal_local(const char *path, const rmens_ckpt_header *h, const rmens_ckpt_member *local,
                               int n_local, uint32_t *crcs)
{
    const int NT = rmens_modelfile_ntensors(&h->cfg), S = crc_slots(&h->cfg);
    for (int j = 0; j < n_local; j++) {
        const int k = local[j].index;
        const float *src[3] = {local[j].params, local[j].adam_m, local[j].adam_v};
        for (int q = 0; q < 3; q++) {
            char sub[96], why[1024];
            snprintf(sub, sizeof sub, "/members/%03d/%s", k, flat_parts[q]);
            if (rmens_modelfile_seal_flat(sub, &h->cfg, src[q], crcs + (size_t)k * S + (size_t)q * NT) == RMENS_OK)
                continue;
            snprintf(why, sizeof why, "%s", rmens_last_error());
            return rmens_fail(RMENS_ERR_NUMERIC, "member %d, step %lld: %s: not saving %s (%s)", h->member_offset + k,
                              (long long)h->step, why, path,
                              access(path, F_OK) == 0 ? "the checkpoint there is left as it was" : "nothing was written");
        }
        crcs[(size_t)k * S + 3 * (size_t)NT] = rmens_crc32_le32(0, local[j].counts, (size_t)h->n_pairs);
    }
    return RMENS_OK;
}

/* Phase 1, collective: every rank creates every dataset and attribute, identically
 * (crcs: every member's checksums, the same on every rank). */
static rmens_status create_all(hid_t f, const rmens_ckpt_header *h, const double *attrs, const uint32_t *crcs)
{
    const int NT = rmens_modelfile_ntensors(&h->cfg), S = crc_slots(&h->cfg);
    RMENS_TRY(write_header(f, h));
    for (int k = 0; k < h->members; k++) {
        char g[64], sub[96];
        const uint32_t *c = crcs + (size_t)k * S;
        snprintf(g, sizeof g, "/members/%03d", k);
        for (int q = 0; q < 3; q++) {
            snprintf(sub, sizeof sub, "%s/%s", g, flat_parts[q]);
            RMENS_TRY(rmens_modelfile_write_flat(f, sub, &h->cfg, NULL, c + (size_t)q * NT));
        }
        snprintf(sub, sizeof sub, "%s/bootstrap_counts", g);
        RMENS_TRY(rmens_h5_write_nd(f, sub, H5T_STD_I32LE, H5T_NATIVE_INT32, NULL, 1, &h->n_pairs));
        RMENS_TRY(rmens_checksum_write(f, sub, c[3 * NT]));
        hid_t grp = H5Gopen2(f, g, H5P_DEFAULT);
        if (grp < 0)
            return rmens_h5_fail("cannot open %s", g);
        rmens_status st = rmens_h5_attr_write_i64(grp, "member", h->member_offset + k);
        if (st == RMENS_OK)
            st = rmens_h5_attr_write_i64(grp, "step", h->step);
        if (st == RMENS_OK)
            st = rmens_h5_attr_write_i64(grp, "seed", (int64_t)h->seed);
        /* Every dataset of the member carries a crc32: a reader finding one missing knows
         * the file is damaged, not old. */
        if (st == RMENS_OK)
            st = rmens_h5_attr_write_str(grp, "checksum", RMENS_CRC_KIND);
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
        for (int q = 0; q < 3; q++) {
            snprintf(sub, sizeof sub, "/members/%03d/%s", local[j].index, flat_parts[q]);
            RMENS_TRY(rmens_modelfile_fill_flat(f, sub, &h->cfg, src[q]));
        }
        snprintf(sub, sizeof sub, "/members/%03d/bootstrap_counts", local[j].index);
        RMENS_TRY(rmens_h5_fill(f, sub, H5T_NATIVE_INT32, local[j].counts));
    }
    return RMENS_OK;
}

rmens_status rmens_checkpoint_save(const char *path, MPI_Comm comm, const rmens_ckpt_header *h, const double *attrs,
                                   const rmens_ckpt_member *local, int n_local)
{
    rmens_h5_init();
    int rank;
    RMENS_TRY(rmens_mpi_check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank"));
    /* Before any file is touched: every owner seals its members (finite, checksummed);
     * all ranks agree, then share the checksums, which every rank writes as attributes. */
    const int S = crc_slots(&h->cfg);
    uint32_t *crcs = calloc((size_t)h->members * S, sizeof *crcs);
    rmens_status st = crcs ? seal_local(path, h, local, n_local, crcs) : rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    if ((st = rmens_verdict(comm, st)) != RMENS_OK) {
        free(crcs);
        return st;
    }
    /* Each member has one owner; the other ranks contribute zeros. */
    st = rmens_mpi_check(MPI_Allreduce(MPI_IN_PLACE, crcs, h->members * S, MPI_UINT32_T, MPI_BOR, comm),
                         "MPI_Allreduce(checksums)");
    /* One temporary name for all ranks: rank 0's pid. */
    long pid = (long)getpid();
    if (st == RMENS_OK)
        st = rmens_mpi_check(MPI_Bcast(&pid, 1, MPI_LONG, 0, comm), "MPI_Bcast");
    if (st != RMENS_OK) {
        free(crcs);
        return st;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, pid);
    /* The space is reserved before HDF5 writes anything: a full disk is an error here,
     * with no file open. A write failing inside parallel HDF5 instead leaves the file
     * impossible to close, and the ranks' closes deadlocked (HDF5 1.10). */
    double bytes = 0;  /* per member: weights and two Adam moments, bootstrap counts */
    for (int t = 0; t < RMENS_NTENSORS; t++)
        bytes += 3.0 * sizeof(float) * (double)rmens_tensor_numel(&h->cfg, t);
    bytes = h->members * (bytes + sizeof(int32_t) * (double)h->n_pairs + RMENS_H5_OVERHEAD(3 * rmens_arch_ntensors(&h->cfg))) +
            RMENS_H5_OVERHEAD(16);
    st = rank == 0 ? rmens_h5_reserve(tmp, bytes) : RMENS_OK;
    if ((st = rmens_verdict(comm, st)) != RMENS_OK) {
        if (rank == 0)
            remove(tmp);
        free(crcs);
        return st;
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), file = -1;
    /* The earliest file format, as for every rmens file (io/h5.c): besides, in the 1.8
     * format a member's many attributes go to dense storage, which H5Ocopy (rmens merge)
     * of HDF5 1.10 cannot copy (it crashes on their variable-length strings). */
    if (fapl < 0 || H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) < 0 ||
        (file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)) < 0)
        st = rmens_h5_fail("%s: cannot create", tmp);
    /* Creation is collective and identical on every rank; agree on it before the
     * independent writes, whose failures are local. Every rank then closes the file
     * (collective) whatever happened, and the verdict settles the outcome. */
    if (st == RMENS_OK)
        st = create_all(file, h, attrs, crcs);
    free(crcs);
    if (st == RMENS_OK && rank == 0)  /* the create truncated the file */
        st = rmens_h5_reserve(tmp, bytes);
    st = rmens_verdict(comm, st);
    if (st == RMENS_OK)
        st = fill_local(file, h, local, n_local);
    rmens_fault_save(rank);  /* tests only (base/fault.h) */
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
    if (st == RMENS_OK && rank == 0)
        rmens_h5_sweep_stale(path);
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
    snprintf(h->tokenizer, sizeof h->tokenizer, "bytes");
    if (rmens_h5_has_attr(f, "tokenizer") &&
        (st = rmens_h5_attr_read_str(f, "tokenizer", h->tokenizer, sizeof h->tokenizer)) != RMENS_OK)
        goto exit;
    h->template_name[0] = '\0';
    if (rmens_h5_has_attr(f, "template") &&
        (st = rmens_h5_attr_read_str(f, "template", h->template_name, sizeof h->template_name)) != RMENS_OK)
        goto exit;
    snprintf(h->objective, sizeof h->objective, "bt");  /* checkpoints before process RMs */
    if (rmens_h5_has_attr(f, "objective") &&
        (st = rmens_h5_attr_read_str(f, "objective", h->objective, sizeof h->objective)) != RMENS_OK)
        goto exit;
    h->step_separator[0] = '\0';
    if (rmens_h5_has_attr(f, "step_separator") &&
        (st = rmens_h5_attr_read_str(f, "step_separator", h->step_separator, sizeof h->step_separator)) != RMENS_OK)
        goto exit;
    if (strcmp(h->objective, "bt") != 0 && strcmp(h->objective, "prm") != 0) {
        st = rmens_fail(RMENS_ERR_FORMAT, "objective is \"%s\", expected \"bt\" or \"prm\"", h->objective);
        goto exit;
    }
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
    h->eot_token = -1;
    if (st == RMENS_OK && rmens_h5_has_attr(f, "eot_token") &&
        (st = rmens_h5_attr_read_i64(f, "eot_token", &h->eot_token)) == RMENS_OK &&
        (h->eot_token < 0 || h->eot_token >= h->cfg.vocab_size))
        st = rmens_fail(RMENS_ERR_FORMAT, "eot_token = %lld is outside the vocabulary (%d)", (long long)h->eot_token,
                        h->cfg.vocab_size);
    if (st == RMENS_OK && rmens_h5_has_attr(f, "hf_config"))
        st = rmens_h5_attr_read_str(f, "hf_config", h->hf_config, sizeof h->hf_config);
    if (st == RMENS_OK && rmens_h5_has_attr(f, "hf_dir"))
        st = rmens_h5_attr_read_str(f, "hf_dir", h->hf_dir, sizeof h->hf_dir);
    if (st == RMENS_OK && rmens_h5_has_attr(f, "data_vocab_size"))
        st = rmens_h5_attr_read_i64(f, "data_vocab_size", &h->data_vocab);
    for (size_t i = 0; i < sizeof hfields / sizeof *hfields && st == RMENS_OK; i++) {
        char *p = (char *)h + hfields[i].off;
        if (!hfields[i].io)
            continue;
        if ((strcmp(hfields[i].name, "share") == 0 || strcmp(hfields[i].name, "member_offset") == 0 ||
             strcmp(hfields[i].name, "ensemble_size") == 0) && !rmens_h5_has_attr(f, hfields[i].name))
            continue;
        if (hfields[i].kind == 'i') {
            st = rmens_h5_attr_read_i64(f, hfields[i].name, &v);
            if (st == RMENS_OK && (v < INT32_MIN || v > INT32_MAX))
                st = rmens_fail(RMENS_ERR_FORMAT, "attribute %s = %lld is out of range", hfields[i].name, (long long)v);
            *(int *)p = (int)v;
        } else {
            st = rmens_h5_attr_read_f64(f, hfields[i].name, (double *)p);
        }
    }
    /* What readers size allocations by must agree with what the file holds (found by
     * tests/fuzz: a damaged count made them allocate for members that are not there). */
    H5G_info_t gi;
    hid_t g = -1;
    if (st == RMENS_OK && (st = rmens_model_config_check(&h->cfg)) == RMENS_OK) {
        double numel = 0;
        for (int t = 0; t < RMENS_NTENSORS; t++)
            numel += (double)rmens_tensor_numel(&h->cfg, t);
        hsize_t filesize = 0;
        H5Fget_filesize(f, &filesize);
        if (numel > 4e10 || 4.0 * numel * (h->members > 0 ? h->members : 1) > (double)filesize)
            st = rmens_fail(RMENS_ERR_FORMAT, "the model config declares %.3g parameters per member, more than the "
                            "file's %llu bytes hold", numel, (unsigned long long)filesize);
    }
    if (st == RMENS_OK && ((g = H5Gopen2(f, "/members", H5P_DEFAULT)) < 0 || H5Gget_info(g, &gi) < 0))
        st = rmens_fail(RMENS_ERR_FORMAT, "the group /members is missing");
    else if (st == RMENS_OK && (h->members < 1 || (hsize_t)h->members != gi.nlinks))
        st = rmens_fail(RMENS_ERR_FORMAT, "members = %d but /members holds %llu members", h->members,
                        (unsigned long long)gi.nlinks);
    else if (st == RMENS_OK && (h->n_pairs < 0 || h->step < 0 || h->total_steps < 0))
        st = rmens_fail(RMENS_ERR_FORMAT, "n_pairs, step and total_steps must not be negative");
    else if (st == RMENS_OK && h->step > h->total_steps)
        st = rmens_fail(RMENS_ERR_FORMAT, "step %lld of %lld: a run never passes its last step", (long long)h->step,
                        (long long)h->total_steps);
    rmens_h5_close(g);
    if (st == RMENS_OK)
        st = rmens_h5_attr_read_str(f, "data", h->data, sizeof h->data);
    if (st == RMENS_OK)
        st = rmens_h5_attr_read_str(f, "command_line", h->command, sizeof h->command);
exit:
    H5Fclose(f);
    return st == RMENS_OK ? st : rmens_fail_context(st, "%s: ", path);
}

/* Reads member 0 of a one-member part whole, which verifies it. */
static rmens_status verify_part(const char *path, const rmens_ckpt_header *h)
{
    rmens_model *m = NULL;
    rmens_status st = rmens_model_alloc(&m, &h->cfg);
    float *am = st == RMENS_OK ? malloc(m->nparams * sizeof *am) : NULL;
    float *av = st == RMENS_OK ? malloc(m->nparams * sizeof *av) : NULL;
    int32_t *counts = malloc(((size_t)h->n_pairs + 1) * sizeof *counts);
    if (st == RMENS_OK && (!am || !av || !counts))
        st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    if (st == RMENS_OK)
        st = rmens_checkpoint_read_member(path, 0, m, am, av, counts, h->n_pairs, NULL);
    free(am);
    free(av);
    free(counts);
    rmens_model_free(m);
    return st;
}

rmens_status rmens_checkpoint_merge(const char *out, const char *const *parts, int n, const char *command,
                                    int overwrite)
{
    if (n < 1)
        return rmens_fail(RMENS_ERR_ARG, "merge: no parts given");
    rmens_ckpt_header h0, h;
    int *seen = calloc((size_t)n, sizeof *seen);
    rmens_file_use *in = calloc((size_t)n, sizeof *in);
    if (!seen || !in) {
        free(seen);
        free(in);
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++)
        in[i] = (rmens_file_use){"part", parts[i], 0};
    rmens_status st = rmens_output_check(in, n, &(rmens_file_use){"`out`", out, overwrite}, 1);
    free(in);
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
        else if (i > 0 && strcmp(h.tokenizer, h0.tokenizer) != 0)
            st = rmens_fail(RMENS_ERR_ARG, "%s was trained on tokenizer %s but %s on %s: parts of one ensemble read "
                            "the same tokens", parts[i], h.tokenizer, parts[0], h0.tokenizer);
        else if (i > 0) {
            /* Everything that defines the run must agree; only the member (and where the
             * data was read from, and the command) differs. */
            static const char *const own[] = {"member_offset", "data", "command", NULL};
            rmens_hdiff d;
            if (rmens_ckpt_header_differ(&h, &h0, own, 0, &d))
                st = rmens_fail(RMENS_ERR_ARG, "%s was trained with other settings or data than %s (%s %s, not %s)",
                                parts[i], parts[0], d.field, d.a, d.b);
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
        /* The copy is byte for byte: read the part through the checks first (checksums,
         * shapes, finite weights), so a damaged part is refused, not merged. */
        if ((st = verify_part(parts[i], &x)) != RMENS_OK)
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
    hid_t f = -1, grp = -1;
    char g[64], sub[96];
    snprintf(g, sizeof g, "/members/%03d", k);
    rmens_status st = RMENS_OK;
    int has_head, need_crc = 0;
    int64_t label = k;  /* the member's index in its ensemble (a job-array part holds one) */
    void *buf = NULL;
    if ((f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        st = rmens_h5_fail("cannot open");
        goto exit;
    }
    if ((grp = H5Gopen2(f, g, H5P_DEFAULT)) < 0) {
        st = rmens_fail(RMENS_ERR_FORMAT, "group %s is missing", g);
        goto exit;
    }
    if (rmens_h5_has_attr(grp, "member") && (st = rmens_h5_attr_read_i64(grp, "member", &label)) != RMENS_OK)
        goto exit;
    /* A member written before checksums existed has no `checksum` attribute: it is read
     * unverified. One that has it must carry a crc32 on every dataset. */
    if ((m || adam_m || adam_v || counts) && (st = rmens_checksum_required(f, g, &need_crc)) != RMENS_OK)
        goto exit;
    snprintf(sub, sizeof sub, "%s/params", g);
    if (m && (st = rmens_modelfile_read_tensors(f, sub, m, &has_head, need_crc)) != RMENS_OK)
        goto exit;
    if (m && !has_head) {
        st = rmens_fail(RMENS_ERR_FORMAT, "%s has no score.weight", sub);
        goto exit;
    }
    snprintf(sub, sizeof sub, "%s/optimizer/m", g);
    if (adam_m && (st = rmens_modelfile_read_flat(f, sub, &m->cfg, adam_m, need_crc)) != RMENS_OK)
        goto exit;
    snprintf(sub, sizeof sub, "%s/optimizer/v", g);
    if (adam_v && (st = rmens_modelfile_read_flat(f, sub, &m->cfg, adam_v, need_crc)) != RMENS_OK)
        goto exit;
    snprintf(sub, sizeof sub, "%s/bootstrap_counts", g);
    if (counts) {
        int64_t got;
        if ((st = rmens_h5_read_1d(f, sub, H5T_INTEGER, H5T_NATIVE_INT32, H5P_DEFAULT, &buf, &got)) != RMENS_OK)
            goto exit;
        if (got != n_pairs) {
            st = rmens_fail(RMENS_ERR_FORMAT, "%s has %lld entries, the data %lld pairs", sub, (long long)got,
                            (long long)n_pairs);
            goto exit;
        }
        if ((st = rmens_checksum_verify(f, sub, buf, (size_t)got, need_crc)) != RMENS_OK)
            goto exit;
        if (n_pairs > 0)  /* buf is NULL for none (found by UBSan on a fuzz input) */
            memcpy(counts, buf, (size_t)n_pairs * sizeof *counts);
    }
    for (int a = 0; attrs && a < RMENS_MA_N; a++) {
        /* Metrics are informative: one a writer did not record reads as NaN. */
        attrs[a] = NAN;
        if (!rmens_h5_has_attr(grp, rmens_member_attr_names[a]))
            continue;
        /* scalar-checked: an array-valued attribute would overrun attrs (found by tests/fuzz) */
        if ((st = rmens_h5_attr_read_f64(grp, rmens_member_attr_names[a], &attrs[a])) != RMENS_OK) {
            rmens_fail_context(st, "%s: ", g);
            goto exit;
        }
    }
exit:
    free(buf);
    rmens_h5_close(grp);
    rmens_h5_close(f);
    return st == RMENS_OK ? st : rmens_fail_context(st, "%s: member %lld: ", path, (long long)label);
}

int rmens_checkpoint_member_checksummed(const char *path, int k)
{
    rmens_h5_init();
    char g[64];
    int required = 0;
    snprintf(g, sizeof g, "/members/%03d", k);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0 || rmens_checksum_required(f, g, &required) != RMENS_OK)
        required = -1;
    rmens_h5_close(f);
    return required;
}
