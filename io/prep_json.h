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

/* The prompt of a record: a string (an HH transcript kept verbatim, else one Human turn)
 * or a list of messages; then the assistant header. */
rmens_status rmens_json_render_prompt(json_object *p, const char *where, rmens_text *P);
/* Appends one response: a string (the assistant's content), a message, or a list of
 * messages whose first is the assistant's. *empty: its first content is empty. */
rmens_status rmens_json_render_response(json_object *v, const char *what, const char *where, rmens_text *t,
                                        int *empty);

/* Rendered prompts seen so far, by text: equal text, equal id (first seen, first id). */
typedef struct {
    rmens_text text;   /* every prompt, concatenated */
    size_t *off;       /* [n + 1] prompt k is text.buf[off[k] .. off[k + 1]) */
    int64_t n, cap;
    int64_t *slot;     /* open addressing: prompt id + 1, 0 = empty; nslot a power of 2 */
    int64_t nslot;
} rmens_prompt_table;
/* The id of prompt s[0..n), adding it when new; -1 out of memory. */
int64_t rmens_prompt_table_id(rmens_prompt_table *t, const char *s, size_t n);
void rmens_prompt_table_free(rmens_prompt_table *t);

/* The next input record, skipping (and counting) malformed ones with --skip-bad, and
 * stopping (*rec = NULL) at the end or after --max-records. */
typedef struct rmens_records rmens_records;
rmens_status rmens_prep_next(rmens_records *in, const rmens_prep_options *o, rmens_prep_report *rep,
                            json_object **rec);

/* An output data file recording the tokenizer, its end token, the template and the input. */
rmens_status rmens_prep_dataset_new(rmens_dataset **out, rmens_data_kind kind, unsigned has, const rmens_tokenizer *tk,
                                    int32_t end, const char *template_name, const char *input);

/* A record's format by its fields (--format auto); an ambiguous record is refused. */
rmens_status rmens_prep_detect(json_object *o, const char *where, rmens_prep_format *f);

/* rmens prep --steps (io/prep_steps.c): process supervision -> a steps file. */
rmens_status rmens_prep_steps(const rmens_prep_options *o, rmens_prep_report *rep);
void rmens_prep_steps_report_print(FILE *f, const rmens_prep_options *o, const rmens_prep_report *rep);

/* rmens prep --responses (io/prep_responses.c), reached through rmens_prep. */
rmens_status rmens_prep_responses(const rmens_prep_options *o, rmens_prep_report *rep);
void rmens_prep_responses_report_print(FILE *f, const rmens_prep_options *o, const rmens_prep_report *rep);

#endif
