/* GGUF v3 reader: metadata key/values and tensor views over an mmap of the
 * file. Every length, count, offset and type read from the file is checked
 * against the file size before use. Used by the model loader and by the
 * tokenizer (tokenizer.ggml.* keys; vocab-only files with 0 tensors are valid). */
#ifndef LLMBED_CONTAINER_GGUF_H
#define LLMBED_CONTAINER_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "llmbed.h"
#include "container/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct llmbed_gguf llmbed_gguf;

/* GGUF metadata value types, numbered as in the GGUF specification. */
typedef enum llmbed_gguf_type {
    LLMBED_GGUF_UINT8 = 0,
    LLMBED_GGUF_INT8 = 1,
    LLMBED_GGUF_UINT16 = 2,
    LLMBED_GGUF_INT16 = 3,
    LLMBED_GGUF_UINT32 = 4,
    LLMBED_GGUF_INT32 = 5,
    LLMBED_GGUF_FLOAT32 = 6,
    LLMBED_GGUF_BOOL = 7,
    LLMBED_GGUF_STRING = 8,
    LLMBED_GGUF_ARRAY = 9,
    LLMBED_GGUF_UINT64 = 10,
    LLMBED_GGUF_INT64 = 11,
    LLMBED_GGUF_FLOAT64 = 12
} llmbed_gguf_type;

/* A string inside the mapping: NOT NUL-terminated. */
typedef struct llmbed_gguf_string {
    const char *data;
    uint64_t length;
} llmbed_gguf_string;

/* Opens and validates `path` (magic, version 3 (2 also read), counts, every
 * key/value, tensor infos: known ggml types F32/F16/BF16/Q8_0/Q4_0/Q4_1,
 * offsets inside the data section, aligned, non-overlapping). */
llmbed_status llmbed_gguf_open(const char *path, llmbed_gguf **out, llmbed_error *error);
/* Same, over a caller-owned buffer that must outlive the handle (fuzzing, tests). */
llmbed_status llmbed_gguf_open_memory(const void *data, size_t size, const char *name,
                                      llmbed_gguf **out, llmbed_error *error);
void llmbed_gguf_close(llmbed_gguf *gguf);

const char *llmbed_gguf_path(const llmbed_gguf *gguf);
uint32_t llmbed_gguf_version(const llmbed_gguf *gguf);

/* Metadata lookup by key; index -1 when absent. */
int64_t llmbed_gguf_find_key(const llmbed_gguf *gguf, const char *key);
llmbed_gguf_type llmbed_gguf_key_type(const llmbed_gguf *gguf, int64_t key_index);

/* Typed getters: return false when the key is absent; set *ok_type false
 * style errors via the status variants below. Integer getters accept any
 * integer type whose value fits; the float getter accepts float32/float64. */
bool llmbed_gguf_get_int(const llmbed_gguf *gguf, const char *key, int64_t *out);
bool llmbed_gguf_get_float(const llmbed_gguf *gguf, const char *key, double *out);
bool llmbed_gguf_get_bool(const llmbed_gguf *gguf, const char *key, bool *out);
bool llmbed_gguf_get_string(const llmbed_gguf *gguf, const char *key, llmbed_gguf_string *out);

/* Arrays: element type and count; element access by index (bounds-checked,
 * returns false on type mismatch or index out of range). */
bool llmbed_gguf_get_array(const llmbed_gguf *gguf, const char *key, llmbed_gguf_type *elem_type,
                           uint64_t *count);
bool llmbed_gguf_array_string(const llmbed_gguf *gguf, const char *key, uint64_t index,
                              llmbed_gguf_string *out);
bool llmbed_gguf_array_int(const llmbed_gguf *gguf, const char *key, uint64_t index, int64_t *out);
bool llmbed_gguf_array_float(const llmbed_gguf *gguf, const char *key, uint64_t index, double *out);

/* Tensors, in file order. Shapes are reported row-major (reversed ne[]). */
int64_t llmbed_gguf_n_tensors(const llmbed_gguf *gguf);
const llmbed_tensor_ref *llmbed_gguf_tensor(const llmbed_gguf *gguf, int64_t index);
const llmbed_tensor_ref *llmbed_gguf_find_tensor(const llmbed_gguf *gguf, const char *name);

#ifdef __cplusplus
}
#endif

#endif
