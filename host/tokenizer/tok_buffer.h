/* Growable byte strings and id lists used while encoding. Growth doubles the
 * capacity so appends are amortised O(1); every append reports allocation
 * failure instead of aborting. */
#ifndef LLMBED_TOKENIZER_TOK_BUFFER_H
#define LLMBED_TOKENIZER_TOK_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tok_bytes {
    char *data;
    size_t len;
    size_t cap;
} tok_bytes;

typedef struct tok_ids {
    int32_t *data;
    size_t len;
    size_t cap;
} tok_ids;

bool tok_bytes_reserve(tok_bytes *b, size_t cap);
bool tok_bytes_append(tok_bytes *b, const void *data, size_t len);
bool tok_bytes_push(tok_bytes *b, char c);
void tok_bytes_free(tok_bytes *b);

bool tok_ids_reserve(tok_ids *v, size_t cap);
bool tok_ids_push(tok_ids *v, int32_t id);
bool tok_ids_append(tok_ids *v, const int32_t *ids, size_t n);
void tok_ids_free(tok_ids *v);

#endif
