/* libFuzzer target for the server's request parser (host/serve/serve_request.cpp):
 * any body must give either a request whose every input is well formed or a
 * 400 with a message (naming a field when one is at fault), never a crash,
 * leak or out-of-bounds read. The first byte picks the --max-inputs limit. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const int max_inputs = size > 0 ? data[0] % 8 : 0;
    serve_request request;
    serve_request_error error;
    serve_parse_result r = serve_request_parse((const char *)data, size, max_inputs, &request, &error);
    if (r == SERVE_PARSE_OK) {
        if (request.n_inputs < 1 || request.inputs == NULL) abort();
        if (max_inputs > 0 && request.n_inputs > max_inputs) abort();
        for (int i = 0; i < request.n_inputs; i++) {
            const serve_input *in = &request.inputs[i];
            if (in->kind == SERVE_INPUT_TEXT) {
                if (in->text == NULL || in->text[in->text_len] != '\0') abort();
            } else if (in->kind == SERVE_INPUT_IDS) {
                if (in->n_ids > 0 && in->ids == NULL) abort();
                volatile int32_t sum = 0;
                for (size_t j = 0; j < in->n_ids; j++) sum += in->ids[j];
            } else {
                abort();
            }
        }
        if (request.dimensions < 0 || (request.base64 != 0 && request.base64 != 1)) abort();
    } else if (r == SERVE_PARSE_INVALID) {
        if (error.message[0] == '\0' || strlen(error.message) >= sizeof error.message) abort();
        if (request.inputs != NULL) abort();
    } else if (r != SERVE_PARSE_NO_MEMORY) {
        abort();
    }
    serve_request_clear(&request);
    return 0;
}
