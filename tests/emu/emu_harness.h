/* Shared pieces of the kernel tests: fixed-seed data, bf16 rounding, guard
 * canaries around kernel outputs, and error statistics that each op prints
 * next to the tolerance it was held to.
 *
 * The same op harness runs emulated (tests/emu, LLMBED_CUDA_EMU: buffers are
 * host memory) and on a real GPU (tests/gpu: buffers are CUDA managed
 * memory, so the kernels and the CPU reference read the same pointers, and
 * sync() waits for the device before results are read). */
#ifndef LLMBED_TESTS_EMU_EMU_HARNESS_H
#define LLMBED_TESTS_EMU_EMU_HARNESS_H

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#if !defined(LLMBED_CUDA_EMU)
#include <cuda_runtime.h>
#endif

namespace harness {

#if defined(LLMBED_CUDA_EMU)
template <typename T>
using Allocator = std::allocator<T>;
inline void sync() {}
#else
/* Managed memory: one pointer valid on the host and the device. */
template <typename T>
struct Allocator {
    using value_type = T;
    Allocator() = default;
    template <typename U>
    Allocator(const Allocator<U> &) {}
    T *allocate(size_t n) {
        void *p = nullptr;
        if (cudaMallocManaged(&p, (n ? n : 1) * sizeof(T)) != cudaSuccess) throw std::bad_alloc();
        return static_cast<T *>(p);
    }
    void deallocate(T *p, size_t) { cudaFree(p); }
    template <typename U>
    bool operator==(const Allocator<U> &) const { return true; }
    template <typename U>
    bool operator!=(const Allocator<U> &) const { return false; }
};
/* Waits for the launches so far and fails the test on an asynchronous error. */
inline void sync() {
    cudaError_t rc = cudaDeviceSynchronize();
    INFO("CUDA: " << cudaGetErrorString(rc));
    REQUIRE(rc == cudaSuccess);
}
#endif

/* Memory a kernel may read or write. */
template <typename T>
using Buffer = std::vector<T, Allocator<T>>;

/* bf16 keeps 8 significant bits (7 stored): one round-to-nearest moves a
 * value by at most u = 2^-8 of its magnitude. */
constexpr double kBf16Unit = 1.0 / 256.0;

/* fp32 -> bf16 bits with round to nearest even (NaN -> 0x7fff), bit for bit
 * what __float2bfloat16_rn does; written out so the harness needs no CUDA type. */
inline uint16_t bf16_bits(float x) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fff;
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

inline float bf16_value(uint16_t bits) {
    uint32_t u = (uint32_t)bits << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

inline float round_bf16(float x) { return bf16_value(bf16_bits(x)); }

struct Rng {
    std::mt19937 engine;
    explicit Rng(uint32_t seed) : engine(seed) {}
    float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(engine); }
    int integer(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(engine); }
    /* n values in [lo, hi), already rounded to bf16 so both backends see the same inputs. */
    Buffer<float> bf16_values(size_t n, float lo, float hi) {
        Buffer<float> v(n);
        for (float &x : v) x = round_bf16(uniform(lo, hi));
        return v;
    }
};

template <typename Vec>
inline Buffer<uint16_t> to_bf16(const Vec &v) {
    Buffer<uint16_t> out(v.size());
    for (size_t i = 0; i < v.size(); i++) out[i] = bf16_bits(v[i]);
    return out;
}

inline Buffer<float> from_bf16(const uint16_t *v, size_t n) {
    Buffer<float> out(n);
    for (size_t i = 0; i < n; i++) out[i] = bf16_value(v[i]);
    return out;
}

/* A buffer of n elements with kGuard canary elements on both sides; the
 * kernel gets data(), and intact() says whether it wrote outside [0, n). */
template <typename T>
class Guarded {
  public:
    static constexpr size_t kGuard = 64;
    explicit Guarded(size_t n) : n_(n), storage_(n + 2 * kGuard) {
        unsigned char *bytes = reinterpret_cast<unsigned char *>(storage_.data());
        for (size_t i = 0; i < storage_.size() * sizeof(T); i++) bytes[i] = canary_byte(i);
    }
    T *data() { return storage_.data() + kGuard; }
    const T *data() const { return storage_.data() + kGuard; }
    size_t size() const { return n_; }
    T &operator[](size_t i) { return data()[i]; }
    bool intact() const {
        const unsigned char *bytes = reinterpret_cast<const unsigned char *>(storage_.data());
        size_t guard_bytes = kGuard * sizeof(T), total = storage_.size() * sizeof(T);
        for (size_t i = 0; i < guard_bytes; i++)
            if (bytes[i] != canary_byte(i) || bytes[total - 1 - i] != canary_byte(total - 1 - i)) return false;
        return true;
    }

  private:
    static unsigned char canary_byte(size_t i) { return (unsigned char)(0xA5 ^ (i * 31)); }
    size_t n_;
    Buffer<T> storage_;
};

/* Largest |got - want| and the largest ratio of that error to its per-element tolerance. */
struct ErrorStats {
    double max_abs = 0.0;
    double worst_ratio = 0.0; /* max over elements of |err| / tol: the case passes when <= 1 */
    size_t worst_index = 0;
    size_t count = 0;
    void add(double got, double want, double tol, size_t index) {
        double err = std::fabs(got - want);
        if (std::isnan(got) != std::isnan(want)) err = INFINITY;
        max_abs = std::max(max_abs, err);
        double ratio = err / tol;
        if (ratio > worst_ratio || std::isnan(ratio)) {
            worst_ratio = std::isnan(ratio) ? INFINITY : ratio;
            worst_index = index;
        }
        count++;
    }
};

#if defined(LLMBED_CUDA_EMU)
constexpr const char *kBackend = "emu";
#else
constexpr const char *kBackend = "gpu";
#endif

/* Per-op summary printed once per test case: the worst case over its table. */
struct OpReport {
    std::string op;
    std::string tolerance;
    ErrorStats worst;
    std::string worst_case;
    void add(const std::string &case_name, const ErrorStats &s) {
        if (s.worst_ratio >= worst.worst_ratio) {
            worst.worst_ratio = s.worst_ratio;
            worst_case = case_name;
        }
        worst.max_abs = std::max(worst.max_abs, s.max_abs);
        worst.count += s.count;
    }
    ~OpReport() {
        std::printf("[%s] %-16s max|err| %.3g  worst err/tol %.3f (%s)  elements %zu  tol: %s\n", kBackend,
                    op.c_str(), worst.max_abs, worst.worst_ratio, worst_case.c_str(), worst.count,
                    tolerance.c_str());
    }
};

/* Packed varlen offsets for the given lengths. */
inline Buffer<int32_t> offsets_of(const std::vector<int> &lens) {
    Buffer<int32_t> off(1, 0);
    for (int l : lens) off.push_back(off.back() + l);
    return off;
}

inline std::string lens_name(const std::vector<int> &lens) {
    std::string s = "[";
    for (size_t i = 0; i < lens.size(); i++) s += (i ? "," : "") + std::to_string(lens[i]);
    return s + "]";
}

} // namespace harness

#endif
