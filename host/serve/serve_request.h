/* The body of POST /v1/embeddings -> a request, as OpenAI's embeddings API
 * defines it: "input" is a string, an array of strings, an array of token
 * ids, or an array of token-id arrays; "model" a string; "encoding_format"
 * "float" or "base64"; "dimensions" a positive integer; "user" any string
 * (ignored). Other fields are ignored, as vLLM and TEI do.
 *
 * A pure function over bytes (no model, no I/O), fuzzed by
 * tests/fuzz/fuzz_serve_request.c. JSON through simdjson (as the JSONL
 * reader, io/json_line.h): strings come with their length, so "\u0000" is
 * data; simdjson rejects invalid UTF-8, which RFC 8259 forbids anyway. */
#ifndef LLMBED_SERVE_REQUEST_H
#define LLMBED_SERVE_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum serve_input_kind { SERVE_INPUT_TEXT = 0, SERVE_INPUT_IDS } serve_input_kind;

typedef struct serve_input {
    serve_input_kind kind;
    const char *text; /* TEXT: UTF-8, text_len bytes (may hold NULs), NUL-terminated; points into the request */
    size_t text_len;
    const int32_t *ids; /* IDS: n_ids ids as given (not yet checked against a vocabulary) */
    size_t n_ids;
} serve_input;

typedef struct serve_request {
    serve_input *inputs; /* n_inputs >= 1 */
    int n_inputs;
    int base64;     /* encoding_format "base64": little-endian float32 rows */
    int dimensions; /* 0 = not given */
    char *model;    /* the "model" string, NUL-terminated (NULL when absent) */
    void *storage;  /* owns every string and id array above */
} serve_request;

/* Why a body was refused: an HTTP 400 in OpenAI's error shape. */
typedef struct serve_request_error {
    const char *param; /* the field at fault ("input", "dimensions", ...), NULL for the body as a whole */
    char message[256]; /* names the field and, for "input", the index of the bad input */
} serve_request_error;

typedef enum serve_parse_result {
    SERVE_PARSE_OK = 0,
    SERVE_PARSE_INVALID, /* *error says why (HTTP 400) */
    SERVE_PARSE_NO_MEMORY
} serve_parse_result;

/* Parses body[0..len) into *request (cleared first; free with
 * serve_request_clear, also after a failure). max_inputs bounds the inputs
 * of one request (0 = none). */
serve_parse_result serve_request_parse(const char *body, size_t len, int max_inputs, serve_request *request,
                                       serve_request_error *error);

void serve_request_clear(serve_request *request);

#ifdef __cplusplus
}
#endif

#endif
