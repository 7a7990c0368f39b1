#include "io/render.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int rmens_text_append(rmens_text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *b = realloc(t->buf, cap);
        if (!b)
            return -1;
        t->buf = b;
        t->cap = cap;
    }
    if (n)
        memcpy(t->buf + t->len, s, n);
    t->len += n;
    return 0;
}

const char *rmens_text_cstr(rmens_text *t)
{
    if (rmens_text_append(t, "", 0) != 0)
        return NULL;
    t->buf[t->len] = '\0';
    return t->buf;
}

void rmens_text_free(rmens_text *t)
{
    free(t->buf);
    t->buf = NULL;
    t->len = t->cap = 0;
}

int rmens_role_from_name(const char *name)
{
    static const char *const human[] = {"user", "human", NULL};
    static const char *const assistant[] = {"assistant", "gpt", "chatgpt", "bot", "model",
                                            "bard", "bing", NULL};
    for (int i = 0; human[i]; i++)
        if (strcasecmp(name, human[i]) == 0)
            return RMENS_ROLE_HUMAN;
    for (int i = 0; assistant[i]; i++)
        if (strcasecmp(name, assistant[i]) == 0)
            return RMENS_ROLE_ASSISTANT;
    if (strcasecmp(name, "system") == 0)
        return RMENS_ROLE_SYSTEM;
    return -1;
}

int rmens_render_content(rmens_text *t, const char *content, size_t n)
{
    if (n > 0 && !isspace((unsigned char)content[0]) && rmens_text_append(t, " ", 1) != 0)
        return -1;
    return rmens_text_append(t, content, n);
}

int rmens_render_turn(rmens_text *t, rmens_role role, const char *content, size_t n)
{
    static const char *const header[] = {RMENS_HUMAN_HEADER, RMENS_ASSISTANT_HEADER, "\n\nSystem:"};
    if (rmens_text_append(t, header[role], strlen(header[role])) != 0)
        return -1;
    return rmens_render_content(t, content, n);
}

int rmens_render_prompt(rmens_text *t, const char *p, size_t n)
{
    size_t hl = strlen(RMENS_HUMAN_HEADER), al = strlen(RMENS_ASSISTANT_HEADER);
    if (n >= hl && memcmp(p, RMENS_HUMAN_HEADER, hl) == 0) {
        if (rmens_text_append(t, p, n) != 0)
            return -1;
        if (n >= al && memcmp(p + n - al, RMENS_ASSISTANT_HEADER, al) == 0)
            return 0;
    } else if (rmens_render_turn(t, RMENS_ROLE_HUMAN, p, n) != 0) {
        return -1;
    }
    return rmens_text_append(t, RMENS_ASSISTANT_HEADER, al);
}
