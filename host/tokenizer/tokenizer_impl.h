/* The loaded tokenizer, shared by the loaders (tokenizer.json, GGUF), the
 * encoder and the decoder. Immutable after load except the word cache,
 * which has its own locks. */
#ifndef LLMBED_TOKENIZER_TOKENIZER_IMPL_H
#define LLMBED_TOKENIZER_TOKENIZER_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "tokenizer/added_tokens.h"
#include "tokenizer/merges.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"
#include "tokenizer/word_cache.h"

enum { TOK_MAX_SPECIAL = 8 };

struct llmbed_tokenizer {
    char description[96]; /* e.g. "byte-level BPE (pre-tokenizer smollm)" */
    tok_vocab vocab;
    tok_merges merges;
    bool byte_level;    /* vocab holds raw bytes; words start as one symbol per byte */
    bool ignore_merges; /* a word that is itself a token is emitted whole (HF ignore_merges) */
    bool byte_fallback; /* unknown characters become <0xXX> tokens */
    bool fuse_unk;
    int32_t unk_id;
    int32_t byte_ids[256]; /* single-byte token (byte-level) or <0xXX> token; -1 absent */
    tok_normalizer normalizer;
    tok_pretokenizer pretokenizer;
    tok_added_set added;
    bool has_normalized_added; /* some added token is matched after normalisation */
    /* Post-processing of one sequence (TemplateProcessing single / add_bos / add_eos). */
    int32_t prefix[TOK_MAX_SPECIAL], suffix[TOK_MAX_SPECIAL];
    int n_prefix, n_suffix;
    /* Family rule (SPEC §3): ids appended after the post-processor unless already last. */
    int32_t family_suffix[TOK_MAX_SPECIAL];
    int n_family_suffix;
    int32_t bos_id, eos_id;
    /* Decoding (HF decoders): ▁ -> space, <0xXX> -> byte, one leading space dropped. */
    bool decode_metaspace;
    bool decode_byte_tokens;
    bool decode_strip_prefix;
    tok_word_cache cache;
};

/* Zeroes a tokenizer and sets the id fields to -1. */
void tok_tokenizer_init(llmbed_tokenizer *t);

/* After vocab, merges and added tokens are in place: builds the vocab index,
 * the byte tables and the cache. `byte_token_style`: look up <0xXX> tokens. */
llmbed_status tok_tokenizer_finish(llmbed_tokenizer *t, const char *source, llmbed_error *error);

#endif
