/* A line file as a pipeline source: io/line_reader.h streams it (bounded
 * memory, offsets, CRC-32), io/input_record.h parses each line. */
#include <inttypes.h>
#include <string.h>

#include "common/error.h"
#include "io/json_line.h"
#include "pipeline/source.h"

#define RERUN "; rerun without --resume to start over"

static llmbed_status open_at(llmbed_lines_source *s, int64_t offset, int64_t line, llmbed_error *error) {
    if (s->reader != NULL) return LLMBED_OK;
    LLMBED_TRY(llmbed_line_reader_open(s->path, offset, line, s->max_line_bytes, &s->reader, error));
    s->parse.source = llmbed_line_reader_name(s->reader);
    return LLMBED_OK;
}

static llmbed_status lines_next(void *user, llmbed_input_record *record, llmbed_status *record_status,
                                llmbed_error *record_error, int64_t *line_no, int64_t *end_offset, uint32_t *prefix_crc,
                                size_t *bytes, int *eof, llmbed_error *error) {
    llmbed_lines_source *s = user;
    LLMBED_TRY(open_at(s, 0, 0, error));
    const char *line;
    size_t len;
    LLMBED_TRY(llmbed_line_reader_next(s->reader, &line, &len, line_no, end_offset, error));
    if (line == NULL) {
        *eof = 1;
        return LLMBED_OK;
    }
    *prefix_crc = llmbed_line_reader_crc(s->reader);
    *bytes = len;
    *record_status = llmbed_input_parse_line(line, len, *line_no, &s->parse, record, record_error);
    return LLMBED_OK;
}

/* A resumed job continues only from the input it stopped in: the bytes
 * before the offset must be whole lines, `lines` of them, with the CRC-32
 * the manifest recorded; a complete job must have consumed all of it. */
static llmbed_status lines_seek(void *user, int64_t offset, int64_t lines, uint32_t crc32, int complete,
                                const char *mpath, llmbed_error *error) {
    llmbed_lines_source *s = user;
    LLMBED_TRY(open_at(s, offset, lines, error));
    const char *input = llmbed_line_reader_name(s->reader);
    int64_t counted;
    int boundary;
    llmbed_line_reader_prefix(s->reader, &counted, &boundary);
    if (!boundary)
        return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                           "%s: field \"next_offset\" is %" PRId64 ", inside line %" PRId64
                           " of %s, not at the end of a line" RERUN,
                           mpath, offset, counted + 1, input);
    if (counted != lines)
        return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                           "%s: field \"next_offset\" is %" PRId64 ": the first %" PRId64 " bytes of %s hold %" PRId64
                           " lines, but \"next_line\" is %" PRId64 RERUN,
                           mpath, offset, offset, input, counted, lines);
    if (llmbed_line_reader_crc(s->reader) != crc32)
        return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                           "%s: field \"input_crc32\": the first %" PRId64 " bytes of %s changed since the job started "
                           "(CRC-32 %" PRIu32 " was %" PRIu32 ")" RERUN,
                           mpath, offset, input, llmbed_line_reader_crc(s->reader), crc32);
    if (complete) {
        const char *line;
        size_t len;
        int64_t line_no, end;
        LLMBED_TRY(llmbed_line_reader_next(s->reader, &line, &len, &line_no, &end, error));
        if (line != NULL)
            return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                               "%s: field \"complete\" is true but %s goes on after next_offset %" PRId64
                               " (line %" PRId64 ")" RERUN,
                               mpath, input, offset, line_no);
    }
    return LLMBED_OK;
}

static int64_t lines_size(void *user) {
    const llmbed_lines_source *s = user;
    return s->reader != NULL ? llmbed_line_reader_size(s->reader) : -1;
}

llmbed_status llmbed_lines_source_init(llmbed_lines_source *state, const char *path, const char *text_field,
                                       const char *id_field, int strict_utf8, int accept_spans, size_t max_line_bytes,
                                       llmbed_job_source *source, llmbed_error *error) {
    memset(state, 0, sizeof *state);
    state->path = path;
    state->max_line_bytes = max_line_bytes > 0 ? max_line_bytes : (size_t)64 << 20;
    state->parse = (llmbed_input_parse_options){path, text_field, id_field, strict_utf8, llmbed_json_line_create(),
                                                accept_spans};
    if (state->parse.json == NULL)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory for the JSON parser");
    *source = (llmbed_job_source){state, strcmp(path, "-") == 0 ? "<stdin>" : path, 1, lines_next, lines_seek,
                                  lines_size};
    return LLMBED_OK;
}

void llmbed_lines_source_close(llmbed_lines_source *state) {
    llmbed_line_reader_close(state->reader);
    llmbed_json_line_free(state->parse.json);
    memset(state, 0, sizeof *state);
}
