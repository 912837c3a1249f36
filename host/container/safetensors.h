/* safetensors reader (format: huggingface/safetensors README): u64 header
 * length N (little-endian), N bytes of JSON {name: {dtype, shape,
 * data_offsets: [begin, end)}, "__metadata__": {...}}, then the data
 * section that offsets are relative to. Files are mmap'd; every tensor is
 * checked (dtype F32/F16/BF16, offsets inside the data section and not
 * overlapping, shape x dtype size = byte length) before anyone reads it.
 * A handle holds one file, or every shard of a sharded checkpoint
 * (model.safetensors.index.json). */
#ifndef LLMBED_CONTAINER_SAFETENSORS_H
#define LLMBED_CONTAINER_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "llmbed.h"
#include "container/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* safetensors' own MAX_HEADER_SIZE (100 MB): larger headers are rejected. */
#define LLMBED_SAFETENSORS_MAX_HEADER ((uint64_t)100000000)

typedef struct llmbed_safetensors llmbed_safetensors;

/* One .safetensors file. */
llmbed_status llmbed_safetensors_open(const char *path, llmbed_safetensors **out, llmbed_error *error);

/* Same, over a caller-owned buffer that must outlive the handle (fuzzing, tests). */
llmbed_status llmbed_safetensors_open_memory(const void *data, size_t size, const char *name,
                                             llmbed_safetensors **out, llmbed_error *error);

/* A Hugging Face folder: model.safetensors.index.json (every shard its
 * weight_map names; each mapped tensor must be in its shard) when present,
 * else model.safetensors. LLMBED_ERR_FILE_NOT_FOUND when neither exists. */
llmbed_status llmbed_safetensors_open_folder(const char *folder, llmbed_safetensors **out,
                                             llmbed_error *error);

void llmbed_safetensors_close(llmbed_safetensors *st);

int64_t llmbed_safetensors_n_tensors(const llmbed_safetensors *st);
const llmbed_tensor_ref *llmbed_safetensors_tensor(const llmbed_safetensors *st, int64_t index);
const llmbed_tensor_ref *llmbed_safetensors_find_tensor(const llmbed_safetensors *st, const char *name);

/* The file a tensor lives in (for messages). */
const char *llmbed_safetensors_tensor_file(const llmbed_safetensors *st, int64_t index);

#ifdef __cplusplus
}
#endif

#endif
