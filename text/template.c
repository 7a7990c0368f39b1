#include "text/template.h"

#include <string.h>

#include "base/error.h"
#include "text/tokenizer.h"

typedef struct {
    const char *name;
    const char *required[3];  /* token strings the tokenizer must have */
    const char *end;          /* the text's own last token, or NULL: EOS id appended */
} template_info;

static const template_info templates[] = {
    [RMENS_TEMPLATE_HH] = {"hh", {NULL}, NULL},
    [RMENS_TEMPLATE_CHATML] = {"chatml", {"<|im_start|>", "<|im_end|>", NULL}, "<|im_end|>"},
    [RMENS_TEMPLATE_LLAMA3] = {"llama3", {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>"}, "<|eot_id|>"},
    [RMENS_TEMPLATE_PLAIN] = {"plain", {NULL}, NULL},
    [RMENS_TEMPLATE_AUTO] = {"auto", {NULL}, NULL},
};
#define NTEMPLATES ((int)(sizeof templates / sizeof *templates))

int rmens_template_from_name(const char *name)
{
    for (int i = 0; i < NTEMPLATES; i++)
        if (strcmp(name, templates[i].name) == 0)
            return i;
    return -1;
}

const char *rmens_template_name(rmens_template t) { return templates[t].name; }

rmens_status rmens_template_resolve(rmens_template *t, const rmens_tokenizer *tk, int32_t *end, int *append)
{
    if (*t == RMENS_TEMPLATE_AUTO) {
        /* The family is recognised by the special tokens its chat_template writes. */
        const char *ct = rmens_tokenizer_chat_template(tk);
        if (rmens_tokenizer_is_bytes(tk))
            *t = RMENS_TEMPLATE_HH;
        else if (ct && strstr(ct, "<|im_start|>"))
            *t = RMENS_TEMPLATE_CHATML;
        else if (ct && strstr(ct, "<|start_header_id|>"))
            *t = RMENS_TEMPLATE_LLAMA3;
        else
            return rmens_fail(RMENS_ERR_ARG, "template auto: tokenizer %s has %s; name a template (hh, chatml, "
                              "llama3, plain)", rmens_tokenizer_name(tk),
                              ct ? "a chat_template that is neither ChatML nor Llama 3's"
                                 : "no chat_template in tokenizer_config.json");
    }
    const template_info *ti = &templates[*t];
    for (int i = 0; i < 3 && ti->required[i]; i++)
        if (rmens_tokenizer_token_id(tk, ti->required[i]) < 0)
            return rmens_fail(RMENS_ERR_ARG, "template %s needs the token %s, which tokenizer %s lacks", ti->name,
                              ti->required[i], rmens_tokenizer_name(tk));
    if (ti->end) {
        *end = rmens_tokenizer_token_id(tk, ti->end);
        *append = 0;
        if (*end < 0)
            return rmens_fail(RMENS_ERR_ARG, "template %s needs the token %s, which tokenizer %s lacks", ti->name,
                              ti->end, rmens_tokenizer_name(tk));
    } else {
        *end = rmens_tokenizer_eos_id(tk);
        *append = 1;
        if (*end < 0)
            return rmens_fail(RMENS_ERR_ARG, "template %s ends each sequence with the EOS token, and tokenizer %s "
                              "has none (eos_token in tokenizer_config.json)", ti->name, rmens_tokenizer_name(tk));
    }
    return RMENS_OK;
}

/* The HH speaker headers, in the order of rmens_role. */
static const struct { const char *header, *role; } speakers[] = {
    {RMENS_HUMAN_HEADER, "user"}, {RMENS_ASSISTANT_HEADER, "assistant"}, {"\n\nSystem:", "system"},
};

/* The next header at or after i: its index in speakers and position; -1 if none. */
static int next_header(const char *s, size_t n, size_t i, size_t *at)
{
    for (; i + 2 <= n; i++) {
        if (s[i] != '\n' || s[i + 1] != '\n')
            continue;
        for (int k = 0; k < 3; k++) {
            size_t hl = strlen(speakers[k].header);
            if (i + hl <= n && memcmp(s + i, speakers[k].header, hl) == 0) {
                *at = i;
                return k;
            }
        }
    }
    return -1;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

static int emit(rmens_template t, rmens_text *out, int role, const char *c, size_t cl, int first)
{
    const char *r = speakers[role].role;
    switch (t) {
    case RMENS_TEMPLATE_CHATML:
        return (!first && rmens_text_append(out, "\n", 1)) || rmens_text_append(out, "<|im_start|>", 12) ||
               rmens_text_append(out, r, strlen(r)) || rmens_text_append(out, "\n", 1) ||
               rmens_text_append(out, c, cl) || rmens_text_append(out, "<|im_end|>", 10);
    case RMENS_TEMPLATE_LLAMA3:
        while (cl && is_space(c[0]))  /* Llama 3's template trims each message */
            c++, cl--;
        while (cl && is_space(c[cl - 1]))
            cl--;
        return (first && rmens_text_append(out, "<|begin_of_text|>", 17)) ||
               rmens_text_append(out, "<|start_header_id|>", 19) || rmens_text_append(out, r, strlen(r)) ||
               rmens_text_append(out, "<|end_header_id|>\n\n", 19) || rmens_text_append(out, c, cl) ||
               rmens_text_append(out, "<|eot_id|>", 10);
    default:  /* plain */
        return (!first && rmens_text_append(out, "\n\n", 2)) || rmens_text_append(out, c, cl);
    }
}

int rmens_template_render(rmens_template t, const char *s, size_t n, rmens_text *out)
{
    out->len = 0;
    if (t == RMENS_TEMPLATE_HH)
        return rmens_text_append(out, s, n);
    /* Turns: each header to the next; text before the first header is a user turn; one
     * space after the colon belongs to the header (io/render.c puts it there). */
    size_t at, start = 0;
    int role = 0, first = 1, h = next_header(s, n, 0, &at);
    if (h >= 0 && at == 0) {
        role = h;
        start = strlen(speakers[h].header);
        if (start < n && s[start] == ' ')
            start++;
        h = next_header(s, n, start, &at);
    }
    for (;;) {
        size_t stop = h >= 0 ? at : n;
        if (emit(t, out, role, s + start, stop - start, first))
            return -1;
        first = 0;
        if (h < 0)
            return 0;
        role = h;
        start = at + strlen(speakers[h].header);
        if (start < n && s[start] == ' ')
            start++;
        h = next_header(s, n, start, &at);
    }
}

rmens_status rmens_template_tokenize(rmens_template t, rmens_tokenizer *tk, int32_t end, int append,
                                     const char *hh, size_t n, rmens_text *scratch, rmens_ids *out)
{
    if (rmens_template_render(t, hh, n, scratch))
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory rendering a conversation");
    RMENS_TRY(rmens_tokenizer_encode_append(tk, scratch->buf ? scratch->buf : "", scratch->len, 0, out));
    if (append && rmens_ids_push(out, end))
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory tokenizing");
    return RMENS_OK;
}
