// Reads tests/data/goldens/<model>/manifest.json (layout documented in
// tests/golden_lib/cases.py) and the golden rows it points to.
#pragma once

#include <cjson/cJSON.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "llmbed.h"
#include "support/npy_reader.hpp"

namespace llmbed_test {

struct GoldenCase {
    int sequence = 0;
    std::string attention;  // "causal" | "bidirectional"
    std::string pooling;    // "none" | "last" | "mean" | "first" | "weighted_mean"
    int instruction_len = 0;
    int layer = 0;
    std::string file;
    int row = -1;  // -1: the whole file ([n, hidden] hidden states)
};

struct GoldenDequant {
    std::string tensor;
    std::string type;
    std::string file;
};

struct GoldenManifest {
    bool ok = false;
    std::string error;
    std::string dir;  // tests/data/goldens/<model>
    std::string model;
    std::string model_path;  // absolute
    std::string architecture;
    std::string rope_type;
    int hidden_size = 0;
    int n_layers = 0;
    std::vector<std::vector<int32_t>> sequences;
    std::vector<GoldenCase> cases;
    std::vector<GoldenDequant> dequant;

    // The golden values of one case: [n, hidden] for pooling "none", else [hidden].
    std::vector<double> expected(const GoldenCase &c, std::string &error) const {
        auto it = cache_.find(c.file);
        if (it == cache_.end()) it = cache_.emplace(c.file, read_npy(dir + "/" + c.file)).first;
        const NpyArray &a = it->second;
        if (!a.ok) {
            error = a.error;
            return {};
        }
        if (c.row < 0) return a.values;
        if (c.row >= a.rows() || a.row_size() != hidden_size) {
            error = c.file + ": row " + std::to_string(c.row) + " or width out of range";
            return {};
        }
        return std::vector<double>(a.values.begin() + c.row * a.row_size(),
                                   a.values.begin() + (c.row + 1) * a.row_size());
    }

  private:
    mutable std::map<std::string, NpyArray> cache_;
};

inline llmbed_pooling pooling_from_name(const std::string &name) {
    if (name == "last") return LLMBED_POOLING_LAST;
    if (name == "mean") return LLMBED_POOLING_MEAN;
    if (name == "first") return LLMBED_POOLING_FIRST;
    if (name == "weighted_mean") return LLMBED_POOLING_WEIGHTED_MEAN;
    return LLMBED_POOLING_NONE;
}

inline llmbed_attention attention_from_name(const std::string &name) {
    return name == "bidirectional" ? LLMBED_ATTENTION_BIDIRECTIONAL : LLMBED_ATTENTION_CAUSAL;
}

namespace manifest_detail {

inline std::string string_field(const cJSON *obj, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(item) ? std::string(item->valuestring) : std::string();
}

inline int int_field(const cJSON *obj, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(item) ? item->valueint : 0;
}

}  // namespace manifest_detail

inline GoldenManifest read_manifest(const std::string &data_dir, const std::string &model) {
    using namespace manifest_detail;
    GoldenManifest m;
    m.dir = data_dir + "/goldens/" + model;
    const std::string path = m.dir + "/manifest.json";
    std::string text;
    if (FILE *f = std::fopen(path.c_str(), "rb")) {
        char buf[65536];
        size_t got;
        while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, got);
        std::fclose(f);
    } else {
        m.error = path + ": cannot read";
        return m;
    }
    cJSON *root = cJSON_Parse(text.c_str());
    if (root == nullptr) {
        m.error = path + ": malformed JSON";
        return m;
    }
    m.model = string_field(root, "model");
    m.model_path = data_dir + "/" + string_field(root, "model_path");
    m.architecture = string_field(root, "architecture");
    m.rope_type = string_field(root, "rope_type");
    m.hidden_size = int_field(root, "hidden_size");
    m.n_layers = int_field(root, "n_layers");
    const cJSON *item;
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(root, "sequences")) {
        std::vector<int32_t> ids;
        const cJSON *id;
        cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(item, "ids")) ids.push_back(id->valueint);
        m.sequences.push_back(ids);
    }
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(root, "cases")) {
        GoldenCase c;
        c.sequence = int_field(item, "sequence");
        c.attention = string_field(item, "attention");
        c.pooling = string_field(item, "pooling");
        c.instruction_len = int_field(item, "instruction_len");
        c.layer = int_field(item, "layer");
        c.file = string_field(item, "file");
        c.row = int_field(item, "row");
        m.cases.push_back(c);
    }
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(root, "dequant")) {
        m.dequant.push_back({string_field(item, "tensor"), string_field(item, "type"), string_field(item, "file")});
    }
    cJSON_Delete(root);
    m.ok = !m.cases.empty() && m.hidden_size > 0;
    if (!m.ok) m.error = path + ": no cases or hidden_size";
    return m;
}

}  // namespace llmbed_test
