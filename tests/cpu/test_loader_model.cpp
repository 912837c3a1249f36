// llmbed_model_load end to end: tiny random models of every architecture and
// dtype, single-file and sharded, GGUF (with llama.cpp's q/k permutation
// undone), sentence-transformers defaults, vocab-only loads, and each bad
// model folder/file with its status and the file/tensor/field named.
// Every loaded weight is compared exactly with what was written (rounded to
// the storage dtype), so a transposed, shifted or mis-permuted tensor fails.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "llmbed.h"
#include "model/model.h"
#include "support/tiny_model_writer.hpp"

using namespace llmbed_test;

namespace {

struct Loaded {
    llmbed_model *model = nullptr;
    llmbed_status status = LLMBED_OK;
    std::string message;
    ~Loaded() { llmbed_model_free(model); }
};

void load(const std::string &path, Loaded &out, bool vocab_only = false) {
    llmbed_model_params p;
    llmbed_model_params_default(&p);
    p.vocab_only = vocab_only;
    p.n_threads = 2;
    llmbed_error error{};
    out.status = llmbed_model_load(path.c_str(), &p, &out.model, &error);
    out.message = error.message;
    if (out.status != LLMBED_OK) CHECK(out.model == nullptr);
}

// Compares every weight slot of `m` with the spec tensors (HF names).
void check_weights(const llmbed_model *m, const TinyConfig &c, const std::vector<TensorSpec> &ts, Dtype d) {
    const std::string p = c.prefix ? "model." : "";
    int64_t compared = 0;
    auto same = [&](const float *got, const std::string &name) {
        INFO("tensor " << name);
        REQUIRE(got != nullptr);
        const TensorSpec &t = find_spec(ts, p + name);
        size_t bad = 0;
        for (size_t i = 0; i < t.values.size(); i++) bad += got[i] != stored_value(d, t.values[i]);
        CHECK(bad == 0);
        compared += (int64_t)t.values.size();
    };
    auto same_matrix = [&](const llmbed_weight &w, const std::string &name) {
        std::vector<float> values((size_t)(w.rows * w.cols));
        if (w.data != nullptr) llmbed_weight_rows_to_f32(&w, 0, w.rows, values.data());
        same(w.data != nullptr ? values.data() : nullptr, name);
    };
    same_matrix(m->weights.token_embedding, "embed_tokens.weight");
    same(m->weights.final_norm, "norm.weight");
    for (int i = 0; i < c.layers; i++) {
        const llmbed_layer_weights &l = m->weights.layers[i];
        const std::string s = "layers." + std::to_string(i) + ".";
        same(l.attn_norm, s + "input_layernorm.weight");
        same_matrix(l.wq, s + "self_attn.q_proj.weight");
        same_matrix(l.wk, s + "self_attn.k_proj.weight");
        same_matrix(l.wv, s + "self_attn.v_proj.weight");
        same_matrix(l.wo, s + "self_attn.o_proj.weight");
        same(l.ffn_norm, s + "post_attention_layernorm.weight");
        same_matrix(l.w_gate, s + "mlp.gate_proj.weight");
        same_matrix(l.w_up, s + "mlp.up_proj.weight");
        same_matrix(l.w_down, s + "mlp.down_proj.weight");
        if (c.qkv_bias()) {
            same(l.bq, s + "self_attn.q_proj.bias");
            same(l.bk, s + "self_attn.k_proj.bias");
            same(l.bv, s + "self_attn.v_proj.bias");
        } else {
            CHECK((l.bq == nullptr && l.bk == nullptr && l.bv == nullptr));
        }
        if (c.qk_norm()) {
            same(l.q_norm, s + "self_attn.q_norm.weight");
            same(l.k_norm, s + "self_attn.k_norm.weight");
        } else {
            CHECK((l.q_norm == nullptr && l.k_norm == nullptr));
        }
    }
    CHECK(compared == m->n_parameters);
}

TinyConfig config_for(const std::string &arch) {
    TinyConfig c;
    c.model_type = arch;
    if (arch == "qwen3") c.heads = 4, c.kv_heads = 2, c.head_dim = 6;
    if (arch == "mistral") c.layers = 3, c.intermediate = 33;
    return c;
}

} // namespace

TEST_CASE("loader model: every architecture and dtype, single file and sharded", "[loader][model]") {
    for (const char *arch : {"llama", "mistral", "qwen2", "qwen3", "minicpm"}) {
        for (Dtype d : {Dtype::F32, Dtype::F16, Dtype::BF16}) {
            for (int shards : {1, 2}) {
                INFO(arch << " " << dtype_name(d) << " shards " << shards);
                TempDir dir;
                const TinyConfig c = config_for(arch);
                const auto ts = tiny_tensors(c, 17);
                write_hf_folder(dir.path, c, ts, d, shards);
                Loaded m;
                load(dir.path, m);
                INFO(m.message);
                REQUIRE(m.status == LLMBED_OK);
                CHECK(m.model->config.vocab_size == c.vocab);
                CHECK(std::string(m.model->weight_dtype) == dtype_name(d));
                CHECK(m.model->tokenizer == nullptr); // no tokenizer.json: not an error
                check_weights(m.model, c, ts, d);
            }
        }
    }
}

TEST_CASE("loader model: names without the model. prefix (bare AutoModel checkpoints)", "[loader][model]") {
    TempDir dir;
    TinyConfig c = config_for("qwen3");
    c.prefix = false;
    const auto ts = tiny_tensors(c, 4);
    write_hf_folder(dir.path, c, ts, Dtype::BF16);
    Loaded m;
    load(dir.path, m);
    INFO(m.message);
    REQUIRE(m.status == LLMBED_OK);
    check_weights(m.model, c, ts, Dtype::BF16);
}

TEST_CASE("loader model: info fields", "[loader][model]") {
    TempDir dir;
    TinyConfig c = config_for("qwen2");
    c.extra_json = ", \"rope_scaling\": {\"type\": \"yarn\", \"factor\": 2.0, \"original_max_position_embeddings\": 32}";
    write_hf_folder(dir.path, c, tiny_tensors(c, 1), Dtype::F16);
    Loaded m;
    load(dir.path, m);
    INFO(m.message);
    REQUIRE(m.status == LLMBED_OK);
    llmbed_model_info info;
    info.struct_size = sizeof info - 1;
    CHECK(llmbed_model_get_info(m.model, &info) == LLMBED_ERR_INVALID_ARGUMENT);
    info.struct_size = sizeof info;
    REQUIRE(llmbed_model_get_info(m.model, &info) == LLMBED_OK);
    CHECK(std::string(info.architecture) == "qwen2");
    CHECK(std::string(info.source_format) == "safetensors");
    CHECK(std::string(info.weight_dtype) == "F16");
    CHECK(std::string(info.rope_scaling) == "yarn");
    CHECK(info.n_layers == 2);
    CHECK(info.hidden_size == 24);
    CHECK(info.n_heads == 3);
    CHECK(info.n_kv_heads == 1);
    CHECK(info.head_dim == 8);
    CHECK(info.intermediate_size == 40);
    CHECK(info.vocab_size == 37);
    CHECK(info.max_positions == 64);
    CHECK(info.rope_theta == 10000.0f);
    CHECK(info.rms_norm_eps == 1e-6f);
    CHECK(info.tie_word_embeddings == 1);
    // 37*24 embed + 24 norm + 2 layers * (2*24 norms + 24*24 q + 8*24 k + 8*24 v + 24*24 o + 24+8+8 bias + 3*40*24 mlp)
    CHECK(info.n_parameters == 37 * 24 + 24 + 2 * (48 + 576 + 192 + 192 + 576 + 40 + 2880));
    CHECK(info.default_pooling == LLMBED_POOLING_LAST);
    CHECK(info.default_attention == LLMBED_ATTENTION_CAUSAL);
    CHECK(info.default_normalize == 1);
    CHECK(llmbed_model_get_info(nullptr, &info) == LLMBED_ERR_INVALID_ARGUMENT);
    llmbed_model_free(nullptr);
}

TEST_CASE("loader model: every committed tiny model loads", "[loader][model]") {
    for (const char *name : {"llama-tiny", "llama3-rope", "llama-linear", "mistral-tiny", "qwen2-tiny", "qwen3-tiny",
                             "minicpm-tiny", "llama-gguf.gguf", "qwen2-gguf.gguf", "qwen3-gguf.gguf"}) {
        INFO(name);
        Loaded m;
        load(std::string(LLMBED_TEST_DATA_DIR "/models/") + name, m);
        INFO(m.message);
        REQUIRE(m.status == LLMBED_OK);
        CHECK(m.model->weights.token_embedding.data != nullptr);
        CHECK(m.model->n_parameters > 0);
    }
}

TEST_CASE("loader model: GGUF of llama (q/k un-permuted), qwen2 (bias) and qwen3 (q/k norm)", "[loader][model][gguf]") {
    for (const char *arch : {"llama", "qwen2", "qwen3"}) {
        INFO(arch);
        TempDir dir;
        TinyConfig c = config_for(arch);
        if (std::string(arch) == "llama") c.kv_heads = 3; // MHA here; GQA llama below
        const auto ts = tiny_tensors(c, 23);
        write_file(dir.file("m.gguf"), tiny_gguf(c, ts));
        Loaded m;
        load(dir.file("m.gguf"), m);
        INFO(m.message);
        REQUIRE(m.status == LLMBED_OK);
        CHECK(std::string(m.model->source_format) == "gguf");
        CHECK(m.model->config.head_dim == c.head_dim);
        check_weights(m.model, c, ts, Dtype::F32);
    }
    // GQA llama: q permuted with 3 heads, k with 1.
    TempDir dir;
    const TinyConfig c = config_for("llama");
    const auto ts = tiny_tensors(c, 29);
    write_file(dir.file("gqa.gguf"), tiny_gguf(c, ts));
    Loaded m;
    load(dir.file("gqa.gguf"), m);
    INFO(m.message);
    REQUIRE(m.status == LLMBED_OK);
    check_weights(m.model, c, ts, Dtype::F32);
}

TEST_CASE("loader model: sentence-transformers pooling, normalisation and is_causal", "[loader][model]") {
    TempDir dir;
    TinyConfig c;
    c.extra_json = ", \"is_causal\": false";
    write_hf_folder(dir.path, c, tiny_tensors(c, 3), Dtype::F32);
    dir.mkdir("1_Pooling");
    const struct {
        const char *flag;
        llmbed_pooling pooling;
    } modes[] = {{"pooling_mode_mean_tokens", LLMBED_POOLING_MEAN},
                 {"pooling_mode_cls_token", LLMBED_POOLING_FIRST},
                 {"pooling_mode_weightedmean_tokens", LLMBED_POOLING_WEIGHTED_MEAN},
                 {"pooling_mode_lasttoken", LLMBED_POOLING_LAST}};
    write_file(dir.file("modules.json"),
               "[{\"idx\": 0, \"name\": \"0\", \"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},"
               " {\"idx\": 1, \"name\": \"1\", \"path\": \"1_Pooling\", \"type\": \"sentence_transformers.models.Pooling\"}]");
    for (const auto &mode : modes) {
        INFO(mode.flag);
        write_file(dir.file("1_Pooling/config.json"), std::string("{\"word_embedding_dimension\": 24, \"") + mode.flag +
                                                          "\": true, \"pooling_mode_max_tokens\": false}");
        Loaded m;
        load(dir.path, m);
        INFO(m.message);
        REQUIRE(m.status == LLMBED_OK);
        CHECK(m.model->default_pooling == mode.pooling);
        CHECK(m.model->default_attention == LLMBED_ATTENTION_BIDIRECTIONAL);
        CHECK(m.model->default_normalize == 0); // modules.json without a Normalize module
    }
    write_file(dir.file("modules.json"),
               "[{\"idx\": 1, \"name\": \"1\", \"path\": \"1_Pooling\", \"type\": \"sentence_transformers.models.Pooling\"},"
               " {\"idx\": 2, \"name\": \"2\", \"path\": \"2_Normalize\", \"type\": \"sentence_transformers.models.Normalize\"}]");
    Loaded n;
    load(dir.path, n);
    REQUIRE(n.status == LLMBED_OK);
    CHECK(n.model->default_normalize == 1);

    write_file(dir.file("1_Pooling/config.json"), "{\"pooling_mode_max_tokens\": true}");
    Loaded bad;
    load(dir.path, bad);
    CHECK(bad.status == LLMBED_ERR_UNSUPPORTED);
    CHECK_THAT(bad.message, Catch::Contains("1_Pooling/config.json") && Catch::Contains("pooling_mode_max_tokens"));

    write_file(dir.file("1_Pooling/config.json"), "{\"pooling_mode_lasttoken\": true,");
    Loaded broken;
    load(dir.path, broken);
    CHECK(broken.status == LLMBED_ERR_BAD_JSON);
    CHECK_THAT(broken.message, Catch::Contains("1_Pooling/config.json"));
}

TEST_CASE("loader model: vocab-only loads", "[loader][model]") {
    TempDir dir;
    TinyConfig c;
    write_hf_folder(dir.path, c, tiny_tensors(c, 3), Dtype::F32);
    write_file(dir.file("model.safetensors"), "garbage: never opened in vocab-only mode");
    Loaded m;
    load(dir.path, m, true);
    INFO(m.message);
    REQUIRE(m.status == LLMBED_OK);
    CHECK(m.model->weights.token_embedding.data == nullptr);
    CHECK(m.model->weight_storage == nullptr);
    CHECK(m.model->config.n_layers == 2);

    Loaded g; // llama.cpp's GPT-2 vocabulary: 0 tensors, an architecture we do not run
    load(LLMBED_SHARED_TESTDATA_DIR "/tokenizer/gpt-2/vocab.gguf", g, true);
    INFO(g.message);
    REQUIRE(g.status == LLMBED_OK);
    CHECK(g.model->tokenizer != nullptr);
    CHECK(g.model->config.vocab_size == 50257);
    llmbed_model_info info;
    info.struct_size = sizeof info;
    REQUIRE(llmbed_model_get_info(g.model, &info) == LLMBED_OK);
    CHECK(std::string(info.architecture) == "gpt2");
    CHECK(std::string(info.source_format) == "gguf");

    Loaded full; // the same file as a model: no weights, unknown architecture
    load(LLMBED_SHARED_TESTDATA_DIR "/tokenizer/gpt-2/vocab.gguf", full);
    CHECK(full.status == LLMBED_ERR_UNKNOWN_ARCH);
    CHECK_THAT(full.message, Catch::Contains("gpt2") && Catch::Contains("vocab.gguf"));
}

TEST_CASE("loader model: missing path, config.json or weights", "[loader][model][bad-input]") {
    TempDir dir;
    Loaded a;
    load(dir.file("nope"), a);
    CHECK(a.status == LLMBED_ERR_FILE_NOT_FOUND);
    CHECK_THAT(a.message, Catch::Contains(dir.file("nope")));
    Loaded b;
    load(dir.path, b);
    CHECK(b.status == LLMBED_ERR_FILE_NOT_FOUND);
    CHECK_THAT(b.message, Catch::Contains("config.json"));
    TinyConfig c;
    write_file(dir.file("config.json"), config_json(c));
    Loaded d;
    load(dir.path, d);
    CHECK(d.status == LLMBED_ERR_FILE_NOT_FOUND);
    CHECK_THAT(d.message, Catch::Contains("model.safetensors"));
    llmbed_model *m = nullptr;
    CHECK(llmbed_model_load(nullptr, nullptr, &m, nullptr) == LLMBED_ERR_INVALID_ARGUMENT);
    llmbed_model_params p;
    llmbed_model_params_default(&p);
    p.struct_size = 3;
    llmbed_error error{};
    CHECK(llmbed_model_load(dir.path.c_str(), &p, &m, &error) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK_THAT(error.message, Catch::Contains("struct_size"));
}

TEST_CASE("loader model: missing tensor names it", "[loader][model][bad-input]") {
    TempDir dir;
    TinyConfig c = config_for("qwen3");
    auto ts = tiny_tensors(c, 3);
    for (size_t i = 0; i < ts.size(); i++)
        if (ts[i].name == "model.layers.1.self_attn.k_norm.weight") ts.erase(ts.begin() + (long)i);
    write_hf_folder(dir.path, c, ts, Dtype::F32);
    Loaded m;
    load(dir.path, m);
    CHECK(m.status == LLMBED_ERR_MISSING_TENSOR);
    CHECK_THAT(m.message, Catch::Contains("model.layers.1.self_attn.k_norm.weight"));

    TinyConfig q = config_for("qwen2"); // qwen2 requires q/k/v biases
    auto qs = tiny_tensors(q, 3);
    for (size_t i = 0; i < qs.size(); i++)
        if (qs[i].name == "model.layers.0.self_attn.v_proj.bias") qs.erase(qs.begin() + (long)i);
    write_hf_folder(dir.path, q, qs, Dtype::F32);
    Loaded n;
    load(dir.path, n);
    CHECK(n.status == LLMBED_ERR_MISSING_TENSOR);
    CHECK_THAT(n.message, Catch::Contains("model.layers.0.self_attn.v_proj.bias"));

    TinyConfig l = config_for("llama"); // no embedding at all
    auto ls = tiny_tensors(l, 3);
    ls.erase(ls.begin());
    write_hf_folder(dir.path, l, ls, Dtype::F32);
    Loaded e;
    load(dir.path, e);
    CHECK(e.status == LLMBED_ERR_MISSING_TENSOR);
    CHECK_THAT(e.message, Catch::Contains("embed_tokens.weight"));

    write_file(dir.file("m.gguf"), tiny_gguf(l, ls)); // GGUF without token_embd
    Loaded g;
    load(dir.file("m.gguf"), g);
    CHECK(g.status == LLMBED_ERR_MISSING_TENSOR);
    CHECK_THAT(g.message, Catch::Contains("token_embd.weight") && Catch::Contains("m.gguf"));
}

TEST_CASE("loader model: tensor shape disagrees with config.json", "[loader][model][bad-input]") {
    TempDir dir;
    TinyConfig written = config_for("llama");
    const auto ts = tiny_tensors(written, 3);
    TinyConfig claimed = written;
    claimed.intermediate = 41; // the file's MLP has 40
    write_hf_folder(dir.path, written, ts, Dtype::F32);
    write_file(dir.file("config.json"), config_json(claimed));
    Loaded m;
    load(dir.path, m);
    CHECK(m.status == LLMBED_ERR_TENSOR_SHAPE);
    CHECK_THAT(m.message, Catch::Contains("model.layers.0.mlp.gate_proj.weight") && Catch::Contains("[40, 24]") &&
                              Catch::Contains("[41, 24]"));

    claimed = written;
    claimed.head_dim = 6; // q_proj then needs 18 rows, the file has 24
    write_file(dir.file("config.json"), config_json(claimed));
    Loaded h;
    load(dir.path, h);
    CHECK(h.status == LLMBED_ERR_TENSOR_SHAPE);
    CHECK_THAT(h.message, Catch::Contains("q_proj.weight") && Catch::Contains("[18, 24]"));
}

TEST_CASE("loader model: bad config.json through the loader", "[loader][model][bad-input]") {
    TempDir dir;
    TinyConfig c;
    write_hf_folder(dir.path, c, tiny_tensors(c, 3), Dtype::F32);
    const std::string cfg = dir.file("config.json");

    write_file(cfg, "{\"model_type\": \"llama\", \"hidden_size\": 24 \"num_hidden_layers\": 2}");
    Loaded a;
    load(dir.path, a);
    CHECK(a.status == LLMBED_ERR_BAD_JSON);
    CHECK_THAT(a.message, Catch::Contains(cfg));

    c.model_type = "falcon";
    write_file(cfg, config_json(c));
    Loaded b;
    load(dir.path, b);
    CHECK(b.status == LLMBED_ERR_UNKNOWN_ARCH);
    CHECK_THAT(b.message, Catch::Contains("falcon") && Catch::Contains(cfg));

    c.model_type = "llama";
    c.extra_json = ", \"rope_scaling\": {\"rope_type\": \"ntk-by-parts\", \"factor\": 2}";
    write_file(cfg, config_json(c));
    Loaded r;
    load(dir.path, r);
    CHECK(r.status == LLMBED_ERR_UNKNOWN_ROPE);
    CHECK_THAT(r.message, Catch::Contains("ntk-by-parts") && Catch::Contains(cfg));
}

TEST_CASE("loader model: bad GGUF files through the loader", "[loader][model][bad-input]") {
    TempDir dir;
    write_file(dir.file("weights.bin"), "PK\x03\x04 not a gguf file at all, but long enough");
    Loaded a;
    load(dir.file("weights.bin"), a);
    CHECK(a.status == LLMBED_ERR_GGUF_MAGIC);
    CHECK_THAT(a.message, Catch::Contains("weights.bin"));

    const TinyConfig c = config_for("qwen2");
    std::string bytes = tiny_gguf(c, tiny_tensors(c, 1));
    bytes[4] = 9; // version
    write_file(dir.file("v9.gguf"), bytes);
    Loaded v;
    load(dir.file("v9.gguf"), v);
    CHECK(v.status == LLMBED_ERR_GGUF_VERSION);
    CHECK_THAT(v.message, Catch::Contains("v9.gguf"));

    GgufWriter w;
    w.kv_string("general.architecture", "bert");
    write_file(dir.file("bert.gguf"), w.bytes());
    Loaded b;
    load(dir.file("bert.gguf"), b);
    CHECK(b.status == LLMBED_ERR_UNKNOWN_ARCH);
    CHECK_THAT(b.message, Catch::Contains("bert"));

    GgufWriter missing; // llama without the required block_count
    missing.kv_string("general.architecture", "llama");
    write_file(dir.file("partial.gguf"), missing.bytes());
    Loaded p;
    load(dir.file("partial.gguf"), p);
    CHECK(p.status == LLMBED_ERR_BAD_CONFIG);
    CHECK_THAT(p.message, Catch::Contains("llama.block_count"));
}
