/* libFuzzer: token offsets and template spans (issue 14) on arbitrary bytes.
 * The first byte picks the tokenizer (GPT-2 byte-level, Llama SentencePiece,
 * tiny_bpe.json with NFKC + Lowercase + Replace + Strip) and whether the
 * rest is split at the first 0x00 byte into a template and a text. Checks:
 * the spans' ids equal the plain encode's, one span per id, every span lies
 * inside the text and starts never go backwards; a parsed template renders
 * and its text span is found inside the templated tokens. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container/gguf.h"
#include "template/template.h"
#include "tokenizer/tokenizer.h"

#ifndef LLMBED_FUZZ_TESTDATA
#define LLMBED_FUZZ_TESTDATA "../shared/testdata/tokenizer"
#endif
#ifndef LLMBED_FUZZ_SOURCE_DIR
#define LLMBED_FUZZ_SOURCE_DIR "."
#endif

enum { N_TOKENIZERS = 3 };
static llmbed_tokenizer *tokenizers[N_TOKENIZERS];

static llmbed_tokenizer *load(int which) {
    char path[1024];
    const char *dir = getenv("LLMBED_FUZZ_TESTDATA");
    llmbed_tokenizer *t = NULL;
    llmbed_error e;
    if (which < 2) {
        snprintf(path, sizeof path, "%s/%s/vocab.gguf", dir ? dir : LLMBED_FUZZ_TESTDATA, which ? "llama-spm" : "gpt-2");
        llmbed_gguf *g = NULL;
        if (llmbed_gguf_open(path, &g, &e) == LLMBED_OK) llmbed_tokenizer_load_gguf(g, &t, &e);
        llmbed_gguf_close(g);
    } else {
        const char *src = getenv("LLMBED_FUZZ_SOURCE_DIR");
        snprintf(path, sizeof path, "%s/tests/data/tokenizer/tiny_bpe.json", src ? src : LLMBED_FUZZ_SOURCE_DIR);
        llmbed_tokenizer_load_json(path, &t, &e);
    }
    if (t == NULL) {
        fprintf(stderr, "fuzz_tokenizer_offsets: cannot load %s (set LLMBED_FUZZ_TESTDATA / LLMBED_FUZZ_SOURCE_DIR)\n",
                path);
        abort();
    }
    return t;
}

static void check_spans(const llmbed_tokenizer *t, const char *text, size_t len, int add_special, size_t *n_out,
                        int64_t **offsets_out) {
    llmbed_encode_options o;
    llmbed_encode_options_default(&o);
    o.add_special = add_special;
    llmbed_encode_result plain = {0}, with = {0};
    tok_spans spans = {0};
    llmbed_error e;
    if (llmbed_tokenizer_encode(t, text, len, &o, &plain, &e) != LLMBED_OK) abort();
    if (llmbed_tokenizer_encode_spans(t, text, len, &o, &with, &spans, &e) != LLMBED_OK) abort();
    if (plain.n_ids != with.n_ids || spans.len != with.n_ids) abort();
    if (plain.n_ids && memcmp(plain.ids, with.ids, plain.n_ids * sizeof *plain.ids) != 0) abort();
    size_t last_start = 0;
    int64_t *offsets = malloc((2 * spans.len + 1) * sizeof *offsets);
    if (offsets == NULL) abort();
    for (size_t i = 0; i < spans.len; i++) {
        const tok_span s = spans.data[i];
        if (s.start > s.end || s.end > len) abort();
        if (s.end > s.start) {
            if (s.start < last_start) abort();
            last_start = s.start;
        }
        offsets[2 * i] = (int64_t)s.start;
        offsets[2 * i + 1] = (int64_t)s.end;
    }
    *n_out = spans.len;
    *offsets_out = offsets;
    llmbed_encode_result_free(&plain);
    llmbed_encode_result_free(&with);
    tok_spans_free(&spans);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const int which = data[0] % N_TOKENIZERS;
    if (tokenizers[which] == NULL) tokenizers[which] = load(which);
    const llmbed_tokenizer *t = tokenizers[which];
    const char *rest = (const char *)data + 1;
    const size_t rest_len = size - 1;
    size_t n = 0;
    int64_t *offsets = NULL;
    const char *nul = memchr(rest, 0, rest_len);
    if (!(data[0] & 0x40) || nul == NULL) {
        check_spans(t, rest, rest_len, data[0] & 0x80 ? 1 : 0, &n, &offsets);
        free(offsets);
        return 0;
    }
    /* Template mode: rest = template NUL text. */
    llmbed_template tmpl;
    llmbed_error e;
    if (llmbed_template_parse(rest, "fuzz", &tmpl, &e) != LLMBED_OK) return 0;
    const char *text = nul + 1;
    const size_t text_len = rest_len - (size_t)(text - rest);
    size_t *starts = malloc((size_t)tmpl.n_copies * sizeof *starts);
    char *rendered = NULL;
    size_t rendered_len = 0;
    if (starts == NULL || llmbed_template_render(&tmpl, text, text_len, &rendered, &rendered_len, starts, &e) != LLMBED_OK)
        abort();
    check_spans(t, rendered, rendered_len, data[0] & 0x80 ? 1 : 0, &n, &offsets);
    int32_t first = -1, end = -1;
    if (llmbed_span_tokens(offsets, n, starts[0], starts[0] + text_len, &first, &end)) {
        if (first < 0 || end <= first || (size_t)end > n) abort();
    }
    free(offsets);
    free(rendered);
    free(starts);
    llmbed_template_free(&tmpl);
    return 0;
}
