/* A strict JSON (RFC 8259) pull reader over a buffer, for the two large members of a
 * tokenizer.json: model.vocab (151,669 entries in Qwen3's) and model.merges (151,387).
 * json-c builds a node, a hash table or a 32-slot array per entry: 0.4 s and 96 MB for
 * Qwen3's file. Read here straight into the BPE tables, the same file loads in a fraction
 * of that; json-c still parses everything else (docs/TOKENIZERS.md, "Loading").
 *
 *     rmens_jscan s;
 *     rmens_jscan_init(&s, buf, len);
 *     for (int more = rmens_jscan_open(&s, '{'); more > 0; more = rmens_jscan_next(&s, '}'))
 *         if (rmens_jscan_string(&s) || rmens_jscan_colon(&s) || rmens_jscan_skip(&s, NULL))
 *             break;   // s.err says what is wrong, s.err_at where
 *     rmens_jscan_free(&s);
 *
 * Every function returns 0 on success and -1 on malformed JSON (s.err, s.err_at set);
 * iteration functions return 1 (an element follows), 0 (the container closed) or -1. */
#ifndef RMENS_TEXT_JSONSCAN_H
#define RMENS_TEXT_JSONSCAN_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *buf, *p, *end;
    char *str;            /* the last string read, decoded to UTF-8, NUL-terminated */
    size_t str_len, str_cap;
    const char *err;      /* what is malformed, or NULL */
    size_t err_at;        /* its byte offset in buf */
} rmens_jscan;

void rmens_jscan_init(rmens_jscan *s, const char *buf, size_t len);
void rmens_jscan_free(rmens_jscan *s);
/* The next byte after white space, without consuming it; -1 at the end. */
int rmens_jscan_peek(rmens_jscan *s);
/* Consumes the container's opening bracket ('{' or '['); then as rmens_jscan_next. */
int rmens_jscan_open(rmens_jscan *s, char open);
/* After an element: consumes ',' (1: another follows) or the closing bracket (0). */
int rmens_jscan_next(rmens_jscan *s, char close);
int rmens_jscan_colon(rmens_jscan *s);
/* A string into s->str / s->str_len (escapes decoded; a lone surrogate is malformed). */
int rmens_jscan_string(rmens_jscan *s);
/* A number: *v and *integral = 1 when it is an integer that fits in int64, else
 * *integral = 0 (a fraction, an exponent, or out of range). */
int rmens_jscan_number(rmens_jscan *s, int64_t *v, int *integral);
/* Any value, checked and passed over; *count (if given) = its members or elements. */
int rmens_jscan_skip(rmens_jscan *s, size_t *count);

#endif
