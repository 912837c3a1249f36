/* Bytes per token-layer of each cache dtype (issue 25 item 4), from the layout
 * of host/cpu/kv_quant.h: the long-input part of the cache, where ThinK keeps
 * D - floor(D * ratio) key channels and the quantised blocks carry their
 * float32 scale and zero (keys: per channel per chunk block; values: per
 * token per group of LLMBED_KV_VALUE_GROUP channels). The recent window (32
 * positions) and the current chunk stay in the compute dtype and are not
 * counted: at 32k tokens they are under 2% of the positions with 512-token chunks. */
#include "cli/bench_kv_dtype.h"

#include <math.h>
#include <stdio.h>

#include "cpu/kv_quant.h"

void cli_bench_kv_dtype_table(const llmbed_model_info *info, const float *ratios, int n_ratios, int chunk_tokens) {
    const int D = info->head_dim, G = info->n_kv_heads;
    const double bf16_full = llmbed_kv_key_bytes_per_token(LLMBED_KV_BF16, G, D, chunk_tokens) +
                             llmbed_kv_value_bytes_per_token(LLMBED_KV_BF16, G, D);
    printf("kv dtype x think_ratio: bytes per token-layer of the long cache (%d kv heads x %d, blocks of %d tokens)\n",
           G, D, chunk_tokens);
    printf("kv_dtype  think_ratio  key B  value B  total B  vs bf16 ratio 0\n");
    for (int t = LLMBED_KV_F32; t <= LLMBED_KV_INT4; t++) {
        for (int i = n_ratios - 1; i >= 0; i--) { /* ascending: ratios arrive sorted descending */
            const int kept = D - (int)floorf((float)D * ratios[i]);
            const double key = llmbed_kv_key_bytes_per_token((llmbed_kv_dtype)t, G, kept, chunk_tokens);
            const double value = llmbed_kv_value_bytes_per_token((llmbed_kv_dtype)t, G, D);
            printf("%8s  %11.2f  %5.1f  %7.1f  %7.1f  %6.2fx smaller\n", llmbed_kv_dtype_name((llmbed_kv_dtype)t),
                   (double)ratios[i], key, value, key + value, bf16_full / (key + value));
        }
    }
}
