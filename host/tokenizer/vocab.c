#include "tokenizer/vocab.h"

#include <stdlib.h>
#include <string.h>

uint64_t tok_hash_bytes(const void *data, size_t len) {
    /* FNV-1a, 8 bytes per step, then a murmur finaliser: short tokens
     * dominate, so a simple mix keeps lookups cheap. */
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ULL ^ len;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
        p += 8;
        len -= 8;
    }
    while (len--) h = (h ^ *p++) * 0x100000001b3ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

bool tok_vocab_init(tok_vocab *v, int32_t n_tokens) {
    memset(v, 0, sizeof *v);
    v->n_tokens = n_tokens;
    size_t n = n_tokens > 0 ? (size_t)n_tokens : 1;
    v->offset = malloc(n * sizeof *v->offset);
    v->length = calloc(n, sizeof *v->length);
    v->type = calloc(n, sizeof *v->type);
    if (!v->offset || !v->length || !v->type) return false;
    for (size_t i = 0; i < n; i++) v->offset[i] = UINT64_MAX;
    return true;
}

bool tok_vocab_set(tok_vocab *v, int32_t id, const char *text, size_t len, uint8_t type) {
    if (v->bytes_len + len > v->bytes_cap) {
        size_t cap = v->bytes_cap ? v->bytes_cap : 4096;
        while (cap < v->bytes_len + len) cap *= 2;
        char *bytes = realloc(v->bytes, cap);
        if (bytes == NULL) return false;
        v->bytes = bytes;
        v->bytes_cap = cap;
    }
    if (len) memcpy(v->bytes + v->bytes_len, text, len);
    v->offset[id] = v->bytes_len;
    v->length[id] = (uint32_t)len;
    v->type[id] = type;
    v->bytes_len += len;
    return true;
}

bool tok_vocab_build_index(tok_vocab *v) {
    size_t cap = 16;
    while (cap < 2 * (size_t)v->n_tokens) cap *= 2;
    free(v->index);
    v->index = malloc(cap * sizeof *v->index);
    if (v->index == NULL) return false;
    memset(v->index, 0xff, cap * sizeof *v->index);
    v->index_mask = cap - 1;
    for (int32_t id = 0; id < v->n_tokens; id++) {
        if (!tok_vocab_has(v, id)) continue;
        size_t len;
        const char *text = tok_vocab_text(v, id, &len);
        size_t slot = tok_hash_bytes(text, len) & v->index_mask;
        bool duplicate = false;
        while (v->index[slot] >= 0) {
            size_t other_len;
            const char *other = tok_vocab_text(v, v->index[slot], &other_len);
            if (other_len == len && memcmp(other, text, len) == 0) {
                duplicate = true;
                break;
            }
            slot = (slot + 1) & v->index_mask;
        }
        if (!duplicate) v->index[slot] = id;
    }
    return true;
}

int32_t tok_vocab_find(const tok_vocab *v, const char *text, size_t len) {
    size_t slot = tok_hash_bytes(text, len) & v->index_mask;
    for (;;) {
        int32_t id = v->index[slot];
        if (id < 0) return -1;
        if (v->length[id] == len && memcmp(v->bytes + v->offset[id], text, len) == 0) return id;
        slot = (slot + 1) & v->index_mask;
    }
}

void tok_vocab_free(tok_vocab *v) {
    free(v->offset);
    free(v->length);
    free(v->type);
    free(v->score);
    free(v->bytes);
    free(v->index);
    memset(v, 0, sizeof *v);
}
