/* Truncation as Hugging Face tokenizers do it with add_special_tokens: the
 * text's own tokens are cut so that, with the special tokens the
 * post-processor adds around them (BOS before, EOS after, ...), the result
 * has max_tokens ids; the specials survive. */
#ifndef LLMBED_PIPELINE_TRUNCATE_H
#define LLMBED_PIPELINE_TRUNCATE_H

#include <stddef.h>
#include <stdint.h>

/* full = specials before + content + specials after (as tokenised with and
 * without special tokens). Writes at most max_tokens ids to out and returns
 * the count. When `content` cannot be located inside `full` (a tokenizer
 * whose specials merge with text), or max_tokens leaves no room for text,
 * the first max_tokens ids of `full` are kept. */
size_t llmbed_truncate_ids(const int32_t *full, size_t n_full, const int32_t *content, size_t n_content,
                           size_t max_tokens, int32_t *out);

#endif
