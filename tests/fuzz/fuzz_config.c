/* libFuzzer: arbitrary bytes as a config.json. */
#include <stdint.h>

#include "model/config_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    llmbed_config config;
    llmbed_error error;
    (void)llmbed_config_parse_json((const char *)data, size, "fuzz/config.json", &config, &error);
    return 0;
}
