// `llmbed bench --long` (issue 10 items 5 and 8) as users run it: the table
// has one row per ratio with the kept channels, the suffix-mode rows agree
// with re-encoding (cosine printed by the bench), and bad lists are refused.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "support/cli_process.hpp"

using namespace llmbed_test::cli;

namespace {
const std::string kModel = LLMBED_TEST_DATA_DIR "/models/llama-tiny";  // head_dim 16, default RoPE
}

TEST_CASE("cli bench --long: a row per ThinK ratio and the suffix-mode comparison", "[cli][bench][chunked]") {
    const std::string dir = scratch("bench", "long");
    Result r = run({"bench", "--model", kModel, "--long", "300", "--chunk-tokens", "64", "--think-ratios", "0.5,0",
                    "--queries", "4", "--reencode", "2", "--threads", "1"},
                   dir);
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("       0.50    8/16") != std::string::npos);
    CHECK(r.out.find("       0.00   16/16") != std::string::npos);
    CHECK(r.out.find("1.000x") != std::string::npos);
    // kv dtype table (1 kv head x 16, blocks of 64): int4 keys 8 ch x 0.5 B + 8 x 8 B / 64, values 8 B + 2 x 4 B
    CHECK(r.out.find("    int4         0.50    5.0     16.0     21.0    3.05x smaller") != std::string::npos);
    CHECK(r.out.find("    bf16         0.00   32.0     32.0     64.0    1.00x smaller") != std::string::npos);
    const size_t at = r.out.find("worst cosine suffix mode vs re-encoded ");
    REQUIRE(at != std::string::npos);
    const double worst = std::strtod(r.out.c_str() + at + 39, nullptr);
    CHECK(worst >= 0.99999);  // suffix mode equals re-encoding the document + query
    CHECK(worst <= 1.000001);
}

TEST_CASE("cli bench --long: bad ratio lists are refused", "[cli][bench][errors]") {
    const std::string dir = scratch("bench", "long-errors");
    for (const char *list : {"1.0", "0,-0.1", "0.4;0.5", ""}) {
        Result r = run({"bench", "--model", kModel, "--long", "100", "--think-ratios", list}, dir);
        INFO("list '" << list << "' stderr: " << r.err);
        CHECK(r.status == 1);
        CHECK(r.err.find("--think-ratios") != std::string::npos);
    }
}
