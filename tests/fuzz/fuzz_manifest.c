/* libFuzzer target for the resume manifest reader (host/pipeline/manifest.c):
 * arbitrary bytes as "<stem>.manifest.json". The reader must never crash,
 * leak or read out of bounds; it returns a manifest whose counts are
 * consistent (the checks --resume relies on) or a resume/JSON error whose
 * message names the file and says how to recover. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    llmbed_manifest m;
    llmbed_error error = {0};
    llmbed_status st = llmbed_manifest_parse((const char *)data, size, "fuzz.manifest.json", &m, &error);
    if (st == LLMBED_OK) {
        int64_t rows = 0;
        for (int i = 0; i < m.n_shards; i++) {
            const llmbed_manifest_shard *s = &m.shards[i];
            if (s->file == NULL || s->file[0] == '\0' || strchr(s->file, '/') != NULL) abort();
            if (s->sidecar != NULL && strchr(s->sidecar, '/') != NULL) abort();
            if (s->rows < 0 || s->bytes < 0) abort();
            rows += s->rows;
        }
        if (rows != m.rows || m.rows + m.skipped != m.next_line || m.next_offset < m.next_line) abort();
        if (m.truncated > m.rows || m.tokens < m.rows || m.job_json == NULL) abort();
        llmbed_manifest_check_job(&m, "{\"model\": \"x\"}", "fuzz.manifest.json", &error);
        llmbed_manifest_free(&m);
    } else {
        if (st != LLMBED_ERR_BAD_JSON && st != LLMBED_ERR_RESUME_MISMATCH && st != LLMBED_ERR_OUT_OF_MEMORY) abort();
        if (strncmp(error.message, "fuzz.manifest.json: ", 20) != 0) abort();
        if (st != LLMBED_ERR_OUT_OF_MEMORY && strstr(error.message, "rerun without --resume") == NULL) abort();
        if (m.shards != NULL || m.job_json != NULL) abort();
    }
    return 0;
}
