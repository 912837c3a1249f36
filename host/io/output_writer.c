#include "io/output_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "io/atomic_file.h"

struct llmbed_output_writer {
    llmbed_output_format format;
    llmbed_output_dtype dtype;
    int dims;
    size_t width;     /* stored values per row */
    size_t row_bytes; /* encoded bytes per row */
    llmbed_atomic_file file;
    llmbed_atomic_file sidecar; /* npy int8 scales */
    int has_sidecar;
    char *sidecar_path;
    int64_t rows;
    unsigned char *row_buffer;
    char *text;             /* jsonl line buffer */
    size_t text_capacity;
    float *scales;          /* safetensors int8: written after the data at commit */
    size_t scales_capacity;
};

int llmbed_output_sidecar_path(const char *path, char *out, size_t capacity) {
    size_t n = strlen(path);
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot != NULL && (slash == NULL || dot > slash)) n = (size_t)(dot - path);
    int k = snprintf(out, capacity, "%.*s.scales.npy", (int)n, path);
    return k < 0 || (size_t)k >= capacity ? -1 : 0;
}

static void writer_free(llmbed_output_writer *w) {
    free(w->sidecar_path);
    free(w->row_buffer);
    free(w->text);
    free(w->scales);
    free(w);
}

void llmbed_output_writer_abort(llmbed_output_writer *writer) {
    if (writer == NULL) return;
    llmbed_atomic_file_abort(&writer->file);
    llmbed_atomic_file_abort(&writer->sidecar);
    writer_free(writer);
}

llmbed_status llmbed_output_writer_open(const char *path, llmbed_output_format format,
                                        llmbed_output_dtype dtype, int dims, const llmbed_file_id *input,
                                        llmbed_output_writer **out, llmbed_error *error) {
    *out = NULL;
    if (dims <= 0) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "%s: row width %d", path, dims);
    llmbed_output_writer *w = calloc(1, sizeof *w);
    if (w == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    w->format = format;
    w->dtype = dtype;
    w->dims = dims;
    w->width = llmbed_row_width(dtype, dims);
    w->row_bytes = w->width * llmbed_dtype_size(dtype);
    w->row_buffer = malloc(w->row_bytes);
    if (w->row_buffer == NULL) {
        writer_free(w);
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    llmbed_status st = llmbed_atomic_file_open(&w->file, path, input, error);
    if (st != LLMBED_OK) {
        writer_free(w);
        return st;
    }
    if (format == LLMBED_FORMAT_NPY && dtype == LLMBED_DTYPE_INT8) {
        size_t cap = strlen(path) + 16;
        w->sidecar_path = malloc(cap);
        if (w->sidecar_path == NULL || llmbed_output_sidecar_path(path, w->sidecar_path, cap) != 0) {
            llmbed_output_writer_abort(w);
            return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
        }
        st = llmbed_atomic_file_open(&w->sidecar, w->sidecar_path, input, error);
        if (st != LLMBED_OK) {
            llmbed_output_writer_abort(w);
            return st;
        }
        w->has_sidecar = 1;
    }
    /* Placeholder headers, rewritten with the final row count at commit. */
    unsigned char header[LLMBED_SAFETENSORS_HEADER_BYTES];
    if (format == LLMBED_FORMAT_NPY) {
        llmbed_npy_header(header, llmbed_npy_descr(dtype), 0, (int64_t)w->width);
        st = llmbed_atomic_file_write(&w->file, header, LLMBED_NPY_HEADER_BYTES, error);
        if (st == LLMBED_OK && w->has_sidecar) {
            llmbed_npy_header(header, "<f4", 0, -1);
            st = llmbed_atomic_file_write(&w->sidecar, header, LLMBED_NPY_HEADER_BYTES, error);
        }
    } else if (format == LLMBED_FORMAT_SAFETENSORS) {
        llmbed_safetensors_header(header, dtype, 0, (int64_t)w->width);
        st = llmbed_atomic_file_write(&w->file, header, LLMBED_SAFETENSORS_HEADER_BYTES, error);
    }
    if (st != LLMBED_OK) {
        llmbed_output_writer_abort(w);
        return st;
    }
    *out = w;
    return LLMBED_OK;
}

static llmbed_status write_jsonl_row(llmbed_output_writer *w, const char *id_json, float scale,
                                     llmbed_error *error) {
    size_t n = llmbed_jsonl_format_row(w->text, w->text_capacity, id_json, w->rows, w->dtype, w->row_buffer,
                                       w->width, scale);
    if (n >= w->text_capacity) {
        char *bigger = realloc(w->text, n + 1);
        if (bigger == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", w->file.final_path);
        w->text = bigger;
        w->text_capacity = n + 1;
        n = llmbed_jsonl_format_row(w->text, w->text_capacity, id_json, w->rows, w->dtype, w->row_buffer, w->width,
                                    scale);
    }
    return llmbed_atomic_file_write(&w->file, w->text, n, error);
}

llmbed_status llmbed_output_writer_write(llmbed_output_writer *w, const float *rows, size_t n_rows,
                                         const char *const *ids, llmbed_error *error) {
    for (size_t r = 0; r < n_rows; r++) {
        float scale;
        llmbed_row_encode(w->dtype, rows + r * (size_t)w->dims, w->dims, w->row_buffer, &scale);
        llmbed_status st = LLMBED_OK;
        if (w->format == LLMBED_FORMAT_JSONL) {
            st = write_jsonl_row(w, ids != NULL ? ids[r] : NULL, scale, error);
        } else {
            st = llmbed_atomic_file_write(&w->file, w->row_buffer, w->row_bytes, error);
            if (st == LLMBED_OK && w->dtype == LLMBED_DTYPE_INT8) {
                if (w->has_sidecar) {
                    st = llmbed_atomic_file_write(&w->sidecar, &scale, sizeof scale, error);
                } else {
                    if ((size_t)w->rows == w->scales_capacity) {
                        size_t cap = w->scales_capacity ? 2 * w->scales_capacity : 1024;
                        float *bigger = realloc(w->scales, cap * sizeof *bigger);
                        if (bigger == NULL) {
                            return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory",
                                               w->file.final_path);
                        }
                        w->scales = bigger;
                        w->scales_capacity = cap;
                    }
                    w->scales[w->rows] = scale;
                }
            }
        }
        if (st != LLMBED_OK) return st;
        w->rows++;
    }
    return LLMBED_OK;
}

int64_t llmbed_output_writer_rows(const llmbed_output_writer *writer) { return writer->rows; }

static llmbed_status finish_headers(llmbed_output_writer *w, llmbed_error *error) {
    unsigned char header[LLMBED_SAFETENSORS_HEADER_BYTES];
    llmbed_status st = LLMBED_OK;
    if (w->format == LLMBED_FORMAT_NPY) {
        llmbed_npy_header(header, llmbed_npy_descr(w->dtype), w->rows, (int64_t)w->width);
        st = llmbed_atomic_file_pwrite(&w->file, 0, header, LLMBED_NPY_HEADER_BYTES, error);
        if (st == LLMBED_OK && w->has_sidecar) {
            llmbed_npy_header(header, "<f4", w->rows, -1);
            st = llmbed_atomic_file_pwrite(&w->sidecar, 0, header, LLMBED_NPY_HEADER_BYTES, error);
        }
    } else if (w->format == LLMBED_FORMAT_SAFETENSORS) {
        if (w->dtype == LLMBED_DTYPE_INT8) {
            st = llmbed_atomic_file_write(&w->file, w->scales, (size_t)w->rows * sizeof(float), error);
        }
        if (st == LLMBED_OK) {
            llmbed_safetensors_header(header, w->dtype, w->rows, (int64_t)w->width);
            st = llmbed_atomic_file_pwrite(&w->file, 0, header, LLMBED_SAFETENSORS_HEADER_BYTES, error);
        }
    }
    return st;
}

llmbed_status llmbed_output_writer_commit(llmbed_output_writer *w, llmbed_output_summary *summary,
                                          llmbed_error *error) {
    llmbed_status st = finish_headers(w, error);
    if (st != LLMBED_OK) {
        llmbed_output_writer_abort(w);
        return st;
    }
    /* The sidecar goes first: a committed main file then always has its
     * scales. If the main file then fails, a sidecar we renamed into place
     * is removed again (one written to a FIFO or device cannot be). */
    char *sidecar_target = w->has_sidecar && w->sidecar.target_path != NULL ? strdup(w->sidecar.target_path) : NULL;
    if (w->has_sidecar) st = llmbed_atomic_file_commit(&w->sidecar, error);
    if (st == LLMBED_OK) {
        st = llmbed_atomic_file_commit(&w->file, error);
        if (st != LLMBED_OK && sidecar_target != NULL) remove(sidecar_target);
    }
    free(sidecar_target);
    llmbed_output_summary s = {0};
    s.rows = w->rows;
    s.crc32 = w->file.crc32;
    s.bytes = w->file.bytes;
    if (w->has_sidecar) {
        s.has_sidecar = 1;
        s.sidecar_crc32 = w->sidecar.crc32;
        s.sidecar_bytes = w->sidecar.bytes;
    }
    llmbed_output_writer_abort(w);
    if (st == LLMBED_OK && summary != NULL) *summary = s;
    return st;
}
