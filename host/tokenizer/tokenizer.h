/* Text -> token ids, exactly as the model was trained (HF tokenizer.json or
 * GGUF tokenizer.ggml.* metadata). A loaded tokenizer is immutable and may
 * be used from any number of threads at once. */
#ifndef LLMBED_TOKENIZER_TOKENIZER_H
#define LLMBED_TOKENIZER_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "llmbed.h"
#include "model/gguf.h"
#include "model/model_config.h"

typedef struct llmbed_tokenizer llmbed_tokenizer;

/* Loads `folder`/tokenizer.json (+ tokenizer_config.json when present).
 * LLMBED_ERR_TOKENIZER_MISSING when the folder has no tokenizer.json. */
llmbed_status llmbed_tokenizer_load_folder(const char *folder, llmbed_tokenizer **out,
                                           llmbed_error *error);

/* Loads the tokenizer.ggml.* metadata of an open GGUF file.
 * LLMBED_ERR_TOKENIZER_MISSING when the file has none. */
llmbed_status llmbed_tokenizer_load_gguf(const llmbed_gguf *gguf, llmbed_tokenizer **out,
                                         llmbed_error *error);

void llmbed_tokenizer_free(llmbed_tokenizer *tokenizer);

#endif
