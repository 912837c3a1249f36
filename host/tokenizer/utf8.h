/* UTF-8 decoding and repair. Invalid input is repaired the way Python's
 * bytes.decode("utf-8", "replace") does before text reaches HF tokenizers:
 * every maximal invalid subpart (Unicode 15 §3.9, "best practice for U+FFFD
 * substitution") becomes one U+FFFD. */
#ifndef LLMBED_TOKENIZER_UTF8_H
#define LLMBED_TOKENIZER_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer/tok_buffer.h"

/* Length of the valid sequence starting at s[0] (1..4), or 0 when s[0..n)
 * does not start with a valid sequence; *invalid_len then receives the
 * length of the maximal subpart to replace. */
size_t tok_utf8_valid_len(const uint8_t *s, size_t n, size_t *invalid_len);

/* Decodes one valid sequence (caller checked validity); returns the code point. */
uint32_t tok_utf8_decode(const uint8_t *s, size_t *len);

/* Writes cp as UTF-8 into out (4 bytes room); returns the byte count. */
size_t tok_utf8_encode(uint32_t cp, char *out);

/* Length of the (valid) sequence whose lead byte is c. */
static inline size_t tok_utf8_lead_len(uint8_t c) {
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* Counts maximal invalid subparts in text[0..len). */
size_t tok_utf8_count_invalid(const char *text, size_t len);

/* Copies text into out with each invalid subpart replaced by U+FFFD. */
bool tok_utf8_repair(const char *text, size_t len, tok_bytes *out);

#endif
