/* Writes embedding rows to one output file (npy, safetensors or jsonl) in
 * the chosen dtype, atomically: the file appears at commit, complete, or
 * never. npy int8 writes the per-row scales to a sidecar "<stem>.scales.npy"
 * committed together with the main file; safetensors stores them as a
 * second tensor "scales"; jsonl puts "scale" on each line. */
#ifndef LLMBED_IO_OUTPUT_WRITER_H
#define LLMBED_IO_OUTPUT_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "io/atomic_file.h"
#include "io/output_format.h"
#include "llmbed.h"

typedef struct llmbed_output_writer llmbed_output_writer;

/* What a committed file holds, for the shard manifest. */
typedef struct llmbed_output_summary {
    int64_t rows;
    int64_t bytes;
    uint32_t crc32;
    int has_sidecar;
    int64_t sidecar_bytes;
    uint32_t sidecar_crc32;
} llmbed_output_summary;

/* "<path without its extension>.scales.npy" into out[capacity]; returns -1 when it does not fit. */
int llmbed_output_sidecar_path(const char *path, char *out, size_t capacity);

/* `input` (may be NULL): the job's input file, which the output (and its
 * sidecar) must not be (io/atomic_file.h has the rules for existing paths). */
llmbed_status llmbed_output_writer_open(const char *path, llmbed_output_format format,
                                        llmbed_output_dtype dtype, int dims, const llmbed_file_id *input,
                                        llmbed_output_writer **out, llmbed_error *error);

/* Appends n_rows rows of `dims` floats. ids[i] is row i's id as JSON text
 * (jsonl only; ids or ids[i] may be NULL: the row index is used). */
llmbed_status llmbed_output_writer_write(llmbed_output_writer *writer, const float *rows, size_t n_rows,
                                         const char *const *ids, llmbed_error *error);

int64_t llmbed_output_writer_rows(const llmbed_output_writer *writer);

/* Finishes headers, commits the file(s) and frees the writer, also on failure
 * (then nothing is left on disk). `summary` may be NULL. */
llmbed_status llmbed_output_writer_commit(llmbed_output_writer *writer, llmbed_output_summary *summary,
                                          llmbed_error *error);

/* Removes the temp file(s) and frees the writer. NULL is a no-op. */
void llmbed_output_writer_abort(llmbed_output_writer *writer);

#endif
