/* The method table behind --method and llmbed_method_find. Templates are
 * applied as written (no chat template; no BOS unless the tokenizer adds one). */
#include <string.h>

#include "llmbed.h"

static const llmbed_method methods[] = {
    {"mean", NULL, LLMBED_POOL_SPAN_ALL, LLMBED_POOLING_MEAN, 0, "mean over every token"},
    {"last", NULL, LLMBED_POOL_SPAN_ALL, LLMBED_POOLING_LAST, 0, "the last token's hidden state"},
    /* Springer et al. 2024, "Repetition Improves Language Model Embeddings":
     * the second copy's tokens have seen the whole sentence under causal attention. */
    {"echo", "Rewrite the sentence: {text}\nRewritten sentence: {text}", LLMBED_POOL_SPAN_LAST_TEXT,
     LLMBED_POOLING_MEAN, 0, "Springer et al. 2024: text twice, mean over the second copy"},
    /* Jiang et al. 2023, "Scaling Sentence Embeddings with Large Language Models" (PromptEOL). */
    {"prompteol", "This sentence: \"{text}\" means in one word:\"", LLMBED_POOL_SPAN_ALL, LLMBED_POOLING_LAST, 0,
     "Jiang et al. 2023: one-word summary prompt, last token"},
    {"tempscale", NULL, LLMBED_POOL_SPAN_ALL, LLMBED_POOLING_MEAN, 1,
     "attention softmax at temperature T in every layer (logits / T, --attn-temperature), mean"},
};

enum { N_METHODS = (int)(sizeof methods / sizeof methods[0]) };

const llmbed_method *llmbed_method_find(const char *name) {
    if (name == NULL) return NULL;
    for (int i = 0; i < N_METHODS; i++)
        if (strcmp(methods[i].name, name) == 0) return &methods[i];
    return NULL;
}

const llmbed_method *llmbed_method_at(int index) {
    return index >= 0 && index < N_METHODS ? &methods[index] : NULL;
}
