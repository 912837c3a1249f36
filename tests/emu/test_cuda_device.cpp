/* Asking for the CUDA device where there is none (the normal case in CI)
 * fails cleanly through the public API: LLMBED_ERR_NO_DEVICE with a message
 * naming the device when llmbed was built with CUDA, LLMBED_ERR_UNSUPPORTED
 * saying how to build it otherwise, and no context. Where a GPU is present
 * the context is created and freed. */
#include <catch2/catch.hpp>

#include <string>

#include "llmbed.h"

TEST_CASE("cuda device: clear error without a GPU or without CUDA", "[emu][device]") {
    llmbed_model *model = nullptr;
    llmbed_error error;
    const std::string path = std::string(LLMBED_TEST_DATA_DIR) + "/models/qwen3-tiny";
    REQUIRE(llmbed_model_load(path.c_str(), nullptr, &model, &error) == LLMBED_OK);
    llmbed_ctx_params params;
    llmbed_ctx_params_default(&params);
    params.device = LLMBED_DEVICE_CUDA;
    params.device_index = 0;
    llmbed_ctx *ctx = nullptr;
    const llmbed_status status = llmbed_ctx_create(model, &params, &ctx, &error);
    const std::string message = error.message;
    INFO("status " << llmbed_status_str(status) << ": " << message);
    if (status == LLMBED_OK) {
        CHECK(ctx != nullptr);
        llmbed_ctx_free(ctx);
    } else {
        CHECK(ctx == nullptr);
#if defined(LLMBED_TEST_WITH_CUDA)
        CHECK(status == LLMBED_ERR_NO_DEVICE);
#else
        CHECK(status == LLMBED_ERR_UNSUPPORTED);
        CHECK(message.find("without CUDA") != std::string::npos);
#endif
        CHECK(message.find("cuda:0") != std::string::npos);
    }
    llmbed_model_free(model);
}
