/* The BPE merge loop over one pre-tokenised word: repeatedly merge the
 * adjacent pair with the lowest rank, the leftmost one on ties (HF
 * tokenizers' Word::merge_all and llama.cpp's bigram queue agree on this). */
#ifndef LLMBED_TOKENIZER_BPE_H
#define LLMBED_TOKENIZER_BPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer/merges.h"

/* Merges ids[0..*n) in place; *n receives the new count. Words up to 48
 * symbols use a direct scan; longer ones a binary heap over a linked list
 * of symbols, O(n log n). Returns false on allocation failure. */
bool tok_bpe_merge(const tok_merges *merges, int32_t *ids, size_t *n);

#endif
