/* Read-only memory map of a whole file (weights, GGUF metadata). The
 * mapping is private and never written; an empty file maps to data NULL,
 * size 0. */
#ifndef LLMBED_COMMON_MMAP_FILE_H
#define LLMBED_COMMON_MMAP_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "llmbed.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct llmbed_mapped_file {
    const uint8_t *data;
    size_t size;
} llmbed_mapped_file;

/* LLMBED_ERR_FILE_NOT_FOUND (naming the path and the system's reason) when
 * the file cannot be opened, is a directory or cannot be mapped. */
llmbed_status llmbed_map_file(const char *path, llmbed_mapped_file *out, llmbed_error *error);

/* Unmaps and zeroes `file`; a zeroed struct is a no-op. */
void llmbed_unmap_file(llmbed_mapped_file *file);

#ifdef __cplusplus
}
#endif

#endif
