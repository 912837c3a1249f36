#include "io/line_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "io/crc32.h"

#define READ_CHUNK (64 * 1024)

struct llmbed_line_reader {
    int fd;
    int owns_fd;
    char *name;
    int64_t size;
    size_t max_line_bytes;
    char chunk[READ_CHUNK];
    size_t chunk_pos, chunk_len;
    int eof;
    char *line;
    size_t line_capacity;
    int64_t offset;  /* bytes consumed so far */
    int64_t line_no; /* lines returned so far */
    uint32_t crc;    /* CRC-32 of bytes [0, offset) */
    /* Resume: what the bytes skipped at open held (llmbed_line_reader_prefix). */
    int64_t prefix_lines;
    int prefix_at_boundary;
};

static llmbed_status fill(llmbed_line_reader *r, llmbed_error *error) {
    for (;;) {
        ssize_t n = read(r->fd, r->chunk, READ_CHUNK);
        if (n >= 0) {
            r->chunk_pos = 0;
            r->chunk_len = (size_t)n;
            if (n == 0) r->eof = 1;
            return LLMBED_OK;
        }
        if (errno != EINTR) {
            return llmbed_fail(error, LLMBED_ERR_IO, "%s: read failed at byte %" PRId64 ": %s", r->name, r->offset,
                               strerror(errno));
        }
    }
}

void llmbed_line_reader_close(llmbed_line_reader *reader) {
    if (reader == NULL) return;
    if (reader->owns_fd && reader->fd >= 0) close(reader->fd);
    free(reader->name);
    free(reader->line);
    free(reader);
}

/* Consumes bytes [0, offset) from the start (also on a seekable file: a
 * resumed job must prove they are the bytes it embedded), keeping their
 * CRC-32 and counting their lines. */
static llmbed_status skip_to(llmbed_line_reader *r, int64_t offset, llmbed_error *error) {
    if (r->size >= 0 && offset > r->size) {
        return llmbed_fail(error, LLMBED_ERR_IO, "%s: resume offset %" PRId64 " is beyond the end (%" PRId64 " bytes)",
                           r->name, offset, r->size);
    }
    int64_t newlines = 0;
    char last = '\n';
    while (r->offset < offset) {
        llmbed_status st = fill(r, error);
        if (st != LLMBED_OK) return st;
        if (r->eof) return llmbed_fail(error, LLMBED_ERR_IO, "%s: input ends before resume offset %" PRId64, r->name, offset);
        size_t take = r->chunk_len;
        if ((int64_t)take > offset - r->offset) take = (size_t)(offset - r->offset);
        for (size_t i = 0; i < take; i++) newlines += r->chunk[i] == '\n';
        last = r->chunk[take - 1];
        r->crc = llmbed_crc32_update(r->crc, r->chunk, take);
        r->chunk_pos = take;
        r->offset += (int64_t)take;
    }
    /* A last line without "\n" ends at the end of the input. */
    int at_end = 0;
    if (last != '\n') {
        if (r->chunk_pos == r->chunk_len) {
            llmbed_status st = fill(r, error);
            if (st != LLMBED_OK) return st;
        }
        at_end = r->eof || r->chunk_pos == r->chunk_len;
    }
    r->prefix_lines = newlines + (last != '\n' && at_end);
    r->prefix_at_boundary = last == '\n' || at_end;
    return LLMBED_OK;
}

llmbed_status llmbed_line_reader_open(const char *path, int64_t start_offset, int64_t start_line,
                                      size_t max_line_bytes, llmbed_line_reader **out, llmbed_error *error) {
    *out = NULL;
    llmbed_line_reader *r = calloc(1, sizeof *r);
    int is_stdin = strcmp(path, "-") == 0;
    if (r == NULL || (r->name = strdup(is_stdin ? "<stdin>" : path)) == NULL) {
        free(r);
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    r->max_line_bytes = max_line_bytes;
    r->fd = -1;
    if (is_stdin) {
        r->fd = STDIN_FILENO;
    } else {
        r->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0) {
            int err = errno;
            llmbed_line_reader_close(r);
            return llmbed_fail(error, LLMBED_ERR_FILE_NOT_FOUND, "%s: cannot open the input: %s", path, strerror(err));
        }
        r->owns_fd = 1;
    }
    struct stat st;
    r->size = -1;
    if (fstat(r->fd, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            llmbed_line_reader_close(r);
            return llmbed_fail(error, LLMBED_ERR_FILE_NOT_FOUND, "%s: the input is a directory", path);
        }
        if (S_ISREG(st.st_mode)) r->size = (int64_t)st.st_size;
    }
    llmbed_status status = skip_to(r, start_offset, error);
    if (status != LLMBED_OK) {
        llmbed_line_reader_close(r);
        return status;
    }
    r->line_no = start_line;
    *out = r;
    return LLMBED_OK;
}

static llmbed_status append(llmbed_line_reader *r, size_t *len, const char *p, size_t n, llmbed_error *error) {
    if (*len + n > r->max_line_bytes) {
        return llmbed_fail(error, LLMBED_ERR_SEQUENCE_TOO_LONG, "%s:%" PRId64 ": line longer than %zu bytes", r->name,
                           r->line_no + 1, r->max_line_bytes);
    }
    if (*len + n + 1 > r->line_capacity) {
        size_t cap = r->line_capacity ? r->line_capacity : 256;
        while (cap < *len + n + 1) cap *= 2;
        char *bigger = realloc(r->line, cap);
        if (bigger == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", r->name);
        r->line = bigger;
        r->line_capacity = cap;
    }
    memcpy(r->line + *len, p, n);
    *len += n;
    return LLMBED_OK;
}

llmbed_status llmbed_line_reader_next(llmbed_line_reader *r, const char **line, size_t *len, int64_t *line_no,
                                      int64_t *end_offset, llmbed_error *error) {
    *line = NULL;
    *len = 0;
    size_t n = 0;
    int got_any = 0;
    const int64_t line_start = r->offset;
    for (;;) {
        if (r->chunk_pos == r->chunk_len) {
            if (r->eof) break;
            llmbed_status st = fill(r, error);
            if (st != LLMBED_OK) return st;
            if (r->eof) break;
        }
        const char *start = r->chunk + r->chunk_pos;
        size_t avail = r->chunk_len - r->chunk_pos;
        const char *nl = memchr(start, '\n', avail);
        size_t take = nl != NULL ? (size_t)(nl - start) : avail;
        llmbed_status st = append(r, &n, start, take, error);
        if (st != LLMBED_OK) return st;
        r->crc = llmbed_crc32_update(r->crc, start, take + (nl != NULL));
        got_any = 1;
        r->chunk_pos += take + (nl != NULL);
        r->offset += (int64_t)(take + (nl != NULL));
        if (nl != NULL) break;
    }
    if (!got_any) return LLMBED_OK;
    if (n + 1 > r->line_capacity) {
        llmbed_status st = append(r, &n, "", 0, error);
        if (st != LLMBED_OK) return st;
    }
    r->line[n] = '\0';
    r->line_no++;
    *line = r->line;
    *len = n;
    /* A UTF-8 byte order mark (EF BB BF) opening the input is not text:
     * Python's "utf-8-sig" and HF datasets drop it. Offsets still count it. */
    if (line_start == 0 && n >= 3 && memcmp(r->line, "\xEF\xBB\xBF", 3) == 0) {
        *line = r->line + 3;
        *len = n - 3;
    }
    *line_no = r->line_no;
    *end_offset = r->offset;
    return LLMBED_OK;
}

int64_t llmbed_line_reader_size(const llmbed_line_reader *reader) { return reader->size; }

uint32_t llmbed_line_reader_crc(const llmbed_line_reader *reader) { return reader->crc; }

void llmbed_line_reader_prefix(const llmbed_line_reader *reader, int64_t *lines, int *at_line_boundary) {
    *lines = reader->prefix_lines;
    *at_line_boundary = reader->prefix_at_boundary;
}

const char *llmbed_line_reader_name(const llmbed_line_reader *reader) { return reader->name; }
