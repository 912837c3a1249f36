#include "tokenizer/tok_regex.h"

#include <stdint.h>
#include <stdlib.h>

#include "common/error.h"
#include "tokenizer/utf8.h"

llmbed_status tok_regex_compile(const char *pattern, size_t len, bool literal, const char *where,
                                tok_regex *out, llmbed_error *error) {
    out->code = NULL;
    char *escaped = NULL;
    if (literal) {
        escaped = malloc(2 * len + 1);
        if (escaped == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: pattern", where);
        size_t n = 0;
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)pattern[i];
            /* A backslash before an ASCII non-alphanumeric is always literal in PCRE2. */
            if (c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
                escaped[n++] = '\\';
            escaped[n++] = (char)c;
        }
        pattern = escaped;
        len = n;
    }
    int code;
    PCRE2_SIZE offset;
    out->code = pcre2_compile((PCRE2_SPTR)pattern, len, PCRE2_UTF | PCRE2_UCP, &code, &offset, NULL);
    free(escaped);
    if (out->code == NULL) {
        PCRE2_UCHAR text[160];
        pcre2_get_error_message(code, text, sizeof text);
        return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MALFORMED,
                           "%s: pattern does not compile at offset %zu: %s", where, (size_t)offset,
                           (const char *)text);
    }
    /* JIT is an optimisation: without it (unsupported CPU) matching still works. */
    pcre2_jit_compile(out->code, PCRE2_JIT_COMPLETE);
    return LLMBED_OK;
}

void tok_regex_free(tok_regex *re) {
    pcre2_code_free(re->code);
    re->code = NULL;
}

void tok_match_scratch_free(tok_match_scratch *s) {
    pcre2_match_data_free(s->data);
    pcre2_match_context_free(s->context);
    pcre2_jit_stack_free(s->stack);
    s->data = NULL;
    s->context = NULL;
    s->stack = NULL;
}

static llmbed_status grow_jit_stack(tok_match_scratch *s, llmbed_error *error) {
    size_t size = 256 * 1024;
    if (s->stack != NULL) {
        pcre2_jit_stack_free(s->stack);
        s->stack = NULL;
        size = 64u << 20; /* second try: 64 MiB, far above any split pattern's need */
    }
    if (s->context == NULL) s->context = pcre2_match_context_create(NULL);
    s->stack = pcre2_jit_stack_create(32 * 1024, size, NULL);
    if (s->context == NULL || s->stack == NULL)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: regex JIT stack");
    pcre2_jit_stack_assign(s->context, NULL, s->stack);
    return LLMBED_OK;
}

llmbed_status tok_regex_next(const tok_regex *re, const char *subject, size_t len, size_t from,
                             tok_match_scratch *s, bool *found, size_t *start, size_t *end,
                             llmbed_error *error) {
    *found = false;
    if (s->data == NULL) {
        s->data = pcre2_match_data_create(1, NULL);
        if (s->data == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: match data");
    }
    int retries = 0;
    while (from < len) {
        int rc = pcre2_match(re->code, (PCRE2_SPTR)subject, len, from, PCRE2_NO_UTF_CHECK, s->data,
                             s->context);
        if (rc == PCRE2_ERROR_NOMATCH) return LLMBED_OK;
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT && retries++ < 2) {
            llmbed_status st = grow_jit_stack(s, error);
            if (st != LLMBED_OK) return st;
            continue;
        }
        if (rc < 0) {
            PCRE2_UCHAR text[160];
            pcre2_get_error_message(rc, text, sizeof text);
            return llmbed_fail(error, LLMBED_ERR_INTERNAL, "tokenizer: regex match failed: %s",
                               (const char *)text);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->data);
        if (ov[1] > ov[0]) {
            *found = true;
            *start = ov[0];
            *end = ov[1];
            return LLMBED_OK;
        }
        /* Empty match: HF drops empty splits, so step over one character. */
        if (ov[0] >= len) return LLMBED_OK;
        from = ov[0] + tok_utf8_lead_len((uint8_t)subject[ov[0]]);
    }
    return LLMBED_OK;
}
