// Reads tests/data/goldens/families/<family>/manifest.json written by
// tests/gen_family_goldens.py: {"family", "model_path", "adapters": [...],
// "attention", "pooling", "hidden_size", "eos_token_id", "embeddings",
// "cases": [{"text", "prompt" (null = none), "prompt_name", "ids", "pool_begin", "row"}]}
// and embeddings.npy [cases, hidden] (L2-normalised family-default rows).
#pragma once

#include <cjson/cJSON.h>

#include <string>
#include <vector>

#include "support/npy_reader.hpp"

namespace llmbed_test {

struct FamilyCase {
    std::string text, prompt;  // prompt "" = none
    std::vector<int32_t> ids;
    int pool_begin = 0;
    int row = 0;
};

struct FamilyGolden {
    std::string error;  // "" when read
    std::string family, model_path, pooling, attention;
    std::vector<std::string> adapters;
    int hidden = 0, eos = -1;
    std::vector<FamilyCase> cases;
    NpyArray embeddings;
};

inline FamilyGolden read_family_golden(const std::string &data_dir, const std::string &name) {
    FamilyGolden g;
    const std::string dir = data_dir + "/goldens/families/" + name;
    FILE *f = std::fopen((dir + "/manifest.json").c_str(), "rb");
    if (!f) {
        g.error = dir + "/manifest.json: cannot open";
        return g;
    }
    std::string text;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
    cJSON *root = cJSON_Parse(text.c_str());
    if (!root) {
        g.error = dir + "/manifest.json: malformed";
        return g;
    }
    auto str = [](const cJSON *o, const char *k) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
        return cJSON_IsString(it) ? std::string(it->valuestring) : std::string();
    };
    auto num = [](const cJSON *o, const char *k) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
        return cJSON_IsNumber(it) ? it->valueint : -1;
    };
    g.family = str(root, "family");
    g.model_path = data_dir + "/" + str(root, "model_path");
    g.pooling = str(root, "pooling");
    g.attention = str(root, "attention");
    g.hidden = num(root, "hidden_size");
    g.eos = num(root, "eos_token_id");
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "adapters")) {
        if (cJSON_IsString(it)) g.adapters.push_back(data_dir + "/" + it->valuestring);
    }
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "cases")) {
        FamilyCase c;
        c.text = str(it, "text");
        c.prompt = str(it, "prompt");
        c.pool_begin = num(it, "pool_begin");
        c.row = num(it, "row");
        const cJSON *id;
        cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(it, "ids")) c.ids.push_back((int32_t)id->valueint);
        g.cases.push_back(c);
    }
    cJSON_Delete(root);
    g.embeddings = read_npy(dir + "/" + "embeddings.npy");
    if (!g.embeddings.ok) g.error = g.embeddings.error;
    else if (g.cases.empty()) g.error = dir + ": no cases";
    return g;
}

}  // namespace llmbed_test
