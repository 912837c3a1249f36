#include "pipeline/manifest.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/json_file.h"
#include "io/atomic_file.h"

#define MANIFEST_FORMAT "llmbed-shards"
#define MANIFEST_VERSION 2
#define MANIFEST_MAX_BYTES (256 << 20)
#define RERUN "; rerun without --resume to start over"

void llmbed_manifest_free(llmbed_manifest *manifest) {
    for (int i = 0; i < manifest->n_shards; i++) {
        free(manifest->shards[i].file);
        free(manifest->shards[i].sidecar);
    }
    free(manifest->shards);
    free(manifest->job_json);
    memset(manifest, 0, sizeof *manifest);
}

llmbed_status llmbed_manifest_add_shard(llmbed_manifest *m, const llmbed_manifest_shard *shard,
                                        llmbed_error *error) {
    if (m->n_shards == m->shards_capacity) {
        int cap = m->shards_capacity ? 2 * m->shards_capacity : 16;
        llmbed_manifest_shard *bigger = realloc(m->shards, (size_t)cap * sizeof *bigger);
        if (bigger == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "manifest: out of memory");
        m->shards = bigger;
        m->shards_capacity = cap;
    }
    llmbed_manifest_shard copy = *shard;
    copy.file = strdup(shard->file);
    copy.sidecar = shard->sidecar != NULL ? strdup(shard->sidecar) : NULL;
    if (copy.file == NULL || (shard->sidecar != NULL && copy.sidecar == NULL)) {
        free(copy.file);
        free(copy.sidecar);
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "manifest: out of memory");
    }
    m->shards[m->n_shards++] = copy;
    return LLMBED_OK;
}

/* Integers up to 2^53 are exact in cJSON's doubles; offsets and counts stay far below. */
static int add_number(cJSON *object, const char *key, double value) {
    return cJSON_AddNumberToObject(object, key, value) != NULL;
}

static char *render(const llmbed_manifest *m) {
    cJSON *root = cJSON_CreateObject();
    cJSON *job = m->job_json != NULL ? cJSON_Parse(m->job_json) : cJSON_CreateObject();
    int ok = root != NULL && job != NULL;
    if (ok) {
        ok = cJSON_AddStringToObject(root, "format", MANIFEST_FORMAT) != NULL &&
             add_number(root, "version", MANIFEST_VERSION);
        cJSON_AddItemToObject(root, "job", job);
        job = NULL;
    }
    cJSON *shards = ok ? cJSON_AddArrayToObject(root, "shards") : NULL;
    ok = ok && shards != NULL;
    for (int i = 0; ok && i < m->n_shards; i++) {
        const llmbed_manifest_shard *s = &m->shards[i];
        cJSON *item = cJSON_CreateObject();
        ok = item != NULL && cJSON_AddItemToArray(shards, item);
        ok = ok && cJSON_AddStringToObject(item, "file", s->file) != NULL && add_number(item, "rows", (double)s->rows) &&
             add_number(item, "bytes", (double)s->bytes) && add_number(item, "crc32", (double)s->crc32);
        if (ok && s->sidecar != NULL) {
            ok = cJSON_AddStringToObject(item, "sidecar", s->sidecar) != NULL &&
                 add_number(item, "sidecar_bytes", (double)s->sidecar_bytes) &&
                 add_number(item, "sidecar_crc32", (double)s->sidecar_crc32);
        }
    }
    ok = ok && add_number(root, "rows", (double)m->rows) && add_number(root, "next_offset", (double)m->next_offset) &&
         add_number(root, "next_line", (double)m->next_line) && add_number(root, "skipped", (double)m->skipped) &&
         add_number(root, "truncated", (double)m->truncated) && add_number(root, "tokens", (double)m->tokens) &&
         add_number(root, "input_crc32", (double)m->input_crc32) &&
         cJSON_AddBoolToObject(root, "complete", m->complete) != NULL;
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(job);
    cJSON_Delete(root);
    return text;
}

llmbed_status llmbed_manifest_write(const llmbed_manifest *manifest, const char *path, const llmbed_file_id *input,
                                    llmbed_error *error) {
    char *text = render(manifest);
    if (text == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: cannot render the manifest", path);
    llmbed_atomic_file file;
    llmbed_status st = llmbed_atomic_file_open(&file, path, input, error);
    if (st == LLMBED_OK) {
        st = llmbed_atomic_file_write(&file, text, strlen(text), error);
        if (st == LLMBED_OK) st = llmbed_atomic_file_write(&file, "\n", 1, error);
        if (st == LLMBED_OK) {
            st = llmbed_atomic_file_commit(&file, error);
        } else {
            llmbed_atomic_file_abort(&file);
        }
    }
    cJSON_free(text);
    return st;
}

static char *read_small_file(const char *path, size_t *length, llmbed_status *status, llmbed_error *error) {
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        *status = llmbed_fail(error, LLMBED_ERR_FILE_NOT_FOUND, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buffer = malloc(cap);
    while (buffer != NULL) {
        n += fread(buffer + n, 1, cap - 1 - n, fp);
        if (n < cap - 1) break;
        if (cap >= MANIFEST_MAX_BYTES) {
            free(buffer);
            fclose(fp);
            *status = llmbed_fail(error, LLMBED_ERR_BAD_JSON, "%s: manifest larger than %d bytes", path,
                                  MANIFEST_MAX_BYTES);
            return NULL;
        }
        char *bigger = realloc(buffer, cap * 2);
        if (bigger == NULL) free(buffer);
        buffer = bigger;
        cap *= 2;
    }
    int failed = ferror(fp);
    fclose(fp);
    if (buffer == NULL || failed) {
        free(buffer);
        *status = llmbed_fail(error, failed ? LLMBED_ERR_IO : LLMBED_ERR_OUT_OF_MEMORY, "%s: cannot read", path);
        return NULL;
    }
    buffer[n] = '\0';
    *length = n;
    return buffer;
}

/* A non-negative integer field (exact in a double: below 2^53). `where` names
 * the object in messages ("" or "shards[3]."). */
static llmbed_status get_count(const cJSON *object, const char *where, const char *key, int64_t max, int64_t *out,
                               const char *path, llmbed_error *error) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    if (item == NULL) {
        return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH, "%s: field \"%s%s\" is missing" RERUN, path, where, key);
    }
    double v = cJSON_IsNumber(item) ? item->valuedouble : -1;
    if (!cJSON_IsNumber(item) || v != floor(v) || v < 0 || v > (double)max) {
        char *text = cJSON_PrintUnformatted(item);
        llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                    "%s: field \"%s%s\" is %.64s, not an integer in [0, %" PRId64 "]" RERUN, path, where, key,
                    text != NULL ? text : "?", max);
        cJSON_free(text);
        return LLMBED_ERR_RESUME_MISMATCH;
    }
    *out = (int64_t)v;
    return LLMBED_OK;
}

/* Shard files live next to the manifest: a name with a folder part could
 * point anywhere (../victim.npy, /etc/passwd). */
static int bare_name(const char *name) {
    return name[0] != '\0' && strchr(name, '/') == NULL && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static llmbed_status get_name(const cJSON *item, int index, const char *key, int required, char **out,
                              const char *path, llmbed_error *error) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, key);
    *out = NULL;
    if (name == NULL && !required) return LLMBED_OK;
    if (!cJSON_IsString(name)) {
        return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH, "%s: field \"shards[%d].%s\" is %s" RERUN, path, index,
                           key, name == NULL ? "missing" : "not a string");
    }
    if (!bare_name(name->valuestring)) {
        return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                           "%s: field \"shards[%d].%s\" is \"%.120s\", not a bare file name in the manifest's folder" RERUN,
                           path, index, key, name->valuestring);
    }
    *out = name->valuestring;
    return LLMBED_OK;
}

static llmbed_status parse(const cJSON *root, const char *path, llmbed_manifest *m, llmbed_error *error) {
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (!cJSON_IsString(format) || strcmp(format->valuestring, MANIFEST_FORMAT) != 0) {
        return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH, "%s: field \"format\" is not \"%s\": not an llmbed shard manifest" RERUN,
                           path, MANIFEST_FORMAT);
    }
    if (!cJSON_IsNumber(version) || version->valuedouble != MANIFEST_VERSION) {
        return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                           "%s: field \"version\" is not %d: written by another llmbed version" RERUN, path,
                           MANIFEST_VERSION);
    }
    const cJSON *job = cJSON_GetObjectItemCaseSensitive(root, "job");
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(root, "shards");
    if (!cJSON_IsObject(job) || !cJSON_IsArray(shards)) {
        return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH, "%s: field \"%s\" is missing or not %s" RERUN, path,
                           cJSON_IsObject(job) ? "shards" : "job", cJSON_IsObject(job) ? "an array" : "an object");
    }
    m->job_json = cJSON_PrintUnformatted(job);
    if (m->job_json == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    const int64_t big = (int64_t)1 << 53;
    int index = 0;
    int64_t shard_rows = 0;
    for (const cJSON *item = shards->child; item != NULL; item = item->next, index++) {
        llmbed_manifest_shard s = {0};
        int64_t crc = 0, sidecar_crc = 0;
        char where[48];
        snprintf(where, sizeof where, "shards[%d].", index);
        if (!cJSON_IsObject(item)) {
            return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH, "%s: field \"shards[%d]\" is not an object" RERUN, path,
                               index);
        }
        LLMBED_TRY(get_name(item, index, "file", 1, &s.file, path, error));
        LLMBED_TRY(get_count(item, where, "rows", big, &s.rows, path, error));
        LLMBED_TRY(get_count(item, where, "bytes", big, &s.bytes, path, error));
        LLMBED_TRY(get_count(item, where, "crc32", UINT32_MAX, &crc, path, error));
        LLMBED_TRY(get_name(item, index, "sidecar", 0, &s.sidecar, path, error));
        if (s.sidecar != NULL) {
            LLMBED_TRY(get_count(item, where, "sidecar_bytes", big, &s.sidecar_bytes, path, error));
            LLMBED_TRY(get_count(item, where, "sidecar_crc32", UINT32_MAX, &sidecar_crc, path, error));
        }
        s.crc32 = (uint32_t)crc;
        s.sidecar_crc32 = (uint32_t)sidecar_crc;
        shard_rows += s.rows;
        LLMBED_TRY(llmbed_manifest_add_shard(m, &s, error));
    }
    int64_t crc = 0;
    LLMBED_TRY(get_count(root, "", "rows", big, &m->rows, path, error));
    LLMBED_TRY(get_count(root, "", "next_offset", big, &m->next_offset, path, error));
    LLMBED_TRY(get_count(root, "", "next_line", big, &m->next_line, path, error));
    LLMBED_TRY(get_count(root, "", "skipped", big, &m->skipped, path, error));
    LLMBED_TRY(get_count(root, "", "truncated", big, &m->truncated, path, error));
    LLMBED_TRY(get_count(root, "", "tokens", big, &m->tokens, path, error));
    LLMBED_TRY(get_count(root, "", "input_crc32", UINT32_MAX, &crc, path, error));
    m->input_crc32 = (uint32_t)crc;
    const cJSON *complete = cJSON_GetObjectItemCaseSensitive(root, "complete");
    if (!cJSON_IsBool(complete)) {
        return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH, "%s: field \"complete\" is %s, not true or false" RERUN,
                           path, complete == NULL ? "missing" : "not a boolean");
    }
    m->complete = cJSON_IsTrue(complete);
    /* Every consumed line became a row or a skip; shards hold exactly the rows. */
    if (shard_rows != m->rows) {
        return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                           "%s: field \"rows\" is %" PRId64 " but the shards hold %" PRId64 " rows" RERUN, path, m->rows,
                           shard_rows);
    }
    if (m->rows + m->skipped != m->next_line) {
        return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                           "%s: field \"next_line\" is %" PRId64 " but rows + skipped is %" PRId64 RERUN, path,
                           m->next_line, m->rows + m->skipped);
    }
    if (m->truncated > m->rows || m->tokens < m->rows) {
        return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                           "%s: field \"%s\" is %" PRId64 ", inconsistent with %" PRId64 " rows" RERUN, path,
                           m->truncated > m->rows ? "truncated" : "tokens",
                           m->truncated > m->rows ? m->truncated : m->tokens, m->rows);
    }
    if (m->next_offset < m->next_line) { /* every line holds at least one byte */
        return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                           "%s: field \"next_offset\" is %" PRId64 ", too small for %" PRId64 " lines" RERUN, path,
                           m->next_offset, m->next_line);
    }
    return LLMBED_OK;
}

llmbed_status llmbed_manifest_parse(const char *text, size_t length, const char *path, llmbed_manifest *manifest,
                                    llmbed_error *error) {
    memset(manifest, 0, sizeof *manifest);
    cJSON *root = NULL;
    llmbed_status st = llmbed_json_parse(text, length, path, &root, error); /* whole text, trailing bytes rejected */
    if (st != LLMBED_OK) {
        char message[LLMBED_ERROR_MESSAGE_CAPACITY];
        snprintf(message, sizeof message, "%s", error != NULL ? error->message : "");
        return llmbed_fail(error, st, "%.400s" RERUN, message);
    }
    st = parse(root, path, manifest, error);
    cJSON_Delete(root);
    if (st != LLMBED_OK) llmbed_manifest_free(manifest);
    return st;
}

llmbed_status llmbed_manifest_read(const char *path, llmbed_manifest *manifest, llmbed_error *error) {
    memset(manifest, 0, sizeof *manifest);
    llmbed_status st = LLMBED_OK;
    size_t length = 0;
    char *text = read_small_file(path, &length, &st, error);
    if (text == NULL) return st;
    st = llmbed_manifest_parse(text, length, path, manifest, error);
    free(text);
    return st;
}

llmbed_status llmbed_manifest_check_job(const llmbed_manifest *manifest, const char *job_json,
                                        const char *manifest_path, llmbed_error *error) {
    cJSON *saved = cJSON_Parse(manifest->job_json);
    cJSON *now = cJSON_Parse(job_json);
    llmbed_status st = LLMBED_OK;
    if (saved == NULL || now == NULL) {
        st = llmbed_fail(error, LLMBED_ERR_BAD_JSON, "%s: malformed job description", manifest_path);
    }
    for (const cJSON *item = now != NULL ? now->child : NULL; st == LLMBED_OK && item != NULL; item = item->next) {
        const cJSON *old = cJSON_GetObjectItemCaseSensitive(saved, item->string);
        if (old == NULL || !cJSON_Compare(old, item, 1)) {
            char *was = old != NULL ? cJSON_PrintUnformatted(old) : NULL;
            char *is = cJSON_PrintUnformatted(item);
            st = llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                             "%s: \"%.64s\" was %.120s when the job started but is %.120s now" RERUN,
                             manifest_path, item->string, was != NULL ? was : "absent", is != NULL ? is : "?");
            cJSON_free(was);
            cJSON_free(is);
        }
    }
    for (const cJSON *item = saved != NULL ? saved->child : NULL; st == LLMBED_OK && item != NULL; item = item->next) {
        if (cJSON_GetObjectItemCaseSensitive(now, item->string) == NULL) {
            st = llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH, "%s: \"%.64s\" was set when the job started but is absent now" RERUN,
                             manifest_path, item->string);
        }
    }
    cJSON_Delete(saved);
    cJSON_Delete(now);
    return st;
}
