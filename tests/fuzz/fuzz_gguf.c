/* libFuzzer: arbitrary bytes as a GGUF file. Accepted files are walked the
 * way the loader and the tokenizer walk them: every key through every
 * getter, array elements, the config, and every tensor converted to fp32. */
#include <stdint.h>
#include <stdlib.h>

#include "model/config_parse.h"
#include "container/gguf.h"

static void walk_arrays(const llmbed_gguf *g, const char *key) {
    llmbed_gguf_type type;
    uint64_t count;
    if (!llmbed_gguf_get_array(g, key, &type, &count)) return;
    for (uint64_t i = 0; i < count && i < 4096; i++) {
        llmbed_gguf_string s;
        int64_t v;
        double f;
        (void)llmbed_gguf_array_string(g, key, i, &s);
        (void)llmbed_gguf_array_int(g, key, i, &v);
        (void)llmbed_gguf_array_float(g, key, i, &f);
    }
    llmbed_gguf_string s;
    (void)llmbed_gguf_array_string(g, key, count, &s); /* one past the end */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    llmbed_gguf *g = NULL;
    llmbed_error error;
    if (llmbed_gguf_open_memory(data, size, "fuzz.gguf", &g, &error) != LLMBED_OK) return 0;
    static const char *const keys[] = {"general.architecture", "general.alignment", "tokenizer.ggml.tokens",
                                       "tokenizer.ggml.merges", "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
                                       "llama.block_count", "llama.rope.freq_base"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        int64_t v;
        double f;
        bool b;
        llmbed_gguf_string s;
        (void)llmbed_gguf_get_int(g, keys[k], &v);
        (void)llmbed_gguf_get_float(g, keys[k], &f);
        (void)llmbed_gguf_get_bool(g, keys[k], &b);
        (void)llmbed_gguf_get_string(g, keys[k], &s);
        (void)llmbed_gguf_key_type(g, llmbed_gguf_find_key(g, keys[k]));
        walk_arrays(g, keys[k]);
    }
    llmbed_config config;
    (void)llmbed_config_from_gguf(g, true, &config, &error);
    if (llmbed_config_from_gguf(g, false, &config, &error) == LLMBED_OK)
        (void)llmbed_config_validate(&config, "fuzz.gguf", &error);
    for (int64_t i = 0; i < llmbed_gguf_n_tensors(g); i++) {
        const llmbed_tensor_ref *t = llmbed_gguf_tensor(g, i);
        const int64_t n = llmbed_tensor_n_elements(t);
        if (n > (1 << 20)) continue;
        float *out = malloc((size_t)(n > 0 ? n : 1) * sizeof *out);
        if (out != NULL) llmbed_tensor_to_f32_threads(t, out, 1, &error);
        free(out);
    }
    llmbed_gguf_close(g);
    return 0;
}
