/* Cache of word -> ids for the model step, shared by every thread using a
 * tokenizer. Sharded by hash, one mutex per shard, so concurrent encoders
 * rarely contend; a full shard is simply emptied (words repeat with a
 * Zipf distribution, so the hot ones come straight back). */
#ifndef LLMBED_TOKENIZER_WORD_CACHE_H
#define LLMBED_TOKENIZER_WORD_CACHE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer/tok_buffer.h"

enum { TOK_CACHE_SHARDS = 64, TOK_CACHE_MAX_WORD = 64, TOK_CACHE_SHARD_SLOTS = 2048 };

typedef struct tok_cache_entry {
    uint64_t hash;
    uint32_t key_offset; /* into the shard arena */
    uint16_t key_len;
    uint16_t n_ids; /* ids follow the key in the arena (aligned) */
} tok_cache_entry;

typedef struct tok_cache_shard {
    pthread_mutex_t lock;
    tok_cache_entry slots[TOK_CACHE_SHARD_SLOTS];
    size_t used;
    char *arena;
    size_t arena_len;
} tok_cache_shard;

typedef struct tok_word_cache {
    tok_cache_shard *shards; /* [TOK_CACHE_SHARDS] */
} tok_word_cache;

bool tok_cache_init(tok_word_cache *c);
void tok_cache_free(tok_word_cache *c);

/* Appends the cached ids of `word` to out; false on a miss (or a word too long to cache). */
bool tok_cache_get(tok_word_cache *c, uint64_t hash, const char *word, size_t len, tok_ids *out,
                   bool *oom);
void tok_cache_put(tok_word_cache *c, uint64_t hash, const char *word, size_t len,
                   const int32_t *ids, size_t n_ids);

#endif
