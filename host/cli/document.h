/* Suffix mode of `llmbed embed --document DOC`: the document is encoded once
 * into the context's key/value cache, then every input continues it. */
#ifndef LLMBED_CLI_DOCUMENT_H
#define LLMBED_CLI_DOCUMENT_H

#include <stdint.h>

#include "llmbed.h"

/* Reads `path` (UTF-8 text, the whole file is one document), tokenises it
 * with the tokenizer's BOS but without a family-appended EOS (the inputs
 * follow it), and caches it in `ctx` with `params` (chunk size, ThinK).
 * Fails naming --document when the file cannot be read, is empty, or has
 * more than max_tokens tokens (no silent truncation of the document).
 * *n_tokens receives the document's length. */
llmbed_status cli_cache_document(const char *path, const llmbed_model *model, const llmbed_model_info *info,
                                 llmbed_ctx *ctx, const llmbed_embed_params *params, int64_t max_tokens,
                                 int64_t *n_tokens);

#endif
