// Embedder families of issue 12 against the float64 goldens of
// tests/gen_family_goldens.py: each tiny family folder embedded with no flag
// beyond --model (and --prompt for the query cases) through the CLI, and the
// same ids through the C API; detection rules and reasons; EOS appending;
// NV-Embed latent pooling; PEFT LoRA merging; the bad inputs of the issue.
// Tolerance (issue 12, CPU fp32 vs float64): cosine >= 0.99999, max |diff| <= 1e-4.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "llmbed.h"
#include "support/cli_process.hpp"
#include "support/family_manifest.hpp"
#include "support/golden_compare.hpp"

using namespace llmbed_test;

namespace {

const char *const kFamilies[] = {"nv-embed",        "gte-qwen2",  "llm2vec",           "llm2vec-lora", "gritlm",
                                 "qwen3-embedding", "e5-mistral", "minicpm-embedding"};

using ModelPtr = std::unique_ptr<llmbed_model, void (*)(llmbed_model *)>;

ModelPtr load(const std::string &path, const std::vector<std::string> &adapters = {}, const char *family = nullptr,
              llmbed_status *status = nullptr, std::string *message = nullptr) {
    llmbed_model_params p;
    llmbed_model_params_default(&p);
    std::vector<const char *> dirs;
    for (const auto &a : adapters) dirs.push_back(a.c_str());
    p.adapters = dirs.empty() ? nullptr : dirs.data();
    p.n_adapters = (int)dirs.size();
    p.family = family;
    llmbed_model *m = nullptr;
    llmbed_error error = {};
    const llmbed_status st = llmbed_model_load(path.c_str(), &p, &m, &error);
    if (status) *status = st;
    if (message) *message = error.message;
    return ModelPtr(m, llmbed_model_free);
}

std::vector<double> golden_rows(const FamilyGolden &g, const std::vector<const FamilyCase *> &cases) {
    std::vector<double> want;
    for (const FamilyCase *c : cases)
        for (int i = 0; i < g.hidden; i++) want.push_back(g.embeddings.values[(size_t)c->row * g.hidden + i]);
    return want;
}

// CLI: one run per distinct prompt, text lines in, .npy out.
Agreement embed_with_cli(const FamilyGolden &g, const std::string &name) {
    Agreement total;
    for (const char *with_prompt : {"", "prompt"}) {
        std::vector<const FamilyCase *> cases;
        for (const auto &c : g.cases)
            if (c.prompt.empty() == (with_prompt[0] == '\0')) cases.push_back(&c);
        if (cases.empty()) continue;
        const std::string dir = cli::scratch("families", name + (with_prompt[0] ? "-q" : "-d"));
        std::string lines;
        for (const FamilyCase *c : cases) lines += c->text + "\n";
        cli::write_file(dir + "/in.txt", lines);
        std::vector<std::string> args = {"embed", "--model", g.model_path, "--input", dir + "/in.txt",
                                         "--output", dir + "/out.npy", "--quiet"};
        for (const auto &a : g.adapters) args.insert(args.end(), {"--adapter", a});
        if (with_prompt[0]) args.insert(args.end(), {"--prompt", cases[0]->prompt});
        const cli::Result r = cli::run(args, dir);
        INFO(name << ": " << r.err);
        REQUIRE(r.status == 0);
        const NpyArray out = read_npy(dir + "/out.npy");
        REQUIRE(out.ok);
        REQUIRE(out.rows() == (int64_t)cases.size());
        std::vector<float> got(out.values.begin(), out.values.end());
        total.merge(compare_rows(got.data(), golden_rows(g, cases), g.hidden));
    }
    return total;
}

// C API: the golden ids (family formatting already applied), pool start as instruction_lens.
Agreement embed_with_api(const FamilyGolden &g) {
    ModelPtr model = load(g.model_path, g.adapters);
    REQUIRE(model);
    llmbed_ctx *ctx = nullptr;
    REQUIRE(llmbed_ctx_create(model.get(), nullptr, &ctx, nullptr) == LLMBED_OK);
    std::vector<int32_t> tokens, begins;
    std::vector<int64_t> offsets = {0};
    std::vector<const FamilyCase *> cases;
    for (const auto &c : g.cases) {
        tokens.insert(tokens.end(), c.ids.begin(), c.ids.end());
        offsets.push_back((int64_t)tokens.size());
        begins.push_back(c.pool_begin);
        cases.push_back(&c);
    }
    llmbed_batch batch = {tokens.data(), offsets.data(), (int)cases.size(), begins.data()};
    std::vector<float> out(cases.size() * (size_t)g.hidden);
    const llmbed_status st = llmbed_embed(ctx, &batch, nullptr, out.data(), out.size());
    INFO(llmbed_last_error(ctx));
    REQUIRE(st == LLMBED_OK);
    llmbed_ctx_free(ctx);
    return compare_rows(out.data(), golden_rows(g, cases), g.hidden);
}

std::string copy_folder(const std::string &from, const std::string &dir, const std::string &name) {
    const std::string to = dir + "/" + name;
    REQUIRE(std::system(("cp -r '" + from + "' '" + to + "'").c_str()) == 0);
    return to;
}

void replace_in_file(const std::string &path, const std::string &from, const std::string &to) {
    std::string text = cli::slurp(path);
    const size_t at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    cli::write_file(path, text);
}

} // namespace

TEST_CASE("families: each family embeds from its folder (CLI) and from ids (C API) as its golden", "[cpu][families]") {
    for (const char *name : kFamilies) {
        FamilyGolden g = read_family_golden(LLMBED_TEST_DATA_DIR, name);
        INFO(name << ": " << g.error);
        REQUIRE(g.error.empty());
        const Agreement cli = embed_with_cli(g, name), api = embed_with_api(g);
        std::printf("[families] %-18s CLI cos %.9f max|d| %.2e   API cos %.9f max|d| %.2e  (%zu cases)\n", name,
                    cli.min_cosine, cli.max_abs, api.min_cosine, api.max_abs, g.cases.size());
        CHECK(cli.within_golden_tolerance());
        CHECK(api.within_golden_tolerance());
    }
}

TEST_CASE("families: the golden check fails on a wrong convention", "[cpu][families]") {
    // NV-Embed's folder forced to the generic convention (causal, last token): must not pass.
    FamilyGolden g = read_family_golden(LLMBED_TEST_DATA_DIR, "nv-embed");
    REQUIRE(g.error.empty());
    const std::string dir = cli::scratch("families", "wrong");
    cli::write_file(dir + "/in.txt", g.cases[0].text + "\n");
    const cli::Result r = cli::run({"embed", "--model", g.model_path, "--family", "generic", "--input",
                                    dir + "/in.txt", "--output", dir + "/out.npy", "--quiet"}, dir);
    REQUIRE(r.status == 0);
    const NpyArray out = read_npy(dir + "/out.npy");
    REQUIRE(out.ok);
    std::vector<float> got(out.values.begin(), out.values.end());
    const Agreement a = compare_rows(got.data(), golden_rows(g, {&g.cases[0]}), g.hidden);
    CHECK_FALSE(a.within_golden_tolerance());
}

TEST_CASE("families: detection rules name their reason and --family overrides them", "[cpu][families]") {
    // Neutral folder names, so the name rule cannot fire and the file rules must.
    const std::string dir = cli::scratch("families", "detect");
    const struct {
        const char *family, *reason;
    } rules[] = {
        {"nv-embed", "nvembed"},          {"gte-qwen2", "auto_map"},           {"llm2vec", "auto_map"},
        {"gritlm", "_name_or_path"},      {"qwen3-embedding", "1_Pooling"},    {"e5-mistral", "1_Pooling"},
        {"minicpm-embedding", "architectures"},
    };
    int i = 0;
    for (const auto &rule : rules) {
        const std::string folder = copy_folder(std::string(LLMBED_TEST_DATA_DIR) + "/models/families/" + rule.family,
                                               dir, "model" + std::to_string(i++));
        ModelPtr m = load(folder);
        REQUIRE(m);
        llmbed_model_info info = {};
        info.struct_size = sizeof info;
        REQUIRE(llmbed_model_get_info(m.get(), &info) == LLMBED_OK);
        INFO(rule.family << ": " << info.family << " (" << info.family_reason << ")");
        CHECK(std::string(info.family) == rule.family);
        CHECK(std::string(info.family_reason).find(rule.reason) != std::string::npos);
        const cli::Result r = cli::run({"info", "--model", folder}, dir);
        CHECK(r.out.find(std::string("family:             ") + rule.family) != std::string::npos);
    }
    // the plain tiny models stay generic; forcing works and a bad name is refused
    ModelPtr plain = load(std::string(LLMBED_TEST_DATA_DIR) + "/models/qwen2-tiny");
    llmbed_model_info info = {};
    info.struct_size = sizeof info;
    REQUIRE(llmbed_model_get_info(plain.get(), &info) == LLMBED_OK);
    CHECK(std::string(info.family) == "generic");
    ModelPtr forced = load(std::string(LLMBED_TEST_DATA_DIR) + "/models/qwen2-tiny", {}, "gte-qwen2");
    REQUIRE(llmbed_model_get_info(forced.get(), &info) == LLMBED_OK);
    CHECK(std::string(info.family) == "gte-qwen2");
    CHECK(info.default_attention == LLMBED_ATTENTION_BIDIRECTIONAL);
    llmbed_status st;
    std::string message;
    CHECK_FALSE(load(std::string(LLMBED_TEST_DATA_DIR) + "/models/qwen2-tiny", {}, "bert", &st, &message));
    CHECK(st == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(message.find("bert") != std::string::npos);
    CHECK_FALSE(load(std::string(LLMBED_TEST_DATA_DIR) + "/models/qwen2-tiny", {}, "nv-embed", &st, &message));
    CHECK(st == LLMBED_ERR_BAD_CONFIG);
}

TEST_CASE("families: EOS is appended once by llmbed_tokenize where the family needs it", "[cpu][families]") {
    const struct {
        const char *family;
        bool ends_with_eos;
    } cases[] = {{"gte-qwen2", true}, {"qwen3-embedding", true}, {"e5-mistral", true}, {"nv-embed", true},
                 {"llm2vec", false}, {"minicpm-embedding", false}};
    for (const auto &c : cases) {
        FamilyGolden g = read_family_golden(LLMBED_TEST_DATA_DIR, c.family);
        REQUIRE(g.error.empty());
        ModelPtr m = load(g.model_path);
        REQUIRE(m);
        const std::string text = "Embeddings map text to vectors.";
        std::vector<int32_t> ids(256);
        size_t n = 0;
        REQUIRE(llmbed_tokenize(m.get(), text.data(), text.size(), nullptr, ids.data(), ids.size(), &n, nullptr,
                                nullptr) == LLMBED_OK);
        INFO(c.family);
        REQUIRE(n >= 2);
        CHECK((ids[n - 1] == g.eos) == c.ends_with_eos);
        CHECK(ids[n - 2] != g.eos);  // qwen3-embedding's post-processor adds it: not twice
        // without specials: no EOS either
        llmbed_tokenize_params p;
        llmbed_tokenize_params_default(&p);
        p.add_special = 0;
        size_t bare = 0;
        REQUIRE(llmbed_tokenize(m.get(), text.data(), text.size(), &p, ids.data(), ids.size(), &bare, nullptr,
                                nullptr) == LLMBED_OK);
        CHECK(ids[bare - 1] != g.eos);
    }
}

TEST_CASE("families: mask_prefix_tokens drops leading tokens from the pool and refuses all-masked rows",
          "[cpu][families]") {
    FamilyGolden g = read_family_golden(LLMBED_TEST_DATA_DIR, "llm2vec");
    REQUIRE(g.error.empty());
    ModelPtr m = load(g.model_path);
    llmbed_ctx *ctx = nullptr;
    REQUIRE(llmbed_ctx_create(m.get(), nullptr, &ctx, nullptr) == LLMBED_OK);
    const std::vector<int32_t> &ids = g.cases[0].ids;
    std::vector<int64_t> offsets = {0, (int64_t)ids.size()};
    std::vector<float> a(g.hidden), b(g.hidden);
    int32_t begin = 3;
    llmbed_batch masked = {ids.data(), offsets.data(), 1, &begin};
    REQUIRE(llmbed_embed(ctx, &masked, nullptr, a.data(), a.size()) == LLMBED_OK);
    llmbed_batch plain = {ids.data(), offsets.data(), 1, nullptr};
    llmbed_embed_params p;
    llmbed_embed_params_default(&p);
    p.mask_prefix_tokens = 3;
    REQUIRE(llmbed_embed(ctx, &plain, &p, b.data(), b.size()) == LLMBED_OK);
    CHECK(max_abs_diff(a, b) == 0.0);
    p.mask_prefix_tokens = (int)ids.size();
    CHECK(llmbed_embed(ctx, &plain, &p, b.data(), b.size()) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(std::string(llmbed_last_error(ctx)).find("every token would be masked") != std::string::npos);
    llmbed_ctx_free(ctx);

    const std::string dir = cli::scratch("families", "mask-prefix");
    cli::write_file(dir + "/in.txt", "fox\n");
    const cli::Result r = cli::run({"embed", "--model", g.model_path, "--mask-prefix-tokens", "50", "--input",
                                    dir + "/in.txt", "--output", dir + "/out.npy", "--quiet"}, dir);
    CHECK(r.status == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(r.err.find("in.txt:1: ") != std::string::npos); /* the record, named before batching */
    CHECK(r.err.find("--mask-prefix-tokens 50: every token would be masked") != std::string::npos);
    CHECK_FALSE(cli::exists(dir + "/out.npy"));
}

TEST_CASE("latent: bad NV-Embed folders and --pooling latent without latent weights", "[cpu][families]") {
    const std::string dir = cli::scratch("families", "latent-bad");
    const std::string nv = std::string(LLMBED_TEST_DATA_DIR) + "/models/families/nv-embed";
    llmbed_status st;
    std::string message;
    // latent_attention_config missing
    std::string folder = copy_folder(nv, dir, "no-latent-config");
    replace_in_file(folder + "/config.json", "\"latent_attention_config\"", "\"latent_attention_config_x\"");
    CHECK_FALSE(load(folder, {}, nullptr, &st, &message));
    CHECK(st == LLMBED_ERR_BAD_CONFIG);
    CHECK(message.find("latent_attention_config") != std::string::npos);
    // config inconsistent with the weights: 9 latents, the file has 7
    folder = copy_folder(nv, dir, "nine-latents");
    replace_in_file(folder + "/config.json", "\"num_latents_value\": 7", "\"num_latents_value\": 9");
    CHECK_FALSE(load(folder, {}, nullptr, &st, &message));
    CHECK(st == LLMBED_ERR_TENSOR_SHAPE);
    CHECK(message.find("latent_attention_model.latents") != std::string::npos);
    CHECK(message.find("9 latents") != std::string::npos);
    // heads x head size that do not match to_q
    folder = copy_folder(nv, dir, "heads");
    replace_in_file(folder + "/config.json", "\"cross_dim_head\": 20", "\"cross_dim_head\": 16");
    CHECK_FALSE(load(folder, {}, nullptr, &st, &message));
    CHECK(st == LLMBED_ERR_TENSOR_SHAPE);
    CHECK(message.find("to_q") != std::string::npos);
    // latent_dim different from the decoder's hidden size
    folder = copy_folder(nv, dir, "latent-dim");
    replace_in_file(folder + "/config.json", "\"latent_dim\": 48", "\"latent_dim\": 50");
    CHECK_FALSE(load(folder, {}, nullptr, &st, &message));
    CHECK(st == LLMBED_ERR_BAD_CONFIG);
    CHECK(message.find("latent_dim") != std::string::npos);
    // latent weights without the nvembed config (text_config promoted to the top level)
    folder = copy_folder(nv, dir, "weights-only");
    {
        std::string text = cli::slurp(folder + "/config.json");
        const size_t at = text.find("\"text_config\": ");
        REQUIRE(at != std::string::npos);
        const size_t open = text.find('{', at), close = text.find('}', open);
        cli::write_file(folder + "/config.json", text.substr(open, close - open + 1));
    }
    replace_in_file(folder + "/config.json", "\"bidir_mistral\"", "\"mistral\"");
    CHECK_FALSE(load(folder, {}, nullptr, &st, &message));
    CHECK(st == LLMBED_ERR_BAD_CONFIG);
    CHECK(message.find("latent_attention_model.latents") != std::string::npos);
    // --pooling latent on a model without a latent block: CLI and C API
    const std::string plain = std::string(LLMBED_TEST_DATA_DIR) + "/models/families/gritlm";
    cli::write_file(dir + "/in.txt", "fox\n");
    const cli::Result r = cli::run({"embed", "--model", plain, "--pooling", "latent", "--input", dir + "/in.txt",
                                    "--output", dir + "/out.npy", "--quiet"}, dir);
    CHECK(r.status == LLMBED_ERR_UNSUPPORTED);
    CHECK(r.err.find("no latent pooling block") != std::string::npos);
    CHECK_FALSE(cli::exists(dir + "/out.npy"));
    ModelPtr m = load(plain);
    llmbed_ctx *ctx = nullptr;
    REQUIRE(llmbed_ctx_create(m.get(), nullptr, &ctx, nullptr) == LLMBED_OK);
    const int32_t ids[] = {0, 5, 7};
    const int64_t offsets[] = {0, 3};
    llmbed_batch batch = {ids, offsets, 1, nullptr};
    llmbed_embed_params p;
    llmbed_embed_params_default(&p);
    p.pooling = LLMBED_POOLING_LATENT;
    std::vector<float> out(64);
    CHECK(llmbed_embed(ctx, &batch, &p, out.data(), out.size()) == LLMBED_ERR_UNSUPPORTED);
    llmbed_ctx_free(ctx);
}

TEST_CASE("lora: unsupported or mismatched adapters fail with a clear error", "[cpu][families]") {
    const std::string base = std::string(LLMBED_TEST_DATA_DIR) + "/models/families/llm2vec";
    const std::string adapters = std::string(LLMBED_TEST_DATA_DIR) + "/models/families/adapters";
    const std::string dir = cli::scratch("families", "lora-bad");
    llmbed_status st;
    std::string message;
    // an adapter for another base (llama-tiny, hidden 48 vs 40)
    CHECK_FALSE(load(base, {adapters + "/llama-tiny-lora"}, nullptr, &st, &message));
    CHECK(st == LLMBED_ERR_TENSOR_SHAPE);
    CHECK(message.find("another base") != std::string::npos);
    // DoRA
    std::string dora = copy_folder(adapters + "/llm2vec-mntp", dir, "dora");
    replace_in_file(dora + "/adapter_config.json", "\"use_dora\": false", "\"use_dora\": true");
    CHECK_FALSE(load(base, {dora}, nullptr, &st, &message));
    CHECK(st == LLMBED_ERR_UNSUPPORTED);
    CHECK(message.find("DoRA") != std::string::npos);
    // prompt tuning
    std::string prompt = copy_folder(adapters + "/llm2vec-mntp", dir, "prompt");
    replace_in_file(prompt + "/adapter_config.json", "\"peft_type\": \"LORA\"", "\"peft_type\": \"PROMPT_TUNING\"");
    CHECK_FALSE(load(base, {prompt}, nullptr, &st, &message));
    CHECK(st == LLMBED_ERR_UNSUPPORTED);
    CHECK(message.find("PROMPT_TUNING") != std::string::npos);
    // no such folder, through the CLI
    cli::write_file(dir + "/in.txt", "fox\n");
    const cli::Result r = cli::run({"embed", "--model", base, "--adapter", dir + "/missing", "--input",
                                    dir + "/in.txt", "--output", dir + "/out.npy", "--quiet"}, dir);
    CHECK(r.status == LLMBED_ERR_FILE_NOT_FOUND);
    CHECK(r.err.find("adapter folder not found") != std::string::npos);
    // merged adapters change the vectors (the lora golden differs from the base one)
    FamilyGolden with = read_family_golden(LLMBED_TEST_DATA_DIR, "llm2vec-lora");
    FamilyGolden without = read_family_golden(LLMBED_TEST_DATA_DIR, "llm2vec");
    REQUIRE(with.error.empty());
    std::vector<float> a(with.embeddings.values.begin(), with.embeddings.values.end());
    CHECK_FALSE(compare_rows(a.data(), without.embeddings.values, with.hidden).within_golden_tolerance());
}
