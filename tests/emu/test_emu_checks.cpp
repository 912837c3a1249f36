/* The emulator fails where a GPU would (SPEC §8, issue 20 item 7): each
 * check is shown rejecting a deliberately broken kernel of
 * emu_broken_kernels.cpp under several seeds, and accepting the kernel's
 * correct twin, so a check that could never fire would fail here. */
#include "emu_harness.h"

#include <algorithm>
#include <set>

#include "emu_broken_kernels.h"

namespace {

constexpr uint64_t kSeeds[] = {1, 2, 3};

/* The reports of one run of `body` under an ExpectViolations guard. */
template <typename Body>
std::vector<std::string> violations_of(Body body) {
    emu::ExpectViolations guard;
    body();
    return guard.reports();
}

bool any_contains(const std::vector<std::string> &reports, const std::string &needle) {
    for (const std::string &r : reports)
        if (r.find(needle) != std::string::npos) return true;
    return false;
}

std::string joined(const std::vector<std::string> &reports) {
    std::string all;
    for (const std::string &r : reports) all += r + "\n";
    return all;
}

bool is_poison(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u == 0xffffffffu;
}

/* The checks seen through instrumentation do not exist in the ASan build. */
#define REQUIRE_INSTRUMENTED()                                                                    \
    do {                                                                                          \
        if (!emu::checks_enabled()) {                                                             \
            WARN("this build runs kernels without the emulator's instrumentation (ASan build)"); \
            return;                                                                               \
        }                                                                                         \
    } while (0)

} // namespace

TEST_CASE("emu checks: a missing __syncthreads is a shared-memory race naming kernel and address", "[emu][checks]") {
    REQUIRE_INSTRUMENTED();
    const int blocks = 2, threads = 96;
    std::vector<int> in(blocks * threads), out(blocks * threads, -1);
    for (size_t i = 0; i < in.size(); i++) in[i] = (int)i * 3 + 1;
    for (uint64_t seed : kSeeds) {
        emu::set_seed(seed);
        std::vector<std::string> reports = violations_of([&] { broken::rotate(in.data(), out.data(), blocks, threads, false); });
        INFO("seed " << seed << "\n" << joined(reports));
        REQUIRE(!reports.empty());
        CHECK(any_contains(reports, "shared-memory race"));
        CHECK(any_contains(reports, "rotate_kernel"));           /* the kernel, from the access's source line */
        CHECK(any_contains(reports, "::buffer"));                /* the shared variable */
        CHECK(any_contains(reports, "emu_broken_kernels.cpp:")); /* launch site and access line */
        CHECK(any_contains(reports, "seed " + std::to_string(seed)));

        reports = violations_of([&] { broken::rotate(in.data(), out.data(), blocks, threads, true); });
        INFO(joined(reports));
        CHECK(reports.empty());
        for (int b = 0; b < blocks; b++)
            for (int t = 0; t < threads; t++)
                REQUIRE(out[b * threads + t] == in[b * threads + (t + 1) % threads] * 2);
    }
}

TEST_CASE("emu checks: shared memory reads as poison until the block writes it", "[emu][checks]") {
    REQUIRE_INSTRUMENTED();
    const int blocks = 5, threads = 64;
    std::vector<float> out(blocks * threads, 0.0f);
    /* Block 0 writes; the others run on the pool's threads after it or beside it and must see poison, not its data. */
    std::vector<std::string> reports = violations_of([&] { broken::read_unwritten(out.data(), blocks, threads); });
    CHECK(reports.empty());
    for (int t = 0; t < threads; t++) REQUIRE(out[t] == 1.0f);
    for (int i = threads; i < blocks * threads; i++) REQUIRE(is_poison(out[i]));
    REQUIRE(std::isnan(out[threads]));
}

TEST_CASE("emu checks: cp.async lands at the wait; reading before it fails, so does a missing barrier after it",
          "[emu][checks]") {
    REQUIRE_INSTRUMENTED();
    const int threads = 64;
    harness::Rng rng(11);
    harness::Buffer<float> in = rng.bf16_values(4 * threads, -1.0f, 1.0f);
    std::vector<float> out(threads, 0.0f);
    for (uint64_t seed : kSeeds) {
        emu::set_seed(seed);
        std::vector<std::string> reports = violations_of([&] { broken::async_copy(in.data(), out.data(), threads, 1); });
        INFO("seed " << seed << " missing wait\n" << joined(reports));
        REQUIRE(any_contains(reports, "while a cp.async still writes it"));
        CHECK(any_contains(reports, "async_copy_kernel"));

        reports = violations_of([&] { broken::async_copy(in.data(), out.data(), threads, 2); });
        INFO("seed " << seed << " missing barrier\n" << joined(reports));
        REQUIRE(any_contains(reports, "shared-memory race"));

        reports = violations_of([&] { broken::async_copy(in.data(), out.data(), threads, 0); });
        INFO(joined(reports));
        CHECK(reports.empty());
        for (int t = 0; t < threads; t++) REQUIRE(out[t] == in[4 * ((t + 1) % threads)]);
    }
}

TEST_CASE("emu checks: cp.async.wait_group<1> lands the older group only", "[emu][checks]") {
    REQUIRE_INSTRUMENTED();
    const std::vector<float> in = {1, 2, 3, 4, 5, 6, 7, 8};
    std::vector<float> out(8, 0.0f);
    std::vector<std::string> reports = violations_of([&] { broken::async_groups(in.data(), out.data(), 1); });
    INFO(joined(reports));
    CHECK(any_contains(reports, "while a cp.async still writes it"));
    for (int i = 0; i < 4; i++) CHECK(out[i] == in[i]);
    for (int i = 4; i < 8; i++) CHECK(is_poison(out[i]));
    reports = violations_of([&] { broken::async_groups(in.data(), out.data(), 0); });
    CHECK(reports.empty());
    CHECK(out == in);
}

TEST_CASE("emu checks: misaligned vector, cp.async and ldmatrix addresses", "[emu][checks]") {
    REQUIRE_INSTRUMENTED();
    alignas(16) unsigned char bytes[64] = {};
    uint32_t words[2];
    std::vector<std::string> reports = violations_of([&] { broken::vector_load(bytes, 4, words); });
    INFO(joined(reports));
    CHECK(any_contains(reports, "misaligned 16-byte load"));
    CHECK(violations_of([&] { broken::vector_load(bytes, 16, words); }).empty());

    float f = 0.0f;
    reports = violations_of([&] { broken::shared_vector_store(8, &f); });
    INFO(joined(reports));
    CHECK(any_contains(reports, "misaligned 16-byte store of shared address"));
    CHECK(violations_of([&] { broken::shared_vector_store(16, &f); }).empty());

    alignas(16) float source[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    reports = violations_of([&] { broken::async_misaligned(source, 4); });
    INFO(joined(reports));
    CHECK(any_contains(reports, "cp.async destination"));
    CHECK(any_contains(reports, "not 16-byte aligned"));
    reports = violations_of([&] { broken::async_misaligned(source + 1, 0); });
    CHECK(any_contains(reports, "cp.async source"));
    CHECK(violations_of([&] { broken::async_misaligned(source, 16); }).empty());

    std::vector<uint16_t> global(32 * 8 + 16, 1);
    std::vector<uint32_t> frags(128);
    reports = violations_of([&] { broken::ldmatrix_rows(global.data(), 8, false, frags.data()); });
    INFO(joined(reports));
    CHECK(any_contains(reports, "ldmatrix row address"));
    CHECK(any_contains(reports, "not 16-byte aligned"));
    reports = violations_of([&] { broken::ldmatrix_rows(global.data(), 0, true, frags.data()); });
    CHECK(any_contains(reports, "is not shared memory"));
    CHECK(violations_of([&] { broken::ldmatrix_rows(global.data(), 0, false, frags.data()); }).empty());
}

TEST_CASE("emu checks: warp collectives honour their mask", "[emu][checks][warp]") {
    std::vector<int> out(32, 7);
    /* Lanes 0..15 exchange among themselves while 16..31 have left: no deadlock, right values. */
    std::vector<std::string> reports = violations_of([&] { broken::shuffle(0x0000ffffu, 16, 1, out.data()); });
    INFO(joined(reports));
    CHECK(reports.empty());
    for (int lane = 0; lane < 15; lane++) CHECK(out[lane] == lane + 1);
    /* Lane 15 reads lane 16, outside the mask: undefined on the device, poison here. */
    CHECK(out[15] == -1);
    /* A lane outside its own mask. */
    reports = violations_of([&] { broken::shuffle(0xffff0000u, 32, 1, out.data()); });
    INFO(joined(reports));
    CHECK(any_contains(reports, "does not include the lane"));
    /* The full mask while half the warp has returned: the device hangs or worse; the emulator reports it. */
    reports = violations_of([&] { broken::shuffle(0xffffffffu, 16, 1, out.data()); });
    INFO(joined(reports));
    CHECK(any_contains(reports, "deadlock"));
}

TEST_CASE("emu checks: lanes of one warp are ordered by __syncwarp, not by running in lockstep", "[emu][checks][warp]") {
    REQUIRE_INSTRUMENTED();
    std::vector<int> out(32, -1);
    for (uint64_t seed : kSeeds) {
        emu::set_seed(seed);
        std::vector<std::string> reports = violations_of([&] { broken::warp_exchange_through_shared(false, out.data()); });
        INFO("seed " << seed << "\n" << joined(reports));
        CHECK(any_contains(reports, "shared-memory race"));
        reports = violations_of([&] { broken::warp_exchange_through_shared(true, out.data()); });
        CHECK(reports.empty());
        for (int lane = 0; lane < 32; lane++) REQUIRE(out[lane] == ((lane + 1) % 32) * 10);
    }
}

TEST_CASE("emu checks: __syncthreads in divergent code is a deadlock report", "[emu][checks]") {
    std::vector<std::string> reports = violations_of([&] { broken::divergent_barrier(64, 40); });
    INFO(joined(reports));
    REQUIRE(any_contains(reports, "deadlock: 40 thread(s) wait at __syncthreads"));
    CHECK(violations_of([&] { broken::divergent_barrier(64, 64); }).empty());
}

TEST_CASE("emu checks: threads interleave in a seeded random order", "[emu][checks]") {
    const int blocks = 4, threads = 64;
    auto orders = [&](uint64_t seed) {
        emu::set_seed(seed);
        std::vector<int> counters(blocks, 0), order(blocks * threads, -1);
        REQUIRE(broken::arrival_order(blocks, threads, counters.data(), order.data()) == cudaSuccess);
        return order;
    };
    std::set<std::vector<int>> distinct;
    for (uint64_t seed : kSeeds) {
        std::vector<int> order = orders(seed);
        CHECK(order == orders(seed)); /* reproducible */
        for (int b = 0; b < blocks; b++) {
            std::vector<int> block(order.begin() + b * threads, order.begin() + (b + 1) * threads);
            std::vector<int> sorted = block;
            std::sort(sorted.begin(), sorted.end());
            for (int t = 0; t < threads; t++) REQUIRE(sorted[t] == t); /* a permutation */
            int in_place = 0;
            for (int t = 0; t < threads; t++) in_place += block[t] == t;
            CHECK(in_place < threads / 4); /* not thread order */
        }
        distinct.insert(order);
    }
    CHECK(distinct.size() == 3);
}

TEST_CASE("emu checks: dynamic shared memory is poisoned and race-checked like static", "[emu][checks]") {
    REQUIRE_INSTRUMENTED();
    const int threads = 128;
    std::vector<int> in(threads), out(threads, -1);
    for (int t = 0; t < threads; t++) in[t] = t + 5;
    const size_t big = 64 * 1024; /* above the 48 KB default: what kernels/common/launch.cuh opts in to */
    std::vector<std::string> reports =
        violations_of([&] { REQUIRE(broken::rotate_dynamic(in.data(), out.data(), threads, big, true) == cudaSuccess); });
    INFO(joined(reports));
    CHECK(reports.empty());
    for (int t = 0; t < threads; t++) REQUIRE(out[t] == in[(t + 1) % threads] * 2);
    for (uint64_t seed : kSeeds) {
        emu::set_seed(seed);
        reports = violations_of([&] { broken::rotate_dynamic(in.data(), out.data(), threads, threads * 4, false); });
        INFO("seed " << seed << "\n" << joined(reports));
        CHECK(any_contains(reports, "dynamic shared memory"));
        CHECK(any_contains(reports, "shared-memory race"));
        CHECK(any_contains(reports, "kernel `rotate_dynamic`")); /* the declared op names the kernel */
    }
}
