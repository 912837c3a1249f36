#include "tokenizer/tok_spans.h"

#include <stdlib.h>

bool tok_spans_reserve(tok_spans *v, size_t cap) {
    if (cap <= v->cap) return true;
    size_t next = v->cap ? v->cap : 16;
    while (next < cap) next *= 2;
    tok_span *data = realloc(v->data, next * sizeof *data);
    if (data == NULL) return false;
    v->data = data;
    v->cap = next;
    return true;
}

bool tok_spans_push(tok_spans *v, size_t start, size_t end) { return tok_spans_push_n(v, start, end, 1); }

bool tok_spans_push_n(tok_spans *v, size_t start, size_t end, size_t count) {
    if (!tok_spans_reserve(v, v->len + count)) return false;
    for (size_t i = 0; i < count; i++) v->data[v->len++] = (tok_span){start, end};
    return true;
}

void tok_spans_free(tok_spans *v) {
    free(v->data);
    v->data = NULL;
    v->len = v->cap = 0;
}

tok_span tok_spans_map_range(const tok_spans *map, size_t a, size_t b) {
    if (map == NULL) return (tok_span){a, b};
    if (map->len == 0) return (tok_span){0, 0};
    if (a >= b) {
        size_t at = a < map->len ? map->data[a].start : map->data[map->len - 1].end;
        return (tok_span){at, at};
    }
    if (b > map->len) b = map->len;
    if (a >= b) a = b - 1;
    /* Maps are monotone except inside a group that was aligned as a whole;
     * the min/max keeps the union exact either way. */
    tok_span r = map->data[a];
    for (size_t k = a + 1; k < b; k++) {
        if (map->data[k].start < r.start) r.start = map->data[k].start;
        if (map->data[k].end > r.end) r.end = map->data[k].end;
    }
    return r;
}
