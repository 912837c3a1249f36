/* llmbed tokenize: one {"input_ids": [...]} line per input line, with the
 * special tokens the model adds (the ids `llmbed embed` would embed).
 * Input lines follow the embed rule; pre-tokenised lines pass through. */
/* POSIX/GNU declarations (realpath, readlink, mkdtemp, sigaction): the CLI
 * target is built as strict C11, unlike the library that defines this for us. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "common/error.h"
#include "io/atomic_file.h"
#include "io/input_record.h"
#include "io/line_reader.h"

typedef struct tokenize_out {
    llmbed_atomic_file file;
    int to_file;
    char *text;
    size_t capacity;
} tokenize_out;

static llmbed_status emit(tokenize_out *out, const int32_t *ids, size_t n, llmbed_error *error) {
    size_t need = 32 + n * 12;
    if (need > out->capacity) {
        char *bigger = realloc(out->text, need);
        if (bigger == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory");
        out->text = bigger;
        out->capacity = need;
    }
    size_t k = (size_t)sprintf(out->text, "{\"input_ids\":[");
    for (size_t i = 0; i < n; i++) k += (size_t)sprintf(out->text + k, i ? ",%" PRId32 : "%" PRId32, ids[i]);
    k += (size_t)sprintf(out->text + k, "]}\n");
    if (out->to_file) return llmbed_atomic_file_write(&out->file, out->text, k, error);
    if (fwrite(out->text, 1, k, stdout) != k) return llmbed_fail(error, LLMBED_ERR_OUTPUT_WRITE, "<stdout>: write failed");
    return LLMBED_OK;
}

static llmbed_status tokenize_record(const llmbed_model *model, const llmbed_input_record *record, const char *source,
                                     int64_t line_no, int32_t **ids, size_t *capacity, size_t *n,
                                     llmbed_error *error) {
    llmbed_tokenize_params params;
    llmbed_tokenize_params_default(&params);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (*capacity < record->text_len + 16 || attempt == 1) {
            size_t want = attempt == 1 ? *n : record->text_len + 16;
            int32_t *bigger = realloc(*ids, want * sizeof *bigger);
            if (bigger == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory");
            *ids = bigger;
            *capacity = want;
        }
        llmbed_error inner = {0};
        llmbed_status st = llmbed_tokenize(model, record->text, record->text_len, &params, *ids, *capacity, n, NULL,
                                           &inner);
        if (st == LLMBED_OK) return st;
        if (st != LLMBED_ERR_BUFFER_TOO_SMALL) {
            return llmbed_fail(error, st, "%s:%" PRId64 ": %s", source, line_no, inner.message);
        }
    }
    return llmbed_fail(error, LLMBED_ERR_INTERNAL, "%s:%" PRId64 ": tokenizer sizes disagree", source, line_no);
}

static llmbed_status run(const llmbed_model *model, const char *input, const char *text_field, tokenize_out *out,
                         int64_t *lines, llmbed_error *error) {
    llmbed_line_reader *reader = NULL;
    llmbed_status st = llmbed_line_reader_open(input, 0, 0, (size_t)64 << 20, &reader, error);
    if (st != LLMBED_OK) return st;
    llmbed_input_parse_options parse = {llmbed_line_reader_name(reader), text_field, NULL, 0, NULL, 0};
    int32_t *ids = NULL;
    size_t capacity = 0;
    for (;;) {
        const char *line;
        size_t len, n = 0;
        int64_t line_no, end_offset;
        st = llmbed_line_reader_next(reader, &line, &len, &line_no, &end_offset, error);
        if (st != LLMBED_OK || line == NULL) break;
        llmbed_input_record record;
        st = llmbed_input_parse_line(line, len, line_no, &parse, &record, error);
        if (st != LLMBED_OK) break;
        if (record.kind == LLMBED_RECORD_IDS) {
            st = emit(out, record.ids, record.n_ids, error);
        } else {
            st = tokenize_record(model, &record, parse.source, line_no, &ids, &capacity, &n, error);
            if (st == LLMBED_OK) st = emit(out, ids, n, error);
        }
        llmbed_input_record_clear(&record);
        if (st != LLMBED_OK) break;
        (*lines)++;
    }
    free(ids);
    llmbed_line_reader_close(reader);
    return st;
}

int cli_tokenize(int argc, char **argv) {
    const char *model_path = NULL, *input = "-", *output = NULL, *text_field = "text";
    const cli_option options[] = {
        {"model", CLI_STRING, &model_path, 0, 0, "PATH", "HF model folder or .gguf file (required)"},
        {"input", CLI_STRING, &input, 0, 0, "FILE|-", "input lines, as for embed (default - = stdin)"},
        {"output", CLI_STRING, &output, 0, 0, "FILE", "output .jsonl (default stdout)"},
        {"text-field", CLI_STRING, &text_field, 0, 0, "NAME", "JSONL field holding the text (default text)"},
    };
    int parsed = cli_parse("tokenize", "usage: llmbed tokenize --model PATH [--input FILE] [--output FILE.jsonl]", argc,
                           argv, 2, options, 4);
    if (parsed != 0) return parsed > 0 ? 0 : LLMBED_ERR_INVALID_ARGUMENT;
    if (model_path == NULL) {
        cli_error("llmbed tokenize: --model PATH is required");
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    llmbed_model *model = NULL;
    llmbed_model_params params;
    llmbed_model_params_default(&params);
    params.vocab_only = 1; /* the tokenizer needs no weights */
    llmbed_error error = {0};
    llmbed_status st = llmbed_model_load(model_path, &params, &model, &error);
    if (st != LLMBED_OK) {
        cli_error("%s", error.message[0] ? error.message : llmbed_status_str(st));
        return st;
    }
    tokenize_out out = {0};
    int64_t lines = 0;
    if (output != NULL && strcmp(output, "-") != 0) {
        out.to_file = 1;
        llmbed_file_id input_id = llmbed_file_id_of_path(input);
        st = llmbed_atomic_file_open(&out.file, output, &input_id, &error);
    }
    if (st == LLMBED_OK) st = run(model, input, text_field, &out, &lines, &error);
    if (out.to_file && out.file.open) {
        if (st == LLMBED_OK) {
            st = llmbed_atomic_file_commit(&out.file, &error);
        } else {
            llmbed_atomic_file_abort(&out.file);
        }
    }
    if (st == LLMBED_OK && fflush(stdout) != 0) st = llmbed_fail(&error, LLMBED_ERR_OUTPUT_WRITE, "<stdout>: write failed");
    if (st != LLMBED_OK) cli_error("%s", error.message[0] ? error.message : llmbed_status_str(st));
    free(out.text);
    llmbed_model_free(model);
    return st;
}
