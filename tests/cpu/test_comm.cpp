// The communicator of tensor-parallel ranks (host/comm/): host ranks sum in
// rank order, bit-identically on every rank, over odd sizes and repeated
// calls; mismatched counts and an aborting rank end every rank's collective
// with an error instead of a hang; NCCL without a GPU fails with its message.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "comm/comm.h"
}

#if __has_include(<nccl.h>)
#include <nccl.h>
// comm_nccl.c declares these NCCL 2 values itself (it dlopens the library).
static_assert(ncclSuccess == 0 && ncclFloat32 == 7 && ncclSum == 0, "NCCL ABI values changed");
#endif

namespace {

struct rank_result {
    llmbed_status status = LLMBED_OK;
    std::string message;
};

// Runs body(rank) on one thread per rank of `group` and collects statuses.
template <typename Body>
std::vector<rank_result> run_ranks(llmbed_comm_group *group, Body body) {
    const int size = llmbed_comm_group_size(group);
    std::vector<rank_result> results(size);
    std::vector<std::thread> threads;
    for (int r = 0; r < size; r++)
        threads.emplace_back([&, r] {
            llmbed_error error = {};
            results[r].status = body(llmbed_comm_group_rank(group, r), &error);
            results[r].message = error.message;
        });
    for (auto &t : threads) t.join();
    return results;
}

}  // namespace

TEST_CASE("host ranks: all-reduce equals the rank-ordered sum on every rank, bit for bit", "[comm]") {
    for (int size : {1, 2, 3, 4}) {
        llmbed_comm_group *group = nullptr;
        llmbed_error error = {};
        REQUIRE(llmbed_comm_group_create_host(size, &group, &error) == LLMBED_OK);
        REQUIRE(llmbed_comm_group_size(group) == size);
        REQUIRE(llmbed_comm_group_rank(group, size) == nullptr);
        const std::vector<size_t> counts = {0, 1, 7, 1031, 129, 4096};
        std::vector<std::vector<std::vector<float>>> inputs(counts.size(), std::vector<std::vector<float>>(size));
        std::mt19937 rng(size);
        std::uniform_real_distribution<float> value(-3.0f, 3.0f);
        for (size_t c = 0; c < counts.size(); c++)
            for (int r = 0; r < size; r++)
                for (size_t i = 0; i < counts[c]; i++) inputs[c][r].push_back(value(rng));
        auto outputs = inputs;
        auto results = run_ranks(group, [&](llmbed_comm *comm, llmbed_error *err) {
            REQUIRE(comm->size == size);
            for (size_t c = 0; c < counts.size(); c++) {
                const llmbed_status st =
                    comm->ops->all_reduce_sum(comm, outputs[c][comm->rank].data(), counts[c], nullptr, err);
                if (st != LLMBED_OK) return st;
            }
            return comm->ops->barrier(comm, err);
        });
        for (int r = 0; r < size; r++) REQUIRE(results[r].status == LLMBED_OK);
        for (size_t c = 0; c < counts.size(); c++) {
            for (size_t i = 0; i < counts[c]; i++) {
                float expected = inputs[c][0][i];
                for (int r = 1; r < size; r++) expected += inputs[c][r][i];
                for (int r = 0; r < size; r++)
                    REQUIRE(std::memcmp(&outputs[c][r][i], &expected, sizeof expected) == 0);
            }
        }
        llmbed_comm_group_free(group);
    }
    llmbed_comm_group_free(nullptr);
}

TEST_CASE("host ranks: a sum in another order would differ, so the order is what the test pins", "[comm]") {
    // 1e8 + 1 - 1e8 in float: rank order gives 0, another order gives 1.
    const float a = 1e8f, b = 1.0f, c = -1e8f;
    CHECK((a + b) + c != (a + c) + b);
}

TEST_CASE("host ranks: mismatched counts fail on every rank, naming both", "[comm]") {
    llmbed_comm_group *group = nullptr;
    REQUIRE(llmbed_comm_group_create_host(3, &group, nullptr) == LLMBED_OK);
    std::vector<std::vector<float>> data(3, std::vector<float>(8, 1.0f));
    auto results = run_ranks(group, [&](llmbed_comm *comm, llmbed_error *err) {
        return comm->ops->all_reduce_sum(comm, data[comm->rank].data(), comm->rank == 2 ? 5 : 8, nullptr, err);
    });
    for (int r = 0; r < 3; r++) {
        CHECK(results[r].status == LLMBED_ERR_INTERNAL);
        CHECK(results[r].message.find("rank 0 passed 8") != std::string::npos);
    }
    llmbed_comm_group_free(group);
}

TEST_CASE("host ranks: a rank that aborts releases the others with an error", "[comm]") {
    llmbed_comm_group *group = nullptr;
    REQUIRE(llmbed_comm_group_create_host(4, &group, nullptr) == LLMBED_OK);
    std::vector<std::vector<float>> data(4, std::vector<float>(16, 2.0f));
    auto results = run_ranks(group, [&](llmbed_comm *comm, llmbed_error *err) {
        if (comm->rank == 1) {
            comm->ops->abort(comm);  // as a rank whose forward failed
            return LLMBED_ERR_OUT_OF_MEMORY;
        }
        llmbed_status st = comm->ops->all_reduce_sum(comm, data[comm->rank].data(), 16, nullptr, err);
        if (st == LLMBED_OK) st = comm->ops->barrier(comm, err);
        return st;
    });
    CHECK(results[1].status == LLMBED_ERR_OUT_OF_MEMORY);
    for (int r : {0, 2, 3}) {
        CHECK(results[r].status == LLMBED_ERR_INTERRUPTED);
        CHECK(results[r].message.find("another rank failed") != std::string::npos);
    }
    llmbed_comm_group_free(group);
}

TEST_CASE("communicator arguments are checked", "[comm]") {
    llmbed_comm_group *group = reinterpret_cast<llmbed_comm_group *>(1);
    llmbed_error error = {};
    CHECK(llmbed_comm_group_create_host(0, &group, &error) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(group == nullptr);
    CHECK(std::string(error.message).find("0 ranks") != std::string::npos);
    CHECK(llmbed_comm_group_create_nccl(2, nullptr, &group, &error) == LLMBED_ERR_INVALID_ARGUMENT);
}

TEST_CASE("NCCL ranks on a machine without GPUs fail with NCCL's message or the missing library", "[comm]") {
    const int devices[2] = {0, 1};
    llmbed_comm_group *group = nullptr;
    llmbed_error error = {};
    const llmbed_status st = llmbed_comm_group_create_nccl(2, devices, &group, &error);
    if (st == LLMBED_OK) {  // a machine with two GPUs and NCCL: the group works
        llmbed_comm_group_free(group);
        SUCCEED("NCCL group created");
        return;
    }
    CHECK(group == nullptr);
    const std::string message = error.message;
    INFO(message);
    CHECK(((st == LLMBED_ERR_CUDA && message.find("ncclCommInitAll over 2 GPUs") != std::string::npos) ||
           (st == LLMBED_ERR_NO_DEVICE && message.find("libnccl.so.2") != std::string::npos)));
}
