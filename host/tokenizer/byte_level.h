/* GPT-2's byte-to-unicode alphabet (openai/gpt-2 encoder.py bytes_to_unicode,
 * used by HF's ByteLevel pre-tokenizer/decoder and llama.cpp for "gpt2"
 * vocabularies): printable Latin-1 bytes map to themselves, the other 68
 * bytes to U+0100.. in byte order. */
#ifndef LLMBED_TOKENIZER_BYTE_LEVEL_H
#define LLMBED_TOKENIZER_BYTE_LEVEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer/tok_buffer.h"

uint32_t tok_byte_to_unicode(uint8_t byte);

/* Maps a token's text (in the GPT-2 alphabet) back to the bytes it stands
 * for. Returns false (out untouched beyond len) when a character is outside
 * the alphabet; the caller then keeps the text as is. */
bool tok_byte_level_decode(const char *text, size_t len, tok_bytes *out);

#endif
