#include "config.h"
#include "io/picks.h"

#include <stdlib.h>

#include "base/error.h"
#include "io/dataset.h"
#include "io/h5.h"
#include "io/scorefile.h"

static rmens_status write_columns(hid_t f, const rmens_picks *p)
{
    /* score's columns (io/scorefile.h), of the picked candidates */
    float *col = malloc((size_t)(p->G > 0 ? p->G : 1) * sizeof *col);
    if (!col)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    rmens_status st = RMENS_OK;
    for (int c = 0; c < RMENS_SCORE_NCOLS && st == RMENS_OK; c++) {
        for (int64_t i = 0; i < p->G; i++)
            col[i] = rmens_score_column(&p->stats[i], c);
        char path[32];
        snprintf(path, sizeof path, "/%s", rmens_score_columns[c]);
        st = rmens_h5_write_nd(f, path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, col, 1, &p->G);
    }
    free(col);
    return st;
}

rmens_status rmens_picks_write(const char *path, int overwrite, const rmens_picks *p)
{
    char tmp[4200];
    hid_t f = -1;
    const int64_t T = p->offsets[p->G], dims[2] = {p->G, p->members}, G1 = p->G + 1;
    double bytes = (double)p->G * (80.0 + 4.0 * p->members) + 4.0 * (double)T + RMENS_H5_OVERHEAD(24);
    RMENS_TRY(rmens_h5_create_tmp(path, overwrite, bytes, &f, tmp, sizeof tmp));
    rmens_status st = rmens_h5_attr_write_str(f, "rmens_format", "picks");
    if (st == RMENS_OK) st = rmens_h5_attr_write_i64(f, "rmens_version", RMENS_FORMAT_VERSION);
    if (st == RMENS_OK) st = rmens_h5_attr_write_str(f, "created_by", "rmens " PACKAGE_VERSION);
    if (st == RMENS_OK) st = rmens_h5_attr_write_str(f, "checkpoint", p->ckpt);
    if (st == RMENS_OK) st = rmens_h5_attr_write_i64(f, "checkpoint_crc32", p->ckpt_crc32);
    if (st == RMENS_OK) st = rmens_h5_attr_write_str(f, "candidates", p->candidates);
    if (st == RMENS_OK) st = rmens_h5_attr_write_str(f, "command_line", p->command ? p->command : "");
    if (st == RMENS_OK) st = rmens_h5_attr_write_str(f, "by", p->by);
    if (st == RMENS_OK) st = rmens_h5_attr_write_f64(f, "lambda", p->lambda);
    if (st == RMENS_OK) st = rmens_h5_attr_write_i64(f, "members", p->members);
    if (st == RMENS_OK) st = rmens_h5_attr_write_str(f, "normalize", p->normalize ? "member" : "none");
    if (st == RMENS_OK) st = rmens_h5_attr_write_str(f, "calibrated", p->calibrated ? "temperature" : "none");
    if (st == RMENS_OK) st = rmens_h5_attr_write_str(f, "tokenizer", p->tokenizer);
    if (st == RMENS_OK && p->aggregate) st = rmens_h5_attr_write_str(f, "aggregate", p->aggregate);
    const struct {
        const char *name;
        const int64_t *v;
    } ints[] = {{"/prompt_id", p->prompt_id}, {"/index", p->index}, {"/candidate", p->candidate},
                {"/group_size", p->group_size}, {"/prompt_len", p->prompt_len}};
    for (size_t q = 0; q < sizeof ints / sizeof *ints && st == RMENS_OK; q++)
        st = rmens_h5_write_nd(f, ints[q].name, H5T_STD_I64LE, H5T_NATIVE_INT64, ints[q].v, 1, &p->G);
    if (st == RMENS_OK) st = rmens_h5_write_nd(f, "/value", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, p->value, 1, &p->G);
    if (st == RMENS_OK)
        st = rmens_h5_write_nd(f, "/uncertainty", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, p->uncertainty, 1, &p->G);
    if (st == RMENS_OK && p->gold)
        st = rmens_h5_write_nd(f, "/gold", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, p->gold, 1, &p->G);
    if (st == RMENS_OK) st = write_columns(f, p);
    if (st == RMENS_OK) st = rmens_h5_write_nd(f, "/rewards", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, p->rewards, 2, dims);
    if (st == RMENS_OK)
        st = rmens_h5_write_nd(f, "/responses/tokens", H5T_STD_I32LE, H5T_NATIVE_INT32, p->tokens, 1, &T);
    if (st == RMENS_OK)
        st = rmens_h5_write_nd(f, "/responses/offsets", H5T_STD_I64LE, H5T_NATIVE_INT64, p->offsets, 1, &G1);
    if (st != RMENS_OK) {
        rmens_h5_abandon(f, tmp);
        return rmens_fail_context(st, "%s: ", path);
    }
    return rmens_h5_commit(f, tmp, path);
}
