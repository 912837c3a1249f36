/* Which packed sequence owns a token: the last s with seq_offsets[s] <= t
 * (empty sequences share their offset with the next one, so the last match
 * is the sequence that really holds t). */
#ifndef LLMBED_KERNELS_COMMON_SEQ_LOOKUP_CUH
#define LLMBED_KERNELS_COMMON_SEQ_LOOKUP_CUH

#include "kernels/common/cuda_compat.cuh"

__device__ __forceinline__ int seq_of_token(const int32_t *seq_offsets, int n_seqs, int t) {
    int lo = 0, hi = n_seqs - 1; /* answer in [lo, hi] */
    while (lo < hi) {
        int mid = (lo + hi + 1) >> 1;
        if (seq_offsets[mid] <= t)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

#endif
