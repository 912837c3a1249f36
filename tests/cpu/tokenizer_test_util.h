/* Helpers shared by the tokenizer tests: llama.cpp's .inp/.out vectors and
 * loading a GGUF vocabulary. */
#ifndef LLMBED_TESTS_TOKENIZER_TEST_UTIL_H
#define LLMBED_TESTS_TOKENIZER_TEST_UTIL_H

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "container/gguf.h"
#include "tokenizer/tokenizer.h"

namespace tokenizer_test {

inline std::string read_all(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

/* cases.inp: each case followed by "\n__ggml_vocab_test__\n" (README of the testdata). */
inline std::vector<std::string> read_inp(const std::string &path) {
    const std::string raw = read_all(path), sep = "\n__ggml_vocab_test__\n";
    std::vector<std::string> cases;
    size_t pos = 0;
    while (pos < raw.size()) {
        size_t next = raw.find(sep, pos);
        if (next == std::string::npos) {
            cases.push_back(raw.substr(pos));
            break;
        }
        cases.push_back(raw.substr(pos, next - pos));
        pos = next + sep.size();
    }
    return cases;
}

/* cases.out: one line per case, " id id ...". */
inline std::vector<std::vector<int32_t>> read_out(const std::string &path) {
    std::ifstream f(path);
    std::vector<std::vector<int32_t>> out;
    std::string line;
    while (std::getline(f, line)) {
        std::istringstream ss(line);
        std::vector<int32_t> ids;
        long v;
        while (ss >> v) ids.push_back((int32_t)v);
        out.push_back(ids);
    }
    return out;
}

inline std::vector<int32_t> encode(const llmbed_tokenizer *t, const std::string &text, bool add_special,
                                   llmbed_status *status = nullptr, size_t *n_invalid = nullptr) {
    llmbed_encode_options o;
    llmbed_encode_options_default(&o);
    o.add_special = add_special;
    llmbed_encode_result r = {};
    llmbed_error e = {};
    llmbed_status st = llmbed_tokenizer_encode(t, text.data(), text.size(), &o, &r, &e);
    if (status) *status = st;
    if (n_invalid) *n_invalid = r.n_invalid;
    std::vector<int32_t> ids(r.ids, r.ids + r.n_ids);
    llmbed_encode_result_free(&r);
    return ids;
}

/* Loads a GGUF vocabulary; returns the status, *out owns the tokenizer. */
inline llmbed_status load_gguf_tokenizer(const std::string &path, llmbed_tokenizer **out, llmbed_error *error) {
    llmbed_gguf *g = nullptr;
    *out = nullptr;
    llmbed_status st = llmbed_gguf_open(path.c_str(), &g, error);
    if (st != LLMBED_OK) return st;
    st = llmbed_tokenizer_load_gguf(g, out, error);
    llmbed_gguf_close(g);
    return st;
}

inline std::string shared_dir() { return std::string(LLMBED_SHARED_TESTDATA_DIR) + "/tokenizer/"; }
inline std::string generated_dir() { return std::string(LLMBED_TEST_DATA_DIR) + "/generated/tokenizer/"; }

} // namespace tokenizer_test

#endif
