/* The temperatures recorded in an ensemble checkpoint (docs/FORMAT.md, "ensemble"
 * files): fitted by rmens eval --fit-temperature (ensemble/temperature.h), read by
 * every scorer. Recording them rewrites no member: the file is copied byte for byte to
 * "<path>.tmp.<pid>", the attributes are added to the copy, and the copy is renamed onto
 * path (docs/RELIABILITY.md), while the caller holds the writer's lock (io/output.h). */
#ifndef RMENS_IO_CALIBRATION_H
#define RMENS_IO_CALIBRATION_H

#include <stddef.h>
#include <stdint.h>

#include "rmens.h"

typedef struct {
    double temperature;          /* the ensemble's mean margin's (recorded, not applied) */
    const double *member;        /* [members] each member's own T, fitted alone: applied */
    int members;
    int normalized;              /* fitted on margins standardised per member (1) or raw (0) */
    const char *data;            /* the pairs it was fitted on */
    int64_t pairs;
} rmens_calibration;

/* Records c in the ensemble checkpoint at path (atomically; see above). */
rmens_status rmens_calibration_write(const char *path, const rmens_calibration *c);

/* Each member's temperature for margins in its own (raw) reward scale, as score and
 * serve divide them (ensemble/uncertainty.h): tau[k] = T_k * reward_std[k] when T_k was
 * fitted on standardised margins, T_k otherwise; all 1 when the file records none.
 * *has says which. rstd: [K] the members' reward_std. */
rmens_status rmens_calibration_read_tau(const char *path, int K, const double *rstd, double *tau, int *has);

/* What path records, for rmens info: *has 0 when nothing; else c (c->member: [K], the
 * caller's; c->data: data[size]). */
rmens_status rmens_calibration_read(const char *path, int K, rmens_calibration *c, double *member, char *data,
                                    size_t size, int *has);

#endif
