/* Suffix mode: the document's tokens into the context's cache (llmbed_cache_document). */
#include "cli/document.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "common/mmap_file.h"

llmbed_status cli_cache_document(const char *path, const llmbed_model *model, const llmbed_model_info *info,
                                 llmbed_ctx *ctx, const llmbed_embed_params *params, int64_t max_tokens,
                                 int64_t *n_tokens) {
    llmbed_error error = {0};
    llmbed_mapped_file file = {0};
    llmbed_status st = llmbed_map_file(path, &file, &error);
    if (st != LLMBED_OK) {
        cli_error("--document: %s", error.message);
        return st;
    }
    if (file.size == 0) {
        llmbed_unmap_file(&file);
        cli_error("--document %s: the file is empty (suffix mode needs a document to continue)", path);
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    int32_t *ids = NULL;
    size_t n_ids = 0;
    st = cli_tokenize_all(model, (const char *)file.data, file.size, 1, &ids, &n_ids, &error);
    llmbed_unmap_file(&file);
    if (st != LLMBED_OK) {
        cli_error("--document %s: %s", path, error.message[0] ? error.message : llmbed_status_str(st));
        free(ids);
        return st;
    }
    /* A family that appends EOS (last-token embedders) appends it to the
     * whole input, which here ends with the query, not the document. */
    if (info->appends_eos && n_ids > 1 && ids[n_ids - 1] == info->eos_token_id) n_ids--;
    if (max_tokens > 0 && (int64_t)n_ids > max_tokens) {
        cli_error("--document %s: %zu tokens, more than --max-tokens %" PRId64
                  " (the document is never truncated: raise --max-tokens)",
                  path, n_ids, max_tokens);
        free(ids);
        return LLMBED_ERR_SEQUENCE_TOO_LONG;
    }
    st = llmbed_cache_document(ctx, ids, n_ids, params);
    free(ids);
    if (st != LLMBED_OK) {
        cli_error("--document %s: %s", path, llmbed_last_error(ctx));
        return st;
    }
    *n_tokens = (int64_t)n_ids;
    return LLMBED_OK;
}
