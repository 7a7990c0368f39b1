/* A process reward model's solution — a prompt and its reasoning steps — and its one
 * tokenization, TRL's PRMTrainer's: the prompt part tokenized, then each step and the
 * step separator tokenized on their own, the step read (labelled) at the separator's last
 * token (docs/FORMAT.md, "steps" files). rmens prep --steps writes training data with it
 * and rmens serve tokenizes the solutions it scores with it. */
#ifndef RMENS_IO_PREP_STEPS_H
#define RMENS_IO_PREP_STEPS_H

#include "io/render.h"
#include "rmens.h"
#include "text/template.h"

/* Step k is steps.buf[off[k] .. off[k + 1]) with label[k] (RMENS_STEP_UNLABELLED: none). */
typedef struct {
    rmens_text prompt;  /* the HH prompt, ending with the assistant header */
    rmens_text steps;
    size_t *off;
    float *label;
    size_t n, cap;
} rmens_solution;

/* Appends step s[0..n); an empty (or all-blank) step is refused: "WHERE: WHAT: step K is
 * empty" (k counts from 0, the message from 1). */
rmens_status rmens_solution_add_step(rmens_solution *sol, const char *s, size_t n, float label, const char *where,
                                     const char *what, size_t k);
/* Appends the unlabelled steps of text[0..n): the pieces each closed by sep; a last piece
 * without its sep is a step too (closed as prep closes every step). No step, or an empty
 * one, is refused naming where and what. */
rmens_status rmens_solution_split(rmens_solution *sol, const char *text, size_t n, const char *sep, const char *where,
                                  const char *what);
void rmens_solution_clear(rmens_solution *sol);
void rmens_solution_free(rmens_solution *sol);

/* How solutions become ids: the tokenizer, template and end token (as
 * rmens_template_resolve gives them) and the step separator; scratch and the result. */
typedef struct {
    rmens_tokenizer *tk;  /* not owned */
    rmens_template tpl;
    int32_t end;
    int append;
    const char *sep;
    rmens_text hh, rendered;  /* scratch */
    rmens_ids ids;            /* the solution's ids */
    int32_t *ends;            /* [n] one past each step's separator */
    size_t ends_cap;
    int32_t prompt_len;       /* ids before the first step */
} rmens_step_encoder;

/* The solution as the model reads it: prompt and steps (each followed by sep) rendered
 * in the template, the text before the first step tokenized as the prompt, then each step
 * and its separator on their own, then what the template puts after the answer and the
 * end token. A template that changes the steps' text is refused. */
rmens_status rmens_steps_tokenize(rmens_step_encoder *e, const rmens_solution *s, const char *where);
/* The same for a conversation already rendered: R[0..pos) is the prompt part, the steps
 * follow, then tail[0..tail_n) and, when append, the end token. */
rmens_status rmens_steps_encode(rmens_step_encoder *e, const char *R, size_t pos, const rmens_solution *s,
                                const char *tail, size_t tail_n, int append, const char *where);
void rmens_step_encoder_free(rmens_step_encoder *e);

#endif
