// Weight representations (llmbed_model_params.weights, issue 24 item 1) on
// every golden model: native (GGUF Q8_0/Q4_0/Q4_1/F16/BF16 blocks kept,
// expanded per GEMM panel) gives the f32 rows bit for bit; bf16 stays within
// cosine 0.999 of the float64 goldens. f32 itself is test_goldens.cpp's and
// test_gguf_goldens.cpp's (today's tolerance); LoRA needs f32.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "support/golden_runner.hpp"

using namespace llmbed_test;

namespace {

struct ModeRun {
    llmbed_model *model = nullptr;
    llmbed_ctx *ctx = nullptr;
    llmbed_model_info info{};
    ~ModeRun() {
        llmbed_ctx_free(ctx);
        llmbed_model_free(model);
    }
};

void load_mode(const std::string &path, llmbed_weights_mode mode, ModeRun &r) {
    llmbed_model_params mp;
    llmbed_model_params_default(&mp);
    mp.weights = mode;
    llmbed_error error{};
    const llmbed_status st = llmbed_model_load(path.c_str(), &mp, &r.model, &error);
    INFO(path << ": " << error.message);
    REQUIRE(st == LLMBED_OK);
    llmbed_ctx_params cp;
    llmbed_ctx_params_default(&cp);
    REQUIRE(llmbed_ctx_create(r.model, &cp, &r.ctx, &error) == LLMBED_OK);
    r.info.struct_size = sizeof r.info;
    REQUIRE(llmbed_model_get_info(r.model, &r.info) == LLMBED_OK);
}

double min_cosine(const std::vector<float> &got, const std::vector<double> &want, int width) {
    double worst = 1.0;
    for (size_t r = 0; r * width < want.size(); r++) {
        double dot = 0, a = 0, b = 0;
        for (int i = 0; i < width; i++) {
            const double x = got[r * width + i], y = want[r * width + i];
            dot += x * y, a += x * x, b += y * y;
        }
        const double c = dot / (std::sqrt(a) * std::sqrt(b) + 1e-300);
        if (!(c >= worst)) worst = c; // NaN is the worst
    }
    return worst;
}

void check_modes(const char *name) {
    const GoldenManifest m = read_manifest(LLMBED_TEST_DATA_DIR, name);
    INFO(m.error);
    REQUIRE(m.ok);
    ModeRun f32, native, bf16;
    load_mode(m.model_path, LLMBED_WEIGHTS_F32, f32);
    load_mode(m.model_path, LLMBED_WEIGHTS_NATIVE, native);
    load_mode(m.model_path, LLMBED_WEIGHTS_BF16, bf16);
    CHECK(std::string(f32.info.weights) == "f32");
    CHECK(std::string(native.info.weights) == "native");
    CHECK(std::string(bf16.info.weights) == "bf16");
    CHECK(bf16.info.weight_bytes < f32.info.weight_bytes);
    CHECK(native.info.weight_bytes <= f32.info.weight_bytes);
    double worst_bf16 = 1.0;
    int bf16_differs = 0;
    for (const GoldenCase &c : m.cases) {
        INFO(case_label(m, c));
        std::string error;
        const std::vector<double> want = m.expected(c, error);
        REQUIRE(error.empty());
        const std::vector<int32_t> lens{c.instruction_len};
        const llmbed_embed_params p = params_for(c.attention, c.pooling, c.layer);
        std::vector<float> a, b, h;
        bool ga = false, gb = false, gh = false;
        REQUIRE(embed_packed(f32.ctx, {m.sequences[size_t(c.sequence)]}, c.instruction_len ? &lens : nullptr, p,
                             m.hidden_size, a, ga) == LLMBED_OK);
        REQUIRE(embed_packed(native.ctx, {m.sequences[size_t(c.sequence)]}, c.instruction_len ? &lens : nullptr, p,
                             m.hidden_size, b, gb) == LLMBED_OK);
        REQUIRE(embed_packed(bf16.ctx, {m.sequences[size_t(c.sequence)]}, c.instruction_len ? &lens : nullptr, p,
                             m.hidden_size, h, gh) == LLMBED_OK);
        CHECK((ga && gb && gh));
        REQUIRE(a.size() == b.size());
        CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
        const double cosine = min_cosine(h, want, m.hidden_size);
        CHECK(cosine >= 0.999);
        worst_bf16 = std::min(worst_bf16, cosine);
        // The bit-for-bit check above can fail: bf16's rounded weights move the rows.
        bf16_differs += std::memcmp(a.data(), h.data(), a.size() * sizeof(float)) != 0;
    }
    CHECK(bf16_differs > 0);
    std::printf("weights %-16s %3zu cases: native == f32 bit for bit (%.0f KiB held vs %.0f KiB f32); "
                "bf16 worst cosine vs goldens %.6f (%.0f KiB)\n",
                name, m.cases.size(), native.info.weight_bytes / 1024.0, f32.info.weight_bytes / 1024.0, worst_bf16,
                bf16.info.weight_bytes / 1024.0);
}

} // namespace

TEST_CASE("weights: native == f32 and bf16 within cosine 0.999, safetensors models", "[weights][goldens]") {
    for (const char *name : {"llama-tiny", "mistral-tiny", "qwen2-tiny", "qwen3-tiny", "minicpm-tiny"}) check_modes(name);
}

TEST_CASE("weights: native == f32 and bf16 within cosine 0.999, GGUF models with every block type",
          "[weights][goldens][gguf]") {
    for (const char *name : {"llama-gguf", "qwen2-gguf", "qwen3-gguf"}) check_modes(name);
}

TEST_CASE("weights: GGUF blocks stay compact in native mode", "[weights][gguf]") {
    const GoldenManifest m = read_manifest(LLMBED_TEST_DATA_DIR, "qwen3-gguf");
    REQUIRE(m.ok);
    ModeRun f32, native;
    load_mode(m.model_path, LLMBED_WEIGHTS_F32, f32);
    load_mode(m.model_path, LLMBED_WEIGHTS_NATIVE, native);
    // Q4 blocks are 5-6x smaller than fp32; the F32 norms and the F16/BF16 tensors less so.
    CHECK(native.info.weight_bytes * 2 < f32.info.weight_bytes);
    ModeRun def;
    load_mode(m.model_path, LLMBED_WEIGHTS_DEFAULT, def);
    CHECK(std::string(def.info.weights) == "native");
}

TEST_CASE("weights: LoRA adapters need f32, the default turns to f32 for them, bad values are refused",
          "[weights][lora]") {
    const std::string model = std::string(LLMBED_TEST_DATA_DIR) + "/models/llama-tiny";
    llmbed_model_params mp;
    llmbed_model_params_default(&mp);
    const char *adapters[] = {"/nonexistent-adapter"};
    mp.adapters = adapters;
    mp.n_adapters = 1;
    llmbed_model *out = nullptr;
    llmbed_error error{};
    for (llmbed_weights_mode mode : {LLMBED_WEIGHTS_NATIVE, LLMBED_WEIGHTS_BF16}) {
        mp.weights = mode;
        CHECK(llmbed_model_load(model.c_str(), &mp, &out, &error) == LLMBED_ERR_INVALID_ARGUMENT);
        CHECK(std::string(error.message).find("LoRA adapters merge into fp32 weights") != std::string::npos);
        CHECK(out == nullptr);
    }
    mp.weights = LLMBED_WEIGHTS_DEFAULT; // resolves to f32, then the missing adapter folder is the error
    CHECK(llmbed_model_load(model.c_str(), &mp, &out, &error) == LLMBED_ERR_FILE_NOT_FOUND);
    mp.n_adapters = 0;
    mp.weights = (llmbed_weights_mode)7;
    CHECK(llmbed_model_load(model.c_str(), &mp, &out, &error) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(std::string(error.message).find("weights 7") != std::string::npos);
}
