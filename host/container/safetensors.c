#include "container/safetensors.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/json_file.h"
#include "common/mmap_file.h"
#include "common/path.h"

#define INDEX_FILE "model.safetensors.index.json"
#define SINGLE_FILE "model.safetensors"
/* Largest integer a JSON number (a double in cJSON) holds exactly. */
#define MAX_EXACT_JSON_INT 9007199254740992.0

typedef struct st_file {
    llmbed_mapped_file map; /* zeroed for open_memory */
    char *path;
    cJSON *header; /* owns the tensor names */
} st_file;

struct llmbed_safetensors {
    int n_files;
    st_file *files;
    int64_t n_tensors, capacity;
    llmbed_tensor_ref *tensors;
    int *tensor_file;       /* index into files */
    uint64_t *tensor_begin; /* offset inside its file's data section */
};

static bool json_uint(const cJSON *item, uint64_t *out) {
    if (!cJSON_IsNumber(item)) return false;
    const double v = item->valuedouble;
    if (!(v >= 0 && v <= MAX_EXACT_JSON_INT) || v != floor(v)) return false;
    *out = (uint64_t)v;
    return true;
}

static bool dtype_from_name(const char *name, llmbed_dtype *out) {
    if (strcmp(name, "F32") == 0) *out = LLMBED_DTYPE_F32;
    else if (strcmp(name, "F16") == 0) *out = LLMBED_DTYPE_F16;
    else if (strcmp(name, "BF16") == 0) *out = LLMBED_DTYPE_BF16;
    else return false;
    return true;
}

static llmbed_status grow(llmbed_safetensors *st, const char *file, llmbed_error *error) {
    if (st->n_tensors < st->capacity) return LLMBED_OK;
    const int64_t cap = st->capacity ? 2 * st->capacity : 64;
    llmbed_tensor_ref *t = realloc(st->tensors, (size_t)cap * sizeof *t);
    if (t != NULL) st->tensors = t;
    int *f = realloc(st->tensor_file, (size_t)cap * sizeof *f);
    if (f != NULL) st->tensor_file = f;
    uint64_t *b = realloc(st->tensor_begin, (size_t)cap * sizeof *b);
    if (b != NULL) st->tensor_begin = b;
    if (t == NULL || f == NULL || b == NULL)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", file);
    st->capacity = cap;
    return LLMBED_OK;
}

/* Validates one header entry and appends its view. */
static llmbed_status add_tensor(llmbed_safetensors *st, int file_index, const cJSON *entry, const uint8_t *data,
                                uint64_t data_size, llmbed_error *error) {
    const char *file = st->files[file_index].path, *name = entry->string;
    if (!cJSON_IsObject(entry))
        return llmbed_fail(error, LLMBED_ERR_BAD_JSON, "%s: tensor '%s': header entry is not an object", file, name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    if (!cJSON_IsString(dtype) || !cJSON_IsArray(shape) || !cJSON_IsArray(offsets) ||
        cJSON_GetArraySize(offsets) != 2)
        return llmbed_fail(error, LLMBED_ERR_BAD_JSON,
                           "%s: tensor '%s': needs \"dtype\" (string), \"shape\" (array) and "
                           "\"data_offsets\" ([begin, end])",
                           file, name);
    llmbed_status s = grow(st, file, error);
    if (s != LLMBED_OK) return s;
    llmbed_tensor_ref *t = &st->tensors[st->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = name;
    if (!dtype_from_name(dtype->valuestring, &t->dtype))
        return llmbed_fail(error, LLMBED_ERR_TENSOR_DTYPE,
                           "%s: tensor '%s': dtype \"%s\" is not supported (F32, F16, BF16)", file, name,
                           dtype->valuestring);
    const int n_dims = cJSON_GetArraySize(shape);
    if (n_dims > LLMBED_TENSOR_MAX_DIMS)
        return llmbed_fail(error, LLMBED_ERR_TENSOR_SHAPE, "%s: tensor '%s': %d dimensions (at most %d supported)",
                           file, name, n_dims, LLMBED_TENSOR_MAX_DIMS);
    t->n_dims = n_dims;
    uint64_t n_elements = 1;
    for (int d = 0; d < n_dims; d++) {
        uint64_t dim;
        if (!json_uint(cJSON_GetArrayItem(shape, d), &dim))
            return llmbed_fail(error, LLMBED_ERR_BAD_JSON,
                               "%s: tensor '%s': shape[%d] is not a non-negative integer", file, name, d);
        if (dim != 0 && n_elements > (uint64_t)INT64_MAX / dim)
            return llmbed_fail(error, LLMBED_ERR_TENSOR_SHAPE, "%s: tensor '%s': shape overflows", file, name);
        n_elements *= dim;
        t->shape[d] = (int64_t)dim;
    }
    uint64_t begin, end;
    if (!json_uint(cJSON_GetArrayItem(offsets, 0), &begin) || !json_uint(cJSON_GetArrayItem(offsets, 1), &end))
        return llmbed_fail(error, LLMBED_ERR_TENSOR_OFFSET,
                           "%s: tensor '%s': data_offsets are not non-negative integers below 2^53", file, name);
    if (begin > end || end > data_size)
        return llmbed_fail(error, LLMBED_ERR_TENSOR_OFFSET,
                           "%s: tensor '%s': data_offsets [%llu, %llu) outside the %llu-byte data section", file,
                           name, (unsigned long long)begin, (unsigned long long)end,
                           (unsigned long long)data_size);
    const size_t bytes = llmbed_dtype_bytes(t->dtype, (int64_t)n_elements);
    if (bytes != end - begin || (bytes == 0 && n_elements != 0))
        return llmbed_fail(error, LLMBED_ERR_TENSOR_SHAPE,
                           "%s: tensor '%s': shape holds %llu %s elements (%zu bytes) but data_offsets span %llu bytes",
                           file, name, (unsigned long long)n_elements, llmbed_dtype_name(t->dtype), bytes,
                           (unsigned long long)(end - begin));
    t->data = data + begin;
    t->n_bytes = bytes;
    st->tensor_file[st->n_tensors] = file_index;
    st->tensor_begin[st->n_tensors] = begin;
    st->n_tensors++;
    return LLMBED_OK;
}

typedef struct order_ctx {
    const llmbed_safetensors *st;
} order_ctx;

static int compare_position(const void *a, const void *b, void *ctx) {
    const llmbed_safetensors *st = ((const order_ctx *)ctx)->st;
    const int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
    if (st->tensor_file[i] != st->tensor_file[j]) return st->tensor_file[i] < st->tensor_file[j] ? -1 : 1;
    return st->tensor_begin[i] < st->tensor_begin[j] ? -1 : st->tensor_begin[i] > st->tensor_begin[j];
}

static int compare_name(const void *a, const void *b, void *ctx) {
    const llmbed_safetensors *st = ((const order_ctx *)ctx)->st;
    return strcmp(st->tensors[*(const int64_t *)a].name, st->tensors[*(const int64_t *)b].name);
}

/* No two tensors of one file share bytes; no name is stored twice. */
static llmbed_status check_layout(const llmbed_safetensors *st, llmbed_error *error) {
    int64_t *order = malloc((size_t)(st->n_tensors ? st->n_tensors : 1) * sizeof *order);
    if (order == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "safetensors: out of memory");
    order_ctx ctx = {st};
    for (int64_t i = 0; i < st->n_tensors; i++) order[i] = i;
    qsort_r(order, (size_t)st->n_tensors, sizeof *order, compare_position, &ctx);
    llmbed_status s = LLMBED_OK;
    for (int64_t k = 1; k < st->n_tensors && s == LLMBED_OK; k++) {
        const int64_t a = order[k - 1], b = order[k];
        if (st->tensor_file[a] == st->tensor_file[b] &&
            st->tensor_begin[a] + st->tensors[a].n_bytes > st->tensor_begin[b])
            s = llmbed_fail(error, LLMBED_ERR_TENSOR_OVERLAP,
                            "%s: tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) overlap",
                            st->files[st->tensor_file[a]].path, st->tensors[a].name,
                            (unsigned long long)st->tensor_begin[a],
                            (unsigned long long)(st->tensor_begin[a] + st->tensors[a].n_bytes), st->tensors[b].name,
                            (unsigned long long)st->tensor_begin[b],
                            (unsigned long long)(st->tensor_begin[b] + st->tensors[b].n_bytes));
    }
    qsort_r(order, (size_t)st->n_tensors, sizeof *order, compare_name, &ctx);
    for (int64_t k = 1; k < st->n_tensors && s == LLMBED_OK; k++) {
        const int64_t a = order[k - 1], b = order[k];
        if (strcmp(st->tensors[a].name, st->tensors[b].name) == 0)
            s = llmbed_fail(error, LLMBED_ERR_TENSOR_OVERLAP, "tensor '%s' is stored twice (%s and %s)",
                            st->tensors[a].name, st->files[st->tensor_file[a]].path,
                            st->files[st->tensor_file[b]].path);
    }
    free(order);
    return s;
}

/* Parses the header of files[file_index] (bytes already mapped or given). */
static llmbed_status parse_file(llmbed_safetensors *st, int file_index, const uint8_t *data, size_t size,
                                llmbed_error *error) {
    st_file *f = &st->files[file_index];
    if (size < 8)
        return llmbed_fail(error, LLMBED_ERR_FILE_TRUNCATED,
                           "%s: %zu bytes, shorter than the 8-byte header length", f->path, size);
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--) header_len = header_len << 8 | data[i];
    if (header_len > LLMBED_SAFETENSORS_MAX_HEADER || header_len > size - 8)
        return llmbed_fail(error, LLMBED_ERR_HEADER_TOO_LARGE,
                           "%s: header length %llu exceeds the file (%zu bytes after the length) or the %llu-byte bound",
                           f->path, (unsigned long long)header_len, size - 8,
                           (unsigned long long)LLMBED_SAFETENSORS_MAX_HEADER);
    llmbed_status s = llmbed_json_parse((const char *)data + 8, (size_t)header_len, f->path, &f->header, error);
    if (s != LLMBED_OK) return s;
    if (!cJSON_IsObject(f->header))
        return llmbed_fail(error, LLMBED_ERR_BAD_JSON, "%s: header is not a JSON object", f->path);
    const uint8_t *section = data + 8 + header_len;
    const uint64_t section_size = size - 8 - header_len;
    const cJSON *entry;
    cJSON_ArrayForEach(entry, f->header) {
        if (strcmp(entry->string, "__metadata__") == 0) continue; /* free-form string map; unused */
        s = add_tensor(st, file_index, entry, section, section_size, error);
        if (s != LLMBED_OK) return s;
    }
    return LLMBED_OK;
}

static llmbed_status add_file(llmbed_safetensors *st, const char *path, llmbed_error *error) {
    st_file *files = realloc(st->files, (size_t)(st->n_files + 1) * sizeof *files);
    if (files == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    st->files = files;
    st_file *f = &files[st->n_files];
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    if (f->path == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    st->n_files++;
    return LLMBED_OK;
}

static llmbed_status open_mapped(llmbed_safetensors *st, const char *path, llmbed_error *error) {
    llmbed_status s = add_file(st, path, error);
    if (s != LLMBED_OK) return s;
    st_file *f = &st->files[st->n_files - 1];
    s = llmbed_map_file(path, &f->map, error);
    if (s != LLMBED_OK) return s;
    return parse_file(st, st->n_files - 1, f->map.data, f->map.size, error);
}

static llmbed_status finish(llmbed_safetensors *st, llmbed_status s, llmbed_safetensors **out,
                            llmbed_error *error) {
    if (s == LLMBED_OK) s = check_layout(st, error);
    if (s != LLMBED_OK) {
        llmbed_safetensors_close(st);
        return s;
    }
    *out = st;
    return LLMBED_OK;
}

llmbed_status llmbed_safetensors_open(const char *path, llmbed_safetensors **out, llmbed_error *error) {
    *out = NULL;
    llmbed_safetensors *st = calloc(1, sizeof *st);
    if (st == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    return finish(st, open_mapped(st, path, error), out, error);
}

llmbed_status llmbed_safetensors_open_memory(const void *data, size_t size, const char *name,
                                             llmbed_safetensors **out, llmbed_error *error) {
    *out = NULL;
    if (data == NULL && size != 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "safetensors_open_memory: NULL data");
    llmbed_safetensors *st = calloc(1, sizeof *st);
    if (st == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "safetensors: out of memory");
    llmbed_status s = add_file(st, name != NULL ? name : "<memory>", error);
    if (s == LLMBED_OK) s = parse_file(st, 0, data, size, error);
    return finish(st, s, out, error);
}

/* Shard names must stay inside the folder. */
static bool plain_file_name(const char *name) {
    return name[0] != '\0' && strchr(name, '/') == NULL && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static int find_file(const llmbed_safetensors *st, const char *path) {
    for (int i = 0; i < st->n_files; i++)
        if (strcmp(st->files[i].path, path) == 0) return i;
    return -1;
}

/* Opens every shard of weight_map and checks each mapped tensor is in its shard. */
static llmbed_status open_sharded(llmbed_safetensors *st, const char *folder, const char *index_path,
                                  llmbed_error *error) {
    cJSON *index;
    llmbed_status s = llmbed_json_parse_file(index_path, &index, error);
    if (s != LLMBED_OK) return s;
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(index, "weight_map");
    if (!cJSON_IsObject(map)) s = llmbed_fail(error, LLMBED_ERR_BAD_JSON, "%s: \"weight_map\" object missing", index_path);
    const cJSON *entry;
    for (entry = map != NULL ? map->child : NULL; entry != NULL && s == LLMBED_OK; entry = entry->next) {
        if (!cJSON_IsString(entry) || !plain_file_name(entry->valuestring)) {
            s = llmbed_fail(error, LLMBED_ERR_BAD_JSON,
                            "%s: weight_map[\"%s\"] must be the name of a file in the folder", index_path,
                            entry->string);
            break;
        }
        char *shard = llmbed_path_join(folder, entry->valuestring);
        if (shard == NULL) s = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", index_path);
        else if (find_file(st, shard) < 0) s = open_mapped(st, shard, error);
        free(shard);
    }
    for (entry = s == LLMBED_OK ? map->child : NULL; entry != NULL && s == LLMBED_OK; entry = entry->next) {
        char *shard = llmbed_path_join(folder, entry->valuestring);
        if (shard == NULL) {
            s = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", index_path);
            break;
        }
        const int file = find_file(st, shard);
        int64_t i = 0;
        while (i < st->n_tensors && (st->tensor_file[i] != file || strcmp(st->tensors[i].name, entry->string) != 0))
            i++;
        if (i == st->n_tensors)
            s = llmbed_fail(error, LLMBED_ERR_MISSING_TENSOR, "%s: tensor '%s' listed in %s is not in the shard",
                            shard, entry->string, index_path);
        free(shard);
    }
    cJSON_Delete(index);
    return s;
}

llmbed_status llmbed_safetensors_open_folder(const char *folder, llmbed_safetensors **out, llmbed_error *error) {
    *out = NULL;
    char *index = llmbed_path_join(folder, INDEX_FILE);
    char *single = llmbed_path_join(folder, SINGLE_FILE);
    llmbed_safetensors *st = calloc(1, sizeof *st);
    llmbed_status s;
    if (index == NULL || single == NULL || st == NULL)
        s = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", folder);
    else if (llmbed_path_is_file(index))
        s = open_sharded(st, folder, index, error);
    else if (llmbed_path_is_file(single))
        s = open_mapped(st, single, error);
    else
        s = llmbed_fail(error, LLMBED_ERR_FILE_NOT_FOUND, "%s: neither " SINGLE_FILE " nor " INDEX_FILE " found",
                        folder);
    free(index);
    free(single);
    if (st == NULL) return s;
    return finish(st, s, out, error);
}

void llmbed_safetensors_close(llmbed_safetensors *st) {
    if (st == NULL) return;
    for (int i = 0; i < st->n_files; i++) {
        llmbed_unmap_file(&st->files[i].map);
        cJSON_Delete(st->files[i].header);
        free(st->files[i].path);
    }
    free(st->files);
    free(st->tensors);
    free(st->tensor_file);
    free(st->tensor_begin);
    free(st);
}

int64_t llmbed_safetensors_n_tensors(const llmbed_safetensors *st) { return st->n_tensors; }

const llmbed_tensor_ref *llmbed_safetensors_tensor(const llmbed_safetensors *st, int64_t index) {
    return index >= 0 && index < st->n_tensors ? &st->tensors[index] : NULL;
}

const llmbed_tensor_ref *llmbed_safetensors_find_tensor(const llmbed_safetensors *st, const char *name) {
    for (int64_t i = 0; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}

const char *llmbed_safetensors_tensor_file(const llmbed_safetensors *st, int64_t index) {
    return index >= 0 && index < st->n_tensors ? st->files[st->tensor_file[index]].path : NULL;
}
