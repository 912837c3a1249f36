/* BPE merge table: (left id, right id) -> (rank, merged id). Lower rank
 * merges first. HF/GGUF merge lists give the rank as the list index;
 * SentencePiece vocabularies give scores, turned into ranks by
 * tok_merges_from_scores (highest score first, equal scores equal rank, as
 * llama.cpp's llm_tokenizer_spm orders its bigram queue). */
#ifndef LLMBED_TOKENIZER_MERGES_H
#define LLMBED_TOKENIZER_MERGES_H

#include <stdbool.h>
#include <stdint.h>

#include "tokenizer/vocab.h"

typedef struct tok_merge_entry {
    uint64_t key; /* left << 32 | right; UINT64_MAX empty */
    int32_t rank;
    int32_t merged;
} tok_merge_entry;

typedef struct tok_merges {
    tok_merge_entry *slots;
    size_t mask;
    size_t count;
} tok_merges;

bool tok_merges_init(tok_merges *m, size_t expected);
/* Adds a pair; returns false on allocation failure. *duplicate is set when the
 * pair was already present (the first rank is kept, as HF does). */
bool tok_merges_add(tok_merges *m, int32_t left, int32_t right, int32_t rank, int32_t merged,
                    bool *duplicate);
const tok_merge_entry *tok_merges_find(const tok_merges *m, int32_t left, int32_t right);
void tok_merges_free(tok_merges *m);

/* SentencePiece BPE: every token of type NORMAL/USER_DEFINED whose text splits
 * into two tokens at a character boundary becomes the merge of that pair. */
bool tok_merges_from_scores(tok_merges *m, const tok_vocab *vocab);

/* Gemma GGUF files: the same pairs, but ranked by the merged token's
 * position in the file (earlier first), then the longer left piece first,
 * every pair its own rank: transformers' GGUF conversion of Gemma
 * (integrations/gguf gemma_tokenizer, generate_merges with scores -index),
 * because Gemma's scores do not follow its merge order. Every token type
 * takes part, as there. */
bool tok_merges_from_order(tok_merges *m, const tok_vocab *vocab);

#endif
