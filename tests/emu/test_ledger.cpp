/* The cost ledger (SPEC §7, issue 20 item 6): the dry run of one batch
 * records exactly the launches the emulated forward executes (same ops,
 * grids, shared memory and declared costs, in the same order), every launch
 * declares its cost, and `llmbed bench --ledger` prints the per-token-layer
 * figures that the launch log gives. */
#include "emu_harness.h"

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "emu_ledger.h"

extern "C" {
#include "model/model.h"
}

namespace {

struct Log {
    llmbed_emu_launch_log log{};
    ~Log() { llmbed_emu_log_free(&log); }
};

std::unique_ptr<llmbed_model, void (*)(llmbed_model *)> load(const char *name) {
    llmbed_model *raw = nullptr;
    llmbed_error error;
    const std::string path = std::string(LLMBED_TEST_DATA_DIR) + "/models/" + name;
    REQUIRE(llmbed_model_load(path.c_str(), nullptr, &raw, &error) == LLMBED_OK);
    return {raw, llmbed_model_free};
}

std::string describe(const llmbed_emu_launch &l) {
    char text[256];
    std::snprintf(text, sizeof text, "%s kind %d grid (%lld,%lld,%lld) x %d smem %zu flops %.0f bytes %.0f", l.op,
                  (int)l.kind, l.grid[0], l.grid[1], l.grid[2], l.threads, l.shared_bytes, l.flops, l.bytes);
    return text;
}

} // namespace

TEST_CASE("ledger: the dry run records what the emulated forward launches", "[emu][ledger]") {
    for (const char *name : {"qwen3-tiny", "qwen2-tiny", "llama-tiny"}) {
        auto model = load(name);
        const llmbed_ledger_batch batch = {5, 13, 80};
        Log dry, executed;
        llmbed_error error;
        INFO(name);
        REQUIRE(llmbed_emu_ledger_run(model.get(), &batch, 1, &dry.log, &error) == LLMBED_OK);
        REQUIRE(llmbed_emu_ledger_run(model.get(), &batch, 0, &executed.log, &error) == LLMBED_OK);
        REQUIRE(dry.log.count == executed.log.count);
        int gemms = 0;
        for (size_t i = 0; i < dry.log.count; i++) {
            const std::string want = describe(executed.log.launches[i]), got = describe(dry.log.launches[i]);
            INFO("launch " << i);
            CHECK(got == want);
            CHECK(std::string(dry.log.launches[i].op) != "undeclared");
            CHECK(std::string(dry.log.launches[i].op).find("disagrees") == std::string::npos);
            if (dry.log.launches[i].kind == LLMBED_EMU_KERNEL || dry.log.launches[i].kind == LLMBED_EMU_GEMM)
                CHECK(dry.log.launches[i].bytes > 0.0);
            gemms += dry.log.launches[i].kind == LLMBED_EMU_GEMM;
        }
        /* one batch: tokens up, final rows down, nothing else crosses the host link */
        CHECK(dry.log.launches[dry.log.count - 1].kind == LLMBED_EMU_COPY_D2H);
        std::printf("[emu] ledger %-11s %zu launches per batch, %d GEMMs (%d layers)\n", name, dry.log.count, gemms,
                    model->config.n_layers);
    }
}

TEST_CASE("ledger: llmbed bench --ledger prints the figures of the launch log", "[emu][ledger]") {
    auto model = load("qwen3-tiny");
    const int tokens = 16, budget = 64;
    const llmbed_ledger_batch batch = {budget / tokens, tokens, budget};
    Log log;
    llmbed_error error;
    REQUIRE(llmbed_emu_ledger_run(model.get(), &batch, 1, &log.log, &error) == LLMBED_OK);
    double elementwise = 0.0, gemm_flops = 0.0;
    for (size_t i = 0; i < log.log.count; i++) {
        const llmbed_emu_launch &l = log.log.launches[i];
        if (l.kind == LLMBED_EMU_GEMM) gemm_flops += l.flops;
        if (l.kind == LLMBED_EMU_KERNEL && std::string(l.op).rfind("attention", 0) != 0) elementwise += l.bytes;
    }
    const double token_layers = (double)budget * model->config.n_layers;

    const std::string command = std::string(LLMBED_BINARY_DIR) + "/llmbed bench --ledger --model " +
                                LLMBED_TEST_DATA_DIR + "/models/qwen3-tiny --tokens 16 --batch-tokens 64 --profile a100";
    FILE *pipe = popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string output;
    char line[512];
    while (std::fgets(line, sizeof line, pipe) != nullptr) output += line;
    CHECK(pclose(pipe) == 0);
    INFO(output);
    auto value_of = [&](const std::string &label) {
        const size_t at = output.find("\n" + label + ": ");
        REQUIRE(at != std::string::npos);
        return std::stod(output.substr(at + label.size() + 3));
    };
    CHECK(std::fabs(value_of("elementwise bytes per token-layer") - elementwise / token_layers) <= 0.5);
    CHECK(std::fabs(value_of("gemm flops per token-layer") - gemm_flops / token_layers) <= 0.5);
    CHECK(value_of("predicted tokens/s at roofline") > 0.0);
    CHECK(output.find("profile a100") != std::string::npos);

    FILE *bad = popen((std::string(LLMBED_BINARY_DIR) + "/llmbed bench --ledger --model " + LLMBED_TEST_DATA_DIR +
                       "/models/qwen3-tiny --profile b200 2>&1")
                          .c_str(),
                      "r");
    REQUIRE(bad != nullptr);
    std::string message;
    while (std::fgets(line, sizeof line, bad) != nullptr) message += line;
    CHECK(WEXITSTATUS(pclose(bad)) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(message.find("--profile 'b200': expected h100, h200 or a100") != std::string::npos);
}
