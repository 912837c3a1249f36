/* Asking for the CUDA device where there is none (the normal case in CI)
 * fails cleanly through the public API: LLMBED_ERR_NO_DEVICE with a message
 * naming the device when llmbed was built with CUDA, LLMBED_ERR_UNSUPPORTED
 * saying how to build it otherwise, and no context. Where a GPU is present
 * the context is created and freed. */
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "llmbed.h"

namespace {

llmbed_model *load_tiny_model() {
    llmbed_model *model = nullptr;
    llmbed_error error;
    const std::string path = std::string(LLMBED_TEST_DATA_DIR) + "/models/qwen3-tiny";
    REQUIRE(llmbed_model_load(path.c_str(), nullptr, &model, &error) == LLMBED_OK);
    return model;
}

} // namespace

TEST_CASE("cuda device: clear error without a GPU or without CUDA", "[emu][device]") {
    llmbed_model *model = load_tiny_model();
    llmbed_error error;
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

/* --device auto (the default): the GPU when one is usable, else the CPU with
 * a note naming why; a context on the CPU says so and embeds. */
TEST_CASE("device auto: the default, a GPU when usable, else the CPU with a note", "[emu][device]") {
    llmbed_model *model = load_tiny_model();
    llmbed_error error;
    llmbed_ctx_params params;
    llmbed_ctx_params_default(&params);
    CHECK(params.device == LLMBED_DEVICE_AUTO);
    llmbed_ctx *ctx = nullptr;
    REQUIRE(llmbed_ctx_create(model, &params, &ctx, &error) == LLMBED_OK);
    int index = -1;
    const llmbed_device device = llmbed_ctx_device(ctx, &index);
    const std::string note = llmbed_ctx_device_note(ctx);
    INFO("note: " << note);
    CHECK(device != LLMBED_DEVICE_AUTO);
    if (device == LLMBED_DEVICE_CUDA) {
        CHECK(note.empty());
    } else {
        CHECK(index == 0);
        CHECK(note.find("no usable GPU, running on the CPU") != std::string::npos);
        CHECK(note.find("cuda:0") != std::string::npos);
        const int32_t tokens[3] = {1, 2, 3};
        const int64_t offsets[2] = {0, 3};
        llmbed_batch batch = {tokens, offsets, 1, nullptr, nullptr};
        std::vector<float> out((size_t)llmbed_embed_dims(model, nullptr));
        CHECK(llmbed_embed(ctx, &batch, nullptr, out.data(), out.size()) == LLMBED_OK);
    }
    llmbed_ctx_free(ctx);
    /* An explicit device is never replaced, and the CPU carries no note. */
    params.device = LLMBED_DEVICE_CPU;
    REQUIRE(llmbed_ctx_create(model, &params, &ctx, &error) == LLMBED_OK);
    CHECK(llmbed_ctx_device(ctx, nullptr) == LLMBED_DEVICE_CPU);
    CHECK(std::string(llmbed_ctx_device_note(ctx)).empty());
    llmbed_ctx_free(ctx);
    llmbed_model_free(model);
}
