/* libFuzzer: tokenizer.json parsing. Any input must load or fail with a
 * status and message, never crash; a loaded tokenizer must encode a fixed
 * text and decode its ids. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tokenizer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    llmbed_tokenizer *t = NULL;
    llmbed_error e;
    if (llmbed_tokenizer_load_json_memory((const char *)data, size, NULL, 0, "fuzz.json", &t, &e) != LLMBED_OK)
        return 0;
    static const char text[] = "Hello world! 123 \xF0\x9F\xA6\x99 <s> \xFF";
    llmbed_encode_result r = {0};
    if (llmbed_tokenizer_encode(t, text, sizeof text - 1, NULL, &r, &e) == LLMBED_OK) {
        char *out = NULL;
        size_t len;
        if (llmbed_tokenizer_decode(t, r.ids, r.n_ids, &out, &len, &e) == LLMBED_OK) free(out);
    }
    llmbed_encode_result_free(&r);
    llmbed_tokenizer_free(t);
    return 0;
}
