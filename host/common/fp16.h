/* IEEE half and bfloat16 <-> float conversions, exact in the widening
 * direction (every half/bf16 value is a float) and round-to-nearest-even in
 * the narrowing one, as numpy's float16 cast and torch's bfloat16 cast do.
 * The one codec of llmbed: GGUF/safetensors F16 weights, float16 output
 * rows, and the CUDA postprocess kernel (the functions compile for the
 * device too, so GPU rows equal the host's bit for bit, NaN included). */
#ifndef LLMBED_COMMON_FP16_H
#define LLMBED_COMMON_FP16_H

#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define LLMBED_FP16_FN __host__ __device__ static inline
#else
#define LLMBED_FP16_FN static inline
#endif

LLMBED_FP16_FN float llmbed_bits_to_f32(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

LLMBED_FP16_FN uint32_t llmbed_f32_to_bits(float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

/* Half: 1 sign, 5 exponent (bias 15), 10 mantissa bits. Subnormals are
 * renormalised; inf and NaN keep their payload. */
LLMBED_FP16_FN float llmbed_fp16_to_f32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) return llmbed_bits_to_f32(sign | 0x7f800000u | (mant << 13));
    if (exp == 0) {
        if (mant == 0) return llmbed_bits_to_f32(sign);
        exp = 127 - 15 + 1; /* value = mant * 2^-24: shift until the implicit bit appears */
        while ((mant & 0x400u) == 0) {
            mant <<= 1;
            exp--;
        }
        return llmbed_bits_to_f32(sign | (exp << 23) | ((mant & 0x3ffu) << 13));
    }
    return llmbed_bits_to_f32(sign | ((exp + 127 - 15) << 23) | (mant << 13));
}

LLMBED_FP16_FN uint16_t llmbed_f32_to_fp16(float f) {
    const uint32_t x = llmbed_f32_to_bits(f);
    const uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    const uint32_t a = x & 0x7fffffffu;
    if (a >= 0x7f800000u) /* inf, or NaN made quiet with its top payload bits */
        return (uint16_t)(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u | ((a >> 13) & 0x3ffu) : 0));
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 rounds to inf */
    if (a < 0x38800000u) {                                  /* below 2^-14: half subnormal */
        if (a <= 0x33000000u) return sign;                  /* <= 2^-25 rounds to 0 (ties to even) */
        const uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126 - e; /* value in units of 2^-24 is m >> shift */
        uint32_t hm = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (hm & 1u))) hm++;
        return (uint16_t)(sign | hm);
    }
    uint32_t hm = ((a >> 23) - 112) << 10 | ((a >> 13) & 0x3ffu);
    const uint32_t rem = a & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (hm & 1u))) hm++; /* carry may reach the exponent: correct */
    return (uint16_t)(sign | hm);
}

/* bfloat16 is the upper half of a float. */
LLMBED_FP16_FN float llmbed_bf16_to_f32(uint16_t b) { return llmbed_bits_to_f32((uint32_t)b << 16); }

LLMBED_FP16_FN uint16_t llmbed_f32_to_bf16(float f) {
    const uint32_t x = llmbed_f32_to_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u); /* quiet NaN */
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

#endif
