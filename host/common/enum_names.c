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

/* One CUDA ordinal "N" of a device list: digits only, at most 1024. */
static int parse_ordinal(const char *text, size_t len, int *ordinal) {
    if (len == 0 || len > 4) return -1;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') return -1;
        v = 10 * v + (text[i] - '0');
    }
    if (v > 1024) return -1;
    *ordinal = v;
    return 0;
}

llmbed_status llmbed_device_parse(const char *text, llmbed_ctx_params *params) {
    if (text == NULL || params == NULL) return LLMBED_ERR_INVALID_ARGUMENT;
    llmbed_device device = LLMBED_DEVICE_CUDA;
    int devices[LLMBED_MAX_DEVICES], n_devices = 0;
    if (strcmp(text, "auto") == 0 || strcmp(text, "cpu") == 0) {
        device = text[0] == 'a' ? LLMBED_DEVICE_AUTO : LLMBED_DEVICE_CPU;
        devices[0] = 0;
    } else if (strcmp(text, "cuda") == 0) {
        devices[0] = 0;
    } else if (strcmp(text, "cuda:all") == 0) {
        devices[0] = 0;
        n_devices = LLMBED_ALL_DEVICES;
    } else {
        if (strncmp(text, "cuda:", 5) != 0) return LLMBED_ERR_INVALID_ARGUMENT;
        for (const char *at = text + 5;; at++) {
            const size_t len = strcspn(at, ",");
            if (n_devices == LLMBED_MAX_DEVICES || parse_ordinal(at, len, &devices[n_devices]) != 0)
                return LLMBED_ERR_INVALID_ARGUMENT;
            for (int i = 0; i < n_devices; i++)
                if (devices[i] == devices[n_devices]) return LLMBED_ERR_INVALID_ARGUMENT; /* listed twice */
            n_devices++;
            at += len;
            if (*at == '\0') break;
        }
        if (n_devices == 1) n_devices = 0; /* one GPU: the plain device_index */
    }
    params->device = device;
    params->device_index = devices[0];
    params->n_devices = n_devices;
    for (int i = 0; i < n_devices; i++) params->devices[i] = devices[i];
    return LLMBED_OK;
}
