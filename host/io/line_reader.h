/* Streams an input file (or stdin for "-") line by line in bounded memory:
 * a 64 KiB read buffer plus one line (at most max_line_bytes). Tracks the
 * 1-based line number and the byte offset just past each line, which is
 * what a resume manifest records; opening at a saved offset seeks (or, on a
 * pipe, reads and discards up to it). */
#ifndef LLMBED_IO_LINE_READER_H
#define LLMBED_IO_LINE_READER_H

#include <stddef.h>
#include <stdint.h>

#include "llmbed.h"

typedef struct llmbed_line_reader llmbed_line_reader;

/* LLMBED_ERR_FILE_NOT_FOUND when the file is missing, unreadable or a
 * directory; LLMBED_ERR_IO when a saved offset lies beyond the end. */
llmbed_status llmbed_line_reader_open(const char *path, int64_t start_offset, int64_t start_line,
                                      size_t max_line_bytes, llmbed_line_reader **out, llmbed_error *error);

/* Next line without its "\n", NUL-terminated, valid until the next call;
 * *line = NULL at end of input. *line_no is its number, *end_offset the
 * byte offset after its newline. LLMBED_ERR_SEQUENCE_TOO_LONG when a line
 * exceeds max_line_bytes, LLMBED_ERR_IO on a read error. */
llmbed_status llmbed_line_reader_next(llmbed_line_reader *reader, const char **line, size_t *len,
                                      int64_t *line_no, int64_t *end_offset, llmbed_error *error);

/* Size of the input in bytes, or -1 when not a regular file (stdin pipe). */
int64_t llmbed_line_reader_size(const llmbed_line_reader *reader);

/* The name used in messages ("<stdin>" for "-"). */
const char *llmbed_line_reader_name(const llmbed_line_reader *reader);

void llmbed_line_reader_close(llmbed_line_reader *reader);

#endif
