/* A JSON object read from a file or a buffer, strictly (RFC 8259, valid UTF-8, nothing
 * after the value but white space), with messages naming the file and the byte. */
#ifndef RMENS_IO_JSONFILE_H
#define RMENS_IO_JSONFILE_H

#include <json-c/json.h>
#include <stddef.h>

#include "rmens.h"

/* Parses buf[0..len) (what: "header", "file", for messages) into a JSON object. */
rmens_status rmens_json_parse(const char *path, const char *what, const char *buf, size_t len, json_object **out);
/* Reads the file at path (at most max bytes) and parses it as above. */
rmens_status rmens_json_read(const char *path, size_t max, json_object **out);

#endif
