/* A batch embedding job (issue 6): stream the input, tokenise on worker
 * threads while the previous window runs through the model, batch by token
 * budget, write rows in input order to one file or to resumable shards.
 *
 * Backend-neutral: the engine is two callbacks, so the CLI binds it to
 * llmbed_tokenize/llmbed_embed and the tests to a deterministic fake.
 *
 * Memory: at most three windows live at once (one being read and
 * tokenised, one queued, one being embedded); a window holds at most
 * window_lines lines and about window_bytes of text, plus its token ids
 * and window_lines output rows. The input is never read whole. */
#ifndef LLMBED_SCHEDULER_JOB_H
#define LLMBED_SCHEDULER_JOB_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "io/output_format.h"
#include "llmbed.h"

typedef struct llmbed_job_engine {
    void *user;
    int dims;       /* floats per output row */
    int vocab_size; /* token ids must lie in [0, vocab_size) */
    /* Text -> ids, with (add_special 1) or without the special tokens;
     * semantics of llmbed_tokenize. Called from several threads at once. */
    llmbed_status (*tokenize)(void *user, const char *text, size_t len, int add_special, int32_t *ids,
                              size_t capacity, size_t *n_ids, llmbed_error *error);
    /* Embeds a packed batch into out[n_sequences * dims]. Calling thread only. */
    llmbed_status (*embed)(void *user, const llmbed_batch *batch, float *out, llmbed_error *error);
    /* Templated text (NULL when the job has no template): text -> ids of the
     * templated string and the pooled token range [*pool_begin, *pool_end);
     * semantics of llmbed_tokenize_template with max_tokens (0 = no limit).
     * Called from several threads at once. */
    llmbed_status (*tokenize_template)(void *user, const char *text, size_t len, size_t max_tokens, int32_t *ids,
                                       size_t capacity, size_t *n_ids, int32_t *pool_begin, int32_t *pool_end,
                                       int *truncated, llmbed_error *error);
} llmbed_job_engine;

typedef struct llmbed_job_stats {
    int64_t sequences;    /* rows embedded by this run */
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
    const char *input_path; /* "-" = stdin */
    const char *text_field; /* NULL = "text" */
    const char *id_field;   /* NULL = none */
    const char *output_path;
    llmbed_output_format format;
    llmbed_output_dtype dtype;
    const char *prompt;        /* prepended to every text record; NULL = none (with a template
                                  engine the caller folds it into the template instead) */
    int32_t instruction_len;   /* tokens of the prompt excluded from pooling; 0 = none */
    int64_t max_tokens;        /* longer inputs are truncated or rejected; 0 = no limit */
    int truncate;              /* 1: cut and count; 0: LLMBED_ERR_SEQUENCE_TOO_LONG naming the line */
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

void llmbed_job_options_default(llmbed_job_options *options);

/* Runs the job. Returns LLMBED_ERR_INTERRUPTED when *stop was set (committed
 * shards stay valid and listed in the manifest; a single output file is not
 * created). Other failures name the file and line. */
llmbed_status llmbed_job_run(const llmbed_job_engine *engine, const llmbed_job_options *options,
                             llmbed_job_stats *stats, llmbed_error *error);

#endif
