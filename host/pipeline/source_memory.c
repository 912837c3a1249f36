/* In-memory texts or token ids as a pipeline source (llmbed_embed_texts,
 * llmbed_embed_ids, eval): each input becomes a record as a line would. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "pipeline/source.h"

/* Texts are copied (the window frees a record's text once tokenised); ids too. */
static llmbed_status memory_next(void *user, llmbed_input_record *record, llmbed_status *record_status,
                                 llmbed_error *record_error, int64_t *line_no, int64_t *end_offset, uint32_t *prefix_crc,
                                 size_t *bytes, int *eof, llmbed_error *error) {
    llmbed_memory_source *s = user;
    (void)record_error;
    if (s->next >= s->n) {
        *eof = 1;
        return LLMBED_OK;
    }
    const int64_t i = s->next++;
    const size_t len = s->lengths[i];
    *line_no = i + 1;
    *end_offset = i + 1;
    *prefix_crc = 0;
    *record_status = LLMBED_OK;
    memset(record, 0, sizeof *record);
    if (s->texts != NULL) {
        record->kind = LLMBED_RECORD_TEXT;
        record->text = malloc(len + 1);
        if (record->text == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory for text %lld", (long long)i);
        if (len > 0) memcpy(record->text, s->texts[i], len);
        record->text[len] = '\0';
        record->text_len = len;
        *bytes = len;
    } else {
        record->kind = LLMBED_RECORD_IDS;
        record->ids = malloc((len > 0 ? len : 1) * sizeof *record->ids);
        if (record->ids == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory for sequence %lld", (long long)i);
        if (len > 0) memcpy(record->ids, s->ids[i], len * sizeof *record->ids);
        record->n_ids = len;
        *bytes = len * sizeof *record->ids;
    }
    if (s->spans != NULL) {
        const int n_spans = s->n_spans[i] > 0 ? s->n_spans[i] : 0;
        record->spans = malloc(sizeof(int32_t) * 2 * (size_t)(n_spans > 0 ? n_spans : 1));
        if (record->spans == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory for the spans");
        if (n_spans > 0) memcpy(record->spans, s->spans[i], sizeof(int32_t) * 2 * (size_t)n_spans);
        record->n_spans = (size_t)n_spans;
    }
    return LLMBED_OK;
}

void llmbed_memory_source_init(llmbed_memory_source *state, const char *name, const char *const *texts,
                               const int32_t *const *ids, const size_t *lengths, int64_t n,
                               const int32_t *const *spans, const int *n_spans, llmbed_job_source *source) {
    *state = (llmbed_memory_source){texts, ids, lengths, n, spans, n_spans, 0};
    *source = (llmbed_job_source){state, name, 0, memory_next, NULL, NULL};
}
