/* tokenizer.json (+ tokenizer_config.json) -> tokenizer. The model section
 * (BPE only), added tokens and post-processor are read here; the text
 * pipeline sections in load_json_pipeline.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "common/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/load_json_pipeline.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"

typedef struct json_loader {
    llmbed_tokenizer *t;
    const char *name;
    tok_bytes stored; /* scratch: a token's stored form */
    llmbed_error *error;
} json_loader;

/* Byte-level vocabularies are stored as the raw bytes their text stands for. */
static bool stored_form(json_loader *l, const char *text, size_t len) {
    l->stored.len = 0;
    if (l->t->byte_level && tok_byte_level_decode(text, len, &l->stored)) return true;
    l->stored.len = 0;
    return tok_bytes_append(&l->stored, text, len);
}

static llmbed_status read_id(json_loader *l, const cJSON *value, const char *where, const char *what,
                             int64_t limit, int32_t *out) {
    if (!cJSON_IsNumber(value) || value->valuedouble < 0 || value->valuedouble != floor(value->valuedouble) ||
        value->valuedouble >= (double)limit)
        return llmbed_fail(l->error, LLMBED_ERR_TOKENIZER_MALFORMED,
                           "%s: %s \"%s\": id must be an integer in [0, %lld)", l->name, where, what,
                           (long long)limit);
    *out = (int32_t)value->valuedouble;
    return LLMBED_OK;
}

static llmbed_status load_vocab(json_loader *l, const cJSON *vocab, const cJSON *added) {
    llmbed_tokenizer *t = l->t;
    if (!cJSON_IsObject(vocab))
        return llmbed_fail(l->error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s: model.vocab: missing or not an object",
                           l->name);
    int64_t entries = cJSON_GetArraySize(vocab) + (cJSON_IsArray(added) ? cJSON_GetArraySize(added) : 0);
    /* Ids are dense in every real vocabulary; a bound keeps a hostile id from
     * allocating gigabytes. */
    int64_t limit = 2 * entries + 1024;
    int32_t max_id = -1;
    for (const cJSON *e = vocab->child; e; e = e->next) {
        int32_t id = 0;
        llmbed_status st = read_id(l, e, "model.vocab", e->string ? e->string : "", limit, &id);
        if (st != LLMBED_OK) return st;
        if (id > max_id) max_id = id;
    }
    for (const cJSON *a = cJSON_IsArray(added) ? added->child : NULL; a; a = a->next) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(a, "content");
        int32_t id = 0;
        llmbed_status st = read_id(l, cJSON_GetObjectItemCaseSensitive(a, "id"), "added_tokens",
                                   cJSON_IsString(content) ? content->valuestring : "", limit, &id);
        if (st != LLMBED_OK) return st;
        if (!cJSON_IsString(content) ||
            tok_utf8_count_invalid(content->valuestring, strlen(content->valuestring)) > 0)
            return llmbed_fail(l->error, LLMBED_ERR_TOKENIZER_MALFORMED,
                               "%s: added_tokens id %d: content missing or not UTF-8", l->name, (int)id);
        if (id > max_id) max_id = id;
    }
    if (!tok_vocab_init(&t->vocab, max_id + 1))
        return llmbed_fail(l->error, LLMBED_ERR_OUT_OF_MEMORY, "%s: vocabulary of %d tokens", l->name, max_id + 1);
    for (const cJSON *e = vocab->child; e; e = e->next) {
        int32_t id = (int32_t)e->valuedouble;
        if (tok_vocab_has(&t->vocab, id)) {
            size_t len;
            const char *other = tok_vocab_text(&t->vocab, id, &len);
            return llmbed_fail(l->error, LLMBED_ERR_TOKENIZER_MALFORMED,
                               "%s: model.vocab: id %d given to both \"%.*s\" and \"%s\"", l->name, (int)id,
                               (int)(len > 64 ? 64 : len), other, e->string);
        }
        if (!stored_form(l, e->string, strlen(e->string)) ||
            !tok_vocab_set(&t->vocab, id, l->stored.data, l->stored.len, TOK_TYPE_NORMAL))
            return llmbed_fail(l->error, LLMBED_ERR_OUT_OF_MEMORY, "%s: vocabulary", l->name);
    }
    return LLMBED_OK;
}

static llmbed_status load_added(json_loader *l, const cJSON *added) {
    llmbed_tokenizer *t = l->t;
    if (added != NULL && !cJSON_IsArray(added) && !cJSON_IsNull(added))
        return llmbed_fail(l->error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s: added_tokens: expected an array", l->name);
    uint8_t *seen = calloc((size_t)t->vocab.n_tokens + 1, 1);
    if (seen == NULL) return llmbed_fail(l->error, LLMBED_ERR_OUT_OF_MEMORY, "%s: added tokens", l->name);
    llmbed_status st = LLMBED_OK;
    for (const cJSON *a = cJSON_IsArray(added) ? added->child : NULL; a && st == LLMBED_OK; a = a->next) {
        const char *content = cJSON_GetObjectItemCaseSensitive(a, "content")->valuestring;
        int32_t id = (int32_t)cJSON_GetObjectItemCaseSensitive(a, "id")->valuedouble;
        if (seen[id]) {
            st = llmbed_fail(l->error, LLMBED_ERR_TOKENIZER_MALFORMED,
                             "%s: added_tokens: id %d appears twice (\"%s\")", l->name, (int)id, content);
            break;
        }
        seen[id] = 1;
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(a, "special");
        tok_added token = {.id = id, .text = (char *)content, .len = strlen(content)};
        token.special = cJSON_IsTrue(sp);
        token.lstrip = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "lstrip"));
        token.rstrip = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "rstrip"));
        token.single_word = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "single_word"));
        const cJSON *norm = cJSON_GetObjectItemCaseSensitive(a, "normalized");
        /* HF default: normalized unless special. */
        token.normalized = cJSON_IsBool(norm) ? cJSON_IsTrue(norm) : !token.special;
        uint8_t type = token.special ? TOK_TYPE_CONTROL : TOK_TYPE_USER_DEFINED;
        if (!tok_vocab_has(&t->vocab, id)) {
            if (!tok_vocab_set(&t->vocab, id, content, token.len, type)) st = LLMBED_ERR_OUT_OF_MEMORY;
        } else {
            t->vocab.type[id] = type;
        }
        if (st == LLMBED_OK && !tok_added_push(&t->added, &token)) st = LLMBED_ERR_OUT_OF_MEMORY;
        if (st == LLMBED_ERR_OUT_OF_MEMORY) llmbed_fail(l->error, st, "%s: added tokens", l->name);
    }
    free(seen);
    return st;
}

static llmbed_status merge_parts(json_loader *l, const cJSON *m, int index, const char **left, size_t *left_len,
                                 const char **right, size_t *right_len) {
    if (cJSON_IsString(m)) {
        const char *s = m->valuestring;
        const char *space = strchr(s, ' ');
        if (space == NULL || strchr(space + 1, ' ') != NULL || space == s || space[1] == '\0')
            return llmbed_fail(l->error, LLMBED_ERR_TOKENIZER_MALFORMED,
                               "%s: model.merges[%d] \"%.64s\": expected two tokens separated by one space",
                               l->name, index, s);
        *left = s;
        *left_len = (size_t)(space - s);
        *right = space + 1;
        *right_len = strlen(space + 1);
        return LLMBED_OK;
    }
    if (cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) && cJSON_IsString(m->child->next)) {
        *left = m->child->valuestring;
        *left_len = strlen(*left);
        *right = m->child->next->valuestring;
        *right_len = strlen(*right);
        return LLMBED_OK;
    }
    return llmbed_fail(l->error, LLMBED_ERR_TOKENIZER_MALFORMED,
                       "%s: model.merges[%d]: expected \"left right\" or [\"left\", \"right\"]", l->name, index);
}

static llmbed_status load_merges(json_loader *l, const cJSON *merges) {
    llmbed_tokenizer *t = l->t;
    if (merges != NULL && !cJSON_IsArray(merges))
        return llmbed_fail(l->error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s: model.merges: expected an array", l->name);
    int n = cJSON_GetArraySize(merges);
    if (!tok_merges_init(&t->merges, (size_t)n))
        return llmbed_fail(l->error, LLMBED_ERR_OUT_OF_MEMORY, "%s: merges", l->name);
    tok_bytes joined = {0};
    llmbed_status st = LLMBED_OK;
    int index = 0;
    for (const cJSON *m = merges ? merges->child : NULL; m && st == LLMBED_OK; m = m->next, index++) {
        const char *left = "", *right = "";
        size_t left_len = 0, right_len = 0;
        st = merge_parts(l, m, index, &left, &left_len, &right, &right_len);
        if (st != LLMBED_OK) break;
        int32_t ids[3];
        joined.len = 0;
        if (!tok_bytes_append(&joined, left, left_len) || !tok_bytes_append(&joined, right, right_len)) {
            st = llmbed_fail(l->error, LLMBED_ERR_OUT_OF_MEMORY, "%s: merges", l->name);
            break;
        }
        const char *parts[3] = {left, right, joined.data};
        size_t lens[3] = {left_len, right_len, left_len + right_len};
        for (int k = 0; k < 3 && st == LLMBED_OK; k++) {
            if (!stored_form(l, parts[k], lens[k])) {
                st = llmbed_fail(l->error, LLMBED_ERR_OUT_OF_MEMORY, "%s: merges", l->name);
                break;
            }
            ids[k] = tok_vocab_find(&t->vocab, l->stored.data, l->stored.len);
            if (ids[k] < 0)
                st = llmbed_fail(l->error, LLMBED_ERR_TOKENIZER_MALFORMED,
                                 "%s: model.merges[%d] \"%.*s %.*s\": %s \"%.*s\" is not in the vocabulary", l->name,
                                 index, (int)(left_len > 64 ? 64 : left_len), left,
                                 (int)(right_len > 64 ? 64 : right_len), right, k == 2 ? "merged token" : "token",
                                 (int)(lens[k] > 64 ? 64 : lens[k]), parts[k]);
        }
        bool duplicate;
        if (st == LLMBED_OK && !tok_merges_add(&t->merges, ids[0], ids[1], index, ids[2], &duplicate))
            st = llmbed_fail(l->error, LLMBED_ERR_OUT_OF_MEMORY, "%s: merges", l->name);
    }
    tok_bytes_free(&joined);
    return st;
}

static llmbed_status special_ids(json_loader *l, const cJSON *specials, const char *name, int32_t *out, int *n) {
    const cJSON *entry = cJSON_GetObjectItemCaseSensitive(specials, name);
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(entry, "ids");
    if (!cJSON_IsArray(ids))
        return llmbed_fail(l->error, LLMBED_ERR_TOKENIZER_MALFORMED,
                           "%s: post_processor.special_tokens[\"%s\"].ids: missing", l->name, name);
    for (const cJSON *id = ids->child; id; id = id->next) {
        int32_t value = 0;
        llmbed_status st = read_id(l, id, "post_processor.special_tokens", name, l->t->vocab.n_tokens, &value);
        if (st != LLMBED_OK) return st;
        if (*n >= TOK_MAX_SPECIAL)
            return llmbed_fail(l->error, LLMBED_ERR_TOKENIZER_UNSUPPORTED,
                               "%s: post_processor: more than %d special tokens around a sequence", l->name,
                               TOK_MAX_SPECIAL);
        out[(*n)++] = value;
    }
    return LLMBED_OK;
}

static llmbed_status pair_id(json_loader *l, const cJSON *node, const char *key, int32_t *out, int *n) {
    const cJSON *pair = cJSON_GetObjectItemCaseSensitive(node, key);
    if (cJSON_GetArraySize(pair) != 2)
        return llmbed_fail(l->error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s: post_processor.%s: expected [token, id]",
                           l->name, key);
    int32_t id = 0;
    llmbed_status st = read_id(l, pair->child->next, "post_processor", key, l->t->vocab.n_tokens, &id);
    if (st != LLMBED_OK) return st;
    if (*n >= TOK_MAX_SPECIAL) return llmbed_fail(l->error, LLMBED_ERR_TOKENIZER_UNSUPPORTED, "%s: post_processor", l->name);
    out[(*n)++] = id;
    return LLMBED_OK;
}

static llmbed_status post_processor(json_loader *l, const cJSON *node) {
    llmbed_tokenizer *t = l->t;
    if (node == NULL || cJSON_IsNull(node)) return LLMBED_OK;
    const cJSON *type_node = cJSON_GetObjectItemCaseSensitive(node, "type");
    const char *type = cJSON_IsString(type_node) ? type_node->valuestring : "";
    if (strcmp(type, "ByteLevel") == 0) return LLMBED_OK; /* offsets only */
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(node, "processors");
        for (const cJSON *p = cJSON_IsArray(list) ? list->child : NULL; p; p = p->next) {
            llmbed_status st = post_processor(l, p);
            if (st != LLMBED_OK) return st;
        }
        return LLMBED_OK;
    }
    if (strcmp(type, "RobertaProcessing") == 0 || strcmp(type, "BertProcessing") == 0) {
        llmbed_status st = pair_id(l, node, "cls", t->prefix, &t->n_prefix);
        return st == LLMBED_OK ? pair_id(l, node, "sep", t->suffix, &t->n_suffix) : st;
    }
    if (strcmp(type, "TemplateProcessing") == 0) {
        const cJSON *single = cJSON_GetObjectItemCaseSensitive(node, "single");
        const cJSON *specials = cJSON_GetObjectItemCaseSensitive(node, "special_tokens");
        if (!cJSON_IsArray(single))
            return llmbed_fail(l->error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s: post_processor.single: expected an array",
                               l->name);
        bool after = false;
        for (const cJSON *item = single->child; item; item = item->next) {
            if (cJSON_GetObjectItemCaseSensitive(item, "Sequence")) {
                after = true;
                continue;
            }
            const cJSON *special = cJSON_GetObjectItemCaseSensitive(item, "SpecialToken");
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(special, "id");
            if (!cJSON_IsString(id))
                return llmbed_fail(l->error, LLMBED_ERR_TOKENIZER_MALFORMED,
                                   "%s: post_processor.single: item is neither Sequence nor SpecialToken", l->name);
            llmbed_status st = after ? special_ids(l, specials, id->valuestring, t->suffix, &t->n_suffix)
                                     : special_ids(l, specials, id->valuestring, t->prefix, &t->n_prefix);
            if (st != LLMBED_OK) return st;
        }
        return LLMBED_OK;
    }
    return llmbed_fail(l->error, LLMBED_ERR_TOKENIZER_UNSUPPORTED,
                       "%s: post_processor type \"%s\" is not supported (supported: TemplateProcessing, "
                       "RobertaProcessing, BertProcessing, ByteLevel, Sequence)",
                       l->name, type);
}

static const char *config_token(const cJSON *config, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, key);
    if (cJSON_IsString(v)) return v->valuestring;
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(v, "content");
    return cJSON_IsString(content) ? content->valuestring : NULL;
}

/* tokenizer_config.json: BOS/EOS names; LlamaTokenizer(Fast) rebuilds its
 * post-processor from add_bos_token/add_eos_token (transformers
 * LlamaTokenizerFast.update_post_processor). */
static void apply_config(llmbed_tokenizer *t, const cJSON *config) {
    const char *bos = config_token(config, "bos_token"), *eos = config_token(config, "eos_token");
    if (bos) t->bos_id = llmbed_tokenizer_token_id(t, bos);
    if (eos) t->eos_id = llmbed_tokenizer_token_id(t, eos);
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(config, "tokenizer_class");
    bool llama = cJSON_IsString(cls) && strncmp(cls->valuestring, "LlamaTokenizer", 14) == 0;
    const cJSON *add_bos = cJSON_GetObjectItemCaseSensitive(config, "add_bos_token");
    const cJSON *add_eos = cJSON_GetObjectItemCaseSensitive(config, "add_eos_token");
    if (!llama || (!cJSON_IsBool(add_bos) && !cJSON_IsBool(add_eos))) return;
    bool want_bos = cJSON_IsBool(add_bos) ? cJSON_IsTrue(add_bos) : true;
    bool want_eos = cJSON_IsTrue(add_eos);
    t->n_prefix = t->n_suffix = 0;
    if (want_bos && t->bos_id >= 0) t->prefix[t->n_prefix++] = t->bos_id;
    if (want_eos && t->eos_id >= 0) t->suffix[t->n_suffix++] = t->eos_id;
}

static llmbed_status model_options(json_loader *l, const cJSON *model) {
    llmbed_tokenizer *t = l->t;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (cJSON_IsString(type) && strcmp(type->valuestring, "BPE") != 0)
        return llmbed_fail(l->error, LLMBED_ERR_TOKENIZER_UNSUPPORTED,
                           "%s: model.type \"%s\" is not supported (supported: BPE)", l->name, type->valuestring);
    if (!cJSON_IsString(type) && !cJSON_GetObjectItemCaseSensitive(model, "merges"))
        return llmbed_fail(l->error, LLMBED_ERR_TOKENIZER_UNSUPPORTED,
                           "%s: model has no type and no merges: only BPE is supported", l->name);
    static const char *const affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(model, affixes[i]);
        if (cJSON_IsString(v) && v->valuestring[0])
            return llmbed_fail(l->error, LLMBED_ERR_TOKENIZER_UNSUPPORTED, "%s: model.%s \"%s\" is not supported",
                               l->name, affixes[i], v->valuestring);
    }
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (cJSON_IsNumber(dropout) && dropout->valuedouble > 0)
        return llmbed_fail(l->error, LLMBED_ERR_TOKENIZER_UNSUPPORTED,
                           "%s: model.dropout %g: BPE dropout is not supported (encoding must be deterministic)",
                           l->name, dropout->valuedouble);
    t->ignore_merges = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "ignore_merges"));
    t->byte_fallback = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback"));
    t->fuse_unk = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "fuse_unk"));
    return LLMBED_OK;
}

static llmbed_status normalize_added(llmbed_tokenizer *t, const char *name, llmbed_error *error) {
    if (t->normalizer.n_steps == 0) return LLMBED_OK;
    tok_bytes out = {0}, tmp = {0};
    tok_match_scratch ms = {0};
    llmbed_status st = LLMBED_OK;
    for (size_t i = 0; i < t->added.n && st == LLMBED_OK; i++) {
        tok_added *a = &t->added.items[i];
        if (!a->normalized) continue;
        st = tok_normalize(&t->normalizer, a->text, a->len, &out, &tmp, &ms, error);
        if (st != LLMBED_OK) break;
        char *text = malloc(out.len ? out.len : 1);
        if (text == NULL) {
            st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: added tokens", name);
            break;
        }
        if (out.len) memcpy(text, out.data, out.len);
        free(a->text);
        a->text = text;
        a->len = out.len;
    }
    tok_bytes_free(&out);
    tok_bytes_free(&tmp);
    tok_match_scratch_free(&ms);
    return st;
}

static llmbed_status load_root(json_loader *l, const cJSON *root, const cJSON *config) {
    llmbed_tokenizer *t = l->t;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model))
        return llmbed_fail(l->error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s: \"model\": missing or not an object", l->name);
    char where[300];
    llmbed_status st = model_options(l, model);
    snprintf(where, sizeof where, "%s: normalizer", l->name);
    if (st == LLMBED_OK) st = tok_json_normalizer(t, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), where, l->error);
    snprintf(where, sizeof where, "%s: pre_tokenizer", l->name);
    if (st == LLMBED_OK)
        st = tok_json_pretokenizer(t, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), where, l->error);
    if (st != LLMBED_OK) return st;
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    st = load_vocab(l, cJSON_GetObjectItemCaseSensitive(model, "vocab"), added);
    if (st == LLMBED_OK) st = load_added(l, added);
    if (st == LLMBED_OK && !tok_vocab_build_index(&t->vocab))
        st = llmbed_fail(l->error, LLMBED_ERR_OUT_OF_MEMORY, "%s: vocabulary index", l->name);
    if (st == LLMBED_OK) st = load_merges(l, cJSON_GetObjectItemCaseSensitive(model, "merges"));
    if (st == LLMBED_OK) st = post_processor(l, cJSON_GetObjectItemCaseSensitive(root, "post_processor"));
    if (st != LLMBED_OK) return st;
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    if (cJSON_IsString(unk)) {
        if (!stored_form(l, unk->valuestring, strlen(unk->valuestring)))
            return llmbed_fail(l->error, LLMBED_ERR_OUT_OF_MEMORY, "%s", l->name);
        t->unk_id = tok_vocab_find(&t->vocab, l->stored.data, l->stored.len);
    }
    tok_json_decoder(t, cJSON_GetObjectItemCaseSensitive(root, "decoder"));
    st = tok_tokenizer_finish(t, l->name, l->error);
    if (st == LLMBED_OK) st = normalize_added(t, l->name, l->error);
    if (st != LLMBED_OK) return st;
    tok_added_finish(&t->added); /* normalised contents change the order */
    if (t->n_prefix > 0) t->bos_id = t->prefix[0];
    if (t->n_suffix > 0) t->eos_id = t->suffix[t->n_suffix - 1];
    if (config) apply_config(t, config);
    snprintf(t->description, sizeof t->description, "%sBPE (tokenizer.json, %d tokens)",
             t->byte_level ? "byte-level " : "", (int)t->vocab.n_tokens);
    return LLMBED_OK;
}

llmbed_status llmbed_tokenizer_load_json_memory(const char *json, size_t len, const char *config_json,
                                                size_t config_len, const char *name, llmbed_tokenizer **out,
                                                llmbed_error *error) {
    *out = NULL;
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (root == NULL) {
        const char *at = cJSON_GetErrorPtr();
        long offset = at && at >= json && at <= json + len ? (long)(at - json) : -1;
        return llmbed_fail(error, LLMBED_ERR_BAD_JSON, "%s: not valid JSON (near byte %ld)", name, offset);
    }
    cJSON *config = config_json ? cJSON_ParseWithLength(config_json, config_len) : NULL;
    llmbed_tokenizer *t = malloc(sizeof *t);
    llmbed_status st;
    if (t == NULL) {
        st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: tokenizer", name);
    } else {
        tok_tokenizer_init(t);
        json_loader l = {.t = t, .name = name, .error = error};
        st = load_root(&l, root, config);
        tok_bytes_free(&l.stored);
    }
    cJSON_Delete(root);
    cJSON_Delete(config);
    if (st != LLMBED_OK) {
        llmbed_tokenizer_free(t);
        return st;
    }
    *out = t;
    return LLMBED_OK;
}

static llmbed_status read_file(const char *path, char **data, size_t *len, llmbed_error *error) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return llmbed_fail(error, LLMBED_ERR_FILE_NOT_FOUND, "%s: cannot open", path);
    tok_bytes b = {0};
    char chunk[65536];
    size_t n;
    bool ok = true;
    while (ok && (n = fread(chunk, 1, sizeof chunk, f)) > 0) ok = tok_bytes_append(&b, chunk, n);
    bool failed = ferror(f);
    fclose(f);
    if (!ok || failed) {
        tok_bytes_free(&b);
        return llmbed_fail(error, ok ? LLMBED_ERR_IO : LLMBED_ERR_OUT_OF_MEMORY, "%s: cannot read", path);
    }
    *data = b.data ? b.data : calloc(1, 1);
    *len = b.len;
    return *data ? LLMBED_OK : llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s", path);
}

static llmbed_status load_with_config(const char *path, const char *config_path, llmbed_tokenizer **out,
                                      llmbed_error *error) {
    char *json, *config = NULL;
    size_t len, config_len = 0;
    llmbed_status st = read_file(path, &json, &len, error);
    if (st != LLMBED_OK) return st;
    if (config_path && read_file(config_path, &config, &config_len, NULL) != LLMBED_OK) config = NULL;
    st = llmbed_tokenizer_load_json_memory(json, len, config, config_len, path, out, error);
    free(json);
    free(config);
    return st;
}

llmbed_status llmbed_tokenizer_load_json(const char *path, llmbed_tokenizer **out, llmbed_error *error) {
    *out = NULL;
    const char *slash = strrchr(path, '/');
    size_t dir = slash ? (size_t)(slash - path + 1) : 0;
    char *config_path = malloc(dir + sizeof "tokenizer_config.json");
    if (config_path == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s", path);
    memcpy(config_path, path, dir);
    memcpy(config_path + dir, "tokenizer_config.json", sizeof "tokenizer_config.json");
    llmbed_status st = load_with_config(path, config_path, out, error);
    free(config_path);
    return st;
}

llmbed_status llmbed_tokenizer_load_folder(const char *folder, llmbed_tokenizer **out, llmbed_error *error) {
    *out = NULL;
    size_t n = strlen(folder);
    char *path = malloc(n + sizeof "/tokenizer_config.json");
    char *config_path = malloc(n + sizeof "/tokenizer_config.json");
    if (path == NULL || config_path == NULL) {
        free(path);
        free(config_path);
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s", folder);
    }
    snprintf(path, n + sizeof "/tokenizer_config.json", "%s/tokenizer.json", folder);
    snprintf(config_path, n + sizeof "/tokenizer_config.json", "%s/tokenizer_config.json", folder);
    FILE *probe = fopen(path, "rb");
    llmbed_status st;
    if (probe == NULL) {
        st = llmbed_fail(error, LLMBED_ERR_TOKENIZER_MISSING, "%s: no tokenizer.json in the model folder", folder);
    } else {
        fclose(probe);
        st = load_with_config(path, config_path, out, error);
    }
    free(path);
    free(config_path);
    return st;
}
