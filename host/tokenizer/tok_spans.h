/* Byte ranges [start, end), one per token or per byte of an intermediate
 * text, used to report where each token came from in the caller's text
 * (tokenizer offsets). Growable like tok_bytes; every append reports
 * allocation failure. */
#ifndef LLMBED_TOKENIZER_TOK_SPANS_H
#define LLMBED_TOKENIZER_TOK_SPANS_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tok_span {
    size_t start, end;
} tok_span;

typedef struct tok_spans {
    tok_span *data;
    size_t len, cap;
} tok_spans;

bool tok_spans_reserve(tok_spans *v, size_t cap);
bool tok_spans_push(tok_spans *v, size_t start, size_t end);
/* Appends `count` copies of [start, end). */
bool tok_spans_push_n(tok_spans *v, size_t start, size_t end, size_t count);
void tok_spans_free(tok_spans *v);

/* A per-byte map: map->data[k] is the range of an earlier text that byte k
 * of a later text comes from (NULL map = identity). Maps [a, b) of the later
 * text to the union of its bytes' ranges; an empty [a, a) maps to the empty
 * range where byte a (or, at the end, the text's end) lands. */
tok_span tok_spans_map_range(const tok_spans *map, size_t a, size_t b);

#ifdef __cplusplus
}
#endif

#endif
