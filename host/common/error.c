#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>

llmbed_status llmbed_fail(llmbed_error *error, llmbed_status status, const char *fmt, ...) {
    if (error == NULL) return status;
    error->status = status;
    va_list args;
    va_start(args, fmt);
    vsnprintf(error->message, sizeof error->message, fmt, args);
    va_end(args);
    return status;
}

void llmbed_error_clear(llmbed_error *error) {
    if (error == NULL) return;
    error->status = LLMBED_OK;
    error->message[0] = '\0';
}
