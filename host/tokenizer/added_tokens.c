#include "tokenizer/added_tokens.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer/normalizer.h"
#include "tokenizer/utf8.h"

bool tok_added_push(tok_added_set *set, const tok_added *token) {
    if (token->len == 0) return true; /* an empty token can never match */
    if (set->n == set->cap) {
        size_t cap = set->cap ? 2 * set->cap : 16;
        tok_added *items = realloc(set->items, cap * sizeof *items);
        if (items == NULL) return false;
        set->items = items;
        set->cap = cap;
    }
    tok_added copy = *token;
    copy.text = malloc(token->len);
    if (copy.text == NULL) return false;
    memcpy(copy.text, token->text, token->len);
    set->items[set->n++] = copy;
    return true;
}

static int compare_added(const void *a, const void *b) {
    const tok_added *x = a, *y = b;
    uint8_t fx = (uint8_t)x->text[0], fy = (uint8_t)y->text[0];
    if (fx != fy) return fx < fy ? -1 : 1;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

void tok_added_finish(tok_added_set *set) {
    if (set->n) qsort(set->items, set->n, sizeof *set->items, compare_added);
    size_t k = 0;
    for (int b = 0; b <= 256; b++) {
        while (k < set->n && (uint8_t)set->items[k].text[0] < b) k++;
        set->first[b] = k;
    }
}

void tok_added_free(tok_added_set *set) {
    for (size_t i = 0; i < set->n; i++) free(set->items[i].text);
    free(set->items);
    memset(set, 0, sizeof *set);
}

static bool push_segment(tok_segments *out, size_t start, size_t len, int32_t id) {
    if (id < 0 && len == 0) return true;
    if (out->len == out->cap) {
        size_t cap = out->cap ? 2 * out->cap : 16;
        tok_segment *data = realloc(out->data, cap * sizeof *data);
        if (data == NULL) return false;
        out->data = data;
        out->cap = cap;
    }
    out->data[out->len++] = (tok_segment){start, len, id};
    return true;
}

/* Code point ending just before s[pos] (pos > 0). */
static uint32_t previous_cp(const uint8_t *s, size_t pos, size_t *start) {
    size_t k = pos - 1;
    while (k > 0 && (s[k] & 0xC0) == 0x80) k--;
    size_t n;
    *start = k;
    return tok_utf8_decode(s + k, &n);
}

static bool is_word_char(uint32_t cp) {
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return cp == '_' || (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||
           (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO);
}

bool tok_added_split(const tok_added_set *set, const char *text, size_t len, bool normalized,
                     bool parse_special, tok_segments *out) {
    const uint8_t *s = (const uint8_t *)text;
    size_t text_start = 0; /* start of the pending text segment */
    for (size_t pos = 0; pos < len;) {
        const tok_added *match = NULL;
        for (size_t k = set->first[s[pos]]; k < set->first[s[pos] + 1]; k++) {
            const tok_added *t = &set->items[k];
            if (t->normalized != normalized || (t->special && !parse_special)) continue;
            if (t->len > len - pos || memcmp(text + pos, t->text, t->len) != 0) continue;
            if (t->single_word) {
                size_t dummy, n;
                if (pos > 0 && is_word_char(previous_cp(s, pos, &dummy))) continue;
                if (pos + t->len < len && is_word_char(tok_utf8_decode(s + pos + t->len, &n))) continue;
            }
            match = t; /* longest first */
            break;
        }
        if (match == NULL) {
            pos += tok_utf8_lead_len(s[pos]);
            continue;
        }
        size_t begin = pos, end = pos + match->len;
        if (match->lstrip) {
            while (begin > text_start) {
                size_t prev;
                if (!tok_is_whitespace(previous_cp(s, begin, &prev))) break;
                begin = prev;
            }
        }
        if (match->rstrip) {
            while (end < len) {
                size_t n;
                if (!tok_is_whitespace(tok_utf8_decode(s + end, &n))) break;
                end += n;
            }
        }
        if (!push_segment(out, text_start, begin - text_start, -1) ||
            !push_segment(out, begin, end - begin, match->id))
            return false;
        text_start = pos = end;
    }
    return push_segment(out, text_start, len - text_start, -1);
}
