#include "io/crc32.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"

/* Bitwise form of the reflected polynomial 0xEDB88320: 8 steps per byte is
 * fast enough for shards re-read from the page cache (a table would be
 * mutable global state or 1 KB of constants for no measured gain). */
uint32_t llmbed_crc32_update(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

llmbed_status llmbed_crc32_file(const char *path, uint32_t *crc, int64_t *bytes, llmbed_error *error) {
    int64_t newlines;
    return llmbed_crc32_file_lines(path, crc, bytes, &newlines, error);
}

llmbed_status llmbed_crc32_file_lines(const char *path, uint32_t *crc, int64_t *bytes, int64_t *newlines,
                                      llmbed_error *error) {
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        return llmbed_fail(error, LLMBED_ERR_FILE_NOT_FOUND, "%s: cannot open: %s", path, strerror(errno));
    }
    unsigned char buffer[1 << 16];
    uint32_t c = 0;
    int64_t total = 0, lines = 0;
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, fp)) > 0) {
        c = llmbed_crc32_update(c, buffer, n);
        for (size_t i = 0; i < n; i++) lines += buffer[i] == '\n';
        total += (int64_t)n;
    }
    int failed = ferror(fp);
    fclose(fp);
    if (failed) return llmbed_fail(error, LLMBED_ERR_IO, "%s: read error", path);
    *crc = c;
    *bytes = total;
    *newlines = lines;
    return LLMBED_OK;
}
