/* What one launch costs, declared by its launcher from its parameters: the
 * cost ledger (`llmbed bench --ledger`, SPEC §7) sums these against a
 * device's roofline. Floating-point operations, and bytes of global memory
 * read and written counting each input read once and each output written
 * once (what a perfect kernel moves). Plain C, no CUDA header. */
#ifndef LLMBED_KERNELS_COMMON_LAUNCH_COST_H
#define LLMBED_KERNELS_COMMON_LAUNCH_COST_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct llmbed_launch_cost {
    const char *op; /* a static name: "rmsnorm", "attention", "gemm qkv", ... */
    double flops;
    double bytes;
} llmbed_launch_cost;

#ifdef __cplusplus
}
#endif

#endif
