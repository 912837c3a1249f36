// Test helpers that write tiny models and hand-made weight files.
//
//   TempDir dir;                                  // mkdtemp; removed (recursively) on scope exit
//   TinyConfig cfg;  cfg.model_type = "qwen3";    // small odd sizes by default
//   auto tensors = tiny_tensors(cfg, /*seed=*/7); // HF-named random fp32 weights
//   write_hf_folder(dir.path, cfg, tensors, Dtype::BF16, /*shards=*/2);
//   // -> config.json + model-0000{1,2}-of-00002.safetensors + model.safetensors.index.json
//   float want = stored_value(Dtype::BF16, tensors[0].values[3]);  // what a loader must return
//
//   GgufWriter g;                                 // minimal GGUF v3 writer for bad-file cases
//   g.kv_string("general.architecture", "llama");
//   g.tensor("token_embd.weight", {37, 24}, GGML_F32, f32_bytes(values));
//   write_file(dir.file("m.gguf"), g.bytes());
//   write_tiny_gguf(dir.file("m.gguf"), cfg, tensors);  // a loadable llama/qwen2/qwen3 GGUF
//
// Everything is little-endian and deterministic (std::mt19937 with the given seed).
#pragma once

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/fp16.h"

namespace llmbed_test {

// ------------------------------------------------------------------ files

inline void write_file(const std::string &path, const std::string &bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + path);
    out.write(bytes.data(), (std::streamsize)bytes.size());
}

inline std::string read_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void remove_tree(const std::string &path) {
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        if (DIR *d = opendir(path.c_str())) {
            while (dirent *e = readdir(d)) {
                if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
                    remove_tree(path + "/" + e->d_name);
            }
            closedir(d);
        }
        rmdir(path.c_str());
    } else {
        unlink(path.c_str());
    }
}

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
struct TempDir {
    std::string path;
    TempDir() {
        const char *base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base ? base : "/tmp") + "/llmbed_test_XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path = buf.data();
    }
    ~TempDir() { remove_tree(path); }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    std::string file(const std::string &name) const { return path + "/" + name; }
    std::string mkdir(const std::string &name) const {
        const std::string p = file(name);
        ::mkdir(p.c_str(), 0755);
        return p;
    }
};

// ---------------------------------------------------------------- bytes

inline void put_u32(std::string &s, uint32_t v) {
    for (int i = 0; i < 4; i++) s.push_back((char)(v >> (8 * i) & 0xff));
}
inline void put_u64(std::string &s, uint64_t v) {
    for (int i = 0; i < 8; i++) s.push_back((char)(v >> (8 * i) & 0xff));
}
inline void put_u16(std::string &s, uint16_t v) {
    s.push_back((char)(v & 0xff));
    s.push_back((char)(v >> 8));
}
inline std::string f32_bytes(const std::vector<float> &v) {
    std::string s(v.size() * 4, '\0');
    std::memcpy(&s[0], v.data(), s.size());
    return s;
}

// --------------------------------------------------------------- models

enum class Dtype { F32, F16, BF16 };

inline const char *dtype_name(Dtype d) { return d == Dtype::F32 ? "F32" : d == Dtype::F16 ? "F16" : "BF16"; }

// The fp32 value a loader must produce for `v` stored as `d` (round to nearest even).
inline float stored_value(Dtype d, float v) {
    if (d == Dtype::F16) return llmbed_fp16_to_f32(llmbed_f32_to_fp16(v));
    if (d == Dtype::BF16) return llmbed_bf16_to_f32(llmbed_f32_to_bf16(v));
    return v;
}

inline std::string encode(Dtype d, const std::vector<float> &v) {
    if (d == Dtype::F32) return f32_bytes(v);
    std::string s;
    for (float x : v) put_u16(s, d == Dtype::F16 ? llmbed_f32_to_fp16(x) : llmbed_f32_to_bf16(x));
    return s;
}

struct TinyConfig {
    std::string model_type = "llama"; // llama, mistral, qwen2, qwen3, minicpm
    int hidden = 24, layers = 2, heads = 3, kv_heads = 1, head_dim = 8, intermediate = 40, vocab = 37;
    int max_positions = 64;
    bool prefix = true;     // tensor names start with "model."
    std::string extra_json; // appended to config.json's object, e.g. ",\"rope_theta\": 500000.0"
    bool qkv_bias() const { return model_type == "qwen2"; }
    bool qk_norm() const { return model_type == "qwen3"; }
};

struct TensorSpec {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<float> values;
};

inline std::string config_json(const TinyConfig &c) {
    char buf[1024];
    std::snprintf(buf, sizeof buf,
                  "{\"model_type\": \"%s\", \"hidden_size\": %d, \"num_hidden_layers\": %d, "
                  "\"num_attention_heads\": %d, \"num_key_value_heads\": %d, \"head_dim\": %d, "
                  "\"intermediate_size\": %d, \"vocab_size\": %d, \"max_position_embeddings\": %d, "
                  "\"rms_norm_eps\": 1e-06, \"tie_word_embeddings\": true",
                  c.model_type.c_str(), c.hidden, c.layers, c.heads, c.kv_heads, c.head_dim, c.intermediate,
                  c.vocab, c.max_positions);
    return std::string(buf) + c.extra_json + "}";
}

// Every tensor the architecture needs, HF names, values uniform in [-1, 1).
inline std::vector<TensorSpec> tiny_tensors(const TinyConfig &c, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    std::vector<TensorSpec> out;
    const std::string p = c.prefix ? "model." : "";
    auto add = [&](const std::string &name, std::vector<int64_t> shape) {
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        TensorSpec t{p + name, shape, std::vector<float>((size_t)n)};
        for (float &v : t.values) v = uni(rng);
        out.push_back(t);
    };
    const int64_t C = c.hidden, Q = (int64_t)c.heads * c.head_dim, KV = (int64_t)c.kv_heads * c.head_dim;
    add("embed_tokens.weight", {c.vocab, C});
    for (int i = 0; i < c.layers; i++) {
        const std::string l = "layers." + std::to_string(i) + ".";
        add(l + "input_layernorm.weight", {C});
        add(l + "self_attn.q_proj.weight", {Q, C});
        add(l + "self_attn.k_proj.weight", {KV, C});
        add(l + "self_attn.v_proj.weight", {KV, C});
        add(l + "self_attn.o_proj.weight", {C, Q});
        if (c.qkv_bias()) {
            add(l + "self_attn.q_proj.bias", {Q});
            add(l + "self_attn.k_proj.bias", {KV});
            add(l + "self_attn.v_proj.bias", {KV});
        }
        if (c.qk_norm()) {
            add(l + "self_attn.q_norm.weight", {c.head_dim});
            add(l + "self_attn.k_norm.weight", {c.head_dim});
        }
        add(l + "post_attention_layernorm.weight", {C});
        add(l + "mlp.gate_proj.weight", {c.intermediate, C});
        add(l + "mlp.up_proj.weight", {c.intermediate, C});
        add(l + "mlp.down_proj.weight", {C, c.intermediate});
    }
    add("norm.weight", {C});
    return out;
}

inline const TensorSpec &find_spec(const std::vector<TensorSpec> &ts, const std::string &name) {
    for (const auto &t : ts)
        if (t.name == name) return t;
    throw std::runtime_error("no tensor " + name);
}

// A safetensors file from an explicit header JSON and data section (for bad-input cases).
inline std::string safetensors_bytes(const std::string &header, const std::string &data) {
    std::string s;
    put_u64(s, header.size());
    return s + header + data;
}

// A valid safetensors file holding `tensors` stored as `dtype` (offsets consecutive,
// header padded with spaces to a multiple of 8 as the safetensors library does).
inline std::string safetensors_file(const std::vector<TensorSpec> &tensors, Dtype dtype) {
    std::string header = "{\"__metadata__\": {\"format\": \"pt\"}", data;
    for (const auto &t : tensors) {
        const std::string bytes = encode(dtype, t.values);
        header += ", \"" + t.name + "\": {\"dtype\": \"" + dtype_name(dtype) + "\", \"shape\": [";
        for (size_t d = 0; d < t.shape.size(); d++) header += (d ? ", " : "") + std::to_string(t.shape[d]);
        header += "], \"data_offsets\": [" + std::to_string(data.size()) + ", " +
                  std::to_string(data.size() + bytes.size()) + "]}";
        data += bytes;
    }
    header += "}";
    while (header.size() % 8 != 0) header += ' ';
    return safetensors_bytes(header, data);
}

// config.json + model.safetensors (shards == 1) or shards files + model.safetensors.index.json.
inline void write_hf_folder(const std::string &dir, const TinyConfig &c, const std::vector<TensorSpec> &tensors,
                            Dtype dtype, int shards = 1) {
    write_file(dir + "/config.json", config_json(c));
    if (shards <= 1) {
        write_file(dir + "/model.safetensors", safetensors_file(tensors, dtype));
        return;
    }
    std::string map;
    const size_t per = (tensors.size() + shards - 1) / shards;
    for (int s = 0; s < shards; s++) {
        char name[64];
        std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", s + 1, shards);
        std::vector<TensorSpec> part;
        for (size_t i = s * per; i < tensors.size() && i < (s + 1) * per; i++) {
            part.push_back(tensors[i]);
            map += std::string(map.empty() ? "" : ", ") + "\"" + tensors[i].name + "\": \"" + name + "\"";
        }
        write_file(dir + "/" + name, safetensors_file(part, dtype));
    }
    write_file(dir + "/model.safetensors.index.json",
               "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {" + map + "}}");
}

// ------------------------------------------------------------------ GGUF

enum GgmlType : uint32_t { GGML_F32 = 0, GGML_F16 = 1, GGML_Q4_0 = 2, GGML_Q4_1 = 3, GGML_Q8_0 = 8, GGML_BF16 = 30 };
enum GgufValueType : uint32_t { GGUF_U32 = 4, GGUF_I32 = 5, GGUF_F32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9 };

// Builds a GGUF file in memory. Tensor data is laid out in call order,
// each tensor aligned to 32 bytes, unless tensor_at() gives an offset.
struct GgufWriter {
    uint32_t version = 3;
    std::string magic = "GGUF";
    uint64_t n_kv = 0;
    std::string kvs;
    struct Info {
        std::string name;
        std::vector<int64_t> shape; // row-major (written reversed as ne[])
        uint32_t type;
        std::string data;
        int64_t offset; // -1: next free aligned offset
    };
    std::vector<Info> tensors;

    static void put_string(std::string &s, const std::string &v) {
        put_u64(s, v.size());
        s += v;
    }
    void key(const std::string &k, uint32_t type) {
        put_string(kvs, k);
        put_u32(kvs, type);
        n_kv++;
    }
    void kv_u32(const std::string &k, uint32_t v) {
        key(k, GGUF_U32);
        put_u32(kvs, v);
    }
    void kv_f32(const std::string &k, float v) {
        key(k, GGUF_F32);
        uint32_t bits;
        std::memcpy(&bits, &v, 4);
        put_u32(kvs, bits);
    }
    void kv_string(const std::string &k, const std::string &v) {
        key(k, GGUF_STRING);
        put_string(kvs, v);
    }
    void kv_string_array(const std::string &k, const std::vector<std::string> &v) {
        key(k, GGUF_ARRAY);
        put_u32(kvs, GGUF_STRING);
        put_u64(kvs, v.size());
        for (const auto &s : v) put_string(kvs, s);
    }
    // Any type number with raw value bytes (for invalid-type cases).
    void kv_raw(const std::string &k, uint32_t type, const std::string &value) {
        key(k, type);
        kvs += value;
    }
    void tensor(const std::string &name, std::vector<int64_t> shape, uint32_t type, const std::string &data) {
        tensors.push_back({name, shape, type, data, -1});
    }
    void tensor_at(const std::string &name, std::vector<int64_t> shape, uint32_t type, const std::string &data,
                   int64_t offset) {
        tensors.push_back({name, shape, type, data, offset});
    }
    std::string bytes() const {
        std::string s = magic;
        put_u32(s, version);
        put_u64(s, tensors.size());
        put_u64(s, n_kv);
        s += kvs;
        std::vector<int64_t> offsets;
        int64_t next = 0, data_end = 0;
        for (const auto &t : tensors) {
            const int64_t off = t.offset >= 0 ? t.offset : next;
            offsets.push_back(off);
            next = (off + (int64_t)t.data.size() + 31) / 32 * 32;
            data_end = std::max<int64_t>(data_end, off + (int64_t)t.data.size());
            put_string(s, t.name);
            put_u32(s, (uint32_t)t.shape.size());
            for (size_t d = t.shape.size(); d-- > 0;) put_u64(s, (uint64_t)t.shape[d]);
            put_u32(s, t.type);
            put_u64(s, (uint64_t)off);
        }
        while (s.size() % 32 != 0) s.push_back('\0');
        std::string data((size_t)data_end, '\0');
        for (size_t i = 0; i < tensors.size(); i++)
            std::memcpy(&data[(size_t)offsets[i]], tensors[i].data.data(), tensors[i].data.size());
        return s + data;
    }
};

// convert_hf_to_gguf.py LlamaModel.permute(w, n_head): row s*D/2 + i of each
// head (D rows) goes to row 2i + s. w: [rows, cols] row-major.
inline std::vector<float> llama_permute(const std::vector<float> &w, int64_t rows, int64_t cols, int n_head) {
    std::vector<float> out(w.size());
    const int64_t D = rows / n_head, half = D / 2;
    for (int64_t h = 0; h < n_head; h++)
        for (int64_t s = 0; s < 2; s++)
            for (int64_t i = 0; i < half; i++)
                std::memcpy(&out[(size_t)((h * D + 2 * i + s) * cols)], &w[(size_t)((h * D + s * half + i) * cols)],
                            (size_t)cols * sizeof(float));
    return out;
}

// A loadable GGUF (F32 tensors) of `c` (model_type llama, qwen2 or qwen3)
// holding `tensors` (from tiny_tensors), with llama.cpp's names, metadata and,
// for llama, its q/k permutation.
inline std::string tiny_gguf(const TinyConfig &c, const std::vector<TensorSpec> &tensors) {
    GgufWriter g;
    const std::string a = c.model_type;
    g.kv_string("general.architecture", a);
    g.kv_u32(a + ".block_count", (uint32_t)c.layers);
    g.kv_u32(a + ".embedding_length", (uint32_t)c.hidden);
    g.kv_u32(a + ".attention.head_count", (uint32_t)c.heads);
    g.kv_u32(a + ".attention.head_count_kv", (uint32_t)c.kv_heads);
    g.kv_u32(a + ".attention.key_length", (uint32_t)c.head_dim);
    g.kv_u32(a + ".feed_forward_length", (uint32_t)c.intermediate);
    g.kv_u32(a + ".context_length", (uint32_t)c.max_positions);
    g.kv_f32(a + ".rope.freq_base", 10000.0f);
    g.kv_f32(a + ".attention.layer_norm_rms_epsilon", 1e-6f);
    static const char *const layer_names[][2] = {
        {"input_layernorm.weight", "attn_norm.weight"},      {"self_attn.q_proj.weight", "attn_q.weight"},
        {"self_attn.k_proj.weight", "attn_k.weight"},        {"self_attn.v_proj.weight", "attn_v.weight"},
        {"self_attn.o_proj.weight", "attn_output.weight"},   {"self_attn.q_proj.bias", "attn_q.bias"},
        {"self_attn.k_proj.bias", "attn_k.bias"},            {"self_attn.v_proj.bias", "attn_v.bias"},
        {"self_attn.q_norm.weight", "attn_q_norm.weight"},   {"self_attn.k_norm.weight", "attn_k_norm.weight"},
        {"post_attention_layernorm.weight", "ffn_norm.weight"}, {"mlp.gate_proj.weight", "ffn_gate.weight"},
        {"mlp.up_proj.weight", "ffn_up.weight"},             {"mlp.down_proj.weight", "ffn_down.weight"}};
    for (const auto &t : tensors) {
        std::string name = t.name.rfind("model.", 0) == 0 ? t.name.substr(6) : t.name;
        if (name == "embed_tokens.weight") name = "token_embd.weight";
        else if (name == "norm.weight") name = "output_norm.weight";
        else {
            const size_t dot = name.find('.', 7); // after "layers."
            const std::string layer = name.substr(7, dot - 7), rest = name.substr(dot + 1);
            for (const auto &m : layer_names)
                if (rest == m[0]) name = "blk." + layer + "." + m[1];
        }
        std::vector<float> values = t.values;
        const bool q = name.find("attn_q.weight") != std::string::npos;
        const bool k = name.find("attn_k.weight") != std::string::npos;
        if (a == "llama" && (q || k))
            values = llama_permute(values, t.shape[0], t.shape[1], q ? c.heads : c.kv_heads);
        g.tensor(name, t.shape, GGML_F32, f32_bytes(values));
    }
    return g.bytes();
}

} // namespace llmbed_test
