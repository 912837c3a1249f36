/* Where a job's rows go, in input order: one output file committed at the
 * end (an error or an interrupt leaves nothing), or numbered shards of
 * shard_rows rows "<stem>.shard-00000.<ext>" ... each committed atomically
 * and followed by an atomic rewrite of "<stem>.manifest.json" (manifest.h),
 * so at every instant the manifest describes exactly the committed shards
 * and the input position after them. <stem> is the output path without its
 * extension. The shard set plus the manifest is the final output of a
 * sharded job (np.concatenate of the shards in manifest order). */
#ifndef LLMBED_PIPELINE_SINK_H
#define LLMBED_PIPELINE_SINK_H

#include <stdint.h>

#include "io/atomic_file.h"
#include "io/output_writer.h"
#include "llmbed.h"

typedef struct llmbed_sink_options {
    const char *output_path;
    llmbed_output_format format;
    llmbed_output_dtype dtype;
    int dims;
    int64_t shard_rows; /* 0 = a single output file */
    int resume;         /* shards only: continue from an existing manifest */
    const char *job_json; /* job identity stored in (and compared with) the manifest */
    llmbed_file_id input; /* the job's input: no output file may be it */
    int row_index;        /* late chunking: also "<stem>.rows.jsonl", each row's line and span (single file) */
} llmbed_sink_options;

/* The committed state a job starts from (zeros for a fresh job). */
typedef struct llmbed_sink_position {
    int64_t rows;
    int64_t next_offset;
    int64_t next_line;
    int64_t skipped;
    int64_t truncated;
    int64_t tokens;
    int64_t shards;
    uint32_t input_crc32; /* CRC-32 of input bytes [0, next_offset) */
    int complete; /* the manifest says the job already finished */
} llmbed_sink_position;

typedef struct llmbed_sink llmbed_sink;

/* Fresh sharded jobs write an empty manifest at once (so an unwritable
 * output folder fails before any work); resumed ones read it, check the job
 * identity (LLMBED_ERR_RESUME_MISMATCH naming the differing option) and
 * every listed shard's size and CRC-32. */
llmbed_status llmbed_sink_open(const llmbed_sink_options *options, llmbed_sink **out,
                               llmbed_sink_position *start, llmbed_error *error);

/* The rows of the input line that ends at `end_offset` (line `line_no`;
 * `prefix_crc` = CRC-32 of the input bytes up to end_offset): one, or one
 * per late-chunking span spans[2r], spans[2r + 1] (NULL otherwise). */
llmbed_status llmbed_sink_rows(llmbed_sink *sink, const float *rows, int n_rows, const int32_t *spans,
                               const char *id_json, int64_t end_offset, int64_t line_no, uint32_t prefix_crc,
                               int64_t tokens, int truncated, llmbed_error *error);

/* An input line consumed without a row (--skip-invalid). */
void llmbed_sink_skip(llmbed_sink *sink, int64_t end_offset, int64_t line_no, uint32_t prefix_crc);

/* End of input: commits the file, or the last shard and a complete manifest. */
llmbed_status llmbed_sink_finish(llmbed_sink *sink, llmbed_error *error);

/* Interrupted: shards commit the rows so far (a short last shard); a single
 * output file is removed. */
llmbed_status llmbed_sink_interrupt(llmbed_sink *sink, llmbed_error *error);

/* Failed: drops uncommitted rows; committed shards and the manifest stay. */
void llmbed_sink_abort(llmbed_sink *sink);

void llmbed_sink_free(llmbed_sink *sink);

/* Stats of what is committed (valid after open and after each call). */
void llmbed_sink_committed(const llmbed_sink *sink, llmbed_sink_position *position);

/* "<stem>.manifest.json" (for messages about a resumed job). */
const char *llmbed_sink_manifest_path(const llmbed_sink *sink);

#endif
