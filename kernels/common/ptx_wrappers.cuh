/* The only inline PTX in llmbed: tensor-core mma, ldmatrix and cp.async
 * wrappers (sm_80+). Each wrapper has a host implementation used by the
 * emulation layer that follows the PTX ISA fragment layouts exactly
 * (PTX ISA 9.7.14.5.8 "Matrix Fragments for mma.m16n8k16 with floating point
 * type" and 9.7.14.6.2 "ldmatrix"):
 *   groupID = lane >> 2, tig = lane % 4
 *   A (16x16, row-major), regs a[0..3] hold pairs (a0,a1) (a2,a3) (a4,a5) (a6,a7):
 *     row = groupID (+8 for a2,a3,a6,a7), col = tig*2 + (i&1) (+8 for a4..a7)
 *   B (16x8, "col"), regs b[0..1]: row(k) = tig*2 + (i&1) (+8 for b2,b3), col = groupID
 *   C/D (16x8 fp32) c[0..3]: row = groupID (+8 for c2,c3), col = tig*2 + (i&1)
 *   ldmatrix: lanes 8j..8j+7 give the row addresses of 8x8 matrix j; lane i
 *     receives register j = row i/4, columns 2*(i%4) and 2*(i%4)+1 of matrix j
 *     (.trans: rows 2*(i%4), 2*(i%4)+1 of column i/4).
 * The lower-indexed element of a pair sits in the low 16 bits. */
#ifndef LLMBED_KERNELS_COMMON_PTX_WRAPPERS_CUH
#define LLMBED_KERNELS_COMMON_PTX_WRAPPERS_CUH

#include "kernels/common/cuda_compat.cuh"

/* Two floats rounded to bf16 and packed (lo in the low half). */
__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
    __nv_bfloat16 l = __float2bfloat16_rn(lo), h = __float2bfloat16_rn(hi);
    uint16_t lb, hb;
    memcpy(&lb, &l, 2);
    memcpy(&hb, &h, 2);
    return (uint32_t)lb | ((uint32_t)hb << 16);
}

#if defined(__CUDACC__)

/* d += a * b, m16n8k16, bf16 inputs, fp32 accumulate. */
__device__ __forceinline__ void mma_bf16_16816(float d[4], const uint32_t a[4], const uint32_t b[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ unsigned smem_address(const void *p) {
    return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

/* Four 8x8 b16 matrices; lane l passes the address of row l % 8 of matrix l / 8. */
__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const void *row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_address(row)));
}

/* Two 8x8 b16 matrices; lanes 0..15 pass row addresses (others are ignored). */
__device__ __forceinline__ void ldmatrix_x2(uint32_t r[2], const void *row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1])
                 : "r"(smem_address(row)));
}

__device__ __forceinline__ void ldmatrix_x2_trans(uint32_t r[2], const void *row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1])
                 : "r"(smem_address(row)));
}

/* 16-byte global -> shared copy, zero-filled when !valid (src is then not read). */
__device__ __forceinline__ void cp_async_16(void *smem, const void *gmem, bool valid) {
    int src_bytes = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_address(smem)), "l"(gmem),
                 "r"(src_bytes));
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_all;\n" ::); }

/* Waits until at most N of this thread's committed cp.async groups are still in flight. */
template <int N>
__device__ __forceinline__ void cp_async_wait_group() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

#else /* host emulation */

namespace ptx_emu {
inline float bf16_half(uint32_t reg, int high) {
    return __bfloat162float([&] {
        __nv_bfloat16 h;
        h.x = (uint16_t)(high ? reg >> 16 : reg & 0xffffu);
        return h;
    }());
}
struct MmaOperands {
    uint32_t a[4];
    uint32_t b[2];
};
} // namespace ptx_emu

inline void mma_bf16_16816(float d[4], const uint32_t a[4], const uint32_t b[2]) {
    ptx_emu::MmaOperands mine;
    memcpy(mine.a, a, sizeof(mine.a));
    memcpy(mine.b, b, sizeof(mine.b));
    const unsigned char *slots = emu::warp_exchange(&mine, sizeof(mine));
    int lane = emu::current()->lane;
    int group = lane >> 2, tig = lane & 3;
    for (int i = 0; i < 4; i++) {
        int row = group + (i >= 2 ? 8 : 0);
        int col = tig * 2 + (i & 1);
        float sum = d[i];
        for (int k = 0; k < 16; k++) {
            /* A[row][k]: lane (row % 8) * 4 + (k % 8) / 2, register (row >= 8) + 2 * (k >= 8). */
            ptx_emu::MmaOperands a_owner =
                emu::exchange_read<ptx_emu::MmaOperands>(slots, (row & 7) * 4 + (k & 7) / 2);
            float av = ptx_emu::bf16_half(a_owner.a[(row >= 8 ? 1 : 0) + (k >= 8 ? 2 : 0)], k & 1);
            /* B[k][col]: lane col * 4 + (k % 8) / 2, register k >= 8. */
            ptx_emu::MmaOperands b_owner = emu::exchange_read<ptx_emu::MmaOperands>(slots, col * 4 + (k & 7) / 2);
            float bv = ptx_emu::bf16_half(b_owner.b[k >= 8 ? 1 : 0], k & 1);
            sum += av * bv;
        }
        d[i] = sum;
    }
}

namespace ptx_emu {
template <int N, bool TRANS>
inline void ldmatrix(uint32_t *r, const void *row) {
    if (emu::current()->lane < 8 * N) emu::ldmatrix_row(row); /* the lanes whose address is used */
    const unsigned char *slots = emu::warp_exchange(&row, sizeof(row));
    int lane = emu::current()->lane;
    for (int j = 0; j < N; j++) {
        if (!TRANS) {
            const unsigned char *src = emu::exchange_read<const unsigned char *>(slots, j * 8 + lane / 4);
            memcpy(&r[j], src + (lane % 4) * 4, 4);
        } else {
            uint16_t lo, hi;
            const unsigned char *r0 = emu::exchange_read<const unsigned char *>(slots, j * 8 + 2 * (lane % 4));
            const unsigned char *r1 = emu::exchange_read<const unsigned char *>(slots, j * 8 + 2 * (lane % 4) + 1);
            memcpy(&lo, r0 + (lane / 4) * 2, 2);
            memcpy(&hi, r1 + (lane / 4) * 2, 2);
            r[j] = (uint32_t)lo | ((uint32_t)hi << 16);
        }
    }
}
} // namespace ptx_emu

inline void ldmatrix_x4(uint32_t r[4], const void *row) { ptx_emu::ldmatrix<4, false>(r, row); }
inline void ldmatrix_x2(uint32_t r[2], const void *row) { ptx_emu::ldmatrix<2, false>(r, row); }
inline void ldmatrix_x2_trans(uint32_t r[2], const void *row) { ptx_emu::ldmatrix<2, true>(r, row); }

/* The emulator lands a copy at the wait that covers its group (tests/emu/cuda_emu_memory.cpp). */
inline void cp_async_16(void *smem, const void *gmem, bool valid) { emu::cp_async(smem, gmem, 16, valid); }
inline void cp_async_commit() { emu::cp_async_commit(); }
inline void cp_async_wait_all() { emu::cp_async_wait(-1); }
template <int N>
inline void cp_async_wait_group() {
    emu::cp_async_wait(N);
}

#endif

#endif
