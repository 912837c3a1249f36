// Output side of host/io: dtype encoders (float16 rounding, int8 scales,
// ubinary bit packing as numpy.packbits), the npy/safetensors/jsonl byte
// layouts and the atomic writer (nothing on disk until commit, nothing after
// an abort or a failed write).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern "C" {
#include "common/fp16.h"
#include "io/atomic_file.h"
#include "io/output_format.h"
#include "io/output_writer.h"
#include "io/row_encode.h"
}

#include "support/cli_process.hpp"

using namespace llmbed_test::cli;

namespace {

// The file as bytes, or empty when it cannot be opened.
std::vector<unsigned char> slurp_bytes(const std::string &path) {
    std::string s = slurp(path);
    return std::vector<unsigned char>(s.begin(), s.end());
}

std::string npy_dict(const std::vector<unsigned char> &bytes) {
    REQUIRE(bytes.size() >= LLMBED_NPY_HEADER_BYTES);
    REQUIRE(std::memcmp(bytes.data(), "\x93NUMPY\x01\x00", 8) == 0);
    size_t len = bytes[8] | (bytes[9] << 8);
    REQUIRE(10 + len == LLMBED_NPY_HEADER_BYTES);
    REQUIRE(bytes[LLMBED_NPY_HEADER_BYTES - 1] == '\n');
    std::string dict(bytes.begin() + 10, bytes.begin() + 10 + len);
    return dict.substr(0, dict.find_last_not_of(" \n") + 1);
}

std::vector<float> rows_of(int n, int dims, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
    std::vector<float> v((size_t)n * dims);
    for (auto &x : v) x = dist(rng);
    return v;
}

}  // namespace

TEST_CASE("float16 encoding rounds to nearest even like numpy", "[io]") {
    CHECK(llmbed_f32_to_fp16(1.0f) == 0x3c00);
    CHECK(llmbed_f32_to_fp16(-2.0f) == 0xc000);
    CHECK(llmbed_f32_to_fp16(65504.0f) == 0x7bff);
    CHECK(llmbed_f32_to_fp16(65520.0f) == 0x7c00);           // rounds up to infinity
    CHECK(llmbed_f32_to_fp16(1.0f + 1.0f / 2048) == 0x3c00);  // tie -> even
    CHECK(llmbed_f32_to_fp16(1.0f + 3.0f / 2048) == 0x3c02);  // tie -> even (up)
    CHECK(llmbed_f32_to_fp16(5.960464477539063e-08f) == 0x0001);  // smallest subnormal
    CHECK(llmbed_f32_to_fp16(2.9802322387695312e-08f) == 0x0000); // half of it: tie -> even 0
    CHECK(llmbed_f32_to_fp16(1e-10f) == 0x0000);
    CHECK((llmbed_f32_to_fp16(NAN) & 0x7c00) == 0x7c00);
    CHECK((llmbed_f32_to_fp16(NAN) & 0x03ff) != 0);
    // Round trip error within half an ulp over the normal and subnormal ranges.
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> exponent(-26.0f, 15.9f);
    for (int i = 0; i < 20000; i++) {
        float x = std::ldexp(1.0f + (float)(rng() % 1024) / 1024.0f + 1e-4f, (int)std::floor(exponent(rng)));
        if (rng() & 1) x = -x;
        float back = llmbed_fp16_to_f32(llmbed_f32_to_fp16(x));
        float ulp = std::fabs(x) < 6.103515625e-05f ? 5.960464477539063e-08f
                                                    : std::ldexp(1.0f, std::ilogb(x) - 10);
        REQUIRE(std::fabs(back - x) <= 0.5f * ulp);
    }
}

TEST_CASE("int8 rows use a symmetric per-row scale and ubinary packs sign bits MSB first", "[io]") {
    const float row[9] = {0.5f, -1.0f, 0.25f, 0.0f, -0.125f, 1.0f / 127, 0.9f, -0.3f, 0.7f};
    int8_t q[9];
    float scale = 0;
    llmbed_row_encode(LLMBED_DTYPE_INT8, row, 9, q, &scale);
    CHECK(scale == Approx(1.0f / 127));
    CHECK(q[1] == -127);
    for (int i = 0; i < 9; i++) CHECK(std::fabs(q[i] * scale - row[i]) <= 0.5f * scale + 1e-7f);
    const float zeros[3] = {0, 0, 0};
    llmbed_row_encode(LLMBED_DTYPE_INT8, zeros, 3, q, &scale);
    CHECK(scale == 1.0f);
    CHECK((q[0] == 0 && q[1] == 0 && q[2] == 0));

    uint8_t bits[2] = {0xff, 0xff};
    CHECK(llmbed_row_width(LLMBED_DTYPE_UBINARY, 9) == 2);
    llmbed_row_encode(LLMBED_DTYPE_UBINARY, row, 9, bits, &scale);
    // > 0: 1 0 1 0 0 1 1 0 | 1 (then zero padding), as np.packbits(row > 0)
    CHECK(bits[0] == 0xA6);
    CHECK(bits[1] == 0x80);
}

TEST_CASE("npy header is a fixed 128-byte v1.0 header numpy accepts", "[io]") {
    unsigned char header[LLMBED_NPY_HEADER_BYTES];
    llmbed_npy_header(header, "<f4", 123456789, 1024);
    std::vector<unsigned char> bytes(header, header + sizeof header);
    CHECK(npy_dict(bytes) == "{'descr': '<f4', 'fortran_order': False, 'shape': (123456789, 1024), }");
    llmbed_npy_header(header, "<f4", 7, -1);
    bytes.assign(header, header + sizeof header);
    CHECK(npy_dict(bytes) == "{'descr': '<f4', 'fortran_order': False, 'shape': (7,), }");
}

TEST_CASE("output writer: npy float32/float16/int8/ubinary round trip", "[io]") {
    std::string dir = scratch("io", "npy");
    const int n = 13, dims = 7;
    std::vector<float> rows = rows_of(n, dims, 3);
    for (llmbed_output_dtype dtype : {LLMBED_DTYPE_FLOAT32, LLMBED_DTYPE_FLOAT16, LLMBED_DTYPE_INT8,
                                      LLMBED_DTYPE_UBINARY}) {
        std::string path = dir + "/out-" + llmbed_output_dtype_name(dtype) + ".npy";
        llmbed_output_writer *w = nullptr;
        llmbed_error err{};
        REQUIRE(llmbed_output_writer_open(path.c_str(), LLMBED_FORMAT_NPY, dtype, dims, nullptr, &w, &err) == LLMBED_OK);
        CHECK_FALSE(exists(path));  // nothing visible before the commit
        REQUIRE(llmbed_output_writer_write(w, rows.data(), 5, nullptr, &err) == LLMBED_OK);
        REQUIRE(llmbed_output_writer_write(w, rows.data() + 5 * dims, n - 5, nullptr, &err) == LLMBED_OK);
        llmbed_output_summary summary{};
        REQUIRE(llmbed_output_writer_commit(w, &summary, &err) == LLMBED_OK);
        CHECK(summary.rows == n);
        std::vector<unsigned char> bytes = slurp_bytes(path);
        size_t width = llmbed_row_width(dtype, dims);
        CHECK(npy_dict(bytes) == std::string("{'descr': '") + llmbed_npy_descr(dtype) +
                                     "', 'fortran_order': False, 'shape': (" + std::to_string(n) + ", " +
                                     std::to_string(width) + "), }");
        REQUIRE(bytes.size() == LLMBED_NPY_HEADER_BYTES + n * width * llmbed_dtype_size(dtype));
        CHECK(summary.bytes == (int64_t)bytes.size());
        const unsigned char *data = bytes.data() + LLMBED_NPY_HEADER_BYTES;
        std::string scales_path = dir + "/out-int8.scales.npy";
        std::vector<unsigned char> scales = slurp_bytes(scales_path);
        for (int r = 0; r < n; r++) {
            for (int d = 0; d < dims; d++) {
                float want = rows[r * dims + d];
                if (dtype == LLMBED_DTYPE_FLOAT32) {
                    float got;
                    std::memcpy(&got, data + (r * dims + d) * 4, 4);
                    REQUIRE(got == want);
                } else if (dtype == LLMBED_DTYPE_FLOAT16) {
                    uint16_t h;
                    std::memcpy(&h, data + (r * dims + d) * 2, 2);
                    REQUIRE(std::fabs(llmbed_fp16_to_f32(h) - want) <= 2e-3f);
                } else if (dtype == LLMBED_DTYPE_INT8) {
                    REQUIRE(summary.has_sidecar == 1);
                    REQUIRE(scales.size() == LLMBED_NPY_HEADER_BYTES + n * 4);
                    float s;
                    std::memcpy(&s, scales.data() + LLMBED_NPY_HEADER_BYTES + r * 4, 4);
                    REQUIRE(std::fabs((int8_t)data[r * dims + d] * s - want) <= 0.5f * s + 1e-6f);
                } else {
                    int bit = (data[r * width + d / 8] >> (7 - d % 8)) & 1;
                    REQUIRE(bit == (want > 0));
                }
            }
        }
        if (dtype == LLMBED_DTYPE_INT8) {
            CHECK(npy_dict(scales) == "{'descr': '<f4', 'fortran_order': False, 'shape': (13,), }");
        }
    }
}

TEST_CASE("output writer: safetensors header describes embeddings and int8 scales", "[io]") {
    std::string dir = scratch("io", "st");
    const int n = 5, dims = 6;
    std::vector<float> rows = rows_of(n, dims, 11);
    std::string path = dir + "/e.safetensors";
    llmbed_output_writer *w = nullptr;
    llmbed_error err{};
    REQUIRE(llmbed_output_writer_open(path.c_str(), LLMBED_FORMAT_SAFETENSORS, LLMBED_DTYPE_INT8, dims, nullptr, &w, &err) ==
            LLMBED_OK);
    REQUIRE(llmbed_output_writer_write(w, rows.data(), n, nullptr, &err) == LLMBED_OK);
    REQUIRE(llmbed_output_writer_commit(w, nullptr, &err) == LLMBED_OK);
    std::vector<unsigned char> bytes = slurp_bytes(path);
    uint64_t header_len = 0;
    for (int i = 0; i < 8; i++) header_len |= (uint64_t)bytes[i] << (8 * i);
    REQUIRE(header_len == LLMBED_SAFETENSORS_HEADER_BYTES - 8);
    std::string json(bytes.begin() + 8, bytes.begin() + 8 + header_len);
    CHECK(json.find("\"embeddings\":{\"dtype\":\"I8\",\"shape\":[5,6],\"data_offsets\":[0,30]}") != std::string::npos);
    CHECK(json.find("\"scales\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[30,50]}") != std::string::npos);
    CHECK(bytes.size() == LLMBED_SAFETENSORS_HEADER_BYTES + 30 + 20);
}

TEST_CASE("output writer: jsonl rows carry the id or the row index", "[io]") {
    std::string dir = scratch("io", "jsonl");
    std::string path = dir + "/e.jsonl";
    const float rows[4] = {0.5f, -0.25f, 1.0f, 2.0f};
    const char *ids[2] = {"\"doc-1\"", nullptr};
    llmbed_output_writer *w = nullptr;
    llmbed_error err{};
    REQUIRE(llmbed_output_writer_open(path.c_str(), LLMBED_FORMAT_JSONL, LLMBED_DTYPE_FLOAT32, 2, nullptr, &w, &err) == LLMBED_OK);
    REQUIRE(llmbed_output_writer_write(w, rows, 2, ids, &err) == LLMBED_OK);
    REQUIRE(llmbed_output_writer_commit(w, nullptr, &err) == LLMBED_OK);
    std::vector<unsigned char> bytes = slurp_bytes(path);
    CHECK(std::string(bytes.begin(), bytes.end()) ==
          "{\"id\":\"doc-1\",\"embedding\":[0.5,-0.25]}\n{\"id\":1,\"embedding\":[1,2]}\n");
    llmbed_output_format f;
    CHECK(llmbed_output_format_from_path("a/b.c/x.safetensors", &f) == 0);
    CHECK(f == LLMBED_FORMAT_SAFETENSORS);
    CHECK(llmbed_output_format_from_path("a.d/x", &f) == -1);
    CHECK(llmbed_output_format_from_path("x.txt", &f) == -1);
}

TEST_CASE("atomic output: abort and unwritable folders leave nothing behind", "[io]") {
    std::string dir = scratch("io", "atomic");
    std::string path = dir + "/x.npy";
    llmbed_output_writer *w = nullptr;
    llmbed_error err{};
    REQUIRE(llmbed_output_writer_open(path.c_str(), LLMBED_FORMAT_NPY, LLMBED_DTYPE_INT8, 3, nullptr, &w, &err) == LLMBED_OK);
    const float row[3] = {1, 2, 3};
    REQUIRE(llmbed_output_writer_write(w, row, 1, nullptr, &err) == LLMBED_OK);
    llmbed_output_writer_abort(w);
    CHECK_FALSE(exists(path));
    CHECK_FALSE(exists(path + ".part"));
    CHECK_FALSE(exists(dir + "/x.scales.npy.part"));

    // A folder that is a regular file (works as root, unlike chmod).
    std::string bad = "/dev/null/x.npy";
    CHECK(llmbed_output_writer_open(bad.c_str(), LLMBED_FORMAT_NPY, LLMBED_DTYPE_FLOAT32, 3, nullptr, &w, &err) ==
          LLMBED_ERR_OUTPUT_WRITE);
    CHECK(std::string(err.message).find("/dev/null/x.npy") != std::string::npos);
    CHECK(llmbed_output_writer_open((dir + "/missing/x.npy").c_str(), LLMBED_FORMAT_NPY, LLMBED_DTYPE_FLOAT32, 3, nullptr, &w,
                                    &err) == LLMBED_ERR_OUTPUT_WRITE);
}

TEST_CASE("atomic output: a full disk fails the write and removes the temp file", "[io]") {
    // RLIMIT_FSIZE in a child process stands in for a full disk: writes past
    // the limit fail with EFBIG (SIGXFSZ ignored), as ENOSPC would.
    std::string dir = scratch("io", "full");
    std::string path = dir + "/big.npy";
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit limit = {64 * 1024, 64 * 1024};
        setrlimit(RLIMIT_FSIZE, &limit);
        llmbed_output_writer *w = nullptr;
        llmbed_error err{};
        if (llmbed_output_writer_open(path.c_str(), LLMBED_FORMAT_NPY, LLMBED_DTYPE_FLOAT32, 256, nullptr, &w, &err) != LLMBED_OK) _exit(2);
        std::vector<float> rows(256 * 100, 0.5f);
        llmbed_status st = llmbed_output_writer_write(w, rows.data(), 100, nullptr, &err);
        if (st == LLMBED_OK) st = llmbed_output_writer_commit(w, nullptr, &err);
        else llmbed_output_writer_abort(w);
        bool named = std::string(err.message).find("big.npy") != std::string::npos;
        _exit(st == LLMBED_ERR_OUTPUT_WRITE && named ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK_FALSE(exists(path));
    CHECK_FALSE(exists(path + ".part"));
}
