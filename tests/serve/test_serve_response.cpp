// The server's number encoders (host/serve/serve_response.h): the float
// formatter writes the shortest text that parses back to the same float32
// (checked against strtof and against the shortest "%.*g" that round-trips),
// never longer than the SERVE_FLOAT_TEXT_MAX bytes the response buffer
// reserves per value (that bound was 15 until this test found 17); the
// base64 encoder matches RFC 4648's test vectors, writes exactly
// 4 * ceil(n / 3) bytes and round-trips through an independent decoder.
// Non-finite values never reach the formatter: the stream refuses a row
// holding NaN or infinity (LLMBED_ERR_NON_FINITE, an HTTP 500).
#include <catch2/catch.hpp>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "serve/serve_response.h"

namespace {

std::string format(float v) {
    char buffer[64];
    std::memset(buffer, 0x7f, sizeof buffer);
    const size_t n = serve_format_float(v, buffer);
    REQUIRE(n < 32);
    for (size_t i = n; i < sizeof buffer; i++) REQUIRE(buffer[i] == 0x7f);  // nothing written past the length
    return std::string(buffer, n);
}

uint32_t bits_of(float v) {
    uint32_t b;
    std::memcpy(&b, &v, sizeof b);
    return b;
}

float float_of(uint32_t b) {
    float v;
    std::memcpy(&v, &b, sizeof v);
    return v;
}

// Significant decimal digits of a number's text ("-1.25e-07" -> 3).
int significant_digits(const std::string &text) {
    std::string digits;
    for (char c : text) {
        if (c == 'e' || c == 'E') break;
        if (c >= '0' && c <= '9') digits += c;
    }
    const size_t first = digits.find_first_not_of('0');
    if (first == std::string::npos) return 1;
    const size_t last = digits.find_last_not_of('0');
    return (int)(last - first + 1);
}

// The fewest digits p for which "%.{p}g" parses back to v.
int shortest_round_trip_digits(float v) {
    for (int p = 1; p <= 9; p++) {
        char text[64];
        std::snprintf(text, sizeof text, "%.*g", p, (double)v);
        if (bits_of(std::strtof(text, nullptr)) == bits_of(v)) return p;
    }
    return 9;
}

// A JSON number (RFC 8259 section 6): -? int frac? exp?
bool is_json_number(const std::string &s) {
    size_t i = 0;
    if (i < s.size() && s[i] == '-') i++;
    if (i >= s.size()) return false;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < s.size() && std::isdigit((unsigned char)s[i])) i++;
    } else {
        return false;
    }
    if (i < s.size() && s[i] == '.') {
        i++;
        if (i >= s.size() || !std::isdigit((unsigned char)s[i])) return false;
        while (i < s.size() && std::isdigit((unsigned char)s[i])) i++;
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= s.size() || !std::isdigit((unsigned char)s[i])) return false;
        while (i < s.size() && std::isdigit((unsigned char)s[i])) i++;
    }
    return i == s.size();
}

std::vector<unsigned char> base64_decode(const std::string &text) {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    std::vector<unsigned char> out;
    REQUIRE(text.size() % 4 == 0);
    for (size_t i = 0; i < text.size(); i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            const char c = text[i + k];
            if (c == '=') {
                pad++;
                v <<= 6;
                continue;
            }
            REQUIRE(pad == 0);
            const int d = value(c);
            REQUIRE(d >= 0);
            v = v << 6 | (uint32_t)d;
        }
        out.push_back((unsigned char)(v >> 16));
        if (pad < 2) out.push_back((unsigned char)(v >> 8));
        if (pad < 1) out.push_back((unsigned char)v);
    }
    return out;
}

std::string encode(const std::vector<unsigned char> &in) {
    std::vector<char> out(4 * ((in.size() + 2) / 3) + 8, '#');
    const size_t n = serve_base64_encode(in.data(), in.size(), out.data());
    REQUIRE(n == 4 * ((in.size() + 2) / 3));
    for (size_t i = n; i < out.size(); i++) REQUIRE(out[i] == '#');  // guard bytes untouched
    return std::string(out.data(), n);
}

}  // namespace

TEST_CASE("serve float text: known values in their shortest form", "[serve]") {
    CHECK(format(0.0f) == "0");
    CHECK(format(-0.0f) == "-0");
    CHECK(format(1.0f) == "1");
    CHECK(format(0.1f) == "0.1");
    CHECK(format(-0.3f) == "-0.3");
    CHECK(format(1.0f / 3.0f) == "0.33333334");
    CHECK(format(FLT_MAX) == "3.4028235e+38");
    CHECK(format(-FLT_MIN) == "-1.1754944e-38");
    CHECK(format(std::nextafter(0.0f, 1.0f)) == "1e-45");  // smallest subnormal
    CHECK(format(16777216.0f) == "16777216");
    // The longest form: fixed notation with 16 digits and a sign.
    CHECK(format(-1000000200000000.0f) == "-1000000200000000");
    CHECK(format(-1000000200000000.0f).size() == SERVE_FLOAT_TEXT_MAX);
    CHECK(format(1e16f) == "1e+16");
}

TEST_CASE("serve float text: every value round-trips, is shortest, is JSON and fits SERVE_FLOAT_TEXT_MAX", "[serve]") {
    std::mt19937 rng(20261207);
    std::vector<float> values = {0.0f, -0.0f, FLT_MAX, -FLT_MAX, FLT_MIN, -FLT_MIN, FLT_EPSILON,
                                 std::nextafter(0.0f, 1.0f), std::nextafter(FLT_MIN, 0.0f), 1e-7f, 123456.79f};
    std::normal_distribution<float> embedding(0.0f, 0.05f);  // the values rows hold
    for (int i = 0; i < 20000; i++) values.push_back(embedding(rng));
    for (int i = 0; i < 20000; i++) {
        const float v = float_of((uint32_t)rng());  // any bit pattern: every exponent, subnormals
        if (std::isfinite(v)) values.push_back(v);
    }
    size_t longest = 0;
    for (float v : values) {
        const std::string text = format(v);
        INFO("value bits 0x" << std::hex << bits_of(v) << " text " << text);
        REQUIRE(bits_of(std::strtof(text.c_str(), nullptr)) == bits_of(v));
        REQUIRE(significant_digits(text) <= shortest_round_trip_digits(v));
        REQUIRE(is_json_number(text));
        longest = std::max(longest, text.size());
    }
    CHECK(longest <= SERVE_FLOAT_TEXT_MAX);  // serve_response_embeddings reserves that + 1 (comma) a value
    // The checks can fail: a 9-digit text is not the shortest for 0.1f, and "nan" is no JSON number.
    CHECK_FALSE(significant_digits("0.100000001") <= shortest_round_trip_digits(0.1f));
    CHECK_FALSE(is_json_number("nan"));
    CHECK_FALSE(is_json_number("1."));
}

TEST_CASE("serve base64: RFC 4648 vectors", "[serve]") {
    auto of = [](const char *s) { return std::vector<unsigned char>(s, s + std::strlen(s)); };
    CHECK(encode(of("")) == "");
    CHECK(encode(of("f")) == "Zg==");
    CHECK(encode(of("fo")) == "Zm8=");
    CHECK(encode(of("foo")) == "Zm9v");
    CHECK(encode(of("foob")) == "Zm9vYg==");
    CHECK(encode(of("fooba")) == "Zm9vYmE=");
    CHECK(encode(of("foobar")) == "Zm9vYmFy");
    CHECK(encode({0xff, 0xfe, 0xfd}) == "//79");
}

TEST_CASE("serve base64: lengths 0..130 round-trip through a separate decoder", "[serve]") {
    std::mt19937 rng(7);
    for (size_t n = 0; n <= 130; n++) {
        std::vector<unsigned char> in(n);
        for (auto &b : in) b = (unsigned char)rng();
        const std::string text = encode(in);
        INFO("n " << n);
        CHECK(base64_decode(text) == in);
    }
}

TEST_CASE("serve response: a base64 row is its little-endian float32 bytes, float text parses back", "[serve]") {
    const float rows[2 * 3] = {0.1f, -1000000200000000.0f, 3.4028235e38f, -0.0f, 1e-45f, -1000000200000000.0f};
    for (int base64 = 0; base64 <= 1; base64++) {
        size_t len = 0;
        char *body = serve_response_embeddings(rows, 2, 3, base64, "m", 7, &len);
        REQUIRE(body != nullptr);
        const std::string s(body, len);
        std::free(body);
        CHECK(s.find("\"usage\":{\"prompt_tokens\":7,\"total_tokens\":7}") != std::string::npos);
        for (int r = 0; r < 2; r++) {
            const std::string key = "\"index\":" + std::to_string(r) + ",\"embedding\":";
            const size_t at = s.find(key);
            REQUIRE(at != std::string::npos);
            const size_t begin = at + key.size();
            if (base64) {
                REQUIRE(s[begin] == '"');
                const size_t end = s.find('"', begin + 1);
                const std::vector<unsigned char> bytes = base64_decode(s.substr(begin + 1, end - begin - 1));
                REQUIRE(bytes.size() == 12);
                CHECK(std::memcmp(bytes.data(), rows + 3 * r, 12) == 0);
            } else {
                REQUIRE(s[begin] == '[');
                const char *p = s.c_str() + begin + 1;
                for (int c = 0; c < 3; c++) {
                    char *end = nullptr;
                    const float v = std::strtof(p, &end);
                    CHECK(bits_of(v) == bits_of(rows[3 * r + c]));
                    p = end + 1;  // past ',' or ']'
                }
            }
        }
    }
}

TEST_CASE("serve response: a row of the longest float texts fits its buffer (ASan build)", "[serve]") {
    const int dims = 512;
    std::vector<float> row((size_t)dims, -1000000200000000.0f);
    size_t len = 0;
    char *body = serve_response_embeddings(row.data(), 1, dims, 0, "m", 1, &len);
    REQUIRE(body != nullptr);
    const std::string s(body, len);
    std::free(body);
    std::string want = "[";
    for (int c = 0; c < dims; c++) want += (c ? ",-1000000200000000" : "-1000000200000000");
    want += "]";
    CHECK(s.find(want) != std::string::npos);
}
