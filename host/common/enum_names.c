/* Names of the public enums as the CLI spells them (include/llmbed.h
 * llmbed_*_name), one table each, so the CLI, the manifest identity and the
 * bindings never keep their own copies of the values. */
#include <stdlib.h>
#include <string.h>

#include "llmbed.h"

static const char *const POOLING[] = {"default", "last", "mean", "first", "weighted-mean", "none", "latent"};
static const char *const ATTENTION[] = {"default", "causal", "bidirectional"};
static const char *const PRECISION[] = {"float32", "float16", "int8", "ubinary"};
static const char *const POOL_SPAN[] = {"all", "text", "last-text"};
static const char *const DEVICE[] = {"cpu", "cuda", "auto"};

#define NAME_OF(table, value) \
    ((unsigned)(value) < sizeof(table) / sizeof((table)[0]) ? (table)[(unsigned)(value)] : NULL)

const char *llmbed_pooling_name(llmbed_pooling pooling) { return NAME_OF(POOLING, pooling); }
const char *llmbed_attention_name(llmbed_attention attention) { return NAME_OF(ATTENTION, attention); }
const char *llmbed_precision_name(llmbed_precision precision) { return NAME_OF(PRECISION, precision); }
const char *llmbed_device_name(llmbed_device device) { return NAME_OF(DEVICE, device); }

const char *llmbed_pool_span_name(llmbed_pool_span span) {
    return span == LLMBED_POOL_SPAN_DEFAULT ? "default" : NAME_OF(POOL_SPAN, span);
}

llmbed_status llmbed_device_parse(const char *text, llmbed_device *device, int *index) {
    if (text == NULL || device == NULL || index == NULL) return LLMBED_ERR_INVALID_ARGUMENT;
    *index = 0;
    if (strcmp(text, "auto") == 0) {
        *device = LLMBED_DEVICE_AUTO;
        return LLMBED_OK;
    }
    if (strcmp(text, "cpu") == 0) {
        *device = LLMBED_DEVICE_CPU;
        return LLMBED_OK;
    }
    if (strncmp(text, "cuda", 4) != 0) return LLMBED_ERR_INVALID_ARGUMENT;
    *device = LLMBED_DEVICE_CUDA;
    if (text[4] == '\0') return LLMBED_OK;
    if (text[4] != ':' || text[5] == '\0') return LLMBED_ERR_INVALID_ARGUMENT;
    char *end;
    const long v = strtol(text + 5, &end, 10);
    if (*end != '\0' || v < 0 || v > 1024) return LLMBED_ERR_INVALID_ARGUMENT;
    *index = (int)v;
    return LLMBED_OK;
}
