// Minimal reader for the .npy files written by tests/gen_goldens.py
// (numpy format versions 1-3, little-endian <f4 or <f8, C order, any rank).
// Values are returned as double; a malformed file yields ok == false and a
// message instead of a crash.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace llmbed_test {

struct NpyArray {
    bool ok = false;
    std::string error;
    std::vector<int64_t> shape;
    std::vector<double> values;  // C order

    int64_t rows() const { return shape.empty() ? 1 : shape[0]; }
    int64_t row_size() const {
        int64_t n = 1;
        for (size_t i = 1; i < shape.size(); i++) n *= shape[i];
        return n;
    }
};

namespace npy_detail {

inline bool read_all(const std::string &path, std::vector<unsigned char> &bytes) {
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f) return false;
    unsigned char buf[65536];
    size_t got;
    while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.insert(bytes.end(), buf, buf + got);
    const bool failed = std::ferror(f) != 0;
    std::fclose(f);
    return !failed;
}

// Value of 'key' in the header dict, up to the next ',' at depth 0 or '}'.
inline std::string dict_value(const std::string &header, const std::string &key) {
    const size_t at = header.find("'" + key + "'");
    if (at == std::string::npos) return "";
    size_t p = header.find(':', at);
    if (p == std::string::npos) return "";
    p++;
    int depth = 0;
    std::string value;
    for (; p < header.size(); p++) {
        const char c = header[p];
        if (c == '(') depth++;
        if (c == ')') depth--;
        if (depth == 0 && (c == ',' || c == '}')) break;
        if (c != ' ') value += c;
    }
    return value;
}

}  // namespace npy_detail

inline NpyArray read_npy(const std::string &path) {
    NpyArray out;
    std::vector<unsigned char> bytes;
    if (!npy_detail::read_all(path, bytes)) {
        out.error = path + ": cannot read";
        return out;
    }
    static const unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic, 6) != 0) {
        out.error = path + ": not a .npy file";
        return out;
    }
    const int major = bytes[6];
    size_t header_len, header_at;
    if (major == 1) {
        header_len = bytes[8] | (size_t(bytes[9]) << 8);
        header_at = 10;
    } else if ((major == 2 || major == 3) && bytes.size() >= 12) {
        header_len = bytes[8] | (size_t(bytes[9]) << 8) | (size_t(bytes[10]) << 16) | (size_t(bytes[11]) << 24);
        header_at = 12;
    } else {
        out.error = path + ": unsupported .npy version";
        return out;
    }
    if (header_at + header_len > bytes.size()) {
        out.error = path + ": header beyond the file";
        return out;
    }
    const std::string header(bytes.begin() + header_at, bytes.begin() + header_at + header_len);
    const std::string descr = npy_detail::dict_value(header, "descr");
    const std::string fortran = npy_detail::dict_value(header, "fortran_order");
    const std::string shape = npy_detail::dict_value(header, "shape");
    size_t item;
    if (descr == "'<f4'") {
        item = 4;
    } else if (descr == "'<f8'") {
        item = 8;
    } else {
        out.error = path + ": dtype " + descr + " is not <f4 or <f8";
        return out;
    }
    if (fortran != "False") {
        out.error = path + ": Fortran order not supported";
        return out;
    }
    if (shape.size() < 2 || shape.front() != '(' || shape.back() != ')') {
        out.error = path + ": bad shape " + shape;
        return out;
    }
    int64_t count = 1;
    std::string dim;
    for (size_t i = 1; i < shape.size(); i++) {
        const char c = shape[i];
        if (c >= '0' && c <= '9') {
            dim += c;
        } else if (c == ',' || c == ')') {
            if (!dim.empty()) {
                out.shape.push_back(std::stoll(dim));
                count *= out.shape.back();
            }
            dim.clear();
        } else {
            out.error = path + ": bad shape " + shape;
            return out;
        }
    }
    const size_t data_at = header_at + header_len;
    if (bytes.size() - data_at != size_t(count) * item) {
        out.error = path + ": data size does not match the shape";
        return out;
    }
    out.values.resize(size_t(count));
    for (int64_t i = 0; i < count; i++) {
        const unsigned char *p = bytes.data() + data_at + size_t(i) * item;
        if (item == 4) {
            float v;
            std::memcpy(&v, p, 4);
            out.values[size_t(i)] = v;
        } else {
            std::memcpy(&out.values[size_t(i)], p, 8);
        }
    }
    out.ok = true;
    return out;
}

}  // namespace llmbed_test
