/* TensorBoard event files, written by hand from the documented format (no writer library
 * is packaged for Debian): TFRecord framing (length, masked CRC-32C of the length, the
 * record, its masked CRC-32C) around Event protocol buffers (wall_time, step, and a
 * Summary of tagged scalars), the first Event naming the file version "brain.Event:2". */
#ifndef RMENS_IO_EVENTS_H
#define RMENS_IO_EVENTS_H

#include <stdint.h>

#include "rmens.h"

typedef struct rmens_events rmens_events;

/* Creates logdir (one level) if needed and a new file
 * logdir/events.out.tfevents.<seconds>.<host>.<pid> in it; *path_out (if not NULL) gets
 * its name (valid until close). */
rmens_status rmens_events_open(rmens_events **out, const char *logdir, const char **path_out);
/* One scalar (TensorBoard's simple_value) at a step. */
rmens_status rmens_events_scalar(rmens_events *ev, const char *tag, int64_t step, double wall_time, float value);
/* Flushes and closes; NULL is a no-op. */
rmens_status rmens_events_close(rmens_events *ev);

/* The scalars of one record of `rmens train --metrics` (docs/TRAINING.md): "train"
 * records give train/loss/member_K, train/accuracy/member_K, train/loss_mean, train/lr,
 * train/pairs_per_s; "eval" records val/{loss,accuracy,margin}/member_K,
 * oob/{loss,accuracy,margin}/member_K and val/ensemble_accuracy_{mean,min,uwo}; other
 * records none. Wall time: *wall (seconds since the epoch of the run's start) plus the
 * record's elapsed_s (an eval record takes the last one seen). where names the record
 * in messages. *n counts the scalars written. */
struct json_object;
rmens_status rmens_events_metrics(rmens_events *ev, struct json_object *rec, const char *where, double start,
                                  double *last_elapsed, int64_t *n);

/* CRC-32C (Castagnoli), as TFRecord masks it; exposed for the unit test. */
uint32_t rmens_crc32c(uint32_t crc, const void *data, size_t n);

#endif
