/* Reads JSON records one at a time from JSON Lines or a JSON array, plain or gzip
 * (zlib reads both transparently), remembering where each came from for messages. */
#ifndef RMENS_IO_RECORDS_H
#define RMENS_IO_RECORDS_H

#include <json-c/json.h>

#include "rmens.h"

typedef struct rmens_records rmens_records;

rmens_status rmens_records_open(rmens_records **out, const char *path);
/* Next record. On RMENS_OK: *obj (owned by the reader until the next call) or *obj ==
 * NULL at the end. RMENS_ERR_INPUT for a malformed JSON Lines record: the message names
 * the line, and the reader has moved past it, so a caller may call again to skip it.
 * Other errors (I/O, gzip, a malformed JSON array) are final. */
rmens_status rmens_records_next(rmens_records *r, json_object **obj);
/* "file:line" (JSON Lines) or "file: element K" (array) of the last record returned. */
const char *rmens_records_where(const rmens_records *r);
int64_t rmens_records_index(const rmens_records *r);  /* 0-based line or element index */
int64_t rmens_records_line(const rmens_records *r);   /* 1-based line, JSON Lines only */
int64_t rmens_records_bytes(const rmens_records *r);  /* uncompressed bytes read so far */
/* \uD800-\uDFFF escapes read so far without their other half (json-c makes each
 * U+FFFD), and the 1-based line of the first (0 in an array). */
int64_t rmens_records_lone_surrogates(const rmens_records *r, int64_t *first_line);
/* 1 once an error cannot be skipped: reading on would only repeat it. */
int rmens_records_fatal(const rmens_records *r);
void rmens_records_close(rmens_records *r);

#endif
