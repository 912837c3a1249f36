#include "tokenizer/byte_level.h"

#include "tokenizer/utf8.h"

static bool printable_latin1(unsigned b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

/* The 68 non-printable bytes are 0x00-0x20 (33), 0x7F-0xA0 (34) and 0xAD. */
uint32_t tok_byte_to_unicode(uint8_t byte) {
    if (printable_latin1(byte)) return byte;
    if (byte <= 0x20) return 256u + byte;
    if (byte <= 0xA0) return 256u + 33u + (byte - 0x7Fu);
    return 256u + 67u; /* 0xAD */
}

static int unicode_to_byte(uint32_t cp) {
    if (cp < 256) return printable_latin1(cp) ? (int)cp : -1;
    uint32_t n = cp - 256;
    if (n < 33) return (int)n;
    if (n < 67) return (int)(0x7F + n - 33);
    if (n == 67) return 0xAD;
    return -1;
}

bool tok_byte_level_decode(const char *text, size_t len, tok_bytes *out) {
    const uint8_t *s = (const uint8_t *)text;
    out->len = 0;
    for (size_t i = 0; i < len;) {
        size_t bad;
        if (tok_utf8_valid_len(s + i, len - i, &bad) == 0) return false;
        size_t n;
        int b = unicode_to_byte(tok_utf8_decode(s + i, &n));
        if (b < 0 || !tok_bytes_push(out, (char)b)) return false;
        i += n;
    }
    return true;
}
