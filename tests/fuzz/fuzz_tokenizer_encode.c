/* libFuzzer: encoding arbitrary bytes with real vocabularies (GPT-2
 * byte-level BPE, Llama SentencePiece BPE, the Falcon and DeepSeek
 * pre-tokenizers). The first input byte picks the tokenizer; the rest is
 * the text. Decoding the ids must give back the (repaired) text for the
 * byte-level vocabularies. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container/gguf.h"
#include "tokenizer/tokenizer.h"

#ifndef LLMBED_FUZZ_TESTDATA
#define LLMBED_FUZZ_TESTDATA "../shared/testdata/tokenizer"
#endif

enum { N_VOCABS = 4 };
static const char *const vocabs[N_VOCABS] = {"gpt-2", "llama-spm", "falcon", "deepseek-llm"};
static llmbed_tokenizer *tokenizers[N_VOCABS];

static llmbed_tokenizer *load(const char *name) {
    char path[1024];
    const char *dir = getenv("LLMBED_FUZZ_TESTDATA");
    snprintf(path, sizeof path, "%s/%s/vocab.gguf", dir ? dir : LLMBED_FUZZ_TESTDATA, name);
    llmbed_gguf *g = NULL;
    llmbed_tokenizer *t = NULL;
    llmbed_error e;
    if (llmbed_gguf_open(path, &g, &e) == LLMBED_OK) llmbed_tokenizer_load_gguf(g, &t, &e);
    llmbed_gguf_close(g);
    if (t == NULL) {
        fprintf(stderr, "fuzz_tokenizer_encode: cannot load %s (set LLMBED_FUZZ_TESTDATA)\n", path);
        abort();
    }
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    int which = data[0] % N_VOCABS;
    if (tokenizers[which] == NULL) tokenizers[which] = load(vocabs[which]);
    const llmbed_tokenizer *t = tokenizers[which];
    llmbed_encode_options o;
    llmbed_encode_options_default(&o);
    o.add_special = 0;
    o.parse_special = data[0] & 0x80 ? 0 : 1;
    llmbed_encode_result r = {0};
    llmbed_error e;
    if (llmbed_tokenizer_encode(t, (const char *)data + 1, size - 1, &o, &r, &e) != LLMBED_OK) abort();
    char *out = NULL;
    size_t len;
    if (llmbed_tokenizer_decode(t, r.ids, r.n_ids, &out, &len, &e) != LLMBED_OK) abort();
    free(out);
    llmbed_encode_result_free(&r);
    return 0;
}
