#include "tokenizer/tok_buffer.h"

#include <stdlib.h>
#include <string.h>

static size_t grown_capacity(size_t cap, size_t need) {
    size_t next = cap ? cap : 16;
    while (next < need) next *= 2;
    return next;
}

bool tok_bytes_reserve(tok_bytes *b, size_t cap) {
    if (cap <= b->cap) return true;
    size_t next = grown_capacity(b->cap, cap);
    char *data = realloc(b->data, next);
    if (data == NULL) return false;
    b->data = data;
    b->cap = next;
    return true;
}

bool tok_bytes_append(tok_bytes *b, const void *data, size_t len) {
    if (!tok_bytes_reserve(b, b->len + len + 1)) return false;
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return true;
}

bool tok_bytes_push(tok_bytes *b, char c) { return tok_bytes_append(b, &c, 1); }

void tok_bytes_free(tok_bytes *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

bool tok_ids_reserve(tok_ids *v, size_t cap) {
    if (cap <= v->cap) return true;
    size_t next = grown_capacity(v->cap, cap);
    int32_t *data = realloc(v->data, next * sizeof *data);
    if (data == NULL) return false;
    v->data = data;
    v->cap = next;
    return true;
}

bool tok_ids_push(tok_ids *v, int32_t id) {
    if (v->len == v->cap && !tok_ids_reserve(v, v->len + 1)) return false;
    v->data[v->len++] = id;
    return true;
}

bool tok_ids_append(tok_ids *v, const int32_t *ids, size_t n) {
    if (!tok_ids_reserve(v, v->len + n)) return false;
    if (n) memcpy(v->data + v->len, ids, n * sizeof *ids);
    v->len += n;
    return true;
}

void tok_ids_free(tok_ids *v) {
    free(v->data);
    v->data = NULL;
    v->len = v->cap = 0;
}
