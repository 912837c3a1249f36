/* The token table: id -> bytes (+ type), and an exact bytes -> id index.
 * For byte-level BPE the stored bytes are the raw bytes a token stands for
 * (GPT-2's byte-to-unicode mapping already undone at load), so encoding
 * never maps text into that alphabet. */
#ifndef LLMBED_TOKENIZER_VOCAB_H
#define LLMBED_TOKENIZER_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Token types, numbered as GGUF's tokenizer.ggml.token_type. */
enum {
    TOK_TYPE_NORMAL = 1,
    TOK_TYPE_UNKNOWN = 2,
    TOK_TYPE_CONTROL = 3,
    TOK_TYPE_USER_DEFINED = 4,
    TOK_TYPE_UNUSED = 5,
    TOK_TYPE_BYTE = 6
};

typedef struct tok_vocab {
    int32_t n_tokens;
    uint64_t *offset; /* [n_tokens] into bytes; UINT64_MAX = id unused (gap in the JSON vocab) */
    uint32_t *length; /* [n_tokens] */
    uint8_t *type;    /* [n_tokens] */
    float *score;     /* [n_tokens] SentencePiece scores, NULL when absent */
    char *bytes;
    size_t bytes_len, bytes_cap;
    int32_t *index; /* open-addressing table of ids, -1 empty */
    size_t index_mask;
} tok_vocab;

uint64_t tok_hash_bytes(const void *data, size_t len);

/* Allocates room for n tokens, all unset. */
bool tok_vocab_init(tok_vocab *v, int32_t n_tokens);
/* Sets token `id`; returns false on allocation failure. Duplicate check is the caller's. */
bool tok_vocab_set(tok_vocab *v, int32_t id, const char *text, size_t len, uint8_t type);
/* Builds the bytes -> id index (the lowest id wins when two tokens share bytes). */
bool tok_vocab_build_index(tok_vocab *v);
void tok_vocab_free(tok_vocab *v);

static inline bool tok_vocab_has(const tok_vocab *v, int32_t id) {
    return id >= 0 && id < v->n_tokens && v->offset[id] != UINT64_MAX;
}
static inline const char *tok_vocab_text(const tok_vocab *v, int32_t id, size_t *len) {
    *len = v->length[id];
    return v->bytes + v->offset[id];
}

/* -1 when absent. */
int32_t tok_vocab_find(const tok_vocab *v, const char *text, size_t len);

#endif
