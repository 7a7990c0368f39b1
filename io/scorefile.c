#include "config.h"
#include "io/scorefile.h"

#include <stdlib.h>

#include "base/error.h"
#include "io/dataset.h"
#include "io/h5.h"

const char *const rmens_score_columns[RMENS_SCORE_NCOLS] = {"mean", "min", "max", "var", "std", "uwo", "wco"};

float rmens_score_column(const rmens_score_stats *x, int c)
{
    return c == 0 ? x->mean : c == 1 ? x->min : c == 2 ? x->max : c == 3 ? x->var : c == 4 ? x->std
         : c == 5 ? x->uwo : x->min;  /* wco: worst-case optimisation reads the minimum */
}

static rmens_status write_group(hid_t f, const char *g, const rmens_scorefile_info *in, const rmens_score_stats *st,
                                const float *rewards)
{
    float *col = malloc((size_t)(in->n > 0 ? in->n : 1) * sizeof *col);
    if (!col)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    rmens_status s = RMENS_OK;
    for (int c = 0; c < RMENS_SCORE_NCOLS && s == RMENS_OK; c++) {
        for (int64_t i = 0; i < in->n; i++)
            col[i] = rmens_score_column(&st[i], c);
        char path[64];
        snprintf(path, sizeof path, "%s/%s", g, rmens_score_columns[c]);
        s = rmens_h5_write_nd(f, path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, col, 1, &in->n);
    }
    free(col);
    if (s == RMENS_OK && rewards) {
        char path[64];
        int64_t dims[2] = {in->n, in->members};
        snprintf(path, sizeof path, "%s/rewards", g);
        s = rmens_h5_write_nd(f, path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, rewards, 2, dims);
    }
    return s;
}

rmens_status rmens_scorefile_write(const char *path, int overwrite, const rmens_scorefile_info *in,
                                   const rmens_score_stats *stats, const float *rewards)
{
    char tmp[4200];
    hid_t f = -1;
    double bytes = 2.0 * (double)in->n * (10.0 + in->members) * sizeof(float) + RMENS_H5_OVERHEAD(25);
    RMENS_TRY(rmens_h5_create_tmp(path, overwrite, bytes, &f, tmp, sizeof tmp));
    rmens_status st = rmens_h5_attr_write_str(f, "rmens_format", "scores");
    if (st == RMENS_OK) st = rmens_h5_attr_write_i64(f, "rmens_version", RMENS_FORMAT_VERSION);
    if (st == RMENS_OK) st = rmens_h5_attr_write_str(f, "created_by", "rmens " PACKAGE_VERSION);
    if (st == RMENS_OK) st = rmens_h5_attr_write_str(f, "checkpoint", in->ckpt);
    if (st == RMENS_OK) st = rmens_h5_attr_write_i64(f, "checkpoint_step", in->ckpt_step);
    if (st == RMENS_OK) st = rmens_h5_attr_write_i64(f, "checkpoint_crc32", in->ckpt_crc32);
    if (st == RMENS_OK) st = rmens_h5_attr_write_str(f, "data", in->data);
    if (st == RMENS_OK) st = rmens_h5_attr_write_str(f, "command_line", in->command ? in->command : "");
    if (st == RMENS_OK) st = rmens_h5_attr_write_i64(f, "members", in->members);
    if (st == RMENS_OK) st = rmens_h5_attr_write_f64(f, "lambda", in->lambda);
    if (st == RMENS_OK) st = rmens_h5_attr_write_str(f, "normalize", in->normalize ? "member" : "none");
    if (st == RMENS_OK) st = rmens_h5_attr_write_i64(f, "sequences_cut", in->n_cut);
    if (st == RMENS_OK) st = rmens_h5_attr_write_str(f, "input", in->pairs ? "pairs" : "responses");
    if (st == RMENS_OK && in->prompt_id && !in->pairs)  /* best-of-n and users group by it */
        st = rmens_h5_write_nd(f, "/prompt_id", H5T_STD_I64LE, H5T_NATIVE_INT64, in->prompt_id, 1, &in->n);
    if (st == RMENS_OK && in->p)  /* p is calibrated (io/calibration.h) or not */
        st = rmens_h5_attr_write_str(f, "calibrated", in->tau ? "temperature" : "none");
    if (st == RMENS_OK && in->tau) {
        int64_t K = in->members;
        st = rmens_h5_write_nd(f, "/temperature", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, in->tau, 1, &K);
    }
    if (st == RMENS_OK && in->p)  /* a pair's decision: ensemble/uncertainty.h */
        st = rmens_h5_write_nd(f, "/p", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, in->p, 1, &in->n);
    if (st == RMENS_OK && in->uncertainty)
        st = rmens_h5_write_nd(f, "/uncertainty", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, in->uncertainty, 1, &in->n);
    for (int g = 0; g < (in->pairs ? 2 : 1) && st == RMENS_OK; g++)
        st = write_group(f, in->pairs ? (g ? "/rejected" : "/chosen") : "", in, stats + (size_t)g * in->n,
                         rewards ? rewards + (size_t)g * in->n * in->members : NULL);
    if (st != RMENS_OK) {
        rmens_h5_abandon(f, tmp);
        return rmens_fail_context(st, "%s: ", path);
    }
    return rmens_h5_commit(f, tmp, path);
}
