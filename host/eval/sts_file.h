/* Sentence-pair similarity files for `llmbed eval sts`: one pair per line,
 * `score<TAB>sentence1<TAB>sentence2` (the format of ../shared/testdata/sts:
 * SICK 2014, STS 2012-2016), UTF-8, LF or CRLF line ends, no header. */
#ifndef LLMBED_EVAL_STS_FILE_H
#define LLMBED_EVAL_STS_FILE_H

#include <stddef.h>

#include "llmbed.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct llmbed_sts_file {
    char *path;
    char *stem;     /* file name without folders and without ".tsv" */
    size_t n_pairs;
    double *gold;   /* [n_pairs] */
    char **first;   /* [n_pairs] NUL-terminated sentences */
    char **second;  /* [n_pairs] */
} llmbed_sts_file;

/* Reads the whole file. LLMBED_ERR_FILE_NOT_FOUND when unreadable;
 * LLMBED_ERR_INPUT_FORMAT naming "path:line" for a line that is not three
 * tab-separated fields, a score that is not a finite number, an empty
 * sentence, or a file without pairs. */
llmbed_status llmbed_sts_file_read(const char *path, llmbed_sts_file *file, llmbed_error *error);
void llmbed_sts_file_free(llmbed_sts_file *file);

#ifdef __cplusplus
}
#endif

#endif
