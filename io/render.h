/* The one conversation template every input format is rendered with (docs/FORMAT.md),
 * HH-RLHF's: each turn is "\n\n" + Speaker + ":" + " " + content, where Speaker is Human,
 * Assistant or System and the space is left out when the content is empty or already
 * begins with white space. */
#ifndef RMENS_IO_RENDER_H
#define RMENS_IO_RENDER_H

#include <stddef.h>

#include "rmens.h"

#define RMENS_ASSISTANT_HEADER "\n\nAssistant:"
#define RMENS_HUMAN_HEADER "\n\nHuman:"

typedef enum { RMENS_ROLE_HUMAN, RMENS_ROLE_ASSISTANT, RMENS_ROLE_SYSTEM } rmens_role;

/* A growable byte string (not NUL-terminated unless rmens_text_cstr is called). */
typedef struct {
    char *buf;
    size_t len, cap;
} rmens_text;

int rmens_text_append(rmens_text *t, const char *s, size_t n);  /* 0, or -1 out of memory */
const char *rmens_text_cstr(rmens_text *t);
void rmens_text_free(rmens_text *t);

/* Maps a role name (user/human, assistant/gpt/..., system) to a role; -1 if unknown. */
int rmens_role_from_name(const char *name);
/* Appends header + separator + content for one turn. */
int rmens_render_turn(rmens_text *t, rmens_role role, const char *content, size_t n);
/* Appends only the separator + content (the header is already there, as at the end of
 * a prompt that ends with "\n\nAssistant:"). */
int rmens_render_content(rmens_text *t, const char *content, size_t n);
/* Appends a prompt string and the assistant header: a human turn, or the string verbatim
 * when it already is an HH transcript (begins "\n\nHuman:"; the header is added unless
 * it ends with it), as TRL's HH conversion writes prompts. */
int rmens_render_prompt(rmens_text *t, const char *p, size_t n);

#endif
