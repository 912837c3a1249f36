/* Response bodies of the server, written into one buffer without a printf
 * per value: floats in their shortest round-trip form (Dragonbox, through
 * {fmt}; a float32 parsed back from the text is the same float) or base64
 * of little-endian float32 (OpenAI's encoding_format "base64"), and error
 * bodies in OpenAI's shape {"error":{"message","type","param","code"}}. */
#ifndef LLMBED_SERVE_RESPONSE_H
#define LLMBED_SERVE_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* {"object":"list","data":[{"object":"embedding","index":i,"embedding":...}],
 *  "model":model,"usage":{"prompt_tokens":n,"total_tokens":n}} for
 * rows[n_rows, dims] (every value finite). Returns a malloc'ed body and its
 * length in *len, NULL when out of memory. */
char *serve_response_embeddings(const float *rows, int n_rows, int dims, int base64, const char *model,
                                int64_t prompt_tokens, size_t *len);

/* An error body; param and code may be NULL (JSON null). NULL when out of memory. */
char *serve_response_error(const char *message, const char *type, const char *param, const char *code,
                           size_t *len);

/* {"object":"list","data":[{"id":model,"object":"model","created":created,"owned_by":"llmbed"}]} */
char *serve_response_models(const char *model, int64_t created, size_t *len);

/* The longest text serve_format_float writes: {fmt} prints the shortest
 * digits in fixed notation up to 16 digits before the point, so
 * "-1000000200000000" (17 bytes) beats any exponent form ("-1.1754944e-38"
 * is 14); tests/serve/test_serve_response.cpp checks the bound. */
enum { SERVE_FLOAT_TEXT_MAX = 17 };

/* Shortest round-trip text of a finite float into out (at least
 * SERVE_FLOAT_TEXT_MAX bytes); returns the length. */
size_t serve_format_float(float value, char *out);

/* Base64 (RFC 4648, with padding) of in[0..n) into out (4 * ceil(n / 3)
 * bytes); returns the length. */
size_t serve_base64_encode(const unsigned char *in, size_t n, char *out);

#ifdef __cplusplus
}
#endif

#endif
