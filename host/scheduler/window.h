/* One read-ahead window of a job: up to window_lines input lines, parsed
 * and tokenised (on tokenize_threads threads), each either a sequence of
 * ids ready to embed or a rejected line with its message. */
#ifndef LLMBED_SCHEDULER_WINDOW_H
#define LLMBED_SCHEDULER_WINDOW_H

#include <stdint.h>

#include "io/input_record.h"
#include "io/line_reader.h"
#include "scheduler/job.h"

typedef struct llmbed_window_item {
    int64_t line_no;
    int64_t end_offset; /* input byte offset after this line */
    uint32_t prefix_crc; /* CRC-32 of input bytes [0, end_offset) */
    llmbed_input_record record; /* text freed once tokenised */
    int32_t *ids;       /* owned */
    size_t n_ids;
    int32_t instruction_len;
    int32_t pool_end;   /* pooling stops before this token (template spans); 0 = at the end */
    int truncated;
    llmbed_status status; /* non-OK: the line is rejected, `message` says why */
    char *message;
} llmbed_window_item;

typedef struct llmbed_window {
    llmbed_window_item *items;
    int n;
    int eof;              /* the input ended with this window */
    llmbed_status status; /* reading failed after the n items (I/O error) */
    llmbed_error error;
} llmbed_window;

/* Reads and prepares the next window. Per-line problems land in the items;
 * only a read failure sets window->status. */
void llmbed_window_fill(llmbed_window *window, llmbed_line_reader *reader, const llmbed_job_engine *engine,
                        const llmbed_job_options *options);

void llmbed_window_clear(llmbed_window *window);

#endif
