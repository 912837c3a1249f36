/* Key/value cache storage of the CPU reference (SPEC §5), per KV head g:
 *   v[g, p, :]             value of position p (never pruned)
 *   k_full[g, p - n_pruned, :]  full key of a position in the recent window or later
 *   k_pruned[g, p, :kept]  key of an older position, gathered to its chunk's
 *                          kept channels (the dropped channels are never stored)
 * Appends write the full part; compaction moves keys that left the recent
 * window into the pruned store and shifts the full part down. */
#include <string.h>

#include "cpu/cpu_ops.h"

void llmbed_cpu_cache_append(const llmbed_cache_append_params *p, const float *k, const float *v,
                             const llmbed_kv_cache_view *view) {
    const int D = p->head_dim, stride = p->n_kv_heads * D;
    for (int g = 0; g < p->n_kv_heads; g++) {
        float *k_full = (float *)view->k_full + (size_t)g * view->full_capacity * D;
        float *v_cache = (float *)view->v + (size_t)g * view->capacity * D;
        for (int r = p->row_begin; r < p->row_end; r++) {
            const int position = p->position + (r - p->row_begin);
            memcpy(k_full + (size_t)(position - p->n_pruned) * D, k + (size_t)r * stride + (size_t)g * D,
                   sizeof(float) * D);
            memcpy(v_cache + (size_t)position * D, v + (size_t)r * stride + (size_t)g * D, sizeof(float) * D);
        }
    }
}

/* Chunk index of position `pos` (chunk_starts ascending). */
static int chunk_of(const llmbed_kv_cache_view *view, int pos) {
    int j = 0;
    while (j + 1 < view->n_chunks && view->chunk_starts[j + 1] <= pos) j++;
    return j;
}

void llmbed_cpu_cache_compact(const llmbed_cache_compact_params *p, const llmbed_kv_cache_view *view) {
    const int D = p->head_dim, kept = view->kept, moved = p->new_n_pruned - p->n_pruned;
    if (moved <= 0) return;
    for (int g = 0; g < p->n_kv_heads; g++) {
        float *k_full = (float *)view->k_full + (size_t)g * view->full_capacity * D;
        float *k_pruned = (float *)view->k_pruned + (size_t)g * view->capacity * kept;
        for (int pos = p->n_pruned; pos < p->new_n_pruned; pos++) {
            const int32_t *channels =
                view->kept_channels + ((size_t)g * view->chunk_capacity + chunk_of(view, pos)) * kept;
            const float *full = k_full + (size_t)(pos - p->n_pruned) * D;
            float *pruned = k_pruned + (size_t)pos * kept;
            for (int c = 0; c < kept; c++) pruned[c] = full[channels[c]];
        }
        memmove(k_full, k_full + (size_t)moved * D, sizeof(float) * D * (size_t)(p->length - p->new_n_pruned));
    }
}
