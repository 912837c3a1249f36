/* Internal error reporting: a status plus a formatted message naming the
 * file/tensor/field at fault, written into a caller-owned llmbed_error. */
#ifndef LLMBED_COMMON_ERROR_H
#define LLMBED_COMMON_ERROR_H

#include "llmbed.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define LLMBED_PRINTF_LIKE(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define LLMBED_PRINTF_LIKE(fmt_index, first_arg)
#endif

/* Records `status` and the message in `error` (which may be NULL) and returns
 * `status`, so callers can write `return llmbed_fail(err, CODE, "...", ...)`. */
llmbed_status llmbed_fail(llmbed_error *error, llmbed_status status, const char *fmt, ...)
    LLMBED_PRINTF_LIKE(3, 4);

/* Clears `error` to LLMBED_OK with an empty message (NULL is a no-op). */
void llmbed_error_clear(llmbed_error *error);

#ifdef __cplusplus
}
#endif

/* Evaluates a call returning llmbed_status and returns its status from the
 * enclosing function unless it is LLMBED_OK. */
#define LLMBED_TRY(expr)                                              \
    do {                                                              \
        const llmbed_status llmbed_try_status_ = (expr);              \
        if (llmbed_try_status_ != LLMBED_OK) return llmbed_try_status_; \
    } while (0)

#endif
