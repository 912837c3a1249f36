/* A vectorisable expf for the softmax (attention.c) and SiLU (swiglu.c). */
#ifndef LLMBED_CPU_FAST_EXP_H
#define LLMBED_CPU_FAST_EXP_H

#include <stdint.h>
#include <string.h>

/* exp(x) written so loops over it vectorise (libm's expf is a scalar call:
 * 20% of the attention time and most of SwiGLU's): x = k ln2 + r with
 * |r| <= ln2 / 2, exp(r) by Cephes expf's polynomial (relative error ~1e-7),
 * times 2^k assembled in the exponent bits. Arguments are clamped to
 * [-87, 88] (exp(-87) ~ 1.6e-38 stands in for 0). k is rounded with the
 * 1.5 * 2^23 trick, exact without -ffast-math. */
static inline float llmbed_fast_expf(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    const float k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float r = (x - k * 0.693359375f) + k * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* Function multi-versioning for the hot loops over llmbed_fast_expf: the
 * library is built for baseline x86-64, so GCC clones these loops for AVX-512
 * and AVX2 and picks one at load time. Other compilers (clang builds the fuzz
 * targets) and other architectures get the baseline version. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define LLMBED_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LLMBED_SIMD_CLONES
#endif

#endif
