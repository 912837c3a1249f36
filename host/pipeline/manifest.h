/* The shard manifest "<stem>.manifest.json": what a sharded job has
 * committed, rewritten atomically after every shard. It is the only record
 * --resume trusts: a shard file not listed in it is ignored and recomputed.
 *
 * {"format": "llmbed-shards", "version": 2,
 *  "job": {...the model, input and every option that changes the output...},
 *  "shards": [{"file": "out.shard-00000.npy", "rows": 1000, "bytes": ..., "crc32": ...,
 *              "sidecar": "out.shard-00000.scales.npy", "sidecar_bytes": ..., "sidecar_crc32": ...}],
 *  "rows": 1000, "next_offset": 51234, "next_line": 1003, "skipped": 3,
 *  "truncated": 0, "tokens": 123456, "input_crc32": 1234567, "complete": false}
 * next_offset/next_line locate the first input line not yet reflected in
 * the shards (rows or skips); input_crc32 is the CRC-32 of the input bytes
 * [0, next_offset). File names are bare names in the manifest's folder.
 *
 * Reading checks everything that can be checked without the files: types,
 * non-negative counts, bare file names, shard rows summing to "rows",
 * rows + skipped == next_line, truncated <= rows <= tokens. The sink checks
 * the shard files and the job the input prefix. Every failure is
 * LLMBED_ERR_RESUME_MISMATCH (LLMBED_ERR_BAD_JSON for unparsable JSON)
 * naming the field and ending "rerun without --resume to start over". */
#ifndef LLMBED_PIPELINE_MANIFEST_H
#define LLMBED_PIPELINE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "io/atomic_file.h"
#include "llmbed.h"

typedef struct llmbed_manifest_shard {
    char *file;
    int64_t rows;
    int64_t bytes;
    uint32_t crc32;
    char *sidecar; /* NULL when none */
    int64_t sidecar_bytes;
    uint32_t sidecar_crc32;
} llmbed_manifest_shard;

typedef struct llmbed_manifest {
    char *job_json; /* canonical JSON of the job identity */
    llmbed_manifest_shard *shards;
    int n_shards;
    int shards_capacity;
    int64_t rows;
    int64_t next_offset;
    int64_t next_line;
    int64_t skipped;
    int64_t truncated;
    int64_t tokens;
    uint32_t input_crc32;
    int complete;
} llmbed_manifest;

/* Appends a shard (copies the strings). */
llmbed_status llmbed_manifest_add_shard(llmbed_manifest *manifest, const llmbed_manifest_shard *shard,
                                        llmbed_error *error);

/* Atomic write (temp + fsync + rename); refuses to write over `input` (may be NULL). */
llmbed_status llmbed_manifest_write(const llmbed_manifest *manifest, const char *path, const llmbed_file_id *input,
                                    llmbed_error *error);

/* LLMBED_ERR_FILE_NOT_FOUND when absent, LLMBED_ERR_BAD_JSON / LLMBED_ERR_RESUME_MISMATCH
 * when it is not a manifest this version wrote. */
llmbed_status llmbed_manifest_read(const char *path, llmbed_manifest *manifest, llmbed_error *error);

/* The same from text[0..length) read from `path` (for messages); the fuzz target's entry. */
llmbed_status llmbed_manifest_parse(const char *text, size_t length, const char *path, llmbed_manifest *manifest,
                                    llmbed_error *error);

/* LLMBED_ERR_RESUME_MISMATCH naming the first key of `job_json` whose value
 * differs from the manifest's (or is missing from either side). */
llmbed_status llmbed_manifest_check_job(const llmbed_manifest *manifest, const char *job_json,
                                        const char *manifest_path, llmbed_error *error);

void llmbed_manifest_free(llmbed_manifest *manifest);

#endif
