#include "io/calibration.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "io/h5.h"
#include "io/hfdir.h"

/* src's bytes into dst (created; reserved first, so a full disk fails here). */
static rmens_status copy_file(const char *src, const char *dst, double extra)
{
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1;
    struct stat sb;
    if (in < 0 || fstat(in, &sb) != 0) {
        rmens_status st = rmens_fail(RMENS_ERR_IO, "cannot read %s: %s", src, strerror(errno));
        if (in >= 0)
            close(in);
        return st;
    }
    rmens_status st = rmens_h5_reserve(dst, (double)sb.st_size + extra);
    if (st == RMENS_OK && (out = open(dst, O_WRONLY | O_CLOEXEC)) < 0)
        st = rmens_fail(RMENS_ERR_IO, "cannot open %s: %s", dst, strerror(errno));
    char buf[1 << 16];
    ssize_t n = 0;
    while (st == RMENS_OK && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n)
            st = rmens_fail(RMENS_ERR_IO, "cannot write %s: %s", dst, strerror(errno));
    if (st == RMENS_OK && n < 0)
        st = rmens_fail(RMENS_ERR_IO, "cannot read %s: %s", src, strerror(errno));
    if (st == RMENS_OK && fsync(out) != 0)
        st = rmens_fail(RMENS_ERR_IO, "cannot write %s: %s", dst, strerror(errno));
    close(in);
    if (out >= 0)
        close(out);
    return st;
}

static rmens_status write_attrs(hid_t f, const char *path, const rmens_calibration *c)
{
    char kind[32];
    int64_t K = 0;
    rmens_status st = rmens_h5_attr_read_str(f, "rmens_format", kind, sizeof kind);
    if (st == RMENS_OK && strcmp(kind, "ensemble") != 0)
        return rmens_fail(RMENS_ERR_ARG, "%s is a \"%s\" file: temperatures are recorded in ensemble checkpoints", path,
                          kind);
    if (st == RMENS_OK && (st = rmens_h5_attr_read_i64(f, "members", &K)) == RMENS_OK && K != c->members)
        return rmens_fail(RMENS_ERR_ARG, "%s has %lld members, not %d: it changed since it was evaluated", path,
                          (long long)K, c->members);
    if (st == RMENS_OK) st = rmens_h5_attr_write_f64(f, "temperature", c->temperature);
    if (st == RMENS_OK) st = rmens_h5_attr_write_str(f, "temperature_rewards", c->normalized ? "member" : "none");
    if (st == RMENS_OK) st = rmens_h5_attr_write_str(f, "temperature_data", c->data ? c->data : "");
    if (st == RMENS_OK) st = rmens_h5_attr_write_i64(f, "temperature_pairs", c->pairs);
    for (int k = 0; k < c->members && st == RMENS_OK; k++) {
        char g[32];
        snprintf(g, sizeof g, "/members/%03d", k);
        hid_t m = H5Gopen2(f, g, H5P_DEFAULT);
        st = m < 0 ? rmens_h5_fail("cannot open %s", g) : rmens_h5_attr_write_f64(m, "temperature", c->member[k]);
        rmens_h5_close(m);
    }
    return st;
}

static rmens_status calibration_write(const char *path, const rmens_calibration *c)
{
    rmens_h5_init();
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    rmens_status st = copy_file(path, tmp, RMENS_H5_OVERHEAD(c->members + 4));
    hid_t f = st == RMENS_OK ? H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT) : -1;
    if (st == RMENS_OK && f < 0)
        st = rmens_h5_fail("cannot open %s", tmp);
    if (st == RMENS_OK)
        st = write_attrs(f, path, c);
    if (st == RMENS_OK)
        return rmens_h5_commit(f, tmp, path);
    if (f >= 0)
        rmens_h5_abandon(f, tmp);
    else
        remove(tmp);
    return st;
}

rmens_status rmens_calibration_write(const char *path, const rmens_calibration *c)
{
    RMENS_H5_LOCKED(calibration_write(path, c));
}

static rmens_status read_tau(const char *path, int K, const double *rstd, double *tau, int *has)
{
    hid_t f = -1;
    *has = 0;
    for (int k = 0; k < K; k++)
        tau[k] = 1;
    if (rmens_hfdir_is_dir(path))  /* a Hugging Face directory records no temperatures */
        return RMENS_OK;
    RMENS_TRY(rmens_h5_open_ro(path, H5P_DEFAULT, &f));
    char rewards[16] = "none";
    rmens_status st = RMENS_OK;
    if (rmens_h5_has_attr(f, "temperature_rewards")) {
        st = rmens_h5_attr_read_str(f, "temperature_rewards", rewards, sizeof rewards);
        for (int k = 0; k < K && st == RMENS_OK; k++) {
            char g[32];
            double T = NAN;
            snprintf(g, sizeof g, "/members/%03d", k);
            hid_t m = H5Gopen2(f, g, H5P_DEFAULT);
            st = m < 0 ? rmens_h5_fail("%s: cannot open %s", path, g) : rmens_h5_attr_read_f64(m, "temperature", &T);
            rmens_h5_close(m);
            if (st == RMENS_OK && !(T > 0 && T < 1e300))
                st = rmens_fail(RMENS_ERR_FORMAT, "%s: member %d: temperature %g is not a positive number", path, k, T);
            if (st == RMENS_OK)
                tau[k] = strcmp(rewards, "member") == 0 ? T * rstd[k] : T;
        }
        *has = st == RMENS_OK;
    }
    H5Fclose(f);
    return st;
}

rmens_status rmens_calibration_read_tau(const char *path, int K, const double *rstd, double *tau, int *has)
{
    RMENS_H5_LOCKED(read_tau(path, K, rstd, tau, has));
}

static rmens_status read_record(const char *path, int K, rmens_calibration *c, double *member, char *data,
                               size_t size, int *has)
{
    double *ones = malloc((size_t)(K > 0 ? K : 1) * sizeof *ones);
    if (!ones)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    for (int k = 0; k < K; k++)
        ones[k] = 1;
    rmens_status st = read_tau(path, K, ones, member, has);  /* with reward_std 1: the T_k themselves */
    free(ones);
    hid_t h = -1;
    char rewards[16] = "";
    *c = (rmens_calibration){NAN, member, K, 0, data, 0};
    data[0] = '\0';
    if (st == RMENS_OK && *has && (st = rmens_h5_open_ro(path, H5P_DEFAULT, &h)) == RMENS_OK) {
        if (rmens_h5_has_attr(h, "temperature"))
            st = rmens_h5_attr_read_f64(h, "temperature", &c->temperature);
        if (st == RMENS_OK && rmens_h5_has_attr(h, "temperature_data"))
            st = rmens_h5_attr_read_str(h, "temperature_data", data, size);
        if (st == RMENS_OK && rmens_h5_has_attr(h, "temperature_pairs"))
            st = rmens_h5_attr_read_i64(h, "temperature_pairs", &c->pairs);
        if (st == RMENS_OK)
            st = rmens_h5_attr_read_str(h, "temperature_rewards", rewards, sizeof rewards);
        c->normalized = strcmp(rewards, "member") == 0;
        H5Fclose(h);
    }
    return st;
}

rmens_status rmens_calibration_read(const char *path, int K, rmens_calibration *c, double *member, char *data,
                                    size_t size, int *has)
{
    RMENS_H5_LOCKED(read_record(path, K, c, member, data, size, has));
}
