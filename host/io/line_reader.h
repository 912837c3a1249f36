/* Streams an input file (or stdin for "-") line by line in bounded memory:
 * a 64 KiB read buffer plus one line (at most max_line_bytes). Tracks the
 * 1-based line number and the byte offset just past each line, which is
 * what a resume manifest records, and a CRC-32 of the bytes consumed;
 * opening at a saved offset reads the bytes before it (CRC-32 and line count,
 * so a resumed job can check them against its manifest). A UTF-8 byte order
 * mark at the start of the input is dropped from the first line (offsets and
 * the CRC still include its 3 bytes). */
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

/* CRC-32 of the input bytes consumed so far, [0, end_offset of the last line
 * returned) (all of the skipped prefix right after a resumed open). */
uint32_t llmbed_line_reader_crc(const llmbed_line_reader *reader);

/* After an open at start_offset > 0: the number of lines in the skipped
 * bytes and whether start_offset is the end of a line (the byte before it
 * is "\n", or it is the end of the input). */
void llmbed_line_reader_prefix(const llmbed_line_reader *reader, int64_t *lines, int *at_line_boundary);

/* The name used in messages ("<stdin>" for "-"). */
const char *llmbed_line_reader_name(const llmbed_line_reader *reader);

void llmbed_line_reader_close(llmbed_line_reader *reader);

#endif
