// Issue 15 items 8 and 9: silent numeric trouble made loud, and messages that
// name the real problem. Models are written at test time (tiny_model_writer).
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "support/cli_process.hpp"
#include "support/tiny_model_writer.hpp"

namespace cli = llmbed_test::cli;
using llmbed_test::TinyConfig;

namespace {

int count_lines(const std::string &s) {
    int n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

void check_error(const cli::Result &r, int status, const std::string &needle) {
    INFO("stderr: " << r.err);
    CHECK(r.status == status);
    CHECK(r.err.find("llmbed: error: ") != std::string::npos);
    CHECK(r.err.find(needle) != std::string::npos);
}

std::vector<std::string> embed_args(const std::string &model, const std::string &dir, std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {"embed", "--model", model, "--input", dir + "/in.jsonl", "--output", dir + "/out.npy",
                                  "--threads", "1", "--quiet"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}

// A GGUF whose projections are Q4_1 and whose (largest) embedding is Q8_0,
// all-zero blocks: the shape of the SmolLM2 file of SPEC.md section 10.
std::string q4_gguf(const TinyConfig &c) {
    using namespace llmbed_test;
    GgufWriter g;
    const std::string a = "llama";
    g.kv_string("general.architecture", a);
    g.kv_u32(a + ".block_count", (uint32_t)c.layers);
    g.kv_u32(a + ".embedding_length", (uint32_t)c.hidden);
    g.kv_u32(a + ".attention.head_count", (uint32_t)c.heads);
    g.kv_u32(a + ".attention.head_count_kv", (uint32_t)c.kv_heads);
    g.kv_u32(a + ".feed_forward_length", (uint32_t)c.intermediate);
    g.kv_u32(a + ".context_length", (uint32_t)c.max_positions);
    g.kv_f32(a + ".attention.layer_norm_rms_epsilon", 1e-6f);
    auto quant = [](int64_t rows, int64_t cols, uint32_t type) {
        const int64_t blocks = rows * cols / 32;
        return std::string((size_t)(blocks * (type == GGML_Q8_0 ? 34 : 20)), '\0');
    };
    const int64_t C = c.hidden, Q = (int64_t)c.heads * c.head_dim, KV = (int64_t)c.kv_heads * c.head_dim, F = c.intermediate;
    g.tensor("token_embd.weight", {c.vocab, C}, GGML_Q8_0, quant(c.vocab, C, GGML_Q8_0));
    for (int i = 0; i < c.layers; i++) {
        const std::string l = "blk." + std::to_string(i) + ".";
        g.tensor(l + "attn_norm.weight", {C}, GGML_F32, f32_bytes(std::vector<float>((size_t)C, 1.0f)));
        g.tensor(l + "attn_q.weight", {Q, C}, GGML_Q4_1, quant(Q, C, GGML_Q4_1));
        g.tensor(l + "attn_k.weight", {KV, C}, GGML_Q4_1, quant(KV, C, GGML_Q4_1));
        g.tensor(l + "attn_v.weight", {KV, C}, GGML_Q4_1, quant(KV, C, GGML_Q4_1));
        g.tensor(l + "attn_output.weight", {C, Q}, GGML_Q4_1, quant(C, Q, GGML_Q4_1));
        g.tensor(l + "ffn_norm.weight", {C}, GGML_F32, f32_bytes(std::vector<float>((size_t)C, 1.0f)));
        g.tensor(l + "ffn_gate.weight", {F, C}, GGML_Q4_1, quant(F, C, GGML_Q4_1));
        g.tensor(l + "ffn_up.weight", {F, C}, GGML_Q4_1, quant(F, C, GGML_Q4_1));
        g.tensor(l + "ffn_down.weight", {C, F}, GGML_Q4_1, quant(C, F, GGML_Q4_1));
    }
    g.tensor("output_norm.weight", {C}, GGML_F32, f32_bytes(std::vector<float>((size_t)C, 1.0f)));
    return g.bytes();
}

}  // namespace

TEST_CASE("numeric trouble: NaN weights fail the row and --check-weights names the tensor", "[cli][messages]") {
    llmbed_test::TempDir tmp;
    TinyConfig cfg;
    auto tensors = llmbed_test::tiny_tensors(cfg, 3);
    for (auto &t : tensors) {
        if (t.name == "model.layers.1.mlp.up_proj.weight") t.values[3 * 24 + 17] = NAN;
    }
    std::string model = tmp.mkdir("nan");
    llmbed_test::write_hf_folder(model, cfg, tensors, llmbed_test::Dtype::F32);
    cli::write_file(tmp.file("in.jsonl"), "{\"input_ids\": [1, 2, 3]}\n{\"input_ids\": [4]}\n");
    cli::Result r = cli::run(embed_args(model, tmp.path), tmp.path);
    check_error(r, 35, tmp.file("in.jsonl") + ":1: the embedding holds NaN at dimension 0");
    CHECK_FALSE(cli::exists(tmp.file("out.npy")));
    r = cli::run({"info", "--model", model, "--check-weights"}, tmp.path);
    check_error(r, 35, "tensor 'layers.1.mlp.up_proj.weight' holds NaN at [3, 17] (the first non-finite weight)");
    // The same check passes on finite weights and says so.
    std::string good = tmp.mkdir("good");
    llmbed_test::write_hf_folder(good, cfg, llmbed_test::tiny_tensors(cfg, 3), llmbed_test::Dtype::F32);
    r = cli::run({"info", "--model", good, "--check-weights"}, tmp.path);
    CHECK(r.status == 0);
    CHECK(r.out.find("values, all finite") != std::string::npos);
    // --max-tokens above max_position_embeddings (64) warns.
    r = cli::run(embed_args(good, tmp.path, {"--max-tokens", "100"}), tmp.path);
    CHECK(r.status == 0);
    CHECK(r.err.find("warning: --max-tokens 100 is more than the model's max_position_embeddings 64") != std::string::npos);
    r = cli::run(embed_args(good, tmp.path, {"--max-tokens", "64"}), tmp.path);
    CHECK(r.err.find("warning") == std::string::npos);
}

TEST_CASE("messages: each names the real problem", "[cli][messages]") {
    llmbed_test::TempDir tmp;
    cli::write_file(tmp.file("in.jsonl"), "{\"input_ids\": [1, 2, 3]}\n");
    TinyConfig cfg;
    auto tensors = llmbed_test::tiny_tensors(cfg, 5);
    std::string good = tmp.mkdir("good");
    llmbed_test::write_hf_folder(good, cfg, tensors, llmbed_test::Dtype::F32);

    check_error(cli::run(embed_args(good, tmp.path, {"--format", "foo"}), tmp.path), 1,
                "--format 'foo': expected npy, safetensors or jsonl");
    cli::Result r = cli::run({"embed", "--model", good, "--input", tmp.file("in.jsonl"), "--output", tmp.file("o.jsonl"),
                              "--format", "npy"},
                             tmp.path);
    check_error(r, 1, "--format npy contradicts the extension of '" + tmp.file("o.jsonl") + "' (jsonl)");
    CHECK_FALSE(cli::exists(tmp.file("o.jsonl")));

    auto config_case = [&](const std::string &name, const std::string &config, int status, const std::string &needle) {
        std::string dir = tmp.mkdir(name);
        llmbed_test::write_hf_folder(dir, cfg, tensors, llmbed_test::Dtype::F32);
        cli::write_file(dir + "/config.json", config);
        INFO(name);
        check_error(cli::run({"info", "--model", dir}, tmp.path), status, needle);
    };
    std::string base = llmbed_test::config_json(cfg);
    auto with = [&](const std::string &key, const std::string &value) {
        std::string c = base;
        size_t at = c.find("\"" + key + "\": ");
        REQUIRE(at != std::string::npos);
        size_t end = c.find_first_of(",}", at);
        return c.substr(0, at) + "\"" + key + "\": " + value + c.substr(end);
    };
    config_case("big-hidden", with("hidden_size", "1099511627776"), 12,
                "field \"hidden_size\" = 1099511627776 is out of range");
    config_case("big-layers", with("num_hidden_layers", "2147483648"), 12,
                "field \"num_hidden_layers\" = 2147483648 is out of range");
    std::string no_head_dim = with("num_attention_heads", "5");
    size_t hd = no_head_dim.find("\"head_dim\": 8, ");
    REQUIRE(hd != std::string::npos);
    no_head_dim.erase(hd, 15);
    config_case("heads", no_head_dim, 12, "hidden_size 24 is not divisible by num_attention_heads 5");

    // embed_tokens stored transposed ([hidden, vocab]).
    std::string transposed = tmp.mkdir("transposed");
    auto t2 = tensors;
    for (auto &t : t2) {
        if (t.name == "model.embed_tokens.weight") t.shape = {24, 37};
    }
    llmbed_test::write_hf_folder(transposed, cfg, t2, llmbed_test::Dtype::F32);
    check_error(cli::run({"info", "--model", transposed}, tmp.path), 9,
                "tensor 'model.embed_tokens.weight' has shape [24, 37], the config implies [37, 24] "
                "(vocab_size, hidden_size): it looks transposed");

    // A config.json written with a UTF-8 byte order mark loads.
    std::string bom = tmp.mkdir("bom");
    llmbed_test::write_hf_folder(bom, cfg, tensors, llmbed_test::Dtype::F32);
    cli::write_file(bom + "/config.json", "\xEF\xBB\xBF" + base);
    CHECK(cli::run({"info", "--model", bom}, tmp.path).status == 0);

    // A Q4_1 file with a (larger) Q8_0 embedding is a file of Q4_1 weights.
    TinyConfig q = cfg;
    q.hidden = 32;
    q.heads = 4;
    q.kv_heads = 2;
    q.intermediate = 64;
    q.vocab = 211;
    cli::write_file(tmp.file("q4.gguf"), q4_gguf(q));
    r = cli::run({"info", "--model", tmp.file("q4.gguf")}, tmp.path);
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(r.out.find("format:             gguf (Q4_1 weights)") != std::string::npos);

    // --skip-invalid: the jsonl "id" is the input line (0-based), not the output row.
    cli::write_file(tmp.file("skip.jsonl"), "{\"input_ids\": [1]}\n{broken\n{\"input_ids\": [2]}\n");
    r = cli::run({"embed", "--model", good, "--input", tmp.file("skip.jsonl"), "--output", tmp.file("skip.out.jsonl"),
                  "--threads", "1", "--quiet", "--skip-invalid"},
                 tmp.path);
    CHECK(r.status == 0);
    std::string out = cli::slurp(tmp.file("skip.out.jsonl"));
    CHECK(count_lines(out) == 2);
    CHECK(out.find("{\"id\":0,") == 0);
    CHECK(out.find("\n{\"id\":2,") != std::string::npos);
}
