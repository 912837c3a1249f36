/* Normalizers (HF tokenizers normalizers): a list of steps applied in order
 * to each stretch of text between added tokens. */
#ifndef LLMBED_TOKENIZER_NORMALIZER_H
#define LLMBED_TOKENIZER_NORMALIZER_H

#include <stdbool.h>
#include <stddef.h>

#include "llmbed.h"
#include "tokenizer/tok_buffer.h"
#include "tokenizer/tok_regex.h"

typedef enum tok_norm_kind {
    TOK_NORM_NFC,
    TOK_NORM_NFD,
    TOK_NORM_NFKC,
    TOK_NORM_NFKD,
    TOK_NORM_LOWERCASE,
    TOK_NORM_STRIP_ACCENTS, /* drops nonspacing marks (Mn), as HF StripAccents */
    TOK_NORM_REPLACE,       /* every match of `regex` -> `text` */
    TOK_NORM_PREPEND,       /* `text` before non-empty input */
    TOK_NORM_STRIP          /* whitespace off the left and/or right */
} tok_norm_kind;

typedef struct tok_norm_step {
    tok_norm_kind kind;
    tok_regex regex;
    char *text;
    size_t text_len;
    bool left, right;
} tok_norm_step;

typedef struct tok_normalizer {
    tok_norm_step *steps;
    size_t n_steps;
} tok_normalizer;

/* Takes ownership of step->text and step->regex (freed on failure too). */
llmbed_status tok_norm_add(tok_normalizer *n, tok_norm_step *step, llmbed_error *error);
void tok_normalizer_free(tok_normalizer *n);

/* Unicode White_Space (Rust char::is_whitespace, used by HF Strip/lstrip/rstrip). */
bool tok_is_whitespace(uint32_t cp);

/* Normalises text[0..len) into out (which is reset). With no steps, copies. */
llmbed_status tok_normalize(const tok_normalizer *n, const char *text, size_t len, tok_bytes *out,
                            tok_bytes *scratch, tok_match_scratch *ms, llmbed_error *error);

#endif
