// GGUF reader: a real vocab-only file from llama.cpp, hand-written files of
// every tensor type, and one test per malformed input, each asserting its own
// status code and that the message names the file and the key/tensor.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "container/gguf.h"
#include "support/tiny_model_writer.hpp"

using namespace llmbed_test;

namespace {

struct Opened {
    llmbed_status status;
    std::string message;
};

Opened open_bytes(const TempDir &dir, const std::string &bytes) {
    const std::string path = dir.file("t.gguf");
    write_file(path, bytes);
    llmbed_gguf *g = nullptr;
    llmbed_error error{};
    const llmbed_status st = llmbed_gguf_open(path.c_str(), &g, &error);
    if (st == LLMBED_OK) {
        llmbed_gguf_close(g);
        return {st, ""};
    }
    CHECK(g == nullptr);
    CHECK_THAT(error.message, Catch::Contains(path));
    return {st, error.message};
}

std::string block_bytes(size_t n, char fill) { return std::string(n, fill); }

} // namespace

TEST_CASE("loader gguf: vocab-only GPT-2 file from llama.cpp", "[loader][gguf]") {
    const std::string path = LLMBED_SHARED_TESTDATA_DIR "/tokenizer/gpt-2/vocab.gguf";
    llmbed_gguf *g = nullptr;
    llmbed_error error{};
    REQUIRE(llmbed_gguf_open(path.c_str(), &g, &error) == LLMBED_OK);
    CHECK(llmbed_gguf_version(g) == 3);
    CHECK(llmbed_gguf_n_tensors(g) == 0);
    llmbed_gguf_type type;
    uint64_t count = 0;
    REQUIRE(llmbed_gguf_get_array(g, "tokenizer.ggml.tokens", &type, &count));
    CHECK(type == LLMBED_GGUF_STRING);
    CHECK(count == 50257);
    REQUIRE(llmbed_gguf_get_array(g, "tokenizer.ggml.merges", &type, &count));
    CHECK(count == 50000);
    llmbed_gguf_string s;
    REQUIRE(llmbed_gguf_array_string(g, "tokenizer.ggml.tokens", 50256, &s));
    CHECK(std::string(s.data, s.length) == "<|endoftext|>");
    REQUIRE(llmbed_gguf_array_string(g, "tokenizer.ggml.tokens", 0, &s));
    CHECK(std::string(s.data, s.length) == "!");
    CHECK_FALSE(llmbed_gguf_array_string(g, "tokenizer.ggml.tokens", 50257, &s)); // out of range
    int64_t i;
    CHECK_FALSE(llmbed_gguf_array_int(g, "tokenizer.ggml.tokens", 0, &i)); // wrong element type
    REQUIRE(llmbed_gguf_get_string(g, "general.architecture", &s));
    CHECK(std::string(s.data, s.length) == "gpt2");
    CHECK(llmbed_gguf_get_int(g, "gpt2.block_count", &i));
    CHECK(i == 12);
    CHECK_FALSE(llmbed_gguf_get_int(g, "general.architecture", &i)); // a string, not an int
    CHECK(llmbed_gguf_find_key(g, "no.such.key") == -1);
    CHECK(llmbed_gguf_find_tensor(g, "token_embd.weight") == nullptr);
    llmbed_gguf_close(g);
}

TEST_CASE("loader gguf: tensors of every supported type, shapes reversed from ne[]", "[loader][gguf]") {
    TempDir dir;
    for (uint32_t version : {2u, 3u}) {
        GgufWriter w;
        w.version = version;
        w.kv_string("general.architecture", "llama");
        w.kv_u32("llama.block_count", 7);
        w.kv_f32("llama.rope.freq_base", 500000.0f);
        w.kv_raw("flag", LLMBED_GGUF_BOOL, std::string(1, '\1'));
        w.tensor("f32", {3, 5}, GGML_F32, block_bytes(60, 'a'));
        w.tensor("f16", {7}, GGML_F16, block_bytes(14, 'b'));
        w.tensor("bf16", {2, 1, 3}, GGML_BF16, block_bytes(12, 'c'));
        w.tensor("q8", {2, 64}, GGML_Q8_0, block_bytes(4 * 34, 'd'));
        w.tensor("q40", {1, 32}, GGML_Q4_0, block_bytes(18, 'e'));
        w.tensor("q41", {3, 32}, GGML_Q4_1, block_bytes(60, 'f'));
        const std::string path = dir.file("ok.gguf");
        write_file(path, w.bytes());
        llmbed_gguf *g = nullptr;
        llmbed_error error{};
        INFO("version " << version << ": " << error.message);
        REQUIRE(llmbed_gguf_open(path.c_str(), &g, &error) == LLMBED_OK);
        CHECK(llmbed_gguf_version(g) == version);
        REQUIRE(llmbed_gguf_n_tensors(g) == 6);
        int64_t i;
        double f;
        bool b;
        CHECK((llmbed_gguf_get_int(g, "llama.block_count", &i) && i == 7));
        CHECK((llmbed_gguf_get_float(g, "llama.rope.freq_base", &f) && f == 500000.0));
        CHECK((llmbed_gguf_get_bool(g, "flag", &b) && b));
        const struct {
            const char *name;
            llmbed_dtype dtype;
            int n_dims;
            int64_t shape[3];
            size_t bytes;
            char fill;
        } want[] = {{"f32", LLMBED_DTYPE_F32, 2, {3, 5}, 60, 'a'},      {"f16", LLMBED_DTYPE_F16, 1, {7}, 14, 'b'},
                    {"bf16", LLMBED_DTYPE_BF16, 3, {2, 1, 3}, 12, 'c'}, {"q8", LLMBED_DTYPE_Q8_0, 2, {2, 64}, 136, 'd'},
                    {"q40", LLMBED_DTYPE_Q4_0, 2, {1, 32}, 18, 'e'},    {"q41", LLMBED_DTYPE_Q4_1, 2, {3, 32}, 60, 'f'}};
        for (const auto &w2 : want) {
            INFO(w2.name);
            const llmbed_tensor_ref *t = llmbed_gguf_find_tensor(g, w2.name);
            REQUIRE(t != nullptr);
            CHECK(t->dtype == w2.dtype);
            REQUIRE(t->n_dims == w2.n_dims);
            for (int d = 0; d < t->n_dims; d++) CHECK(t->shape[d] == w2.shape[d]);
            CHECK(t->n_bytes == w2.bytes);
            const char *data = static_cast<const char *>(t->data);
            CHECK((data[0] == w2.fill && data[t->n_bytes - 1] == w2.fill));
        }
        llmbed_gguf_close(g);
    }
}

TEST_CASE("loader gguf: bad magic", "[loader][gguf][bad-input]") {
    TempDir dir;
    GgufWriter w;
    w.magic = "GGML";
    const Opened r = open_bytes(dir, w.bytes());
    CHECK(r.status == LLMBED_ERR_GGUF_MAGIC);
    CHECK_THAT(r.message, Catch::Contains("magic"));
}

TEST_CASE("loader gguf: unsupported version", "[loader][gguf][bad-input]") {
    TempDir dir;
    for (uint32_t version : {1u, 4u, 0x03000000u /* big-endian v3 */}) {
        GgufWriter w;
        w.version = version;
        const Opened r = open_bytes(dir, w.bytes());
        CHECK(r.status == LLMBED_ERR_GGUF_VERSION);
        CHECK_THAT(r.message, Catch::Contains("version " + std::to_string(version)));
    }
}

TEST_CASE("loader gguf: unsupported tensor type names the tensor and the type", "[loader][gguf][bad-input]") {
    TempDir dir;
    GgufWriter w;
    w.tensor("blk.0.ffn_up.weight", {2, 256}, 12 /* Q4_K */, block_bytes(288, 'x'));
    const Opened r = open_bytes(dir, w.bytes());
    CHECK(r.status == LLMBED_ERR_GGUF_TYPE);
    CHECK_THAT(r.message, Catch::Contains("blk.0.ffn_up.weight") && Catch::Contains("12") && Catch::Contains("Q4_K"));
}

TEST_CASE("loader gguf: unknown metadata value type names the key", "[loader][gguf][bad-input]") {
    TempDir dir;
    GgufWriter w;
    w.kv_raw("general.weird", 13, "\0\0\0\0");
    const Opened r = open_bytes(dir, w.bytes());
    CHECK(r.status == LLMBED_ERR_GGUF_TYPE);
    CHECK_THAT(r.message, Catch::Contains("general.weird") && Catch::Contains("13"));
    GgufWriter nested; // arrays of arrays are rejected as llama.cpp does
    std::string value;
    put_u32(value, LLMBED_GGUF_ARRAY);
    put_u64(value, 0);
    nested.kv_raw("general.nested", GGUF_ARRAY, value);
    const Opened r2 = open_bytes(dir, nested.bytes());
    CHECK(r2.status == LLMBED_ERR_GGUF_TYPE);
    CHECK_THAT(r2.message, Catch::Contains("general.nested"));
}

TEST_CASE("loader gguf: every truncation of the header is reported, never read past", "[loader][gguf][bad-input]") {
    GgufWriter w;
    w.kv_string("general.architecture", "llama");
    w.kv_string_array("tokenizer.ggml.tokens", {"a", "bc", "def"});
    w.kv_u32("llama.block_count", 1);
    w.tensor("token_embd.weight", {2, 3}, GGML_F32, block_bytes(24, 'z'));
    const std::string full = w.bytes();
    // magic + version + counts, metadata, one tensor info (name, n_dims, 2 ne, type, offset)
    const size_t infos_end = 24 + w.kvs.size() + (8 + 17 + 4 + 16 + 4 + 8);
    REQUIRE(infos_end <= full.size() - 24);
    int truncated = 0;
    for (size_t n = 0; n < full.size(); n++) {
        // Over memory, with the exact size: ASan catches any read past the end.
        std::vector<char> bytes(full.begin(), full.begin() + (long)n);
        llmbed_gguf *g = nullptr;
        llmbed_error error{};
        const llmbed_status st = llmbed_gguf_open_memory(bytes.data(), n, "cut.gguf", &g, &error);
        INFO("prefix " << n << ": " << error.message);
        REQUIRE(st != LLMBED_OK);
        CHECK_THAT(error.message, Catch::Contains("cut.gguf"));
        if (n < infos_end) { // inside the header: "truncated"
            CHECK(st == LLMBED_ERR_FILE_TRUNCATED);
            truncated += st == LLMBED_ERR_FILE_TRUNCATED;
        } else {
            CHECK(st == LLMBED_ERR_TENSOR_OFFSET); // header whole, padding or tensor data cut
        }
    }
    CHECK(truncated > 100);
}

TEST_CASE("loader gguf: counts larger than the file are refused before allocating", "[loader][gguf][bad-input]") {
    TempDir dir;
    std::string s = "GGUF";
    put_u32(s, 3);
    put_u64(s, 0);
    put_u64(s, uint64_t(1) << 60); // n_kv
    Opened r = open_bytes(dir, s);
    CHECK(r.status == LLMBED_ERR_FILE_TRUNCATED);
    GgufWriter w; // a string array claiming 2^61 elements
    std::string value;
    put_u32(value, GGUF_STRING);
    put_u64(value, uint64_t(1) << 61);
    w.kv_raw("tokenizer.ggml.tokens", GGUF_ARRAY, value);
    r = open_bytes(dir, w.bytes());
    CHECK(r.status == LLMBED_ERR_FILE_TRUNCATED);
    CHECK_THAT(r.message, Catch::Contains("tokenizer.ggml.tokens"));
    GgufWriter k; // a key claiming 2^63 bytes
    std::string key;
    put_u64(key, uint64_t(1) << 63);
    k.kvs = key;
    k.n_kv = 1;
    r = open_bytes(dir, k.bytes());
    CHECK(r.status == LLMBED_ERR_FILE_TRUNCATED);
}

TEST_CASE("loader gguf: tensor data beyond the file", "[loader][gguf][bad-input]") {
    TempDir dir;
    GgufWriter w;
    w.tensor("token_embd.weight", {2, 3}, GGML_F32, block_bytes(24, 'z'));
    w.tensor_at("output_norm.weight", {3}, GGML_F32, "", 1 << 20); // data not written: offset far past the end
    const Opened r = open_bytes(dir, w.bytes());
    CHECK(r.status == LLMBED_ERR_TENSOR_OFFSET);
    CHECK_THAT(r.message, Catch::Contains("output_norm.weight"));
}

TEST_CASE("loader gguf: misaligned tensor offset", "[loader][gguf][bad-input]") {
    TempDir dir;
    GgufWriter w;
    w.tensor_at("token_embd.weight", {2, 3}, GGML_F32, block_bytes(24, 'z'), 8);
    const Opened r = open_bytes(dir, w.bytes());
    CHECK(r.status == LLMBED_ERR_TENSOR_OFFSET);
    CHECK_THAT(r.message, Catch::Contains("token_embd.weight") && Catch::Contains("alignment"));
}

TEST_CASE("loader gguf: overlapping tensors name both", "[loader][gguf][bad-input]") {
    TempDir dir;
    GgufWriter w;
    w.tensor_at("blk.0.attn_q.weight", {4, 8}, GGML_F32, block_bytes(128, 'q'), 0);
    w.tensor_at("blk.0.attn_k.weight", {2, 8}, GGML_F32, block_bytes(64, 'k'), 96);
    const Opened r = open_bytes(dir, w.bytes());
    CHECK(r.status == LLMBED_ERR_TENSOR_OVERLAP);
    CHECK_THAT(r.message, Catch::Contains("blk.0.attn_q.weight") && Catch::Contains("blk.0.attn_k.weight"));
}

TEST_CASE("loader gguf: quantised rows that are not whole blocks", "[loader][gguf][bad-input]") {
    TempDir dir;
    GgufWriter w;
    w.tensor("blk.0.ffn_down.weight", {2, 48}, GGML_Q8_0, block_bytes(102, 'x'));
    const Opened r = open_bytes(dir, w.bytes());
    CHECK(r.status == LLMBED_ERR_TENSOR_SHAPE);
    CHECK_THAT(r.message, Catch::Contains("blk.0.ffn_down.weight"));
}

TEST_CASE("loader gguf: duplicate keys and tensor names", "[loader][gguf][bad-input]") {
    TempDir dir;
    GgufWriter w;
    w.kv_u32("llama.block_count", 1);
    w.kv_u32("llama.block_count", 2);
    Opened r = open_bytes(dir, w.bytes());
    CHECK(r.status == LLMBED_ERR_GGUF_TYPE);
    CHECK_THAT(r.message, Catch::Contains("llama.block_count"));
    GgufWriter t;
    t.tensor("norm", {8}, GGML_F32, block_bytes(32, 'a'));
    t.tensor("norm", {8}, GGML_F32, block_bytes(32, 'b'));
    r = open_bytes(dir, t.bytes());
    CHECK(r.status == LLMBED_ERR_GGUF_TYPE);
    CHECK_THAT(r.message, Catch::Contains("duplicate tensor name 'norm'"));
}

TEST_CASE("loader gguf: missing file", "[loader][gguf][bad-input]") {
    llmbed_gguf *g = nullptr;
    llmbed_error error{};
    CHECK(llmbed_gguf_open("/nonexistent/dir/model.gguf", &g, &error) == LLMBED_ERR_FILE_NOT_FOUND);
    CHECK_THAT(error.message, Catch::Contains("/nonexistent/dir/model.gguf"));
}
