/* Conversation templates: the HH transcript every input format is first rendered to
 * (io/render.h) re-rendered the way a model family reads conversations, and the token
 * each sequence ends with (where the reward is read). docs/TOKENIZERS.md, "Templates". */
#ifndef RMENS_TEXT_TEMPLATE_H
#define RMENS_TEXT_TEMPLATE_H

#include "io/render.h"
#include "rmens.h"
#include "text/bpe.h"

typedef enum {
    RMENS_TEMPLATE_HH,      /* "\n\nHuman: ...\n\nAssistant: ..." + the tokenizer's EOS id */
    RMENS_TEMPLATE_CHATML,  /* <|im_start|>role\n...<|im_end|>, turns joined by "\n" (Qwen) */
    RMENS_TEMPLATE_LLAMA3,  /* <|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
    RMENS_TEMPLATE_PLAIN,   /* the turns' contents joined by "\n\n" + the tokenizer's EOS id */
    RMENS_TEMPLATE_AUTO     /* chosen from tokenizer_config.json's chat_template */
} rmens_template;

/* -1 when the name is unknown. */
int rmens_template_from_name(const char *name);
const char *rmens_template_name(rmens_template t);

/* Resolves AUTO and checks the tokenizer has what the template needs; *end gets the id
 * every sequence ends with and *append whether it is added after the text's ids (hh,
 * plain) or is the text's own last token (chatml, llama3). */
rmens_status rmens_template_resolve(rmens_template *t, const rmens_tokenizer *tk, int32_t *end, int *append);

/* Re-renders the HH transcript hh[0..n) in template t into out (cleared first). */
int rmens_template_render(rmens_template t, const char *hh, size_t n, rmens_text *out);

/* A conversation as the model reads it: the HH transcript rendered in template t,
 * tokenized as one string (special-token strings become their ids, as in Hugging Face),
 * then end appended when append is set. Ids are appended to out; scratch is reused. */
rmens_status rmens_template_tokenize(rmens_template t, rmens_tokenizer *tk, int32_t end, int append,
                                     const char *hh, size_t n, rmens_text *scratch, rmens_ids *out);

#endif
