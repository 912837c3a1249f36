/* Placeholder until the tokenizer lands: every model reports no tokenizer. */
#include "tokenizer/tokenizer.h"

#include "common/error.h"

llmbed_status llmbed_tokenizer_load_folder(const char *folder, llmbed_tokenizer **out,
                                           llmbed_error *error) {
    *out = NULL;
    return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MISSING, "%s: tokenizer not built yet", folder);
}

llmbed_status llmbed_tokenizer_load_gguf(const llmbed_gguf *gguf, llmbed_tokenizer **out,
                                         llmbed_error *error) {
    *out = NULL;
    return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MISSING, "%s: tokenizer not built yet",
                       llmbed_gguf_path(gguf));
}

void llmbed_tokenizer_free(llmbed_tokenizer *tokenizer) { (void)tokenizer; }
