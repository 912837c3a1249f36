#include "io/output_format.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/fp16.h"

static const char *const format_names[] = {"npy", "safetensors", "jsonl"};

const char *llmbed_output_format_name(llmbed_output_format format) { return format_names[format]; }

int llmbed_output_format_parse(const char *name, llmbed_output_format *format) {
    for (int i = 0; i < 3; i++) {
        if (strcmp(name, format_names[i]) == 0) {
            *format = (llmbed_output_format)i;
            return 0;
        }
    }
    return -1;
}

int llmbed_output_format_from_path(const char *path, llmbed_output_format *format) {
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot == NULL || (slash != NULL && dot < slash)) return -1;
    return llmbed_output_format_parse(dot + 1, format);
}

const char *llmbed_npy_descr(llmbed_output_dtype dtype) {
    switch (dtype) {
    case LLMBED_DTYPE_FLOAT32: return "<f4";
    case LLMBED_DTYPE_FLOAT16: return "<f2";
    case LLMBED_DTYPE_INT8: return "|i1";
    default: return "|u1";
    }
}

void llmbed_npy_header(unsigned char out[LLMBED_NPY_HEADER_BYTES], const char *descr, int64_t rows,
                       int64_t cols) {
    char dict[LLMBED_NPY_HEADER_BYTES];
    int n;
    if (cols >= 0) {
        n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%" PRId64 ", %" PRId64 "), }",
                     descr, rows, cols);
    } else {
        n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%" PRId64 ",), }", descr,
                     rows);
    }
    const size_t prefix = 10; /* magic(6) + version(2) + header length(2) */
    const size_t dict_space = LLMBED_NPY_HEADER_BYTES - prefix;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (unsigned char)(dict_space & 0xff);
    out[9] = (unsigned char)(dict_space >> 8);
    memset(out + prefix, ' ', dict_space);
    memcpy(out + prefix, dict, (size_t)n);
    out[LLMBED_NPY_HEADER_BYTES - 1] = '\n';
}

static const char *safetensors_dtype(llmbed_output_dtype dtype) {
    switch (dtype) {
    case LLMBED_DTYPE_FLOAT32: return "F32";
    case LLMBED_DTYPE_FLOAT16: return "F16";
    case LLMBED_DTYPE_INT8: return "I8";
    default: return "U8";
    }
}

void llmbed_safetensors_header(unsigned char out[LLMBED_SAFETENSORS_HEADER_BYTES],
                               llmbed_output_dtype dtype, int64_t rows, int64_t width) {
    char json[LLMBED_SAFETENSORS_HEADER_BYTES];
    int64_t data_bytes = rows * width * (int64_t)llmbed_dtype_size(dtype);
    int n = snprintf(json, sizeof json,
                     "{\"__metadata__\":{\"producer\":\"llmbed\"},\"embeddings\":{\"dtype\":\"%s\",\"shape\":[%" PRId64
                     ",%" PRId64 "],\"data_offsets\":[0,%" PRId64 "]}",
                     safetensors_dtype(dtype), rows, width, data_bytes);
    if (dtype == LLMBED_DTYPE_INT8) {
        n += snprintf(json + n, sizeof json - (size_t)n,
                      ",\"scales\":{\"dtype\":\"F32\",\"shape\":[%" PRId64 "],\"data_offsets\":[%" PRId64 ",%" PRId64
                      "]}",
                      rows, data_bytes, data_bytes + rows * 4);
    }
    n += snprintf(json + n, sizeof json - (size_t)n, "}");
    const uint64_t json_space = LLMBED_SAFETENSORS_HEADER_BYTES - 8;
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)(json_space >> (8 * i));
    memset(out + 8, ' ', json_space);
    memcpy(out + 8, json, (size_t)n);
}

typedef struct text_out {
    char *p;
    size_t capacity;
    size_t n;
} text_out;

static void emit(text_out *t, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    size_t room = t->n < t->capacity ? t->capacity - t->n : 0;
    int k = vsnprintf(room ? t->p + t->n : NULL, room, fmt, args);
    va_end(args);
    if (k > 0) t->n += (size_t)k;
}

size_t llmbed_jsonl_format_row(char *out, size_t capacity, const char *id_json, int64_t index,
                               llmbed_output_dtype dtype, const void *values, size_t width, float scale) {
    text_out t = {out, capacity, 0};
    if (id_json != NULL) {
        emit(&t, "{\"id\":%s,\"embedding\":[", id_json);
    } else {
        emit(&t, "{\"id\":%" PRId64 ",\"embedding\":[", index);
    }
    for (size_t i = 0; i < width; i++) {
        const char *sep = i ? "," : "";
        switch (dtype) {
        case LLMBED_DTYPE_FLOAT32: emit(&t, "%s%.9g", sep, (double)((const float *)values)[i]); break;
        case LLMBED_DTYPE_FLOAT16:
            emit(&t, "%s%.9g", sep, (double)llmbed_fp16_to_f32(((const uint16_t *)values)[i]));
            break;
        case LLMBED_DTYPE_INT8: emit(&t, "%s%d", sep, (int)((const int8_t *)values)[i]); break;
        case LLMBED_DTYPE_UBINARY: emit(&t, "%s%u", sep, (unsigned)((const uint8_t *)values)[i]); break;
        }
    }
    if (dtype == LLMBED_DTYPE_INT8) {
        emit(&t, "],\"scale\":%.9g}\n", (double)scale);
    } else {
        emit(&t, "]}\n");
    }
    return t.n;
}
