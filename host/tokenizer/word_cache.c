#include "tokenizer/word_cache.h"

#include <stdlib.h>
#include <string.h>

enum { ARENA_BYTES = 256 * 1024, MAX_IDS = TOK_CACHE_MAX_WORD };

bool tok_cache_init(tok_word_cache *c) {
    c->shards = calloc(TOK_CACHE_SHARDS, sizeof *c->shards);
    if (c->shards == NULL) return false;
    for (int i = 0; i < TOK_CACHE_SHARDS; i++) {
        c->shards[i].arena = malloc(ARENA_BYTES);
        if (c->shards[i].arena == NULL || pthread_mutex_init(&c->shards[i].lock, NULL) != 0) {
            for (int j = 0; j <= i; j++) free(c->shards[j].arena);
            free(c->shards);
            c->shards = NULL;
            return false;
        }
    }
    return true;
}

void tok_cache_free(tok_word_cache *c) {
    if (c->shards == NULL) return;
    for (int i = 0; i < TOK_CACHE_SHARDS; i++) {
        pthread_mutex_destroy(&c->shards[i].lock);
        free(c->shards[i].arena);
    }
    free(c->shards);
    c->shards = NULL;
}

static tok_cache_shard *shard_of(tok_word_cache *c, uint64_t hash) {
    return &c->shards[hash >> 58]; /* top 6 bits: 64 shards */
}

bool tok_cache_get(tok_word_cache *c, uint64_t hash, const char *word, size_t len, tok_ids *out,
                   bool *oom) {
    *oom = false;
    if (len > TOK_CACHE_MAX_WORD) return false;
    tok_cache_shard *s = shard_of(c, hash);
    pthread_mutex_lock(&s->lock);
    size_t slot = hash & (TOK_CACHE_SHARD_SLOTS - 1);
    for (;;) {
        const tok_cache_entry *e = &s->slots[slot];
        if (e->key_len == 0) break;
        if (e->hash == hash && e->key_len == len && memcmp(s->arena + e->key_offset, word, len) == 0) {
            int32_t ids[MAX_IDS];
            memcpy(ids, s->arena + e->key_offset + ((len + 3) & ~(size_t)3), e->n_ids * sizeof *ids);
            pthread_mutex_unlock(&s->lock);
            if (!tok_ids_append(out, ids, e->n_ids)) *oom = true;
            return !*oom;
        }
        slot = (slot + 1) & (TOK_CACHE_SHARD_SLOTS - 1);
    }
    pthread_mutex_unlock(&s->lock);
    return false;
}

void tok_cache_put(tok_word_cache *c, uint64_t hash, const char *word, size_t len,
                   const int32_t *ids, size_t n_ids) {
    if (len == 0 || len > TOK_CACHE_MAX_WORD || n_ids > MAX_IDS) return;
    tok_cache_shard *s = shard_of(c, hash);
    size_t key_room = (len + 3) & ~(size_t)3;
    size_t need = key_room + n_ids * sizeof *ids;
    pthread_mutex_lock(&s->lock);
    if (2 * (s->used + 1) > TOK_CACHE_SHARD_SLOTS || s->arena_len + need > ARENA_BYTES) {
        memset(s->slots, 0, sizeof s->slots);
        s->used = 0;
        s->arena_len = 0;
    }
    size_t slot = hash & (TOK_CACHE_SHARD_SLOTS - 1);
    while (s->slots[slot].key_len != 0) {
        const tok_cache_entry *e = &s->slots[slot];
        if (e->hash == hash && e->key_len == len && memcmp(s->arena + e->key_offset, word, len) == 0) {
            pthread_mutex_unlock(&s->lock); /* another thread stored it first */
            return;
        }
        slot = (slot + 1) & (TOK_CACHE_SHARD_SLOTS - 1);
    }
    memcpy(s->arena + s->arena_len, word, len);
    memcpy(s->arena + s->arena_len + key_room, ids, n_ids * sizeof *ids);
    s->slots[slot] = (tok_cache_entry){hash, (uint32_t)s->arena_len, (uint16_t)len, (uint16_t)n_ids};
    s->arena_len += need;
    s->used++;
    pthread_mutex_unlock(&s->lock);
}
