/* Ids -> text, for debugging: HF's decoders for the two model families.
 * Byte-level vocabularies already hold raw bytes; SentencePiece-style ones
 * need ▁ -> ' ', <0xXX> -> byte and the dummy-prefix space dropped
 * (decoders Replace + ByteFallback + Fuse + Strip(start=1)). Invalid UTF-8
 * in the result (partial byte sequences) becomes U+FFFD, as HF's lossy
 * conversion does. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static bool append_token(const llmbed_tokenizer *t, int32_t id, tok_bytes *out) {
    size_t len;
    const char *text = tok_vocab_text(&t->vocab, id, &len);
    if (t->decode_byte_tokens && len == 6 && memcmp(text, "<0x", 3) == 0 && text[5] == '>' &&
        hex_value(text[3]) >= 0 && hex_value(text[4]) >= 0)
        return tok_bytes_push(out, (char)(hex_value(text[3]) * 16 + hex_value(text[4])));
    if (!t->decode_metaspace) return tok_bytes_append(out, text, len);
    for (size_t i = 0; i < len; i++) {
        if (i + 2 < len && memcmp(text + i, "\xE2\x96\x81", 3) == 0) {
            if (!tok_bytes_push(out, ' ')) return false;
            i += 2;
        } else if (!tok_bytes_push(out, text[i])) {
            return false;
        }
    }
    return true;
}

llmbed_status llmbed_tokenizer_decode(const llmbed_tokenizer *t, const int32_t *ids, size_t n_ids,
                                      char **out, size_t *out_len, llmbed_error *error) {
    *out = NULL;
    *out_len = 0;
    tok_bytes raw = {0}, text = {0};
    llmbed_status st = LLMBED_OK;
    for (size_t i = 0; i < n_ids && st == LLMBED_OK; i++) {
        if (!tok_vocab_has(&t->vocab, ids[i]))
            st = llmbed_fail(error, LLMBED_ERR_TOKEN_OUT_OF_RANGE,
                             "decode: id %d at position %zu is outside the vocabulary (%d tokens)",
                             (int)ids[i], i, (int)t->vocab.n_tokens);
        else if (!append_token(t, ids[i], &raw))
            st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "decode: %zu ids", n_ids);
    }
    if (st == LLMBED_OK) {
        size_t skip = t->decode_strip_prefix && raw.len > 0 && raw.data[0] == ' ' ? 1 : 0;
        if (!tok_utf8_repair(raw.len ? raw.data + skip : "", raw.len - skip, &text))
            st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "decode: %zu ids", n_ids);
    }
    tok_bytes_free(&raw);
    if (st != LLMBED_OK) {
        tok_bytes_free(&text);
        return st;
    }
    *out = text.data;
    *out_len = text.len;
    if (*out == NULL) {
        *out = calloc(1, 1);
        if (*out == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "decode");
    }
    return LLMBED_OK;
}
