/* Arrow record batches as a pipeline source (Parquet through pyarrow, with
 * no conversion to text lines): a stream of the Arrow C stream interface,
 * a utf8 / large_utf8 text column, an optional id column. Record i is
 * "<identity> row i"; the position after it counts the text bytes plus one
 * per row, and the CRC-32 runs over each text followed by "\n", so a
 * resumed job checks the rows before its manifest's position as it checks
 * the lines of a file. */
#ifndef LLMBED_PIPELINE_SOURCE_ARROW_H
#define LLMBED_PIPELINE_SOURCE_ARROW_H

#include <stdint.h>

#include "pipeline/arrow_abi.h"
#include "pipeline/job.h"

typedef struct llmbed_arrow_source {
    struct ArrowArrayStream *stream; /* released by close */
    struct ArrowSchema schema;
    struct ArrowArray batch;         /* the current record batch (release == NULL: none) */
    int text_column, id_column;      /* child indices; id -1 = none */
    int64_t row;                     /* next row of `batch` */
    int64_t records;                 /* records returned so far */
    int64_t offset;                  /* position after them */
    uint32_t crc;
    int eof;
    char name[512];
} llmbed_arrow_source;

/* Reads the schema and finds the columns (INPUT_FORMAT naming a missing
 * column or one of another type). Records are named "<name>:<row>" (1-based). */
llmbed_status llmbed_arrow_source_init(llmbed_arrow_source *state, struct ArrowArrayStream *stream, const char *name,
                                       const char *text_column, const char *id_column, llmbed_job_source *source,
                                       llmbed_error *error);

/* Releases the batch, the schema and the stream; a zeroed state is a no-op. */
void llmbed_arrow_source_close(llmbed_arrow_source *state);

#endif
