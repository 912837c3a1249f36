/* CRC-32 (IEEE 802.3, the zlib/PNG polynomial) for shard checksums in the
 * manifest: cheap enough to recompute on resume, and `python -c
 * "zlib.crc32(open(f,'rb').read())"` checks a shard by hand. */
#ifndef LLMBED_IO_CRC32_H
#define LLMBED_IO_CRC32_H

#include <stddef.h>
#include <stdint.h>

#include "llmbed.h"

/* Continues a running CRC: start with crc = 0. */
uint32_t llmbed_crc32_update(uint32_t crc, const void *data, size_t n);

/* CRC-32 and size of a whole file. LLMBED_ERR_FILE_NOT_FOUND when it cannot
 * be opened, LLMBED_ERR_IO on a read error. */
llmbed_status llmbed_crc32_file(const char *path, uint32_t *crc, int64_t *bytes, llmbed_error *error);

/* Same, also counting the "\n" bytes (rows of a jsonl file). */
llmbed_status llmbed_crc32_file_lines(const char *path, uint32_t *crc, int64_t *bytes, int64_t *newlines,
                                      llmbed_error *error);

#endif
