// Pure parts of the scheduler: token-budget batch planning, HF-style
// truncation that keeps the special tokens, and the shard manifest
// (round trip, job identity check naming the differing option).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

extern "C" {
#include "pipeline/batch_plan.h"
#include "pipeline/manifest.h"
#include "pipeline/truncate.h"
}

TEST_CASE("batch plan: sorted by length, every batch within the budget, all sequences once", "[scheduler]") {
    std::mt19937 rng(5);
    for (int n : {0, 1, 7, 129, 1000}) {
        for (int64_t budget : {1, 16, 100, 4096}) {
            std::vector<int64_t> lengths(n);
            for (auto &l : lengths) l = 1 + rng() % 200;
            std::vector<int> order(n > 0 ? n : 1), starts(n + 1);
            int batches = llmbed_batch_plan(lengths.data(), n, budget, 0, order.data(), starts.data());
            REQUIRE(batches >= (n > 0 ? 1 : 0));
            CHECK(starts[0] == 0);
            CHECK(starts[batches] == n);
            std::vector<int> seen(order.begin(), order.begin() + n);
            std::sort(seen.begin(), seen.end());
            for (int i = 0; i < n; i++) REQUIRE(seen[i] == i);
            for (int i = 1; i < n; i++) {
                int64_t a = lengths[order[i - 1]], b = lengths[order[i]];
                REQUIRE((a < b || (a == b && order[i - 1] < order[i])));
            }
            for (int k = 0; k < batches; k++) {
                int64_t tokens = 0;
                REQUIRE(starts[k + 1] > starts[k]);
                for (int j = starts[k]; j < starts[k + 1]; j++) tokens += lengths[order[j]];
                // Over budget only as a batch of one sequence longer than the budget.
                REQUIRE((tokens <= budget || starts[k + 1] - starts[k] == 1));
                // Greedy: the next sequence would not have fit.
                if (k + 1 < batches) REQUIRE(tokens + lengths[order[starts[k + 1]]] > budget);
            }
        }
    }
}

TEST_CASE("truncation keeps the special tokens around the cut text, as HF tokenizers", "[scheduler]") {
    const int32_t bos = 1, eos = 2;
    std::vector<int32_t> content = {10, 11, 12, 13, 14, 15, 16};
    std::vector<int32_t> full = {bos};
    full.insert(full.end(), content.begin(), content.end());
    full.push_back(eos);
    std::vector<int32_t> out(full.size());
    size_t n = llmbed_truncate_ids(full.data(), full.size(), content.data(), content.size(), 5, out.data());
    out.resize(n);
    CHECK(out == std::vector<int32_t>{bos, 10, 11, 12, eos});
    // In place (out == full).
    std::vector<int32_t> inplace = full;
    n = llmbed_truncate_ids(inplace.data(), inplace.size(), content.data(), content.size(), 4, inplace.data());
    inplace.resize(n);
    CHECK(inplace == std::vector<int32_t>{bos, 10, 11, eos});
    // Suffix-only specials (Qwen3-Embedding appends <|endoftext|>).
    std::vector<int32_t> suffix = content;
    suffix.push_back(eos);
    out.assign(suffix.size(), 0);
    n = llmbed_truncate_ids(suffix.data(), suffix.size(), content.data(), content.size(), 3, out.data());
    out.resize(n);
    CHECK(out == std::vector<int32_t>{10, 11, eos});
    // Short enough: unchanged. No room for text: head of the full encoding.
    out.assign(full.size(), 0);
    CHECK(llmbed_truncate_ids(full.data(), full.size(), content.data(), content.size(), 9, out.data()) == 9);
    n = llmbed_truncate_ids(full.data(), full.size(), content.data(), content.size(), 2, out.data());
    CHECK(n == 2);
    CHECK((out[0] == bos && out[1] == 10));
}

TEST_CASE("manifest: round trip and job identity check", "[scheduler]") {
    std::string path = "/tmp/llmbed-test-manifest-" + std::to_string(getpid()) + ".json";
    llmbed_manifest m{};
    m.job_json = strdup("{\"model\":\"/m\",\"pooling\":\"mean\",\"dims\":64}");
    llmbed_manifest_shard shard = {(char *)"out.shard-00000.npy", 100, 25728, 0xdeadbeefu, nullptr, 0, 0};
    llmbed_error err{};
    REQUIRE(llmbed_manifest_add_shard(&m, &shard, &err) == LLMBED_OK);
    shard = {(char *)"out.shard-00001.npy", 7, 1920, 0x12345678u, (char *)"out.shard-00001.scales.npy", 156, 42};
    REQUIRE(llmbed_manifest_add_shard(&m, &shard, &err) == LLMBED_OK);
    m.rows = 107;
    m.next_offset = 123456789012LL;
    m.next_line = 110;
    m.skipped = 3;
    m.truncated = 2;
    m.tokens = 5000;
    REQUIRE(llmbed_manifest_write(&m, path.c_str(), nullptr, &err) == LLMBED_OK);
    llmbed_manifest back{};
    REQUIRE(llmbed_manifest_read(path.c_str(), &back, &err) == LLMBED_OK);
    REQUIRE(back.n_shards == 2);
    CHECK(std::string(back.shards[0].file) == "out.shard-00000.npy");
    CHECK(back.shards[0].crc32 == 0xdeadbeefu);
    CHECK(back.shards[0].sidecar == nullptr);
    CHECK(std::string(back.shards[1].sidecar) == "out.shard-00001.scales.npy");
    CHECK(back.shards[1].sidecar_crc32 == 42);
    CHECK(back.rows == 107);
    CHECK(back.next_offset == 123456789012LL);
    CHECK(back.next_line == 110);
    CHECK(back.skipped == 3);
    CHECK(back.truncated == 2);
    CHECK(back.tokens == 5000);
    CHECK(back.complete == 0);

    CHECK(llmbed_manifest_check_job(&back, "{\"dims\":64,\"model\":\"/m\",\"pooling\":\"mean\"}", path.c_str(), &err) ==
          LLMBED_OK);
    CHECK(llmbed_manifest_check_job(&back, "{\"model\":\"/m\",\"pooling\":\"last\",\"dims\":64}", path.c_str(), &err) ==
          LLMBED_ERR_RESUME_MISMATCH);
    CHECK(std::string(err.message).find("\"pooling\" was \"mean\"") != std::string::npos);
    CHECK(llmbed_manifest_check_job(&back, "{\"model\":\"/m\",\"pooling\":\"mean\"}", path.c_str(), &err) ==
          LLMBED_ERR_RESUME_MISMATCH);
    CHECK(std::string(err.message).find("\"dims\"") != std::string::npos);
    llmbed_manifest_free(&back);
    llmbed_manifest_free(&m);

    FILE *f = std::fopen(path.c_str(), "w");
    std::fputs("{\"format\": \"something else\"}", f);
    std::fclose(f);
    CHECK(llmbed_manifest_read(path.c_str(), &back, &err) == LLMBED_ERR_RESUME_MISMATCH);
    f = std::fopen(path.c_str(), "w");
    std::fputs("{\"format\": \"llmbed-shards\", ", f);
    std::fclose(f);
    CHECK(llmbed_manifest_read(path.c_str(), &back, &err) == LLMBED_ERR_BAD_JSON);
    std::remove(path.c_str());
    CHECK(llmbed_manifest_read(path.c_str(), &back, &err) == LLMBED_ERR_FILE_NOT_FOUND);
}
