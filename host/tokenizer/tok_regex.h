/* PCRE2 (UTF + UCP, JIT) wrapper for the split and replace patterns of
 * pre-tokenizers and normalizers. HF tokenizers uses Oniguruma; the patterns
 * models ship (\p{L}, \p{N}, \s, lookahead, (?i:...)) mean the same in PCRE2.
 * Subjects are valid UTF-8 (repaired on entry), so matching skips PCRE2's
 * UTF check: checking on every call would make splitting a long text
 * quadratic. */
#ifndef LLMBED_TOKENIZER_TOK_REGEX_H
#define LLMBED_TOKENIZER_TOK_REGEX_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>

#include "llmbed.h"

typedef struct tok_regex {
    pcre2_code *code;
} tok_regex;

/* Per-call matching state (match data, and a JIT stack grown on demand). */
typedef struct tok_match_scratch {
    pcre2_match_data *data;
    pcre2_match_context *context;
    pcre2_jit_stack *stack;
} tok_match_scratch;

/* Compiles `pattern` (a regex, or with literal=true a plain string).
 * `where` names the tokenizer field for the error message. */
llmbed_status tok_regex_compile(const char *pattern, size_t len, bool literal, const char *where,
                                tok_regex *out, llmbed_error *error);
void tok_regex_free(tok_regex *re);

void tok_match_scratch_free(tok_match_scratch *s);

/* Next non-empty match in subject[0..len) at or after `from`. Returns
 * LLMBED_OK with *found set, or an error status (allocation, PCRE2 limits). */
llmbed_status tok_regex_next(const tok_regex *re, const char *subject, size_t len, size_t from,
                             tok_match_scratch *s, bool *found, size_t *start, size_t *end,
                             llmbed_error *error);

#endif
