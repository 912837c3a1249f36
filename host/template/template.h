/* Prompt templates with spans (issue 14): literal text around one or more
 * `{text}` placeholders (`{{` and `}}` stand for literal braces; any other
 * brace is an error naming its position). The templated string is tokenised
 * whole, never piece by piece, and the pooled span is found from token
 * offsets by the overlap rule:
 *
 *   token i belongs to a copy of the text when its character range in the
 *   templated string [start_i, end_i) overlaps the copy's range [a, b),
 *   i.e. start_i < b and a < end_i (special tokens the tokenizer adds have
 *   an empty range and never belong to it).
 *
 * A token that straddles the boundary (the template's space merged with the
 * text's first word, as byte-level BPE does with " {text}") belongs to the
 * text. */
#ifndef LLMBED_TEMPLATE_TEMPLATE_H
#define LLMBED_TEMPLATE_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#include "llmbed.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct llmbed_template {
    char *literal;      /* the literal text with escapes resolved, NUL-terminated */
    size_t literal_len;
    size_t *cuts;       /* [n_copies] placeholder k sits at literal offset cuts[k] */
    int n_copies;       /* >= 1 */
} llmbed_template;

/* Parses `source`. INVALID_ARGUMENT, naming the byte offset, for a stray
 * `{` or `}` or a `{name}` other than `{text}`, and for a template without
 * `{text}`. `what` names the source in messages ("--template", ...). */
llmbed_status llmbed_template_parse(const char *source, const char *what, llmbed_template *out,
                                    llmbed_error *error);
void llmbed_template_free(llmbed_template *t);

/* Renders the template around text[0..len): *out (malloc'ed, NUL-terminated,
 * *out_len bytes) and copy_starts[k] = where copy k of the text begins in it
 * (copy_starts holds n_copies entries; each copy is len bytes long). */
llmbed_status llmbed_template_render(const llmbed_template *t, const char *text, size_t len, char **out,
                                     size_t *out_len, size_t *copy_starts, llmbed_error *error);

/* The tokens whose offsets overlap [a, b) (the rule above): *first and *end
 * (exclusive). Returns 0 when no token overlaps. offsets[2i], offsets[2i+1]
 * is token i's byte range. */
int llmbed_span_tokens(const int64_t *offsets, size_t n_tokens, size_t a, size_t b, int32_t *first, int32_t *end);

/* Escapes `text` so it parses as literal template text ({ -> {{, } -> }}). malloc'ed; NULL when out of memory. */
char *llmbed_template_escape(const char *text);

#ifdef __cplusplus
}
#endif

#endif
