// The golden comparison itself (support/golden_compare.hpp) fails on every
// kind of wrong row a backend can produce: deliberately corrupted copies of a
// correct result are fed to it and each must be rejected, by the fp32 golden
// tolerance and by the bf16 path bound alike.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "support/golden_compare.hpp"

using namespace llmbed_test;

namespace {

constexpr int kWidth = 16, kRows = 3;

std::vector<double> golden() {
    std::vector<double> want(kRows * kWidth);
    for (size_t i = 0; i < want.size(); i++) want[i] = std::sin(0.7 * double(i) + 0.3) * 2.0;
    return want;
}

std::vector<float> exact_copy(const std::vector<double> &want) { return std::vector<float>(want.begin(), want.end()); }

bool passes(const std::vector<float> &got, const std::vector<double> &want) {
    const Agreement a = compare_rows(got.data(), want, kWidth);
    return a.within_golden_tolerance() || a.within_bf16_tolerance(0.999, bf16_path_relative_bound(2));
}

} // namespace

TEST_CASE("golden comparison accepts a correct result and a zero row against a zero golden", "[golden][compare]") {
    const auto want = golden();
    auto got = exact_copy(want);
    CHECK(compare_rows(got.data(), want, kWidth).within_golden_tolerance());
    std::vector<double> masked = want;
    for (int i = 0; i < kWidth; i++) masked[kWidth + i] = 0.0;
    for (int i = 0; i < kWidth; i++) got[kWidth + i] = 0.0f;
    CHECK(compare_rows(got.data(), masked, kWidth).within_golden_tolerance());
}

TEST_CASE("golden comparison rejects corrupted rows", "[golden][compare]") {
    const auto want = golden();
    SECTION("NaN in one row") {
        auto got = exact_copy(want);
        got[kWidth + 3] = std::numeric_limits<float>::quiet_NaN();
        const Agreement a = compare_rows(got.data(), want, kWidth);
        CHECK(a.non_finite);
        CHECK(a.min_cosine == -INFINITY);
        CHECK_FALSE(passes(got, want));
    }
    SECTION("a whole row of NaN (its cosine is NaN, it must not be skipped)") {
        auto got = exact_copy(want);
        for (int i = 0; i < kWidth; i++) got[2 * kWidth + i] = std::numeric_limits<float>::quiet_NaN();
        CHECK_FALSE(passes(got, want));
    }
    SECTION("Inf") {
        auto got = exact_copy(want);
        got[5] = std::numeric_limits<float>::infinity();
        CHECK(compare_rows(got.data(), want, kWidth).non_finite);
        CHECK_FALSE(passes(got, want));
    }
    SECTION("all-zero row where the golden is not zero") {
        auto got = exact_copy(want);
        for (int i = 0; i < kWidth; i++) got[i] = 0.0f;
        const Agreement a = compare_rows(got.data(), want, kWidth);
        CHECK(a.zero_row);
        CHECK(a.min_cosine == 0.0);
        CHECK_FALSE(passes(got, want));
    }
    SECTION("a scaled row: cosine 1, max |diff| far off") {
        auto got = exact_copy(want);
        for (int i = 0; i < kWidth; i++) got[kWidth + i] *= 1.5f;
        const Agreement a = compare_rows(got.data(), want, kWidth);
        CHECK(a.min_cosine > 0.999999);
        CHECK_FALSE(passes(got, want));
    }
    SECTION("one value off by more than the bf16 path bound") {
        auto got = exact_copy(want);
        got[7] += float(3.0 * bf16_path_relative_bound(2) * 2.0);
        CHECK_FALSE(passes(got, want));
    }
}
