#include "tokenizer/utf8.h"

size_t tok_utf8_valid_len(const uint8_t *s, size_t n, size_t *invalid_len) {
    uint8_t c = s[0];
    *invalid_len = 1;
    if (c < 0x80) return 1;
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F; /* excludes UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F; /* excludes code points above U+10FFFF */
    } else {
        return 0;
    }
    for (size_t k = 1; k < need; k++) {
        uint8_t lo_k = k == 1 ? lo : 0x80, hi_k = k == 1 ? hi : 0xBF;
        if (k >= n || s[k] < lo_k || s[k] > hi_k) {
            *invalid_len = k;
            return 0;
        }
    }
    return need;
}

uint32_t tok_utf8_decode(const uint8_t *s, size_t *len) {
    uint8_t c = s[0];
    if (c < 0x80) {
        *len = 1;
        return c;
    }
    if (c < 0xE0) {
        *len = 2;
        return ((uint32_t)(c & 0x1F) << 6) | (s[1] & 0x3F);
    }
    if (c < 0xF0) {
        *len = 3;
        return ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    }
    *len = 4;
    return ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
           ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
}

size_t tok_utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t tok_utf8_count_invalid(const char *text, size_t len) {
    const uint8_t *s = (const uint8_t *)text;
    size_t count = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t bad;
        size_t ok = tok_utf8_valid_len(s + i, len - i, &bad);
        if (ok) {
            i += ok;
        } else {
            count++;
            i += bad;
        }
    }
    return count;
}

bool tok_utf8_repair(const char *text, size_t len, tok_bytes *out) {
    static const char replacement[3] = {(char)0xEF, (char)0xBF, (char)0xBD};
    const uint8_t *s = (const uint8_t *)text;
    out->len = 0;
    if (!tok_bytes_reserve(out, len + 1)) return false;
    size_t run = 0; /* start of the pending valid run */
    for (size_t i = 0; i < len;) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t bad;
        size_t ok = tok_utf8_valid_len(s + i, len - i, &bad);
        if (ok) {
            i += ok;
            continue;
        }
        if (!tok_bytes_append(out, text + run, i - run)) return false;
        if (!tok_bytes_append(out, replacement, sizeof replacement)) return false;
        i += bad;
        run = i;
    }
    return tok_bytes_append(out, text + run, len - run);
}
