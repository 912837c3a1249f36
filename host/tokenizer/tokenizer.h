/* Text -> token ids, exactly as the model was trained (HF tokenizer.json or
 * GGUF tokenizer.ggml.* metadata). A loaded tokenizer is immutable and may
 * be used from any number of threads at once. */
#ifndef LLMBED_TOKENIZER_TOKENIZER_H
#define LLMBED_TOKENIZER_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "llmbed.h"
#include "container/gguf.h"
#include "model/model_config.h"
#include "tokenizer/tok_spans.h"

#ifdef __cplusplus
extern "C" {
#endif

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

/* ------------------------------------------------------------- encoding */

typedef struct llmbed_encode_options {
    int add_special;   /* 1: BOS/EOS per the post-processor, then the family suffix */
    int parse_special; /* 1: special-token text in the input maps to its id, as HF */
    size_t max_tokens; /* 0: no limit; else the text's tokens are cut (from the end) so the
                          result, special tokens included, has at most max_tokens ids */
} llmbed_encode_options;

/* Defaults: add_special 1, parse_special 1, max_tokens 0. */
void llmbed_encode_options_default(llmbed_encode_options *options);

/* Result of one encode. `ids` is malloc'ed and grown by the encoder; reuse
 * one result across calls to avoid allocations; free with
 * llmbed_encode_result_free. Zero-initialise before first use. */
typedef struct llmbed_encode_result {
    int32_t *ids;
    size_t n_ids;
    size_t capacity;
    size_t n_invalid;     /* invalid UTF-8 sequences replaced by U+FFFD (as HF) */
    int truncated;        /* 1 when max_tokens cut the text */
    size_t n_untruncated; /* ids the text would have had without the limit */
} llmbed_encode_result;

void llmbed_encode_result_free(llmbed_encode_result *result);

/* Encodes UTF-8 text (need not be NUL-terminated). Any thread, concurrently. */
llmbed_status llmbed_tokenizer_encode(const llmbed_tokenizer *tokenizer, const char *text, size_t len,
                                      const llmbed_encode_options *options,
                                      llmbed_encode_result *result, llmbed_error *error);

/* llmbed_tokenizer_encode that also reports where each id came from:
 * spans->data[i] is the byte range [start, end) of text[0..len) that id i
 * stands for (spans->len == result->n_ids). Offsets survive every step:
 * UTF-8 repair (a U+FFFD token covers the invalid bytes), normalisation
 * (NFC/NFKC, Lowercase, Replace, Prepend, Strip: the tokenizer/normalize_align.h
 * alignment), pre-tokenizer rewrites (byte-level alphabet, prefix space,
 * Metaspace) and BPE (a byte-level token that holds part of a multi-byte
 * character covers those bytes only). Inserted characters (a prefix space,
 * a prepended metaspace) count as part of the first character after them;
 * special tokens added by the post-processor get the empty range [0, 0);
 * an added token found in the text covers its match. `spans` is grown like
 * result->ids (zero-initialise; free with tok_spans_free). Slower than the
 * plain encode; any thread. */
llmbed_status llmbed_tokenizer_encode_spans(const llmbed_tokenizer *tokenizer, const char *text, size_t len,
                                            const llmbed_encode_options *options, llmbed_encode_result *result,
                                            tok_spans *spans, llmbed_error *error);

/* Decodes ids to UTF-8 (*out is malloc'ed and NUL-terminated; free() it).
 * Special tokens are written as their text. LLMBED_ERR_TOKEN_OUT_OF_RANGE
 * names the first id outside the vocabulary. Any thread. */
llmbed_status llmbed_tokenizer_decode(const llmbed_tokenizer *tokenizer, const int32_t *ids,
                                      size_t n_ids, char **out, size_t *out_len, llmbed_error *error);

/* ---------------------------------------------------------- information */

int32_t llmbed_tokenizer_n_vocab(const llmbed_tokenizer *tokenizer);
/* Id of the token whose text is exactly `text` (added tokens included); -1 when absent. */
int32_t llmbed_tokenizer_token_id(const llmbed_tokenizer *tokenizer, const char *text);
int32_t llmbed_tokenizer_bos_id(const llmbed_tokenizer *tokenizer); /* -1 when none */
int32_t llmbed_tokenizer_eos_id(const llmbed_tokenizer *tokenizer); /* -1 when none */
/* Human-readable kind, e.g. "byte-level BPE (pre-tokenizer smollm)". */
const char *llmbed_tokenizer_description(const llmbed_tokenizer *tokenizer);
/* Number of ids add_special adds around a text (prefix + suffix + family suffix, at most). */
size_t llmbed_tokenizer_n_special_added(const llmbed_tokenizer *tokenizer);

/* Family rule (SPEC §3): with add_special, append `ids` after the
 * post-processor's output unless the output already ends with them
 * (Qwen3-Embedding: <|endoftext|>; e5-mistral: EOS; NV-Embed: </s>).
 * n_ids 0 clears the rule. Call before sharing the tokenizer between threads.
 * LLMBED_ERR_TOKEN_OUT_OF_RANGE for an id outside the vocabulary. */
llmbed_status llmbed_tokenizer_set_family_suffix(llmbed_tokenizer *tokenizer, const int32_t *ids,
                                                 size_t n_ids, llmbed_error *error);

/* Loads a tokenizer.json file directly (tokenizer_config.json is read from
 * the same folder when present). */
llmbed_status llmbed_tokenizer_load_json(const char *path, llmbed_tokenizer **out, llmbed_error *error);
/* Same from memory (fuzzing, tests); `config_json` may be NULL. */
llmbed_status llmbed_tokenizer_load_json_memory(const char *json, size_t len, const char *config_json,
                                                size_t config_len, const char *name,
                                                llmbed_tokenizer **out, llmbed_error *error);

#ifdef __cplusplus
}
#endif

#endif
