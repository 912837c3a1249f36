/* Output files that appear whole or not at all: data goes to "<path>.part",
 * which is flushed, fsync'd and renamed over <path> on commit, or unlinked
 * on abort. A reader never sees a half-written embedding file, and a job
 * that fails leaves nothing behind (SIGKILL can leave a stale ".part", which
 * the next run with the same output truncates and reuses). */
#ifndef LLMBED_IO_ATOMIC_FILE_H
#define LLMBED_IO_ATOMIC_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "llmbed.h"

typedef struct llmbed_atomic_file {
    char *final_path;
    char *temp_path;
    FILE *fp;
} llmbed_atomic_file;

/* Creates the temp file. LLMBED_ERR_OUTPUT_WRITE (naming the path and the
 * system's reason) when the directory is missing or not writable. */
llmbed_status llmbed_atomic_file_open(llmbed_atomic_file *file, const char *final_path,
                                      llmbed_error *error);

/* LLMBED_ERR_OUTPUT_WRITE on a short write (full disk, file size limit). */
llmbed_status llmbed_atomic_file_write(llmbed_atomic_file *file, const void *data, size_t n,
                                       llmbed_error *error);

/* Rewrites bytes at `offset` (headers whose sizes are known only at the end),
 * then returns to the end of the file. */
llmbed_status llmbed_atomic_file_pwrite(llmbed_atomic_file *file, int64_t offset, const void *data,
                                        size_t n, llmbed_error *error);

/* Flush + fsync + rename. On failure the temp file is removed. Either way
 * the struct is released. */
llmbed_status llmbed_atomic_file_commit(llmbed_atomic_file *file, llmbed_error *error);

/* Closes and unlinks the temp file; no-op on a released or zeroed struct. */
void llmbed_atomic_file_abort(llmbed_atomic_file *file);

#endif
