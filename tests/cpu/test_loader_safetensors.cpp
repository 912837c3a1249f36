// safetensors reader: valid single and sharded files, and one test per
// malformed input, each asserting its status and that the message names the
// file and the tensor.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "container/safetensors.h"
#include "support/tiny_model_writer.hpp"

using namespace llmbed_test;

namespace {

struct Opened {
    llmbed_status status;
    std::string message;
};

Opened open_file(const std::string &path) {
    llmbed_safetensors *st = nullptr;
    llmbed_error error{};
    const llmbed_status s = llmbed_safetensors_open(path.c_str(), &st, &error);
    if (s == LLMBED_OK) llmbed_safetensors_close(st);
    else CHECK(st == nullptr);
    return {s, error.message};
}

Opened open_bytes(const TempDir &dir, const std::string &bytes) {
    const std::string path = dir.file("model.safetensors");
    write_file(path, bytes);
    const Opened r = open_file(path);
    if (r.status != LLMBED_OK) CHECK_THAT(r.message, Catch::Contains(path));
    return r;
}

std::string entry(const std::string &name, const std::string &dtype, const std::string &shape, long begin, long end) {
    return "\"" + name + "\": {\"dtype\": \"" + dtype + "\", \"shape\": " + shape + ", \"data_offsets\": [" +
           std::to_string(begin) + ", " + std::to_string(end) + "]}";
}

} // namespace

TEST_CASE("loader safetensors: a valid file of each dtype", "[loader][safetensors]") {
    TempDir dir;
    std::vector<TensorSpec> ts = {{"a.weight", {3, 5}, {}}, {"b", {7}, {}}, {"scalar", {}, {}}};
    std::mt19937 rng(11);
    for (auto &t : ts) {
        int64_t n = 1;
        for (auto d : t.shape) n *= d;
        for (int64_t i = 0; i < n; i++) t.values.push_back(float(rng() % 1000) / 7.0f - 60.0f);
    }
    for (Dtype d : {Dtype::F32, Dtype::F16, Dtype::BF16}) {
        INFO(dtype_name(d));
        write_file(dir.file("model.safetensors"), safetensors_file(ts, d));
        llmbed_safetensors *st = nullptr;
        llmbed_error error{};
        REQUIRE(llmbed_safetensors_open(dir.file("model.safetensors").c_str(), &st, &error) == LLMBED_OK);
        REQUIRE(llmbed_safetensors_n_tensors(st) == 3); // __metadata__ ignored
        for (const auto &spec : ts) {
            const llmbed_tensor_ref *t = llmbed_safetensors_find_tensor(st, spec.name.c_str());
            REQUIRE(t != nullptr);
            REQUIRE(t->n_dims == int(spec.shape.size()));
            for (size_t k = 0; k < spec.shape.size(); k++) CHECK(t->shape[k] == spec.shape[k]);
            std::vector<float> got(spec.values.size());
            REQUIRE(llmbed_tensor_to_f32(t, got.data(), &error) == LLMBED_OK);
            for (size_t i = 0; i < got.size(); i++) CHECK(got[i] == stored_value(d, spec.values[i]));
        }
        llmbed_safetensors_close(st);
    }
}

TEST_CASE("loader safetensors: sharded folder via model.safetensors.index.json", "[loader][safetensors]") {
    TempDir dir;
    TinyConfig cfg;
    const auto ts = tiny_tensors(cfg, 5);
    write_hf_folder(dir.path, cfg, ts, Dtype::F16, 3);
    llmbed_safetensors *st = nullptr;
    llmbed_error error{};
    INFO(error.message);
    REQUIRE(llmbed_safetensors_open_folder(dir.path.c_str(), &st, &error) == LLMBED_OK);
    CHECK(llmbed_safetensors_n_tensors(st) == int64_t(ts.size()));
    const llmbed_tensor_ref *last = llmbed_safetensors_find_tensor(st, "model.norm.weight");
    REQUIRE(last != nullptr);
    std::vector<float> got(size_t(cfg.hidden));
    REQUIRE(llmbed_tensor_to_f32(last, got.data(), &error) == LLMBED_OK);
    CHECK(got[5] == stored_value(Dtype::F16, find_spec(ts, "model.norm.weight").values[5]));
    int64_t in_third = 0;
    for (int64_t i = 0; i < llmbed_safetensors_n_tensors(st); i++)
        in_third += std::string(llmbed_safetensors_tensor_file(st, i)).find("model-00003-of-00003") != std::string::npos;
    CHECK(in_third > 0);
    llmbed_safetensors_close(st);
}

TEST_CASE("loader safetensors: missing file", "[loader][safetensors][bad-input]") {
    TempDir dir;
    const Opened r = open_file(dir.file("absent.safetensors"));
    CHECK(r.status == LLMBED_ERR_FILE_NOT_FOUND);
    CHECK_THAT(r.message, Catch::Contains("absent.safetensors"));
    llmbed_safetensors *st = nullptr;
    llmbed_error error{};
    CHECK(llmbed_safetensors_open_folder(dir.path.c_str(), &st, &error) == LLMBED_ERR_FILE_NOT_FOUND);
    CHECK_THAT(error.message, Catch::Contains(dir.path) && Catch::Contains("model.safetensors"));
}

TEST_CASE("loader safetensors: file shorter than the header length", "[loader][safetensors][bad-input]") {
    TempDir dir;
    for (size_t n : {0, 1, 7}) {
        const Opened r = open_bytes(dir, std::string(n, '\x10'));
        CHECK(r.status == LLMBED_ERR_FILE_TRUNCATED);
    }
}

TEST_CASE("loader safetensors: header length beyond the file or the 100 MB bound", "[loader][safetensors][bad-input]") {
    TempDir dir;
    std::string s;
    put_u64(s, 1000);
    s += "{}";
    Opened r = open_bytes(dir, s);
    CHECK(r.status == LLMBED_ERR_HEADER_TOO_LARGE);
    CHECK_THAT(r.message, Catch::Contains("1000"));
    s.clear();
    put_u64(s, ~uint64_t(0)); // would overflow 8 + length
    r = open_bytes(dir, s + "{}");
    CHECK(r.status == LLMBED_ERR_HEADER_TOO_LARGE);
}

TEST_CASE("loader safetensors: data offsets out of range", "[loader][safetensors][bad-input]") {
    TempDir dir;
    const std::string data(16, '\0');
    Opened r = open_bytes(dir, safetensors_bytes("{" + entry("w", "F32", "[5]", 0, 20) + "}", data));
    CHECK(r.status == LLMBED_ERR_TENSOR_OFFSET);
    CHECK_THAT(r.message, Catch::Contains("'w'") && Catch::Contains("[0, 20)"));
    r = open_bytes(dir, safetensors_bytes("{" + entry("w", "F32", "[1]", 8, 4) + "}", data)); // begin > end
    CHECK(r.status == LLMBED_ERR_TENSOR_OFFSET);
    r = open_bytes(dir, safetensors_bytes("{" + entry("w", "F32", "[1]", -4, 0) + "}", data)); // negative
    CHECK(r.status == LLMBED_ERR_TENSOR_OFFSET);
}

TEST_CASE("loader safetensors: overlapping tensors name both", "[loader][safetensors][bad-input]") {
    TempDir dir;
    const std::string header =
        "{" + entry("model.norm.weight", "F32", "[3]", 0, 12) + ", " + entry("lm_head.weight", "F32", "[2]", 8, 16) + "}";
    const Opened r = open_bytes(dir, safetensors_bytes(header, std::string(16, '\0')));
    CHECK(r.status == LLMBED_ERR_TENSOR_OVERLAP);
    CHECK_THAT(r.message, Catch::Contains("model.norm.weight") && Catch::Contains("lm_head.weight"));
}

TEST_CASE("loader safetensors: unsupported dtype names tensor and dtype", "[loader][safetensors][bad-input]") {
    TempDir dir;
    const Opened r = open_bytes(dir, safetensors_bytes("{" + entry("ids", "I64", "[2]", 0, 16) + "}", std::string(16, '\0')));
    CHECK(r.status == LLMBED_ERR_TENSOR_DTYPE);
    CHECK_THAT(r.message, Catch::Contains("'ids'") && Catch::Contains("I64"));
}

TEST_CASE("loader safetensors: shape times dtype size differs from the byte range", "[loader][safetensors][bad-input]") {
    TempDir dir;
    const Opened r = open_bytes(dir, safetensors_bytes("{" + entry("w", "BF16", "[3, 2]", 0, 16) + "}", std::string(16, '\0')));
    CHECK(r.status == LLMBED_ERR_TENSOR_SHAPE);
    CHECK_THAT(r.message, Catch::Contains("'w'") && Catch::Contains("12 bytes") && Catch::Contains("16 bytes"));
    const Opened r2 = open_bytes(dir, safetensors_bytes("{" + entry("w", "F32", "[1, 2, 3, 4, 5]", 0, 16) + "}",
                                                        std::string(16, '\0')));
    CHECK(r2.status == LLMBED_ERR_TENSOR_SHAPE);
}

TEST_CASE("loader safetensors: malformed header JSON", "[loader][safetensors][bad-input]") {
    TempDir dir;
    Opened r = open_bytes(dir, safetensors_bytes("{\"w\": {\"dtype\": \"F32\",, }", ""));
    CHECK(r.status == LLMBED_ERR_BAD_JSON);
    CHECK_THAT(r.message, Catch::Contains("malformed JSON"));
    r = open_bytes(dir, safetensors_bytes("{\"w\": {\"dtype\": \"F32\", \"shape\": [1]}}", "")); // no data_offsets
    CHECK(r.status == LLMBED_ERR_BAD_JSON);
    CHECK_THAT(r.message, Catch::Contains("'w'") && Catch::Contains("data_offsets"));
    r = open_bytes(dir, safetensors_bytes(std::string("{}\0garbage", 10), ""));
    CHECK(r.status == LLMBED_ERR_BAD_JSON);
    r = open_bytes(dir, safetensors_bytes("[1, 2]", ""));
    CHECK(r.status == LLMBED_ERR_BAD_JSON);
}

TEST_CASE("loader safetensors: every prefix of a valid file fails cleanly", "[loader][safetensors][bad-input]") {
    TinyConfig cfg;
    cfg.layers = 1;
    const std::string full = safetensors_file(tiny_tensors(cfg, 2), Dtype::BF16);
    for (size_t n = 0; n < full.size(); n += (n < 4096 ? 1 : 97)) {
        std::vector<char> bytes(full.begin(), full.begin() + (long)n); // exact size: ASan sees over-reads
        llmbed_safetensors *st = nullptr;
        llmbed_error error{};
        const llmbed_status s = llmbed_safetensors_open_memory(bytes.data(), n, "cut.safetensors", &st, &error);
        INFO("prefix " << n << ": " << error.message);
        REQUIRE(s != LLMBED_OK);
        CHECK((s == LLMBED_ERR_FILE_TRUNCATED || s == LLMBED_ERR_HEADER_TOO_LARGE || s == LLMBED_ERR_TENSOR_OFFSET));
    }
}

TEST_CASE("loader safetensors: bad shard index", "[loader][safetensors][bad-input]") {
    TempDir dir;
    TinyConfig cfg;
    const auto ts = tiny_tensors(cfg, 5);
    write_hf_folder(dir.path, cfg, ts, Dtype::F32, 2);
    const std::string index = dir.file("model.safetensors.index.json");
    llmbed_safetensors *st = nullptr;
    llmbed_error error{};

    write_file(index, "{\"weight_map\": {\"model.norm.weight\": \"model-00001-of-00002.safetensors\"}}");
    CHECK(llmbed_safetensors_open_folder(dir.path.c_str(), &st, &error) == LLMBED_ERR_MISSING_TENSOR);
    CHECK_THAT(error.message, Catch::Contains("model.norm.weight") && Catch::Contains("model-00001-of-00002"));

    write_file(index, "{\"weight_map\": {\"model.norm.weight\": \"../elsewhere.safetensors\"}}");
    CHECK(llmbed_safetensors_open_folder(dir.path.c_str(), &st, &error) == LLMBED_ERR_BAD_JSON);
    CHECK_THAT(error.message, Catch::Contains("model.norm.weight"));

    write_file(index, "{\"weight_map\": {\"model.norm.weight\": \"model-00009-of-00009.safetensors\"}}");
    CHECK(llmbed_safetensors_open_folder(dir.path.c_str(), &st, &error) == LLMBED_ERR_FILE_NOT_FOUND);
    CHECK_THAT(error.message, Catch::Contains("model-00009-of-00009.safetensors"));

    write_file(index, "{\"metadata\": {}}");
    CHECK(llmbed_safetensors_open_folder(dir.path.c_str(), &st, &error) == LLMBED_ERR_BAD_JSON);
    CHECK_THAT(error.message, Catch::Contains("weight_map"));

    write_file(index, "{\"weight_map\": {");
    CHECK(llmbed_safetensors_open_folder(dir.path.c_str(), &st, &error) == LLMBED_ERR_BAD_JSON);
    CHECK_THAT(error.message, Catch::Contains("model.safetensors.index.json"));
    CHECK(st == nullptr);
}
