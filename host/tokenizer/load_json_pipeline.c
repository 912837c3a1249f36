#include "tokenizer/load_json_pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tokenizer/utf8.h"

const char tok_gpt2_pattern[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static const char *type_of(const cJSON *node) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(node, "type");
    return cJSON_IsString(type) ? type->valuestring : NULL;
}

static bool flag(const cJSON *node, const char *key, bool fallback) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(node, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : fallback;
}

/* {"String": "..."} or {"Regex": "..."} -> pattern + literal flag. */
static llmbed_status pattern_of(const cJSON *node, const char *where, const char **pattern, bool *literal,
                                llmbed_error *error) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(node, "pattern");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(p, "String");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(p, "Regex");
    if (cJSON_IsString(s)) {
        *pattern = s->valuestring;
        *literal = true;
    } else if (cJSON_IsString(r)) {
        *pattern = r->valuestring;
        *literal = false;
    } else {
        return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED,
                           "%s.pattern: expected {\"String\": ...} or {\"Regex\": ...}", where);
    }
    return LLMBED_OK;
}

/* Text the pipeline inserts into the input must be valid UTF-8: matching
 * skips PCRE2's UTF check (cJSON passes raw bytes through unchecked). */
static bool valid_text(const char *s) { return tok_utf8_count_invalid(s, strlen(s)) == 0; }

static char *copy_string(const char *s, size_t *len) {
    *len = strlen(s);
    char *c = malloc(*len + 1);
    if (c) memcpy(c, s, *len + 1);
    return c;
}

llmbed_status tok_json_normalizer(llmbed_tokenizer *t, const cJSON *node, const char *where,
                                  llmbed_error *error) {
    if (node == NULL || cJSON_IsNull(node)) return LLMBED_OK;
    const char *type = type_of(node);
    if (type == NULL) return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s.type: missing", where);
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(node, "normalizers");
        if (!cJSON_IsArray(list))
            return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s.normalizers: expected an array", where);
        int i = 0;
        for (const cJSON *item = list->child; item; item = item->next, i++) {
            char sub[160];
            snprintf(sub, sizeof sub, "%s.normalizers[%d]", where, i);
            llmbed_status st = tok_json_normalizer(t, item, sub, error);
            if (st != LLMBED_OK) return st;
        }
        return LLMBED_OK;
    }
    tok_norm_step step = {0};
    if (strcmp(type, "NFC") == 0) step.kind = TOK_NORM_NFC;
    else if (strcmp(type, "NFD") == 0) step.kind = TOK_NORM_NFD;
    else if (strcmp(type, "NFKC") == 0) step.kind = TOK_NORM_NFKC;
    else if (strcmp(type, "NFKD") == 0) step.kind = TOK_NORM_NFKD;
    else if (strcmp(type, "Lowercase") == 0) step.kind = TOK_NORM_LOWERCASE;
    else if (strcmp(type, "StripAccents") == 0) step.kind = TOK_NORM_STRIP_ACCENTS;
    else if (strcmp(type, "Strip") == 0) {
        step.kind = TOK_NORM_STRIP;
        step.left = flag(node, "strip_left", true);
        step.right = flag(node, "strip_right", true);
    } else if (strcmp(type, "Prepend") == 0) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(node, "prepend");
        if (!cJSON_IsString(p) || !valid_text(p->valuestring))
            return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s.prepend: expected a UTF-8 string", where);
        step.kind = TOK_NORM_PREPEND;
        step.text = copy_string(p->valuestring, &step.text_len);
        if (step.text == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s", where);
    } else if (strcmp(type, "Replace") == 0) {
        const char *pattern = "";
        bool literal = false;
        llmbed_status st = pattern_of(node, where, &pattern, &literal, error);
        if (st != LLMBED_OK) return st;
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(node, "content");
        if (!cJSON_IsString(content) || !valid_text(content->valuestring))
            return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s.content: expected a UTF-8 string", where);
        if (pattern[0] == '\0')
            return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s.pattern: empty", where);
        step.kind = TOK_NORM_REPLACE;
        st = tok_regex_compile(pattern, strlen(pattern), literal, where, &step.regex, error);
        if (st != LLMBED_OK) return st;
        step.text = copy_string(content->valuestring, &step.text_len);
        if (step.text == NULL) {
            tok_regex_free(&step.regex);
            return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s", where);
        }
    } else {
        /* BertNormalizer, Precompiled (SentencePiece charsmap), NMT, ByteLevel... */
        return llmbed_fail(error, LLMBED_ERR_TOKENIZER_UNSUPPORTED,
                           "%s: normalizer type \"%s\" is not supported (supported: NFC, NFD, NFKC, NFKD, "
                           "Lowercase, StripAccents, Strip, Prepend, Replace, Sequence)",
                           where, type);
    }
    return tok_norm_add(&t->normalizer, &step, error);
}

static llmbed_status behavior_of(const cJSON *node, const char *where, tok_split_behavior fallback,
                                 tok_split_behavior *out, llmbed_error *error) {
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(node, "behavior");
    *out = fallback;
    if (b == NULL) return LLMBED_OK;
    static const struct {
        const char *name;
        tok_split_behavior value;
    } names[] = {{"Removed", TOK_SPLIT_REMOVED},
                 {"Isolated", TOK_SPLIT_ISOLATED},
                 {"MergedWithPrevious", TOK_SPLIT_MERGED_WITH_PREVIOUS},
                 {"MergedWithNext", TOK_SPLIT_MERGED_WITH_NEXT},
                 {"Contiguous", TOK_SPLIT_CONTIGUOUS}};
    for (size_t i = 0; cJSON_IsString(b) && i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(b->valuestring, names[i].name) == 0) {
            *out = names[i].value;
            return LLMBED_OK;
        }
    }
    return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s.behavior: unknown value", where);
}

static llmbed_status metaspace(llmbed_tokenizer *t, const cJSON *node, const char *where, llmbed_error *error) {
    tok_pre_step step = {.kind = TOK_PRE_METASPACE, .prepend = TOK_PREPEND_ALWAYS};
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(node, "replacement");
    const char *replacement = cJSON_IsString(r) ? r->valuestring : "\xE2\x96\x81";
    step.replacement_len = strlen(replacement);
    if (step.replacement_len == 0 || step.replacement_len >= sizeof step.replacement || !valid_text(replacement))
        return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s.replacement: must be one character", where);
    memcpy(step.replacement, replacement, step.replacement_len);
    const cJSON *scheme = cJSON_GetObjectItemCaseSensitive(node, "prepend_scheme");
    if (cJSON_IsString(scheme)) {
        if (strcmp(scheme->valuestring, "first") == 0) step.prepend = TOK_PREPEND_FIRST;
        else if (strcmp(scheme->valuestring, "never") == 0) step.prepend = TOK_PREPEND_NEVER;
        else if (strcmp(scheme->valuestring, "always") != 0)
            return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s.prepend_scheme: unknown value", where);
    } else if (!flag(node, "add_prefix_space", true)) {
        step.prepend = TOK_PREPEND_NEVER;
    }
    step.split = flag(node, "split", true);
    llmbed_status st = tok_regex_compile(step.replacement, step.replacement_len, true, where, &step.regex, error);
    if (st != LLMBED_OK) return st;
    st = tok_pre_add_step(&t->pretokenizer, &step, error);
    if (st != LLMBED_OK) tok_regex_free(&step.regex);
    return st;
}

static llmbed_status pretokenizer_node(llmbed_tokenizer *t, const cJSON *node, const char *where,
                                       llmbed_error *error);

/* A trailing BYTE_MAP changes nothing the model sees (it maps back), so it is dropped. */
llmbed_status tok_json_pretokenizer(llmbed_tokenizer *t, const cJSON *node, const char *where,
                                    llmbed_error *error) {
    llmbed_status st = pretokenizer_node(t, node, where, error);
    tok_pretokenizer *p = &t->pretokenizer;
    if (st == LLMBED_OK && p->n_steps > 0 && p->steps[p->n_steps - 1].kind == TOK_PRE_BYTE_MAP) p->n_steps--;
    return st;
}

static llmbed_status pretokenizer_node(llmbed_tokenizer *t, const cJSON *node, const char *where,
                                       llmbed_error *error) {
    if (node == NULL || cJSON_IsNull(node)) return LLMBED_OK;
    const char *type = type_of(node);
    if (type == NULL) return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s.type: missing", where);
    tok_pretokenizer *p = &t->pretokenizer;
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(node, "pretokenizers");
        if (!cJSON_IsArray(list))
            return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s.pretokenizers: expected an array", where);
        int i = 0;
        for (const cJSON *item = list->child; item; item = item->next, i++) {
            char sub[160];
            snprintf(sub, sizeof sub, "%s.pretokenizers[%d]", where, i);
            llmbed_status st = pretokenizer_node(t, item, sub, error);
            if (st != LLMBED_OK) return st;
        }
        return LLMBED_OK;
    }
    if (strcmp(type, "ByteLevel") == 0) {
        t->byte_level = true;
        if (flag(node, "add_prefix_space", true)) {
            tok_pre_step step = {.kind = TOK_PRE_PREFIX_SPACE};
            llmbed_status st = tok_pre_add_step(p, &step, error);
            if (st != LLMBED_OK) return st;
        }
        llmbed_status st = LLMBED_OK;
        if (flag(node, "use_regex", true))
            st = tok_pre_add_split(p, tok_gpt2_pattern, strlen(tok_gpt2_pattern), false, TOK_SPLIT_ISOLATED,
                                   false, where, error);
        tok_pre_step map = {.kind = TOK_PRE_BYTE_MAP};
        return st == LLMBED_OK ? tok_pre_add_step(p, &map, error) : st;
    }
    if (strcmp(type, "Split") == 0) {
        const char *pattern = "";
        bool literal = false;
        tok_split_behavior behavior;
        llmbed_status st = pattern_of(node, where, &pattern, &literal, error);
        if (st == LLMBED_OK) st = behavior_of(node, where, TOK_SPLIT_ISOLATED, &behavior, error);
        if (st != LLMBED_OK) return st;
        if (pattern[0] == '\0') return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s.pattern: empty", where);
        return tok_pre_add_split(p, pattern, strlen(pattern), literal, behavior, flag(node, "invert", false),
                                 where, error);
    }
    if (strcmp(type, "Digits") == 0) {
        /* char::is_numeric is \p{N}; non-individual digits are Contiguous. */
        const char *re = flag(node, "individual_digits", false) ? "\\p{N}" : "\\p{N}+";
        return tok_pre_add_split(p, re, strlen(re), false, TOK_SPLIT_ISOLATED, false, where, error);
    }
    if (strcmp(type, "Punctuation") == 0) {
        /* HF is_punctuation: ASCII punctuation or a Unicode P category. */
        static const char re[] = "[\\p{P}!-/:-@\\[-`{-~]";
        tok_split_behavior behavior;
        llmbed_status st = behavior_of(node, where, TOK_SPLIT_ISOLATED, &behavior, error);
        if (st != LLMBED_OK) return st;
        return tok_pre_add_split(p, re, strlen(re), false, behavior, false, where, error);
    }
    if (strcmp(type, "Whitespace") == 0) {
        static const char re[] = "\\w+|[^\\w\\s]+";
        return tok_pre_add_split(p, re, strlen(re), false, TOK_SPLIT_REMOVED, true, where, error);
    }
    if (strcmp(type, "WhitespaceSplit") == 0) {
        static const char re[] = "\\s+";
        return tok_pre_add_split(p, re, strlen(re), false, TOK_SPLIT_REMOVED, false, where, error);
    }
    if (strcmp(type, "CharDelimiterSplit") == 0) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(node, "delimiter");
        if (!cJSON_IsString(d) || d->valuestring[0] == '\0')
            return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED, "%s.delimiter: expected a character", where);
        return tok_pre_add_split(p, d->valuestring, strlen(d->valuestring), true, TOK_SPLIT_REMOVED, false,
                                 where, error);
    }
    if (strcmp(type, "Metaspace") == 0) return metaspace(t, node, where, error);
    return llmbed_fail(error, LLMBED_ERR_TOKENIZER_UNSUPPORTED,
                       "%s: pre-tokenizer type \"%s\" is not supported (supported: ByteLevel, Split, Digits, "
                       "Punctuation, Whitespace, WhitespaceSplit, CharDelimiterSplit, Metaspace, Sequence)",
                       where, type);
}

void tok_json_decoder(llmbed_tokenizer *t, const cJSON *node) {
    if (node == NULL || cJSON_IsNull(node)) return;
    const char *type = type_of(node);
    if (type == NULL) return;
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(node, "decoders");
        for (const cJSON *item = list ? list->child : NULL; item; item = item->next) tok_json_decoder(t, item);
    } else if (strcmp(type, "ByteFallback") == 0) {
        t->decode_byte_tokens = true;
    } else if (strcmp(type, "Replace") == 0) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(node, "pattern");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(p, "String");
        if (cJSON_IsString(s) && strcmp(s->valuestring, "\xE2\x96\x81") == 0) t->decode_metaspace = true;
    } else if (strcmp(type, "Strip") == 0) {
        const cJSON *start = cJSON_GetObjectItemCaseSensitive(node, "start");
        if (cJSON_IsNumber(start) && start->valueint >= 1) t->decode_strip_prefix = true;
    } else if (strcmp(type, "Metaspace") == 0) {
        t->decode_metaspace = true;
        const cJSON *scheme = cJSON_GetObjectItemCaseSensitive(node, "prepend_scheme");
        t->decode_strip_prefix = !(cJSON_IsString(scheme) && strcmp(scheme->valuestring, "never") == 0);
    }
}
