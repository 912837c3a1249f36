#include "tokenizer/normalizer.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "common/error.h"
#include "tokenizer/utf8.h"

llmbed_status tok_norm_add(tok_normalizer *n, tok_norm_step *step, llmbed_error *error) {
    tok_norm_step *steps = realloc(n->steps, (n->n_steps + 1) * sizeof *steps);
    if (steps == NULL) {
        free(step->text);
        tok_regex_free(&step->regex);
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: normalizer");
    }
    n->steps = steps;
    n->steps[n->n_steps++] = *step;
    return LLMBED_OK;
}

void tok_normalizer_free(tok_normalizer *n) {
    for (size_t i = 0; i < n->n_steps; i++) {
        free(n->steps[i].text);
        tok_regex_free(&n->steps[i].regex);
    }
    free(n->steps);
    n->steps = NULL;
    n->n_steps = 0;
}

bool tok_is_whitespace(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

static llmbed_status unicode_form(const char *text, size_t len, int options, tok_bytes *out,
                                  llmbed_error *error) {
    out->len = 0;
    if (len == 0) return tok_bytes_append(out, "", 0) ? LLMBED_OK
                                                      : llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: normalizer");
    utf8proc_uint8_t *mapped = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)len, &mapped,
                                      (utf8proc_option_t)(UTF8PROC_STABLE | options));
    if (n < 0) {
        free(mapped);
        return llmbed_fail(error, LLMBED_ERR_INTERNAL, "tokenizer: unicode normalisation: %s",
                           utf8proc_errmsg(n));
    }
    bool ok = tok_bytes_append(out, mapped, (size_t)n);
    free(mapped);
    return ok ? LLMBED_OK : llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: normalizer");
}

/* Per character as Rust's char::to_lowercase (HF Lowercase): U+0130 is the
 * one code point whose lowercase is two characters. */
static bool lowercase(const char *text, size_t len, tok_bytes *out) {
    out->len = 0;
    const uint8_t *s = (const uint8_t *)text;
    for (size_t i = 0; i < len;) {
        size_t n;
        uint32_t cp = tok_utf8_decode(s + i, &n);
        i += n;
        char buf[8];
        size_t m;
        if (cp == 0x130) {
            memcpy(buf, "i\xCC\x87", 3);
            m = 3;
        } else {
            m = tok_utf8_encode((uint32_t)utf8proc_tolower((utf8proc_int32_t)cp), buf);
        }
        if (!tok_bytes_append(out, buf, m)) return false;
    }
    return tok_bytes_append(out, "", 0);
}

static bool strip_accents(const char *text, size_t len, tok_bytes *out) {
    out->len = 0;
    const uint8_t *s = (const uint8_t *)text;
    for (size_t i = 0; i < len;) {
        size_t n;
        uint32_t cp = tok_utf8_decode(s + i, &n);
        if (utf8proc_category((utf8proc_int32_t)cp) != UTF8PROC_CATEGORY_MN &&
            !tok_bytes_append(out, text + i, n))
            return false;
        i += n;
    }
    return tok_bytes_append(out, "", 0);
}

static bool strip(const tok_norm_step *step, const char *text, size_t len, tok_bytes *out) {
    const uint8_t *s = (const uint8_t *)text;
    size_t begin = 0, end = len;
    if (step->left) {
        while (begin < end) {
            size_t n;
            uint32_t cp = tok_utf8_decode(s + begin, &n);
            if (!tok_is_whitespace(cp)) break;
            begin += n;
        }
    }
    if (step->right) {
        while (end > begin) {
            size_t k = end - 1;
            while (k > begin && (s[k] & 0xC0) == 0x80) k--;
            size_t n;
            uint32_t cp = tok_utf8_decode(s + k, &n);
            if (!tok_is_whitespace(cp)) break;
            end = k;
        }
    }
    out->len = 0;
    return tok_bytes_append(out, text + begin, end - begin);
}

static llmbed_status replace(const tok_norm_step *step, const char *text, size_t len, tok_bytes *out,
                             tok_match_scratch *ms, llmbed_error *error) {
    out->len = 0;
    size_t from = 0;
    for (;;) {
        bool found;
        size_t start, end;
        llmbed_status st = tok_regex_next(&step->regex, text, len, from, ms, &found, &start, &end, error);
        if (st != LLMBED_OK) return st;
        if (!found) break;
        if (!tok_bytes_append(out, text + from, start - from) ||
            !tok_bytes_append(out, step->text, step->text_len))
            return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: normalizer");
        from = end;
    }
    if (!tok_bytes_append(out, text + from, len - from))
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: normalizer");
    return LLMBED_OK;
}

static llmbed_status apply(const tok_norm_step *step, const char *text, size_t len, tok_bytes *out,
                           tok_match_scratch *ms, llmbed_error *error) {
    bool ok = true;
    switch (step->kind) {
    case TOK_NORM_NFC: return unicode_form(text, len, UTF8PROC_COMPOSE, out, error);
    case TOK_NORM_NFD: return unicode_form(text, len, UTF8PROC_DECOMPOSE, out, error);
    case TOK_NORM_NFKC: return unicode_form(text, len, UTF8PROC_COMPOSE | UTF8PROC_COMPAT, out, error);
    case TOK_NORM_NFKD: return unicode_form(text, len, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, out, error);
    case TOK_NORM_LOWERCASE: ok = lowercase(text, len, out); break;
    case TOK_NORM_STRIP_ACCENTS: ok = strip_accents(text, len, out); break;
    case TOK_NORM_STRIP: ok = strip(step, text, len, out); break;
    case TOK_NORM_REPLACE: return replace(step, text, len, out, ms, error);
    case TOK_NORM_PREPEND:
        out->len = 0;
        /* HF Prepend leaves empty text empty. */
        ok = (len == 0 || tok_bytes_append(out, step->text, step->text_len)) && tok_bytes_append(out, text, len);
        break;
    }
    return ok ? LLMBED_OK : llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: normalizer");
}

llmbed_status tok_normalize(const tok_normalizer *n, const char *text, size_t len, tok_bytes *out,
                            tok_bytes *scratch, tok_match_scratch *ms, llmbed_error *error) {
    out->len = 0;
    if (!tok_bytes_append(out, text, len))
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: normalizer");
    for (size_t i = 0; i < n->n_steps; i++) {
        llmbed_status st = apply(&n->steps[i], out->data, out->len, scratch, ms, error);
        if (st != LLMBED_OK) return st;
        tok_bytes tmp = *out;
        *out = *scratch;
        *scratch = tmp;
    }
    return LLMBED_OK;
}
