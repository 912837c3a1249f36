/* GGUF reader (format: ggml/docs/gguf.md; checks modelled on llama.cpp's
 * gguf.cpp). Layout, little-endian:
 *   "GGUF" u32 version u64 n_tensors u64 n_kv
 *   n_kv x { string key, u32 type, value }        string = u64 length + bytes
 *   n_tensors x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset }
 *   padding to general.alignment (default 32), then the data section; tensor
 *   offsets are relative to its start and multiples of the alignment.
 * Every count and length is checked against the bytes left before it is
 * used, so a hostile file can neither read out of bounds nor make us
 * allocate more than a small multiple of its own size. */
#include "container/gguf.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/mmap_file.h"

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_ALIGNMENT_KEY "general.alignment"
/* Smallest encodings, used to bound counts before allocating: a key/value
 * is at least an empty key (8), its type (4) and a 1-byte value; a tensor
 * info at least an empty name (8), n_dims (4), one ne (8), type (4), offset (8). */
#define GGUF_MIN_KV_BYTES 13u
#define GGUF_MIN_TENSOR_INFO_BYTES 32u

typedef struct gguf_kv {
    char *key;
    llmbed_gguf_type type;
    const uint8_t *value;       /* scalar value, string length field, or first array element */
    llmbed_gguf_type elem_type; /* arrays only */
    uint64_t count;             /* arrays only */
    const uint8_t **strings;    /* string arrays: each element's length field */
} gguf_kv;

struct llmbed_gguf {
    llmbed_mapped_file file; /* owned mapping (zeroed for open_memory) */
    const uint8_t *data;
    size_t size;
    char *path;
    uint32_t version;
    int64_t n_kv;
    gguf_kv *kvs;
    int64_t n_tensors;
    llmbed_tensor_ref *tensors;
    char **tensor_names; /* owned NUL-terminated copies behind tensors[i].name */
};

/* ------------------------------------------------------------ byte cursor */

typedef struct cursor {
    const uint8_t *data;
    size_t size;
    size_t pos;
    const char *name; /* file name for messages */
    llmbed_error *error;
} cursor;

static uint64_t load_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static llmbed_status need(cursor *c, uint64_t n, const char *what) {
    if (n > c->size - c->pos)
        return llmbed_fail(c->error, LLMBED_ERR_FILE_TRUNCATED,
                           "%s: truncated at byte %zu reading %s (%llu bytes needed, %zu left)", c->name,
                           c->pos, what, (unsigned long long)n, c->size - c->pos);
    return LLMBED_OK;
}

static llmbed_status read_u32(cursor *c, uint32_t *out, const char *what) {
    llmbed_status st = need(c, 4, what);
    if (st != LLMBED_OK) return st;
    *out = (uint32_t)load_le(c->data + c->pos, 4);
    c->pos += 4;
    return LLMBED_OK;
}

static llmbed_status read_u64(cursor *c, uint64_t *out, const char *what) {
    llmbed_status st = need(c, 8, what);
    if (st != LLMBED_OK) return st;
    *out = load_le(c->data + c->pos, 8);
    c->pos += 8;
    return LLMBED_OK;
}

/* Reads a string's length and skips its bytes; *start points at the length field. */
static llmbed_status read_string(cursor *c, const uint8_t **start, uint64_t *length, const char *what) {
    llmbed_status st = read_u64(c, length, what);
    if (st != LLMBED_OK) return st;
    *start = c->data + c->pos - 8;
    st = need(c, *length, what);
    if (st != LLMBED_OK) return st;
    c->pos += (size_t)*length;
    return LLMBED_OK;
}

static char *copy_string(const uint8_t *bytes, uint64_t length) {
    char *s = malloc((size_t)length + 1);
    if (s == NULL) return NULL;
    memcpy(s, bytes, (size_t)length);
    s[length] = '\0';
    return s;
}

/* Size of a fixed-width scalar type, 0 for strings/arrays, -1 for unknown. */
static int scalar_size(uint32_t type) {
    switch (type) {
    case LLMBED_GGUF_UINT8:
    case LLMBED_GGUF_INT8:
    case LLMBED_GGUF_BOOL:
        return 1;
    case LLMBED_GGUF_UINT16:
    case LLMBED_GGUF_INT16:
        return 2;
    case LLMBED_GGUF_UINT32:
    case LLMBED_GGUF_INT32:
    case LLMBED_GGUF_FLOAT32:
        return 4;
    case LLMBED_GGUF_UINT64:
    case LLMBED_GGUF_INT64:
    case LLMBED_GGUF_FLOAT64:
        return 8;
    case LLMBED_GGUF_STRING:
    case LLMBED_GGUF_ARRAY:
        return 0;
    default:
        return -1;
    }
}

/* ------------------------------------------------------------ metadata */

static llmbed_status parse_array(cursor *c, gguf_kv *kv) {
    uint32_t elem_type;
    llmbed_status st = read_u32(c, &elem_type, "array element type");
    if (st != LLMBED_OK) return st;
    const int width = scalar_size(elem_type);
    /* Nested arrays are rejected as llama.cpp's reader does. */
    if (width < 0 || elem_type == LLMBED_GGUF_ARRAY)
        return llmbed_fail(c->error, LLMBED_ERR_GGUF_TYPE, "%s: key '%s': unsupported array element type %u",
                           c->name, kv->key, elem_type);
    st = read_u64(c, &kv->count, "array length");
    if (st != LLMBED_OK) return st;
    kv->elem_type = (llmbed_gguf_type)elem_type;
    kv->value = c->data + c->pos;
    const uint64_t min_elem = width > 0 ? (uint64_t)width : 8u; /* a string is at least its length */
    if (kv->count > (c->size - c->pos) / min_elem)
        return llmbed_fail(c->error, LLMBED_ERR_FILE_TRUNCATED,
                           "%s: key '%s': array of %llu elements does not fit in the %zu bytes left", c->name,
                           kv->key, (unsigned long long)kv->count, c->size - c->pos);
    if (width > 0) {
        c->pos += (size_t)(kv->count * (uint64_t)width);
        return LLMBED_OK;
    }
    kv->strings = malloc((size_t)(kv->count ? kv->count : 1) * sizeof *kv->strings);
    if (kv->strings == NULL)
        return llmbed_fail(c->error, LLMBED_ERR_OUT_OF_MEMORY, "%s: key '%s': out of memory", c->name, kv->key);
    for (uint64_t i = 0; i < kv->count; i++) {
        uint64_t length;
        st = read_string(c, &kv->strings[i], &length, "array string");
        if (st != LLMBED_OK) return st;
    }
    return LLMBED_OK;
}

static llmbed_status parse_kv(cursor *c, gguf_kv *kv, int64_t index) {
    const uint8_t *key_start;
    uint64_t key_len;
    llmbed_status st = read_string(c, &key_start, &key_len, "metadata key");
    if (st != LLMBED_OK) return st;
    kv->key = copy_string(key_start + 8, key_len);
    if (kv->key == NULL) return llmbed_fail(c->error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", c->name);
    uint32_t type;
    st = read_u32(c, &type, "metadata value type");
    if (st != LLMBED_OK) return st;
    const int width = scalar_size(type);
    if (width < 0)
        return llmbed_fail(c->error, LLMBED_ERR_GGUF_TYPE, "%s: key '%s' (#%lld): unknown value type %u",
                           c->name, kv->key, (long long)index, type);
    kv->type = (llmbed_gguf_type)type;
    kv->value = c->data + c->pos;
    if (type == LLMBED_GGUF_ARRAY) return parse_array(c, kv);
    if (type == LLMBED_GGUF_STRING) {
        const uint8_t *start;
        uint64_t length;
        return read_string(c, &start, &length, kv->key);
    }
    st = need(c, (uint64_t)width, kv->key);
    if (st != LLMBED_OK) return st;
    c->pos += (size_t)width;
    return LLMBED_OK;
}

static const gguf_kv *find_kv(const llmbed_gguf *g, const char *key) {
    const int64_t i = llmbed_gguf_find_key(g, key);
    return i < 0 ? NULL : &g->kvs[i];
}

/* Integer value of a scalar at p; false when not an integer type or it does not fit int64. */
static bool scalar_int(llmbed_gguf_type type, const uint8_t *p, int64_t *out) {
    switch (type) {
    case LLMBED_GGUF_UINT8: *out = p[0]; return true;
    case LLMBED_GGUF_INT8: *out = (int8_t)p[0]; return true;
    case LLMBED_GGUF_UINT16: *out = (int64_t)load_le(p, 2); return true;
    case LLMBED_GGUF_INT16: *out = (int16_t)(uint16_t)load_le(p, 2); return true;
    case LLMBED_GGUF_UINT32: *out = (int64_t)load_le(p, 4); return true;
    case LLMBED_GGUF_INT32: *out = (int32_t)(uint32_t)load_le(p, 4); return true;
    case LLMBED_GGUF_INT64: *out = (int64_t)load_le(p, 8); return true;
    case LLMBED_GGUF_UINT64: {
        const uint64_t v = load_le(p, 8);
        if (v > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)v;
        return true;
    }
    default: return false;
    }
}

static bool scalar_float(llmbed_gguf_type type, const uint8_t *p, double *out) {
    if (type == LLMBED_GGUF_FLOAT32) {
        const uint32_t bits = (uint32_t)load_le(p, 4);
        float f;
        memcpy(&f, &bits, sizeof f);
        *out = f;
        return true;
    }
    if (type == LLMBED_GGUF_FLOAT64) {
        const uint64_t bits = load_le(p, 8);
        memcpy(out, &bits, sizeof *out);
        return true;
    }
    return false;
}

static llmbed_gguf_string string_at(const uint8_t *length_field) {
    llmbed_gguf_string s = {(const char *)length_field + 8, load_le(length_field, 8)};
    return s;
}

/* ------------------------------------------------------------ tensors */

static bool ggml_to_dtype(uint32_t ggml_type, llmbed_dtype *out) {
    switch (ggml_type) {
    case 0: *out = LLMBED_DTYPE_F32; return true;
    case 1: *out = LLMBED_DTYPE_F16; return true;
    case 2: *out = LLMBED_DTYPE_Q4_0; return true;
    case 3: *out = LLMBED_DTYPE_Q4_1; return true;
    case 8: *out = LLMBED_DTYPE_Q8_0; return true;
    case 30: *out = LLMBED_DTYPE_BF16; return true;
    default: return false;
    }
}

/* ggml.h enum ggml_type names, so a rejected type reads as "12 (Q4_K)". */
static const char *ggml_type_name(uint32_t ggml_type) {
    static const char *const names[] = {"F32",  "F16",  "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1",
                                        "Q8_0", "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K",
                                        "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S",
                                        "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M",
                                        "BF16"};
    return ggml_type < sizeof names / sizeof names[0] ? names[ggml_type] : "unknown";
}

static llmbed_status parse_tensor_info(cursor *c, llmbed_gguf *g, int64_t index, uint64_t *offset) {
    llmbed_tensor_ref *t = &g->tensors[index];
    const uint8_t *name_start;
    uint64_t name_len;
    llmbed_status st = read_string(c, &name_start, &name_len, "tensor name");
    if (st != LLMBED_OK) return st;
    g->tensor_names[index] = copy_string(name_start + 8, name_len);
    if (g->tensor_names[index] == NULL)
        return llmbed_fail(c->error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", c->name);
    t->name = g->tensor_names[index];
    uint32_t n_dims;
    st = read_u32(c, &n_dims, "tensor n_dims");
    if (st != LLMBED_OK) return st;
    if (n_dims < 1 || n_dims > LLMBED_TENSOR_MAX_DIMS)
        return llmbed_fail(c->error, LLMBED_ERR_TENSOR_SHAPE, "%s: tensor '%s': n_dims %u outside [1, %d]",
                           c->name, t->name, n_dims, LLMBED_TENSOR_MAX_DIMS);
    t->n_dims = (int)n_dims;
    int64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        uint64_t ne;
        st = read_u64(c, &ne, "tensor dimension");
        if (st != LLMBED_OK) return st;
        if (ne > (uint64_t)INT64_MAX || (ne != 0 && n_elements > INT64_MAX / (int64_t)ne))
            return llmbed_fail(c->error, LLMBED_ERR_TENSOR_SHAPE,
                               "%s: tensor '%s': dimension %u (%llu) overflows the element count", c->name,
                               t->name, d, (unsigned long long)ne);
        n_elements *= (int64_t)ne;
        t->shape[n_dims - 1 - d] = (int64_t)ne; /* ne[0] is the innermost dimension */
    }
    uint32_t ggml_type;
    st = read_u32(c, &ggml_type, "tensor type");
    if (st != LLMBED_OK) return st;
    if (!ggml_to_dtype(ggml_type, &t->dtype))
        return llmbed_fail(c->error, LLMBED_ERR_GGUF_TYPE,
                           "%s: tensor '%s': ggml type %u (%s) is not supported (F32, F16, BF16, Q8_0, Q4_0, Q4_1)",
                           c->name, t->name, ggml_type, ggml_type_name(ggml_type));
    t->n_bytes = llmbed_dtype_bytes(t->dtype, n_elements);
    const bool quantised = t->dtype == LLMBED_DTYPE_Q8_0 || t->dtype == LLMBED_DTYPE_Q4_0 ||
                           t->dtype == LLMBED_DTYPE_Q4_1;
    if ((quantised && t->shape[n_dims - 1] % 32 != 0) || (t->n_bytes == 0 && n_elements != 0))
        return llmbed_fail(c->error, LLMBED_ERR_TENSOR_SHAPE,
                           "%s: tensor '%s': innermost dimension %lld is not a whole number of %s blocks of 32",
                           c->name, t->name, (long long)t->shape[n_dims - 1], llmbed_dtype_name(t->dtype));
    return read_u64(c, offset, "tensor offset");
}

static int compare_by_offset(const void *a, const void *b, void *ctx) {
    const uint64_t *offsets = ctx;
    const uint64_t oa = offsets[*(const int64_t *)a], ob = offsets[*(const int64_t *)b];
    return oa < ob ? -1 : oa > ob;
}

/* Places every tensor inside the data section and rejects overlaps. */
static llmbed_status place_tensors(cursor *c, llmbed_gguf *g, const uint64_t *offsets, uint64_t alignment) {
    const size_t data_start = c->pos; /* already aligned by the caller */
    const uint64_t data_size = data_start <= c->size ? c->size - data_start : 0;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        llmbed_tensor_ref *t = &g->tensors[i];
        if (offsets[i] % alignment != 0)
            return llmbed_fail(c->error, LLMBED_ERR_TENSOR_OFFSET,
                               "%s: tensor '%s': offset %llu is not a multiple of the alignment %llu", c->name,
                               t->name, (unsigned long long)offsets[i], (unsigned long long)alignment);
        if (offsets[i] > data_size || t->n_bytes > data_size - offsets[i])
            return llmbed_fail(c->error, LLMBED_ERR_TENSOR_OFFSET,
                               "%s: tensor '%s': data [%llu, %llu) lies beyond the %llu-byte data section",
                               c->name, t->name, (unsigned long long)offsets[i],
                               (unsigned long long)offsets[i] + t->n_bytes, (unsigned long long)data_size);
        t->data = c->data + data_start + offsets[i];
    }
    int64_t *order = malloc((size_t)(g->n_tensors ? g->n_tensors : 1) * sizeof *order);
    if (order == NULL) return llmbed_fail(c->error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", c->name);
    for (int64_t i = 0; i < g->n_tensors; i++) order[i] = i;
    qsort_r(order, (size_t)g->n_tensors, sizeof *order, compare_by_offset, (void *)offsets);
    llmbed_status st = LLMBED_OK;
    for (int64_t k = 1; k < g->n_tensors && st == LLMBED_OK; k++) {
        const int64_t a = order[k - 1], b = order[k];
        if (offsets[a] + g->tensors[a].n_bytes > offsets[b])
            st = llmbed_fail(c->error, LLMBED_ERR_TENSOR_OVERLAP,
                             "%s: tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) overlap", c->name,
                             g->tensors[a].name, (unsigned long long)offsets[a],
                             (unsigned long long)(offsets[a] + g->tensors[a].n_bytes), g->tensors[b].name,
                             (unsigned long long)offsets[b],
                             (unsigned long long)(offsets[b] + g->tensors[b].n_bytes));
    }
    free(order);
    return st;
}

/* ------------------------------------------------------------ open */

static int compare_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted neighbours: O(n log n), since counts are only bounded by the file size. */
static const char *first_duplicate(const char **names, int64_t n) {
    qsort(names, (size_t)n, sizeof *names, compare_names);
    for (int64_t i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0) return names[i];
    return NULL;
}

static llmbed_status check_unique_names(cursor *c, const llmbed_gguf *g) {
    const int64_t n = g->n_kv > g->n_tensors ? g->n_kv : g->n_tensors;
    const char **names = malloc((size_t)(n ? n : 1) * sizeof *names);
    if (names == NULL) return llmbed_fail(c->error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", c->name);
    for (int64_t i = 0; i < g->n_kv; i++) names[i] = g->kvs[i].key;
    const char *dup = first_duplicate(names, g->n_kv);
    llmbed_status st = LLMBED_OK;
    if (dup != NULL) {
        st = llmbed_fail(c->error, LLMBED_ERR_GGUF_TYPE, "%s: duplicate metadata key '%s'", c->name, dup);
    } else {
        for (int64_t i = 0; i < g->n_tensors; i++) names[i] = g->tensors[i].name;
        dup = first_duplicate(names, g->n_tensors);
        if (dup != NULL)
            st = llmbed_fail(c->error, LLMBED_ERR_GGUF_TYPE, "%s: duplicate tensor name '%s'", c->name, dup);
    }
    free(names);
    return st;
}

static llmbed_status read_alignment(cursor *c, const llmbed_gguf *g, uint64_t *alignment) {
    *alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *kv = find_kv(g, GGUF_ALIGNMENT_KEY);
    if (kv == NULL) return LLMBED_OK;
    int64_t v;
    if (kv->type != LLMBED_GGUF_UINT32 || !scalar_int(kv->type, kv->value, &v) || v == 0 || (v & (v - 1)) != 0)
        return llmbed_fail(c->error, LLMBED_ERR_GGUF_TYPE,
                           "%s: key '" GGUF_ALIGNMENT_KEY "' must be a uint32 power of two", c->name);
    *alignment = (uint64_t)v;
    return LLMBED_OK;
}

static llmbed_status parse(cursor *c, llmbed_gguf *g) {
    llmbed_status st = need(c, 4, "magic");
    if (st != LLMBED_OK) return st;
    if (memcmp(c->data, "GGUF", 4) != 0)
        return llmbed_fail(c->error, LLMBED_ERR_GGUF_MAGIC,
                           "%s: bad magic %02x %02x %02x %02x (expected \"GGUF\")", c->name, c->data[0],
                           c->data[1], c->data[2], c->data[3]);
    c->pos = 4;
    st = read_u32(c, &g->version, "version");
    if (st != LLMBED_OK) return st;
    if (g->version != 2 && g->version != 3)
        return llmbed_fail(c->error, LLMBED_ERR_GGUF_VERSION,
                           "%s: GGUF version %u is not supported (2 and 3 little-endian are)", c->name, g->version);
    uint64_t n_tensors, n_kv;
    if ((st = read_u64(c, &n_tensors, "tensor count")) != LLMBED_OK) return st;
    if ((st = read_u64(c, &n_kv, "metadata count")) != LLMBED_OK) return st;
    const size_t left = c->size - c->pos;
    if (n_kv > left / GGUF_MIN_KV_BYTES || n_tensors > left / GGUF_MIN_TENSOR_INFO_BYTES)
        return llmbed_fail(c->error, LLMBED_ERR_FILE_TRUNCATED,
                           "%s: %llu metadata entries and %llu tensors cannot fit in %zu bytes", c->name,
                           (unsigned long long)n_kv, (unsigned long long)n_tensors, c->size);
    g->kvs = calloc((size_t)(n_kv ? n_kv : 1), sizeof *g->kvs);
    g->tensors = calloc((size_t)(n_tensors ? n_tensors : 1), sizeof *g->tensors);
    g->tensor_names = calloc((size_t)(n_tensors ? n_tensors : 1), sizeof *g->tensor_names);
    if (g->kvs == NULL || g->tensors == NULL || g->tensor_names == NULL)
        return llmbed_fail(c->error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", c->name);
    for (uint64_t i = 0; i < n_kv; i++) {
        g->n_kv = (int64_t)i + 1; /* counted before parsing so close() frees partial entries */
        if ((st = parse_kv(c, &g->kvs[i], (int64_t)i)) != LLMBED_OK) return st;
    }
    uint64_t alignment;
    if ((st = read_alignment(c, g, &alignment)) != LLMBED_OK) return st;
    uint64_t *offsets = malloc((size_t)(n_tensors ? n_tensors : 1) * sizeof *offsets);
    if (offsets == NULL) return llmbed_fail(c->error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", c->name);
    for (uint64_t i = 0; i < n_tensors && st == LLMBED_OK; i++) {
        g->n_tensors = (int64_t)i + 1;
        st = parse_tensor_info(c, g, (int64_t)i, &offsets[i]);
    }
    if (st == LLMBED_OK) st = check_unique_names(c, g);
    if (st == LLMBED_OK) {
        /* The data section starts at the next multiple of the alignment; a
         * file without tensors may end before that padding. */
        const uint64_t pad = (alignment - c->pos % alignment) % alignment;
        c->pos = pad <= c->size - c->pos ? c->pos + (size_t)pad : c->size;
        st = place_tensors(c, g, offsets, alignment);
    }
    free(offsets);
    return st;
}

static llmbed_status open_bytes(llmbed_gguf *g, const char *name, llmbed_gguf **out, llmbed_error *error) {
    g->path = copy_string((const uint8_t *)name, strlen(name));
    if (g->path == NULL) {
        llmbed_gguf_close(g);
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
    }
    cursor c = {g->data, g->size, 0, g->path, error};
    const llmbed_status st = parse(&c, g);
    if (st != LLMBED_OK) {
        llmbed_gguf_close(g);
        return st;
    }
    *out = g;
    return LLMBED_OK;
}

llmbed_status llmbed_gguf_open(const char *path, llmbed_gguf **out, llmbed_error *error) {
    if (out == NULL || path == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "gguf_open: NULL argument");
    *out = NULL;
    llmbed_gguf *g = calloc(1, sizeof *g);
    if (g == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    const llmbed_status st = llmbed_map_file(path, &g->file, error);
    if (st != LLMBED_OK) {
        free(g);
        return st;
    }
    g->data = g->file.data;
    g->size = g->file.size;
    return open_bytes(g, path, out, error);
}

llmbed_status llmbed_gguf_open_memory(const void *data, size_t size, const char *name, llmbed_gguf **out,
                                      llmbed_error *error) {
    if (out == NULL || (data == NULL && size != 0))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "gguf_open_memory: NULL argument");
    *out = NULL;
    llmbed_gguf *g = calloc(1, sizeof *g);
    if (g == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "gguf_open_memory: out of memory");
    g->data = data;
    g->size = size;
    return open_bytes(g, name != NULL ? name : "<memory>", out, error);
}

void llmbed_gguf_close(llmbed_gguf *g) {
    if (g == NULL) return;
    for (int64_t i = 0; i < g->n_kv; i++) {
        free(g->kvs[i].key);
        free(g->kvs[i].strings);
    }
    for (int64_t i = 0; i < g->n_tensors; i++) free(g->tensor_names[i]);
    free(g->kvs);
    free(g->tensors);
    free(g->tensor_names);
    free(g->path);
    llmbed_unmap_file(&g->file);
    free(g);
}

/* ------------------------------------------------------------ queries */

const char *llmbed_gguf_path(const llmbed_gguf *g) { return g->path; }
uint32_t llmbed_gguf_version(const llmbed_gguf *g) { return g->version; }

int64_t llmbed_gguf_find_key(const llmbed_gguf *g, const char *key) {
    for (int64_t i = 0; i < g->n_kv; i++)
        if (strcmp(g->kvs[i].key, key) == 0) return i;
    return -1;
}

llmbed_gguf_type llmbed_gguf_key_type(const llmbed_gguf *g, int64_t key_index) {
    return key_index >= 0 && key_index < g->n_kv ? g->kvs[key_index].type : (llmbed_gguf_type)-1;
}

bool llmbed_gguf_get_int(const llmbed_gguf *g, const char *key, int64_t *out) {
    const gguf_kv *kv = find_kv(g, key);
    return kv != NULL && scalar_int(kv->type, kv->value, out);
}

bool llmbed_gguf_get_float(const llmbed_gguf *g, const char *key, double *out) {
    const gguf_kv *kv = find_kv(g, key);
    return kv != NULL && scalar_float(kv->type, kv->value, out);
}

bool llmbed_gguf_get_bool(const llmbed_gguf *g, const char *key, bool *out) {
    const gguf_kv *kv = find_kv(g, key);
    if (kv == NULL || kv->type != LLMBED_GGUF_BOOL) return false;
    *out = kv->value[0] != 0;
    return true;
}

bool llmbed_gguf_get_string(const llmbed_gguf *g, const char *key, llmbed_gguf_string *out) {
    const gguf_kv *kv = find_kv(g, key);
    if (kv == NULL || kv->type != LLMBED_GGUF_STRING) return false;
    *out = string_at(kv->value);
    return true;
}

bool llmbed_gguf_get_array(const llmbed_gguf *g, const char *key, llmbed_gguf_type *elem_type, uint64_t *count) {
    const gguf_kv *kv = find_kv(g, key);
    if (kv == NULL || kv->type != LLMBED_GGUF_ARRAY) return false;
    if (elem_type != NULL) *elem_type = kv->elem_type;
    if (count != NULL) *count = kv->count;
    return true;
}

static const gguf_kv *array_kv(const llmbed_gguf *g, const char *key, uint64_t index) {
    const gguf_kv *kv = find_kv(g, key);
    return kv != NULL && kv->type == LLMBED_GGUF_ARRAY && index < kv->count ? kv : NULL;
}

bool llmbed_gguf_array_string(const llmbed_gguf *g, const char *key, uint64_t index, llmbed_gguf_string *out) {
    const gguf_kv *kv = array_kv(g, key, index);
    if (kv == NULL || kv->elem_type != LLMBED_GGUF_STRING) return false;
    *out = string_at(kv->strings[index]);
    return true;
}

bool llmbed_gguf_array_int(const llmbed_gguf *g, const char *key, uint64_t index, int64_t *out) {
    const gguf_kv *kv = array_kv(g, key, index);
    if (kv == NULL) return false;
    const int width = scalar_size(kv->elem_type);
    return width > 0 && scalar_int(kv->elem_type, kv->value + index * (uint64_t)width, out);
}

bool llmbed_gguf_array_float(const llmbed_gguf *g, const char *key, uint64_t index, double *out) {
    const gguf_kv *kv = array_kv(g, key, index);
    if (kv == NULL) return false;
    const int width = scalar_size(kv->elem_type);
    return width > 0 && scalar_float(kv->elem_type, kv->value + index * (uint64_t)width, out);
}

int64_t llmbed_gguf_n_tensors(const llmbed_gguf *g) { return g->n_tensors; }

const llmbed_tensor_ref *llmbed_gguf_tensor(const llmbed_gguf *g, int64_t index) {
    return index >= 0 && index < g->n_tensors ? &g->tensors[index] : NULL;
}

const llmbed_tensor_ref *llmbed_gguf_find_tensor(const llmbed_gguf *g, const char *name) {
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
    return NULL;
}
