/* Normalisation with alignment: the same output as tok_normalize, plus for
 * every output byte the range of input bytes it comes from, so token
 * offsets after NFC/NFKC, lowercasing, Replace, Prepend or Strip still point
 * into the caller's text (HF NormalizedString keeps the same alignments).
 *
 * The output always comes from tok_normalize itself; the alignment is
 * rebuilt per step and checked against it: each step is re-applied piece by
 * piece (per character, or per starter + its combining marks for the
 * Unicode forms, pieces joined while they compose across the boundary) and
 * the pieces must concatenate to the real output. Where they do not, that
 * step's bytes all map to its whole input: coarse, never wrong. */
#ifndef LLMBED_TOKENIZER_NORMALIZE_ALIGN_H
#define LLMBED_TOKENIZER_NORMALIZE_ALIGN_H

#include <stddef.h>

#include "llmbed.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/tok_buffer.h"
#include "tokenizer/tok_spans.h"

/* out = normalised text[0..len); map[k] = input range of out byte k (map is reset). */
llmbed_status tok_normalize_aligned(const tok_normalizer *n, const char *text, size_t len, tok_bytes *out,
                                    tok_spans *map, llmbed_error *error);

#endif
