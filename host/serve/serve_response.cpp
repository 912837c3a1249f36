// Response bodies (serve/serve_response.h). Floats go through {fmt}'s
// Dragonbox shortest round-trip formatter: ~10x faster than "%.9g" and
// shorter text (Snowflake's ArcticInference measured JSON float
// serialisation as a main host cost of embedding serving; SPEC section 10).
#include "serve/serve_response.h"

#include <fmt/compile.h>
#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace {

// Grows on demand; every append checks the space first.
struct body_buffer {
    char *data = nullptr;
    size_t len = 0, capacity = 0;
    bool failed = false;

    bool reserve(size_t extra) {
        if (failed) return false;
        if (len + extra <= capacity) return true;
        size_t want = capacity > 0 ? capacity * 2 : 256;
        while (want < len + extra) want *= 2;
        char *grown = static_cast<char *>(std::realloc(data, want));
        if (grown == nullptr) {
            failed = true;
            return false;
        }
        data = grown;
        capacity = want;
        return true;
    }
    void put(const char *s, size_t n) {
        if (!reserve(n)) return;
        std::memcpy(data + len, s, n);
        len += n;
    }
    void put(const char *s) { put(s, std::strlen(s)); }
    void put_int(int64_t v) {
        if (!reserve(24)) return;
        len = static_cast<size_t>(fmt::format_to(data + len, FMT_COMPILE("{}"), v) - data);
    }
    // A JSON string: quotes, escapes for '"', '\\' and control characters.
    void put_string(const char *s) {
        if (s == nullptr) {
            put("null");
            return;
        }
        static const char hex[] = "0123456789abcdef";
        const size_t n = std::strlen(s);
        if (!reserve(6 * n + 2)) return;
        data[len++] = '"';
        for (size_t i = 0; i < n; i++) {
            const unsigned char c = static_cast<unsigned char>(s[i]);
            if (c == '"' || c == '\\') {
                data[len++] = '\\';
                data[len++] = static_cast<char>(c);
            } else if (c < 0x20) {
                const char escaped[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                std::memcpy(data + len, escaped, 6);
                len += 6;
            } else {
                data[len++] = static_cast<char>(c);
            }
        }
        data[len++] = '"';
    }
    char *finish(size_t *out_len) {
        if (failed || !reserve(1)) {
            std::free(data);
            return nullptr;
        }
        data[len] = '\0';
        *out_len = len;
        return data;
    }
};

}  // namespace

extern "C" size_t serve_format_float(float value, char *out) {
    return static_cast<size_t>(fmt::format_to(out, FMT_COMPILE("{}"), value) - out);
}

extern "C" size_t serve_base64_encode(const unsigned char *in, size_t n, char *out) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        const uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    if (i < n) {
        const uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    return o;
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "base64 rows are little-endian float32: add a byte swap for big-endian hosts");

extern "C" char *serve_response_embeddings(const float *rows, int n_rows, int dims, int base64, const char *model,
                                           int64_t prompt_tokens, size_t *len) {
    body_buffer b;
    // Each float text plus its comma fits SERVE_FLOAT_TEXT_MAX + 1 bytes.
    const size_t row_bytes = base64 ? 4 * ((4 * static_cast<size_t>(dims) + 2) / 3) + 2
                                    : (SERVE_FLOAT_TEXT_MAX + 1) * static_cast<size_t>(dims) + 2;
    b.reserve(static_cast<size_t>(n_rows) * (row_bytes + 64) + 256);
    b.put("{\"object\":\"list\",\"data\":[");
    for (int r = 0; r < n_rows; r++) {
        const float *row = rows + static_cast<size_t>(r) * dims;
        b.put(r > 0 ? ",{\"object\":\"embedding\",\"index\":" : "{\"object\":\"embedding\",\"index\":");
        b.put_int(r);
        b.put(",\"embedding\":");
        if (!b.reserve(row_bytes + 2)) break;
        if (base64) {
            b.data[b.len++] = '"';
            b.len += serve_base64_encode(reinterpret_cast<const unsigned char *>(row), 4 * static_cast<size_t>(dims),
                                         b.data + b.len);
            b.data[b.len++] = '"';
        } else {
            b.data[b.len++] = '[';
            for (int c = 0; c < dims; c++) {
                if (c > 0) b.data[b.len++] = ',';
                b.len += serve_format_float(row[c], b.data + b.len);
            }
            b.data[b.len++] = ']';
        }
        b.put("}");
    }
    b.put("],\"model\":");
    b.put_string(model);
    b.put(",\"usage\":{\"prompt_tokens\":");
    b.put_int(prompt_tokens);
    b.put(",\"total_tokens\":");
    b.put_int(prompt_tokens);
    b.put("}}");
    return b.finish(len);
}

extern "C" char *serve_response_error(const char *message, const char *type, const char *param, const char *code,
                                      size_t *len) {
    body_buffer b;
    b.put("{\"error\":{\"message\":");
    b.put_string(message);
    b.put(",\"type\":");
    b.put_string(type);
    b.put(",\"param\":");
    b.put_string(param);
    b.put(",\"code\":");
    b.put_string(code);
    b.put("}}");
    return b.finish(len);
}

extern "C" char *serve_response_models(const char *model, int64_t created, size_t *len) {
    body_buffer b;
    b.put("{\"object\":\"list\",\"data\":[{\"id\":");
    b.put_string(model);
    b.put(",\"object\":\"model\",\"created\":");
    b.put_int(created);
    b.put(",\"owned_by\":\"llmbed\"}]}");
    return b.finish(len);
}
