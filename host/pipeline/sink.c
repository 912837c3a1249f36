#include "pipeline/sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include <inttypes.h>
#include "io/crc32.h"
#include "pipeline/manifest.h"

struct llmbed_sink {
    llmbed_sink_options options;
    char *output_path;
    char *stem;          /* output path without extension */
    char *dir;           /* folder of the output, with a trailing '/' ("" for the cwd) */
    char *manifest_path;
    llmbed_output_writer *writer; /* the single file, or the open shard */
    llmbed_manifest manifest;     /* committed state (shards only) */
    llmbed_sink_position consumed; /* counters up to the last consumed line */
    llmbed_atomic_file index;     /* the late-chunking row index (options.row_index) */
    char *index_path;
};

static char *format_string(const char *fmt, const char *a, const char *b) {
    size_t n = (size_t)snprintf(NULL, 0, fmt, a, b);
    char *s = malloc(n + 1);
    if (s != NULL) snprintf(s, n + 1, fmt, a, b);
    return s;
}

void llmbed_sink_free(llmbed_sink *sink) {
    if (sink == NULL) return;
    llmbed_output_writer_abort(sink->writer);
    llmbed_atomic_file_abort(&sink->index);
    free(sink->index_path);
    llmbed_manifest_free(&sink->manifest);
    free(sink->output_path);
    free(sink->stem);
    free(sink->dir);
    free(sink->manifest_path);
    free(sink);
}

void llmbed_sink_committed(const llmbed_sink *sink, llmbed_sink_position *p) {
    memset(p, 0, sizeof *p);
    p->rows = sink->manifest.rows;
    p->next_offset = sink->manifest.next_offset;
    p->next_line = sink->manifest.next_line;
    p->skipped = sink->manifest.skipped;
    p->truncated = sink->manifest.truncated;
    p->tokens = sink->manifest.tokens;
    p->shards = sink->manifest.n_shards;
    p->input_crc32 = sink->manifest.input_crc32;
    p->complete = sink->manifest.complete;
}

/* Shard i's file name (without the folder) into a fresh string. */
static char *shard_name(const llmbed_sink *sink, int index) {
    const char *base = strrchr(sink->stem, '/');
    base = base != NULL ? base + 1 : sink->stem;
    char number[32];
    snprintf(number, sizeof number, "%05d", index);
    size_t n = strlen(base) + strlen(number) + 32;
    char *s = malloc(n);
    if (s != NULL) {
        snprintf(s, n, "%s.shard-%s.%s", base, number, llmbed_output_format_name(sink->options.format));
    }
    return s;
}

/* Bytes a committed npy/safetensors shard (or sidecar) of `rows` rows has:
 * fixed header + rows * row bytes (+ the int8 scales). -1 for jsonl, whose
 * rows are counted as lines instead. */
static int64_t shard_bytes(const llmbed_sink_options *o, int sidecar, int64_t rows) {
    if (sidecar) return LLMBED_NPY_HEADER_BYTES + rows * (int64_t)sizeof(float);
    const int64_t row_bytes = (int64_t)(llmbed_row_width(o->dtype, o->dims) * llmbed_dtype_size(o->dtype));
    if (o->format == LLMBED_FORMAT_NPY) return LLMBED_NPY_HEADER_BYTES + rows * row_bytes;
    if (o->format == LLMBED_FORMAT_SAFETENSORS) {
        return LLMBED_SAFETENSORS_HEADER_BYTES + rows * row_bytes +
               (o->dtype == LLMBED_DTYPE_INT8 ? rows * (int64_t)sizeof(float) : 0);
    }
    return -1;
}

#define RERUN "; rerun without --resume to start over"

/* Each listed shard must be the file this job would have written at its
 * index (name, sidecar name), hold the listed rows, and have the listed size
 * and CRC-32. Edited manifests and replaced files fail here. */
static llmbed_status verify_shards(llmbed_sink *sink, llmbed_error *error) {
    const char *mpath = sink->manifest_path;
    for (int i = 0; i < sink->manifest.n_shards; i++) {
        const llmbed_manifest_shard *s = &sink->manifest.shards[i];
        char *expected = shard_name(sink, i);
        char expected_sidecar[4096] = "";
        if (expected == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory");
        int wants_sidecar = sink->options.format == LLMBED_FORMAT_NPY && sink->options.dtype == LLMBED_DTYPE_INT8;
        if (wants_sidecar) llmbed_output_sidecar_path(expected, expected_sidecar, sizeof expected_sidecar);
        llmbed_status st = LLMBED_OK;
        if (strcmp(s->file, expected) != 0) {
            st = llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                             "%s: field \"shards[%d].file\" is \"%.200s\", expected \"%s\"" RERUN, mpath, i, s->file,
                             expected);
        } else if (wants_sidecar != (s->sidecar != NULL) ||
                   (s->sidecar != NULL && strcmp(s->sidecar, expected_sidecar) != 0)) {
            st = llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                             "%s: field \"shards[%d].sidecar\" is %s%.200s%s, expected %s%s%s" RERUN, mpath, i,
                             s->sidecar ? "\"" : "", s->sidecar ? s->sidecar : "absent", s->sidecar ? "\"" : "",
                             wants_sidecar ? "\"" : "", wants_sidecar ? expected_sidecar : "none",
                             wants_sidecar ? "\"" : "");
        }
        free(expected);
        if (st != LLMBED_OK) return st;
        for (int side = 0; side < 2; side++) {
            const char *name = side ? s->sidecar : s->file;
            if (name == NULL) continue;
            const char *field = side ? "sidecar" : "file";
            char *path = format_string("%s%s", sink->dir, name);
            if (path == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory");
            uint32_t crc = 0;
            int64_t bytes = 0, lines = 0;
            int64_t want_bytes = side ? s->sidecar_bytes : s->bytes;
            int64_t fixed = shard_bytes(&sink->options, side, s->rows);
            st = llmbed_crc32_file_lines(path, &crc, &bytes, &lines, error);
            if (st != LLMBED_OK) {
                st = llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                                 "%s: field \"shards[%d].%s\": %s is unreadable" RERUN, mpath, i, field, path);
            } else if (bytes != want_bytes) {
                st = llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                                 "%s: field \"shards[%d].%s\": %s has %" PRId64 " bytes, the manifest says %" PRId64 RERUN,
                                 mpath, i, side ? "sidecar_bytes" : "bytes", path, bytes, want_bytes);
            } else if (fixed >= 0 ? fixed != bytes : lines != s->rows) {
                const int64_t empty = shard_bytes(&sink->options, side, 0);
                const int64_t per_row = shard_bytes(&sink->options, side, 1) - empty;
                const int64_t held = fixed >= 0 ? (bytes - empty) / per_row : lines;
                st = llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                                 "%s: field \"shards[%d].rows\" is %" PRId64 " but %s holds %" PRId64 " rows" RERUN, mpath,
                                 i, s->rows, path, held);
            } else if (crc != (side ? s->sidecar_crc32 : s->crc32)) {
                st = llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                                 "%s: field \"shards[%d].%s\": the CRC-32 of %s differs (the file changed)" RERUN, mpath, i,
                                 side ? "sidecar_crc32" : "crc32", path);
            }
            free(path);
            if (st != LLMBED_OK) return st;
        }
    }
    return LLMBED_OK;
}

static llmbed_status init_paths(llmbed_sink *sink, const char *path, llmbed_error *error) {
    sink->output_path = strdup(path);
    sink->stem = strdup(path);
    if (sink->output_path == NULL || sink->stem == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory");
    char *dot = strrchr(sink->stem, '.');
    char *slash = strrchr(sink->stem, '/');
    if (dot != NULL && (slash == NULL || dot > slash)) *dot = '\0';
    size_t dir_len = slash != NULL ? (size_t)(slash - sink->stem) + 1 : 0;
    sink->dir = malloc(dir_len + 1);
    sink->manifest_path = format_string("%s%s", sink->stem, ".manifest.json");
    if (sink->dir == NULL || sink->manifest_path == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(sink->dir, sink->stem, dir_len);
    sink->dir[dir_len] = '\0';
    return LLMBED_OK;
}

static llmbed_status open_sharded(llmbed_sink *sink, llmbed_error *error) {
    /* Shards and the manifest are named after the output path: they need a folder, not a stream. */
    struct stat st;
    if (strcmp(sink->output_path, "-") == 0 || (stat(sink->output_path, &st) == 0 && !S_ISREG(st.st_mode))) {
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "%s: --shard-rows writes <stem>.shard-NNNNN files and a manifest next to the output path, "
                           "so it must name a regular file, not stdout, a FIFO, a device or a folder",
                           sink->output_path);
    }
    if (sink->options.resume) {
        llmbed_status st = llmbed_manifest_read(sink->manifest_path, &sink->manifest, error);
        if (st == LLMBED_OK) {
            st = llmbed_manifest_check_job(&sink->manifest, sink->options.job_json, sink->manifest_path, error);
            if (st == LLMBED_OK) st = verify_shards(sink, error);
            return st;
        }
        if (st != LLMBED_ERR_FILE_NOT_FOUND) return st;
        llmbed_manifest_free(&sink->manifest); /* no manifest yet: a fresh start */
    }
    sink->manifest.job_json = strdup(sink->options.job_json != NULL ? sink->options.job_json : "{}");
    if (sink->manifest.job_json == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory");
    return llmbed_manifest_write(&sink->manifest, sink->manifest_path, &sink->options.input, error);
}

llmbed_status llmbed_sink_open(const llmbed_sink_options *options, llmbed_sink **out,
                               llmbed_sink_position *start, llmbed_error *error) {
    *out = NULL;
    llmbed_sink *sink = calloc(1, sizeof *sink);
    if (sink == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory");
    sink->options = *options;
    llmbed_status st = init_paths(sink, options->output_path, error);
    if (st == LLMBED_OK) {
        if (options->shard_rows > 0) {
            st = open_sharded(sink, error);
        } else {
            st = llmbed_output_writer_open(options->output_path, options->format, options->dtype, options->dims,
                                           &sink->options.input, &sink->writer, error);
        }
    }
    if (st == LLMBED_OK && options->row_index) {
        sink->index_path = format_string("%s%s", sink->stem, ".rows.jsonl");
        st = sink->index_path != NULL ? llmbed_atomic_file_open(&sink->index, sink->index_path, &sink->options.input, error)
                                      : llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory");
    }
    if (st != LLMBED_OK) {
        llmbed_sink_free(sink);
        return st;
    }
    llmbed_sink_committed(sink, start);
    sink->consumed = *start;
    *out = sink;
    return LLMBED_OK;
}

const char *llmbed_sink_manifest_path(const llmbed_sink *sink) { return sink->manifest_path; }

static void note_consumed(llmbed_sink *sink, int64_t end_offset, int64_t line_no, uint32_t prefix_crc) {
    sink->consumed.input_crc32 = prefix_crc;
    sink->consumed.next_offset = end_offset;
    sink->consumed.next_line = line_no;
}

/* Commits the open shard and then the manifest that lists it. */
static llmbed_status commit_shard(llmbed_sink *sink, int complete, llmbed_error *error) {
    llmbed_manifest *m = &sink->manifest;
    if (sink->writer != NULL) {
        char *name = shard_name(sink, m->n_shards);
        if (name == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory");
        llmbed_output_summary summary;
        llmbed_output_writer *writer = sink->writer;
        sink->writer = NULL;
        llmbed_status st = llmbed_output_writer_commit(writer, &summary, error);
        char sidecar[4096];
        llmbed_manifest_shard shard = {name, summary.rows, summary.bytes, summary.crc32, NULL, 0, 0};
        if (st == LLMBED_OK && summary.has_sidecar) {
            llmbed_output_sidecar_path(name, sidecar, sizeof sidecar);
            shard.sidecar = sidecar;
            shard.sidecar_bytes = summary.sidecar_bytes;
            shard.sidecar_crc32 = summary.sidecar_crc32;
        }
        if (st == LLMBED_OK) st = llmbed_manifest_add_shard(m, &shard, error);
        free(name);
        if (st != LLMBED_OK) return st;
    }
    m->rows = sink->consumed.rows;
    m->next_offset = sink->consumed.next_offset;
    m->next_line = sink->consumed.next_line;
    m->skipped = sink->consumed.skipped;
    m->truncated = sink->consumed.truncated;
    m->tokens = sink->consumed.tokens;
    m->input_crc32 = sink->consumed.input_crc32;
    m->complete = complete;
    return llmbed_manifest_write(m, sink->manifest_path, &sink->options.input, error);
}

/* The row index lines of late chunking: {"row", "line", "span"[, "id"]}. */
static llmbed_status write_index(llmbed_sink *sink, int64_t first_row, int n_rows, const int32_t *spans,
                                 const char *id_json, int64_t line_no, llmbed_error *error) {
    for (int r = 0; r < n_rows; r++) {
        char line[192];
        const int n = snprintf(line, sizeof line, "{\"row\": %" PRId64 ", \"line\": %" PRId64 ", \"span\": [%d, %d]",
                               first_row + r, line_no, spans[2 * r], spans[2 * r + 1]);
        LLMBED_TRY(llmbed_atomic_file_write(&sink->index, line, (size_t)n, error));
        if (id_json != NULL) {
            LLMBED_TRY(llmbed_atomic_file_write(&sink->index, ", \"id\": ", 8, error));
            LLMBED_TRY(llmbed_atomic_file_write(&sink->index, id_json, strlen(id_json), error));
        }
        LLMBED_TRY(llmbed_atomic_file_write(&sink->index, "}\n", 2, error));
    }
    return LLMBED_OK;
}

llmbed_status llmbed_sink_rows(llmbed_sink *sink, const float *rows, int n_rows, const int32_t *spans,
                               const char *id_json, int64_t end_offset, int64_t line_no, uint32_t prefix_crc,
                               int64_t tokens, int truncated, llmbed_error *error) {
    if (sink->writer == NULL) {
        char *name = shard_name(sink, sink->manifest.n_shards);
        char *path = name != NULL ? format_string("%s%s", sink->dir, name) : NULL;
        free(name);
        if (path == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory");
        llmbed_status st = llmbed_output_writer_open(path, sink->options.format, sink->options.dtype,
                                                     sink->options.dims, &sink->options.input, &sink->writer, error);
        free(path);
        if (st != LLMBED_OK) return st;
    }
    enum { MAX_IDS = 64 };
    const char *ids[MAX_IDS];
    const int64_t first_row = llmbed_output_writer_rows(sink->writer);
    for (int r = 0; r < n_rows; r += MAX_IDS) {
        const int n = n_rows - r < MAX_IDS ? n_rows - r : MAX_IDS;
        for (int i = 0; i < n; i++) ids[i] = id_json;
        LLMBED_TRY(llmbed_output_writer_write(sink->writer, rows + (size_t)r * (size_t)sink->options.dims, (size_t)n,
                                              ids, error));
    }
    if (sink->options.row_index && spans != NULL)
        LLMBED_TRY(write_index(sink, first_row, n_rows, spans, id_json, line_no, error));
    note_consumed(sink, end_offset, line_no, prefix_crc);
    sink->consumed.rows += n_rows;
    sink->consumed.tokens += tokens;
    sink->consumed.truncated += truncated != 0;
    if (sink->options.shard_rows > 0 && llmbed_output_writer_rows(sink->writer) >= sink->options.shard_rows) {
        return commit_shard(sink, 0, error);
    }
    return LLMBED_OK;
}

void llmbed_sink_skip(llmbed_sink *sink, int64_t end_offset, int64_t line_no, uint32_t prefix_crc) {
    note_consumed(sink, end_offset, line_no, prefix_crc);
    sink->consumed.skipped++;
}

/* Shards left over from an earlier, longer run of the same output would
 * look like part of this one; the manifest does not list them, remove them. */
static void remove_stale_shards(llmbed_sink *sink) {
    for (int i = sink->manifest.n_shards;; i++) {
        char *name = shard_name(sink, i);
        char *path = name != NULL ? format_string("%s%s", sink->dir, name) : NULL;
        char sidecar[4096];
        int removed = path != NULL && remove(path) == 0;
        if (removed && llmbed_output_sidecar_path(path, sidecar, sizeof sidecar) == 0) remove(sidecar);
        free(name);
        free(path);
        if (!removed) break;
    }
}

llmbed_status llmbed_sink_finish(llmbed_sink *sink, llmbed_error *error) {
    if (sink->options.shard_rows == 0) {
        /* The row index first: a failed output commit then removes it again. */
        if (sink->options.row_index) LLMBED_TRY(llmbed_atomic_file_commit(&sink->index, error));
        llmbed_output_writer *writer = sink->writer;
        sink->writer = NULL;
        const llmbed_status st = llmbed_output_writer_commit(writer, NULL, error);
        if (st != LLMBED_OK && sink->options.row_index) unlink(sink->index_path);
        return st;
    }
    llmbed_status st = commit_shard(sink, 1, error);
    if (st == LLMBED_OK) remove_stale_shards(sink);
    return st;
}

llmbed_status llmbed_sink_interrupt(llmbed_sink *sink, llmbed_error *error) {
    if (sink->options.shard_rows == 0) {
        llmbed_output_writer_abort(sink->writer);
        sink->writer = NULL;
        return LLMBED_OK;
    }
    return commit_shard(sink, 0, error);
}

void llmbed_sink_abort(llmbed_sink *sink) {
    llmbed_output_writer_abort(sink->writer);
    sink->writer = NULL;
}
