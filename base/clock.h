/* The one monotonic clock of rmens (durations, throughput, progress). */
#ifndef RMENS_BASE_CLOCK_H
#define RMENS_BASE_CLOCK_H

/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC). */
double rmens_now(void);

#endif
