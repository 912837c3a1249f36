/* The embedding pipeline (SPEC section 2), the one path from inputs to rows
 * that every caller takes: `llmbed embed` (through llmbed_embed_file),
 * llmbed_embed_texts / llmbed_embed_ids (and so Python's encode), eval,
 * bench, and the streaming front of the server (pipeline/stream.h).
 *
 *   source --> window of records --> tokenise (worker threads) -->
 *   length-sorted token-budget batches --> engine workers --> rows in
 *   input order --> sink
 *
 * - Sources (llmbed_job_source): a line file or stdin (text / JSONL lines,
 *   the default when `input_path` is set), in-memory texts or token ids,
 *   Arrow record batches (pipeline/source_*.c). A source yields records
 *   and the position after each (offset, line, CRC-32 of what came
 *   before), which is what a resumed job checks.
 * - What a record becomes is decided once, by the job spec
 *   (pipeline/spec.h), and bound into the callbacks and options below by
 *   pipeline/bind.c: prompt, template and pooled span, the family's EOS,
 *   truncation, late-chunking spans.
 * - Batches: the records of a window (window_lines, window_bytes) are
 *   sorted by length and cut greedily under the token budget; a sequence
 *   longer than `alone_above` (the chunk size, for causal models with a
 *   cache) runs alone. The engine runs the batches as given.
 * - Engine stage: `n_workers` workers (the engines of a context: GPUs or
 *   CPU replicas) take the window's batches from a shared counter, longest
 *   first, so a slow worker takes fewer (work stealing) and a long sequence
 *   never runs alone at the end of a window; rows land by input index, so
 *   they come out in input order whatever worker ran them.
 * - Sinks (llmbed_job_sink): the caller's buffer or a row callback
 *   (pipeline/sink_memory.c), or files (npy / safetensors / jsonl, one
 *   file or numbered shards + manifest, pipeline/sink.h: the default when
 *   `output_path` is set).
 *
 * Memory: at most three windows live at once (one being read and
 * tokenised, one queued, one being embedded); the input is never read
 * whole. */
#ifndef LLMBED_PIPELINE_JOB_H
#define LLMBED_PIPELINE_JOB_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "io/input_record.h"
#include "io/output_format.h"
#include "llmbed.h"

/* How records become rows: tokenisation (any thread) and the engine
 * workers (each called from one thread at a time). */
typedef struct llmbed_job_engine {
    void *user;
    int dims;       /* floats per output row */
    int vocab_size; /* token ids must lie in [0, vocab_size) */
    int n_workers;  /* engine workers (0 = 1) */
    int64_t alone_above; /* sequences longer than this run in a batch of their own; 0 = the budget */
    /* Text -> ids, with (add_special 1) or without the special tokens;
     * semantics of llmbed_tokenize. Called from several threads at once. */
    llmbed_status (*tokenize)(void *user, const char *text, size_t len, int add_special, int32_t *ids,
                              size_t capacity, size_t *n_ids, llmbed_error *error);
    /* Embeds a planned batch into out[n_sequences * dims] on worker `worker`. */
    llmbed_status (*embed)(void *user, int worker, const llmbed_batch *batch, float *out, llmbed_error *error);
    /* Templated text (NULL when the job has no template): text -> ids of the
     * templated string and the pooled token range [*pool_begin, *pool_end);
     * semantics of llmbed_tokenize_template with max_tokens (0 = no limit).
     * Called from several threads at once. */
    llmbed_status (*tokenize_template)(void *user, const char *text, size_t len, size_t max_tokens, int32_t *ids,
                                       size_t capacity, size_t *n_ids, int32_t *pool_begin, int32_t *pool_end,
                                       int *truncated, llmbed_error *error);
    /* Late chunking (NULL when off): one sequence pooled over n_spans spans
     * into out[n_spans * dims] on worker `worker`. */
    llmbed_status (*embed_spans)(void *user, int worker, const int32_t *ids, size_t n_ids, const int32_t *spans,
                                 int n_spans, float *out, llmbed_error *error);
} llmbed_job_engine;

/* One record of a window, from the source to the sink. */
typedef struct llmbed_job_item {
    int64_t line_no;     /* 1-based position in the input (the line, the text's index + 1) */
    int64_t end_offset;  /* input position after this record */
    uint32_t prefix_crc; /* CRC-32 of the input up to end_offset */
    void *tag;           /* the caller's, for streaming sources */
    llmbed_input_record record; /* text freed once tokenised */
    int32_t *ids;        /* owned */
    size_t n_ids;
    int32_t instruction_len;
    int32_t pool_end;    /* pooling stops before this token (template spans); 0 = at the end */
    int truncated;
    int32_t *spans;      /* late chunking: [2 * n_spans] (owned), the rows of this record */
    int n_spans;
    llmbed_status status; /* non-OK: the record is rejected, `message` says why */
    char *message;
} llmbed_job_item;

typedef struct llmbed_window {
    llmbed_job_item *items;
    int n;
    int capacity;
    int eof;              /* the input ended with this window */
    llmbed_status status; /* reading failed after the n items (I/O error) */
    llmbed_error error;
} llmbed_window;

/* Where records come from. `next` fills one record, its 1-based number and
 * the position after it (or sets *eof); a record it cannot parse is returned with *record_status
 * non-OK and the message in *record_error (the job rejects or skips it); a
 * failure to read at all is its return status. `seek` (called once, before
 * the first `next`) skips the records a resumed job already has: the
 * `lines` records before `offset`, checking them against `crc32`
 * (RESUME_MISMATCH naming the manifest field otherwise); may be NULL for
 * sources that cannot resume. */
typedef struct llmbed_job_source {
    void *user;
    const char *name; /* in messages: a file name, "<stdin>", "text", "sequence" */
    int by_line;      /* 1: items are named "name:line" (files); 0: "name index" (0-based, in memory) */
    llmbed_status (*next)(void *user, llmbed_input_record *record, llmbed_status *record_status,
                          llmbed_error *record_error, int64_t *line_no, int64_t *end_offset, uint32_t *prefix_crc,
                          size_t *bytes, int *eof, llmbed_error *error);
    llmbed_status (*seek)(void *user, int64_t offset, int64_t lines, uint32_t crc32, int complete,
                          const char *manifest_path, llmbed_error *error);
    int64_t (*size)(void *user); /* input bytes, -1 when unknown; may be NULL */
} llmbed_job_source;

/* Where rows go, in input order. `rows` receives a record's rows (one, or
 * one per late-chunking span); `skip` a rejected record (skip_invalid);
 * `flush` ends a window. */
typedef struct llmbed_job_sink {
    void *user;
    llmbed_status (*rows)(void *user, const llmbed_job_item *item, const float *rows, int n_rows,
                          llmbed_error *error);
    void (*skip)(void *user, const llmbed_job_item *item);
    llmbed_status (*flush)(void *user, llmbed_error *error); /* after each window's rows; may be NULL */
} llmbed_job_sink;

typedef struct llmbed_job_stats {
    int64_t sequences;    /* records embedded by this run */
    int64_t rows;         /* rows produced by this run (late chunking: one per span) */
    int64_t tokens;       /* tokens embedded by this run */
    int64_t truncated;    /* inputs cut to max_tokens by this run */
    int64_t skipped;      /* invalid lines skipped by this run */
    int64_t batches;
    int64_t resumed_rows; /* rows committed by earlier runs (--resume) */
    int64_t rows_total;   /* rows in the output when the job ended */
    int64_t shards;       /* shards committed in total */
    int64_t input_offset; /* bytes of input consumed */
    int64_t input_bytes;  /* input size, -1 when unknown (a pipe) */
    double seconds;       /* wall time of this run */
    int already_complete; /* --resume found a finished job */
    int64_t invalid_utf8; /* lines of this run with invalid UTF-8, embedded with U+FFFD */
} llmbed_job_stats;

typedef struct llmbed_job_options {
    const char *input_path; /* a line file ("-" = stdin) when `source` is NULL */
    const llmbed_job_source *source; /* else the records come from here */
    const char *text_field; /* NULL = "text" */
    const char *id_field;   /* NULL = none */
    const char *output_path; /* files when `sink` is NULL */
    const llmbed_job_sink *sink; /* else the rows go here */
    llmbed_output_format format;
    llmbed_output_dtype dtype;
    const char *prompt;        /* prepended to every text record; NULL = none (with a template
                                  engine the caller folds it into the template instead) */
    int32_t instruction_len;   /* tokens of the prompt excluded from pooling; 0 = none */
    int64_t max_tokens;        /* longer inputs are truncated or rejected; 0 = no limit */
    int truncate;              /* 1: cut and count; 0: LLMBED_ERR_SEQUENCE_TOO_LONG naming the line */
    int late_chunking;         /* 0 = off; N > 0: spans of N tokens; -1: each record's "spans" */
    int mask_prefix_tokens;    /* leading tokens of every record kept out of the pool (it must be longer) */
    int64_t max_continuation;  /* suffix mode: an input must fit one chunk of this many tokens; 0 = no limit */
    int skip_invalid;          /* 1: bad lines are reported through on_skip and counted */
    int64_t batch_tokens;      /* token budget of one embed call */
    int window_lines;          /* 0 = 4096 */
    size_t window_bytes;       /* 0 = 16 MiB */
    size_t max_line_bytes;     /* 0 = 64 MiB */
    int tokenize_threads;      /* 0 = 1 */
    int64_t shard_rows;        /* 0 = one output file */
    int resume;
    const char *job_json;      /* identity of the job for the manifest */
    const volatile sig_atomic_t *stop; /* set (e.g. by SIGINT): stop at the next batch boundary */
    void (*on_progress)(void *user, const llmbed_job_stats *stats); /* after every batch */
    void (*on_skip)(void *user, const char *message);               /* per skipped line */
    void *callback_user;
    int strict_utf8;           /* 1: a line with invalid UTF-8 is rejected (else replaced and counted) */
} llmbed_job_options;

/* Defaults: stdin to npy, float32, truncate, 4096-line windows. The token
 * budget has no default here: the caller passes its context's. */
void llmbed_job_options_default(llmbed_job_options *options);

/* Runs the job. Returns LLMBED_ERR_INTERRUPTED when *stop was set (committed
 * shards stay valid and listed in the manifest; a single output file is not
 * created). Other failures name the file and line. */
llmbed_status llmbed_job_run(const llmbed_job_engine *engine, const llmbed_job_options *options,
                             llmbed_job_stats *stats, llmbed_error *error);

#endif
