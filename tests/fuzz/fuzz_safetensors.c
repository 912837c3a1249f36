/* libFuzzer: arbitrary bytes as a .safetensors file. Every accepted tensor
 * is converted to fp32, so an accepted view that lies about its bounds
 * shows up as an ASan report. */
#include <stdint.h>
#include <stdlib.h>

#include "container/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    llmbed_safetensors *st = NULL;
    llmbed_error error;
    if (llmbed_safetensors_open_memory(data, size, "fuzz.safetensors", &st, &error) != LLMBED_OK) return 0;
    for (int64_t i = 0; i < llmbed_safetensors_n_tensors(st); i++) {
        const llmbed_tensor_ref *t = llmbed_safetensors_tensor(st, i);
        const int64_t n = llmbed_tensor_n_elements(t);
        if (n > (1 << 20)) continue;
        float *out = malloc((size_t)(n > 0 ? n : 1) * sizeof *out);
        if (out != NULL) llmbed_tensor_to_f32_threads(t, out, 1, &error);
        free(out);
        (void)llmbed_safetensors_find_tensor(st, t->name);
    }
    llmbed_safetensors_close(st);
    return 0;
}
