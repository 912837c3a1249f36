/* Embeds a list of texts through the public API for the evaluation
 * commands: each text templated and tokenised (llmbed_tokenize_template),
 * the sequences sorted by length and packed into token-budget batches
 * (scheduler/batch_plan.h), each batch one llmbed_embed call with the
 * template's pooled span. Rows come out in input order. */
#ifndef LLMBED_EVAL_EMBED_TEXTS_H
#define LLMBED_EVAL_EMBED_TEXTS_H

#include <stddef.h>
#include <stdint.h>

#include "llmbed.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct llmbed_text_batch_options {
    const llmbed_template_params *template_params; /* NULL = the text alone */
    const llmbed_embed_params *embed_params;       /* NULL = defaults */
    int64_t batch_tokens;                          /* token budget of one llmbed_embed call */
    int dims;                                      /* llmbed_embed_dims(model, embed_params) */
    void (*on_progress)(void *user, size_t done, size_t total, int64_t tokens); /* may be NULL */
    void *user;
} llmbed_text_batch_options;

/* out[n, dims]. Failures name the text's index (0-based) and its beginning. */
llmbed_status llmbed_eval_embed_texts(const llmbed_model *model, llmbed_ctx *ctx, const char *const *texts, size_t n,
                                 const llmbed_text_batch_options *options, float *out, llmbed_error *error);

#ifdef __cplusplus
}
#endif

#endif
