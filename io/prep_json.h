/* JSON readers shared by rmens prep's pairs (io/prep.c) and responses
 * (io/prep_responses.c): fields, strings and messages, with messages naming the record. */
#ifndef RMENS_IO_PREP_JSON_H
#define RMENS_IO_PREP_JSON_H

#include <json-c/json.h>
#include <stdio.h>

#include "io/render.h"
#include "rmens.h"

/* One message: {"role","content"} or ShareGPT's {"from","value"}. */
typedef struct {
    rmens_role role;
    rmens_text content;
} rmens_message;

const char *rmens_json_type_name(json_object *o);
rmens_status rmens_json_field(json_object *o, const char *key, const char *where, json_object **v);
rmens_status rmens_json_string(json_object *v, const char *what, const char *where, const char **s,
                               size_t *n);
rmens_status rmens_json_message(json_object *m, const char *what, const char *where, rmens_message *out);
/* Renders messages from..end of list as turns; 0, or -1 with *st set. */
int rmens_json_render_messages(rmens_text *t, json_object *list, size_t from, const char *where,
                               const char *what, rmens_status *st);

/* The next input record, skipping (and counting) malformed ones with --skip-bad, and
 * stopping (*rec = NULL) at the end or after --max-records. */
typedef struct rmens_records rmens_records;
rmens_status rmens_prep_next(rmens_records *in, const rmens_prep_options *o, rmens_prep_report *rep,
                            json_object **rec);

/* rmens prep --responses (io/prep_responses.c), reached through rmens_prep. */
rmens_status rmens_prep_responses(const rmens_prep_options *o, rmens_prep_report *rep);
void rmens_prep_responses_report_print(FILE *f, const rmens_prep_options *o, const rmens_prep_report *rep);

#endif
