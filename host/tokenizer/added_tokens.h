/* Added tokens (HF AddedVocabulary; GGUF USER_DEFINED/CONTROL tokens):
 * found in the text before pre-tokenisation, leftmost-longest as HF's
 * Aho-Corasick matcher, honouring special/lstrip/rstrip/single_word. Tokens
 * with normalized=false are matched on the raw text, the others on the
 * normalised text (their content normalised the same way at load). */
#ifndef LLMBED_TOKENIZER_ADDED_TOKENS_H
#define LLMBED_TOKENIZER_ADDED_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tok_added {
    int32_t id;
    char *text;
    size_t len;
    bool special, lstrip, rstrip, normalized, single_word;
} tok_added;

typedef struct tok_added_set {
    tok_added *items; /* sorted by first byte, then longest first */
    size_t n, cap;
    size_t first[257]; /* items[first[b] .. first[b+1]) start with byte b */
} tok_added_set;

bool tok_added_push(tok_added_set *set, const tok_added *token); /* copies text */
void tok_added_finish(tok_added_set *set);                         /* sorts, builds the index */
void tok_added_free(tok_added_set *set);

/* A stretch of text, or an added token. */
typedef struct tok_segment {
    size_t start, len; /* of the text (for tokens: the span consumed, strip included) */
    int32_t id;        /* -1 for text */
} tok_segment;

typedef struct tok_segments {
    tok_segment *data;
    size_t len, cap;
} tok_segments;

/* Splits text[0..len) into segments using tokens whose `normalized` flag
 * equals `normalized` (special ones only when parse_special). Appends to out. */
bool tok_added_split(const tok_added_set *set, const char *text, size_t len, bool normalized,
                     bool parse_special, tok_segments *out);

#endif
