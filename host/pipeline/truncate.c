#include "pipeline/truncate.h"

#include <string.h>

size_t llmbed_truncate_ids(const int32_t *full, size_t n_full, const int32_t *content, size_t n_content,
                           size_t max_tokens, int32_t *out) {
    if (n_full <= max_tokens) {
        memmove(out, full, n_full * sizeof *out);
        return n_full;
    }
    if (n_content <= n_full && n_full - n_content < max_tokens) {
        size_t n_special = n_full - n_content;
        for (size_t before = 0; before <= n_special; before++) {
            if (memcmp(full + before, content, n_content * sizeof *content) != 0) continue;
            size_t keep = max_tokens - n_special;
            size_t after = n_special - before;
            memmove(out, full, before * sizeof *out);
            memmove(out + before, content, keep * sizeof *out);
            memmove(out + before + keep, full + before + n_content, after * sizeof *out);
            return max_tokens;
        }
    }
    memmove(out, full, max_tokens * sizeof *out);
    return max_tokens;
}
