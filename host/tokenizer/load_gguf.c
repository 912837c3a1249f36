/* GGUF tokenizer.ggml.* metadata -> tokenizer, following llama.cpp's
 * llama_vocab::impl::load: "gpt2" = byte-level BPE with ranked merges and a
 * pre-tokenizer named by tokenizer.ggml.pre; "llama" = SentencePiece BPE
 * (scores, <0xXX> byte fallback, ▁ for spaces, dummy prefix). The text
 * pipeline mirrors the HF tokenizer.json the file was converted from.
 *
 * Gemma files (general.architecture gemma, gemma2, gemma3) follow
 * transformers' GGUF conversion of them instead (integrations/gguf
 * gemma_tokenizer, 5.25), which is what "equal to HF" means for a GGUF:
 * tokens made only of spaces (the file stores "  ", not "▁▁") are spelled
 * with ▁ and are no added tokens; merges are ranked by file order, not by
 * score (merges.h tok_merges_from_order); no dummy prefix
 * (add_space_prefix false). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pre_presets.h"
#include "tokenizer/tokenizer_impl.h"

#define KEY(name) "tokenizer.ggml." name

static const char spm_space[] = "\xE2\x96\x81"; /* U+2581 ▁ */

static bool string_equals(llmbed_gguf_string s, const char *text) {
    return s.length == strlen(text) && memcmp(s.data, text, s.length) == 0;
}

static int32_t optional_id(const llmbed_gguf *g, const char *key, int32_t n_tokens) {
    int64_t v;
    if (!llmbed_gguf_get_int(g, key, &v) || v < 0 || v >= n_tokens) return -1;
    return (int32_t)v;
}

static bool optional_bool(const llmbed_gguf *g, const char *key, bool fallback) {
    bool v;
    return llmbed_gguf_get_bool(g, key, &v) ? v : fallback;
}

/* A Gemma token of ASCII whitespace holding a space (only space runs in Gemma 3's
 * vocabulary): transformers respells it as one ▁ per character. */
static bool gemma_space_run(const char *text, size_t len) {
    bool space = false;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') space = true;
        else if (!(text[i] == '\t' || text[i] == '\n' || text[i] == '\v' || text[i] == '\f' || text[i] == '\r'))
            return false;
    }
    return space;
}

/* respelled: NULL, or one flag per token set for Gemma's respelled space runs. */
static llmbed_status load_tokens(llmbed_tokenizer *t, const llmbed_gguf *g, const char *path, uint8_t **respelled,
                                 llmbed_error *error) {
    llmbed_gguf_type elem;
    uint64_t count;
    if (!llmbed_gguf_get_array(g, KEY("tokens"), &elem, &count) || elem != LLMBED_GGUF_STRING)
        return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s: " KEY("tokens") ": missing or not strings", path);
    if (count == 0 || count > INT32_MAX / 2)
        return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s: " KEY("tokens") ": %llu tokens", path,
                           (unsigned long long)count);
    llmbed_gguf_type type_elem;
    uint64_t type_count;
    bool has_types = llmbed_gguf_get_array(g, KEY("token_type"), &type_elem, &type_count);
    if (has_types && type_count != count)
        return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s: " KEY("token_type") ": %llu entries for %llu tokens",
                           path, (unsigned long long)type_count, (unsigned long long)count);
    if (!tok_vocab_init(&t->vocab, (int32_t)count))
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: vocabulary", path);
    tok_bytes raw = {0};
    if (respelled != NULL && (*respelled = calloc((size_t)count, 1)) == NULL)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: vocabulary", path);
    for (uint64_t i = 0; i < count; i++) {
        llmbed_gguf_string s;
        int64_t type = TOK_TYPE_NORMAL;
        if (!llmbed_gguf_array_string(g, KEY("tokens"), i, &s) ||
            (has_types && !llmbed_gguf_array_int(g, KEY("token_type"), i, &type))) {
            tok_bytes_free(&raw);
            return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s: token %llu unreadable", path,
                               (unsigned long long)i);
        }
        if (type < TOK_TYPE_NORMAL || type > TOK_TYPE_BYTE) type = TOK_TYPE_NORMAL;
        const char *text = s.data;
        size_t len = (size_t)s.length;
        /* Byte-level vocabularies keep added (USER_DEFINED/CONTROL) tokens as plain text. */
        bool mapped = t->byte_level && (type == TOK_TYPE_NORMAL || type == TOK_TYPE_UNUSED);
        if (mapped && tok_byte_level_decode(text, len, &raw)) {
            text = raw.data ? raw.data : "";
            len = raw.len;
        }
        if (respelled != NULL && gemma_space_run(text, len)) {
            raw.len = 0;
            for (size_t k = 0; k < len; k++)
                if (!tok_bytes_append(&raw, spm_space, 3)) {
                    tok_bytes_free(&raw);
                    return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: vocabulary", path);
                }
            text = raw.data;
            len = raw.len;
            (*respelled)[i] = 1;
        }
        if (!tok_vocab_set(&t->vocab, (int32_t)i, text, len, (uint8_t)type)) {
            tok_bytes_free(&raw);
            return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: vocabulary", path);
        }
    }
    tok_bytes_free(&raw);
    if (!tok_vocab_build_index(&t->vocab)) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: vocabulary", path);
    return LLMBED_OK;
}

static llmbed_status load_merges(llmbed_tokenizer *t, const llmbed_gguf *g, const char *path, llmbed_error *error) {
    llmbed_gguf_type elem;
    uint64_t count;
    if (!llmbed_gguf_get_array(g, KEY("merges"), &elem, &count) || elem != LLMBED_GGUF_STRING)
        return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s: " KEY("merges") ": missing or not strings", path);
    if (!tok_merges_init(&t->merges, (size_t)count)) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: merges", path);
    tok_bytes part = {0}, joined = {0};
    llmbed_status st = LLMBED_OK;
    for (uint64_t i = 0; i < count && st == LLMBED_OK && i < INT32_MAX; i++) {
        llmbed_gguf_string s;
        if (!llmbed_gguf_array_string(g, KEY("merges"), i, &s)) {
            st = llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s: merge %llu unreadable", path, (unsigned long long)i);
            break;
        }
        const char *space = s.length ? memchr(s.data, ' ', (size_t)s.length) : NULL;
        if (space == NULL || space == s.data || space + 1 == s.data + s.length ||
            memchr(space + 1, ' ', (size_t)(s.data + s.length - space - 1)) != NULL) {
            st = llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED,
                             "%s: " KEY("merges") "[%llu] \"%.*s\": expected two tokens separated by one space", path,
                             (unsigned long long)i, (int)(s.length > 64 ? 64 : s.length), s.data);
            break;
        }
        size_t left_len = (size_t)(space - s.data), right_len = (size_t)s.length - left_len - 1;
        int32_t ids[3];
        joined.len = 0;
        const char *parts[2] = {s.data, space + 1};
        size_t lens[2] = {left_len, right_len};
        for (int k = 0; k < 2 && st == LLMBED_OK; k++) {
            if (!tok_byte_level_decode(parts[k], lens[k], &part)) {
                part.len = 0;
                tok_bytes_append(&part, parts[k], lens[k]);
            }
            ids[k] = tok_vocab_find(&t->vocab, part.data ? part.data : "", part.len);
            if (!tok_bytes_append(&joined, part.data ? part.data : "", part.len))
                st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: merges", path);
        }
        if (st != LLMBED_OK) break;
        ids[2] = tok_vocab_find(&t->vocab, joined.data ? joined.data : "", joined.len);
        if (ids[0] < 0 || ids[1] < 0 || ids[2] < 0) {
            st = llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED,
                             "%s: " KEY("merges") "[%llu] \"%.*s\": %s not in the vocabulary", path, (unsigned long long)i,
                             (int)(s.length > 64 ? 64 : s.length), s.data,
                             ids[0] < 0 || ids[1] < 0 ? "a token is" : "the merged token is");
            break;
        }
        bool duplicate;
        if (!tok_merges_add(&t->merges, ids[0], ids[1], (int32_t)i, ids[2], &duplicate))
            st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: merges", path);
    }
    tok_bytes_free(&part);
    tok_bytes_free(&joined);
    return st;
}

static llmbed_status load_scores(llmbed_tokenizer *t, const llmbed_gguf *g, const char *path, llmbed_error *error) {
    llmbed_gguf_type elem;
    uint64_t count;
    if (!llmbed_gguf_get_array(g, KEY("scores"), &elem, &count) || count != (uint64_t)t->vocab.n_tokens)
        return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s: " KEY("scores") ": missing or not one per token", path);
    t->vocab.score = malloc((size_t)count * sizeof *t->vocab.score);
    if (t->vocab.score == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: scores", path);
    for (uint64_t i = 0; i < count; i++) {
        double v;
        if (!llmbed_gguf_array_float(g, KEY("scores"), i, &v))
            return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s: " KEY("scores") "[%llu] unreadable", path,
                               (unsigned long long)i);
        t->vocab.score[i] = (float)v;
    }
    if (!tok_merges_from_scores(&t->merges, &t->vocab))
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: merges from scores", path);
    return LLMBED_OK;
}

/* USER_DEFINED tokens are matched in text as llama.cpp and HF do; CONTROL
 * and UNKNOWN ones only when special tokens are parsed. Gemma's respelled
 * space runs are left to BPE (transformers adds a user-defined token only
 * when the file's spelling is in its vocabulary). */
static llmbed_status collect_added(llmbed_tokenizer *t, const uint8_t *respelled, const char *path,
                                   llmbed_error *error) {
    for (int32_t id = 0; id < t->vocab.n_tokens; id++) {
        uint8_t type = t->vocab.type[id];
        if (type != TOK_TYPE_USER_DEFINED && type != TOK_TYPE_CONTROL && type != TOK_TYPE_UNKNOWN) continue;
        if (respelled != NULL && respelled[id]) continue;
        size_t len;
        const char *text = tok_vocab_text(&t->vocab, id, &len);
        tok_added token = {.id = id, .text = (char *)text, .len = len, .special = type != TOK_TYPE_USER_DEFINED};
        if (!tok_added_push(&t->added, &token)) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: added tokens", path);
    }
    return LLMBED_OK;
}

static llmbed_status spm_pipeline(llmbed_tokenizer *t, const llmbed_gguf *g, const char *path, llmbed_error *error) {
    /* HF's Llama tokenizer.json: normalizer Sequence[Prepend("▁"), Replace(" ", "▁")]. */
    if (optional_bool(g, KEY("add_space_prefix"), true)) {
        tok_norm_step prepend = {.kind = TOK_NORM_PREPEND, .text = malloc(4), .text_len = 3};
        if (prepend.text == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s", path);
        memcpy(prepend.text, spm_space, 4);
        llmbed_status st = tok_norm_add(&t->normalizer, &prepend, error);
        if (st != LLMBED_OK) return st;
        t->decode_strip_prefix = true;
    }
    tok_norm_step replace = {.kind = TOK_NORM_REPLACE, .text = malloc(4), .text_len = 3};
    if (replace.text == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s", path);
    memcpy(replace.text, spm_space, 4);
    llmbed_status st = tok_regex_compile(" ", 1, true, path, &replace.regex, error);
    if (st != LLMBED_OK) {
        free(replace.text);
        return st;
    }
    t->byte_fallback = true;
    t->decode_metaspace = true;
    t->decode_byte_tokens = true;
    return tok_norm_add(&t->normalizer, &replace, error);
}

static llmbed_status bpe_pipeline(llmbed_tokenizer *t, const llmbed_gguf *g, const char *pre, bool *add_bos,
                                  const char *path, llmbed_error *error) {
    tok_pre_preset preset;
    if (!tok_pre_preset_find(pre, &preset))
        return llmbed_fail(error, LLMBED_ERR_TOKENIZER_UNSUPPORTED, "%s: " KEY("pre") " \"%s\" is not a known pre-tokenizer",
                           path, pre);
    for (const char *const *re = preset.regexes; *re; re++) {
        llmbed_status st = tok_pre_add_split(&t->pretokenizer, *re, strlen(*re), false, TOK_SPLIT_ISOLATED, false,
                                             path, error);
        if (st != LLMBED_OK) return st;
    }
    t->ignore_merges = preset.ignore_merges;
    *add_bos = optional_bool(g, KEY("add_bos_token"), preset.add_bos);
    bool nfc = preset.nfc;
    if (pre == NULL) {
        llmbed_gguf_string arch;
        char name[32] = "";
        if (llmbed_gguf_get_string(g, "general.architecture", &arch))
            snprintf(name, sizeof name, "%.*s", (int)(arch.length > 31 ? 31 : arch.length), arch.data);
        nfc = tok_pre_preset_nfc_without_name(name);
    }
    if (nfc) {
        tok_norm_step step = {.kind = TOK_NORM_NFC};
        return tok_norm_add(&t->normalizer, &step, error);
    }
    return LLMBED_OK;
}

static llmbed_status load(llmbed_tokenizer *t, const llmbed_gguf *g, llmbed_error *error) {
    const char *path = llmbed_gguf_path(g);
    llmbed_gguf_string model;
    if (!llmbed_gguf_get_string(g, KEY("model"), &model))
        return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MISSING, "%s: no " KEY("model") " key: the file has no tokenizer", path);
    if (string_equals(model, "bert"))
        return llmbed_fail(error, LLMBED_ERR_TOKENIZER_UNSUPPORTED,
                           "%s: " KEY("model") " \"bert\" (bert WordPiece) is not supported (supported: gpt2, llama)", path);
    bool spm = string_equals(model, "llama");
    if (!spm && !string_equals(model, "gpt2"))
        return llmbed_fail(error, LLMBED_ERR_TOKENIZER_UNSUPPORTED,
                           "%s: " KEY("model") " \"%.*s\" is not supported (supported: gpt2 byte-level BPE, llama "
                           "SentencePiece BPE)",
                           path, (int)(model.length > 32 ? 32 : model.length), model.data);
    t->byte_level = !spm;
    llmbed_gguf_string arch;
    const bool gemma = spm && llmbed_gguf_get_string(g, "general.architecture", &arch) &&
                       (string_equals(arch, "gemma") || string_equals(arch, "gemma2") || string_equals(arch, "gemma3"));
    uint8_t *respelled = NULL;
    llmbed_status st = load_tokens(t, g, path, gemma ? &respelled : NULL, error);
    if (st == LLMBED_OK && gemma && !tok_merges_from_order(&t->merges, &t->vocab))
        st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: merges from the token order", path);
    else if (st == LLMBED_OK && !gemma)
        st = spm ? load_scores(t, g, path, error) : load_merges(t, g, path, error);
    if (st != LLMBED_OK) {
        free(respelled);
        return st;
    }
    char pre[64] = "";
    llmbed_gguf_string pre_string;
    bool has_pre = llmbed_gguf_get_string(g, KEY("pre"), &pre_string);
    if (has_pre) snprintf(pre, sizeof pre, "%.*s", (int)(pre_string.length > 63 ? 63 : pre_string.length), pre_string.data);
    bool add_bos = true;
    if (spm) {
        st = spm_pipeline(t, g, path, error);
        add_bos = optional_bool(g, KEY("add_bos_token"), true);
    } else {
        st = bpe_pipeline(t, g, has_pre ? pre : NULL, &add_bos, path, error);
    }
    if (st == LLMBED_OK) st = collect_added(t, respelled, path, error);
    free(respelled);
    if (st == LLMBED_OK) st = tok_tokenizer_finish(t, path, error);
    if (st != LLMBED_OK) return st;
    int32_t n = t->vocab.n_tokens;
    /* A BOS/EOS the file asks for but cannot name is a broken file, not one to
     * encode silently without it. */
    const char *const special[2][3] = {{KEY("add_bos_token"), KEY("bos_token_id"), "BOS"},
                                       {KEY("add_eos_token"), KEY("eos_token_id"), "EOS"}};
    for (int k = 0; k < 2; k++) {
        bool wanted = k == 0 ? add_bos : optional_bool(g, special[k][0], false);
        bool explicit_flag;
        bool has_flag = llmbed_gguf_get_bool(g, special[k][0], &explicit_flag);
        int64_t v;
        bool has_id = llmbed_gguf_get_int(g, special[k][1], &v);
        if (wanted && has_id && (v < 0 || v >= n))
            return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED,
                               "%s: %s = %lld is outside the vocabulary [0, %d) but %s is true", path, special[k][1],
                               (long long)v, (int)n, has_flag ? special[k][0] : "adding the " "BOS/EOS token by default");
        if (wanted && has_flag && explicit_flag && !has_id)
            return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s: %s is true but %s is missing", path,
                               special[k][0], special[k][1]);
    }
    t->bos_id = optional_id(g, KEY("bos_token_id"), n);
    t->eos_id = optional_id(g, KEY("eos_token_id"), n);
    t->unk_id = optional_id(g, KEY("unknown_token_id"), n);
    if (add_bos && t->bos_id >= 0) t->prefix[t->n_prefix++] = t->bos_id;
    if (optional_bool(g, KEY("add_eos_token"), false) && t->eos_id >= 0) t->suffix[t->n_suffix++] = t->eos_id;
    snprintf(t->description, sizeof t->description, "%s (GGUF, pre-tokenizer %.32s, %d tokens)",
             spm ? "SentencePiece BPE" : "byte-level BPE", has_pre ? pre : "none", (int)n);
    return LLMBED_OK;
}

llmbed_status llmbed_tokenizer_load_gguf(const llmbed_gguf *gguf, llmbed_tokenizer **out, llmbed_error *error) {
    *out = NULL;
    llmbed_tokenizer *t = malloc(sizeof *t);
    if (t == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: tokenizer", llmbed_gguf_path(gguf));
    tok_tokenizer_init(t);
    llmbed_status st = load(t, gguf, error);
    if (st != LLMBED_OK) {
        llmbed_tokenizer_free(t);
        return st;
    }
    *out = t;
    return LLMBED_OK;
}
