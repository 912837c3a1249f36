#include "template/template.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

static const char placeholder[] = "{text}";

void llmbed_template_free(llmbed_template *t) {
    if (t == NULL) return;
    free(t->literal);
    free(t->cuts);
    memset(t, 0, sizeof *t);
}

llmbed_status llmbed_template_parse(const char *source, const char *what, llmbed_template *out,
                                    llmbed_error *error) {
    memset(out, 0, sizeof *out);
    if (what == NULL) what = "template";
    if (source == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "%s: no template given", what);
    const size_t n = strlen(source);
    out->literal = malloc(n + 1);
    out->cuts = malloc((n / 2 + 1) * sizeof *out->cuts);
    if (out->literal == NULL || out->cuts == NULL) {
        llmbed_template_free(out);
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
    }
    size_t len = 0;
    for (size_t i = 0; i < n;) {
        const char c = source[i];
        if ((c == '{' || c == '}') && source[i + 1] == c) {
            out->literal[len++] = c;
            i += 2;
        } else if (c == '{' && strncmp(source + i, placeholder, sizeof placeholder - 1) == 0) {
            out->cuts[out->n_copies++] = len;
            i += sizeof placeholder - 1;
        } else if (c == '{' || c == '}') {
            const char *close = c == '{' ? strchr(source + i, '}') : NULL;
            llmbed_template_free(out);
            if (close != NULL && close - (source + i) < 40)
                return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                                   "%s: unknown placeholder '%.*s' at byte %zu (the only placeholder is {text}; "
                                   "write {{ and }} for literal braces)",
                                   what, (int)(close - (source + i) + 1), source + i, i);
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                               "%s: unmatched '%c' at byte %zu (write %c%c for a literal brace)", what, c, i, c, c);
        } else {
            out->literal[len++] = c;
            i++;
        }
    }
    out->literal[len] = '\0';
    out->literal_len = len;
    if (out->n_copies == 0) {
        llmbed_template_free(out);
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "%s: no {text} placeholder (the template must say where the text goes)", what);
    }
    return LLMBED_OK;
}

llmbed_status llmbed_template_render(const llmbed_template *t, const char *text, size_t len, char **out,
                                     size_t *out_len, size_t *copy_starts, llmbed_error *error) {
    *out = NULL;
    *out_len = 0;
    if ((size_t)t->n_copies > 0 && len > (SIZE_MAX - t->literal_len - 1) / (size_t)t->n_copies)
        return llmbed_fail(error, LLMBED_ERR_SEQUENCE_TOO_LONG, "template: text of %zu bytes too long", len);
    const size_t total = t->literal_len + (size_t)t->n_copies * len;
    char *s = malloc(total + 1);
    if (s == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "template: out of memory for %zu bytes", total);
    size_t at = 0, from = 0;
    for (int k = 0; k < t->n_copies; k++) {
        memcpy(s + at, t->literal + from, t->cuts[k] - from);
        at += t->cuts[k] - from;
        from = t->cuts[k];
        copy_starts[k] = at;
        if (len) memcpy(s + at, text, len);
        at += len;
    }
    memcpy(s + at, t->literal + from, t->literal_len - from);
    at += t->literal_len - from;
    s[at] = '\0';
    *out = s;
    *out_len = at;
    return LLMBED_OK;
}

int llmbed_span_tokens(const int64_t *offsets, size_t n_tokens, size_t a, size_t b, int32_t *first, int32_t *end) {
    int found = 0;
    for (size_t i = 0; i < n_tokens; i++) {
        const int64_t start = offsets[2 * i], stop = offsets[2 * i + 1];
        if (start < (int64_t)b && (int64_t)a < stop) {
            if (!found) *first = (int32_t)i;
            *end = (int32_t)i + 1;
            found = 1;
        }
    }
    return found;
}

char *llmbed_template_escape(const char *text) {
    size_t n = 0;
    for (const char *p = text; *p; p++) n += (*p == '{' || *p == '}') ? 2 : 1;
    char *out = malloc(n + 1);
    if (out == NULL) return NULL;
    char *q = out;
    for (const char *p = text; *p; p++) {
        *q++ = *p;
        if (*p == '{' || *p == '}') *q++ = *p;
    }
    *q = '\0';
    return out;
}
