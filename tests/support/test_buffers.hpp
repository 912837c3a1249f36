// Test helpers for the CPU op tests: seeded random fills, float buffers with
// guard canaries on both sides (an op writing out of bounds flips a canary),
// and max-abs-difference against a double-precision oracle.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace llmbed_test {

inline std::vector<float> random_floats(size_t n, std::mt19937 &rng, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(n);
    for (auto &x : v) x = dist(rng);
    return v;
}

// n floats with kGuard canary floats before and after.
class GuardedBuffer {
  public:
    static constexpr size_t kGuard = 16;
    static constexpr float kCanary = -12345.678f;
    explicit GuardedBuffer(size_t n) : n_(n), storage_(n + 2 * kGuard, kCanary) {}
    float *data() { return storage_.data() + kGuard; }
    const float *data() const { return storage_.data() + kGuard; }
    size_t size() const { return n_; }
    float operator[](size_t i) const { return data()[i]; }
    bool guards_intact() const {
        for (size_t i = 0; i < kGuard; i++)
            if (storage_[i] != kCanary || storage_[kGuard + n_ + i] != kCanary) return false;
        return true;
    }

  private:
    size_t n_;
    std::vector<float> storage_;
};

inline double max_abs_diff(const float *got, const std::vector<double> &want) {
    double worst = 0.0;
    for (size_t i = 0; i < want.size(); i++) {
        const double d = std::fabs((double)got[i] - want[i]);
        if (!(d <= worst)) worst = d; // NaN propagates as the worst
    }
    return worst;
}

inline double max_abs_diff(const float *got, const float *want, size_t n) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double d = std::fabs((double)got[i] - (double)want[i]);
        if (!(d <= worst)) worst = d;
    }
    return worst;
}

// Packed offsets [n + 1] for the given lengths.
inline std::vector<int32_t> offsets_of(const std::vector<int> &lengths) {
    std::vector<int32_t> off(1, 0);
    for (int len : lengths) off.push_back(off.back() + len);
    return off;
}

} // namespace llmbed_test
