#include "eval/sts_file.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

void llmbed_sts_file_free(llmbed_sts_file *f) {
    if (f == NULL) return;
    for (size_t i = 0; i < f->n_pairs; i++) {
        free(f->first[i]);
        free(f->second[i]);
    }
    free(f->first);
    free(f->second);
    free(f->gold);
    free(f->path);
    free(f->stem);
    memset(f, 0, sizeof *f);
}

static char *copy_range(const char *p, size_t n) {
    char *s = malloc(n + 1);
    if (s == NULL) return NULL;
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static char *stem_of(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 4 && strcmp(base + n - 4, ".tsv") == 0) n -= 4;
    return copy_range(base, n);
}

static int grow(llmbed_sts_file *f, size_t *cap) {
    if (f->n_pairs < *cap) return 0;
    size_t next = *cap ? 2 * *cap : 256;
    double *gold = realloc(f->gold, next * sizeof *gold);
    if (gold) f->gold = gold;
    char **first = realloc(f->first, next * sizeof *first);
    if (first) f->first = first;
    char **second = realloc(f->second, next * sizeof *second);
    if (second) f->second = second;
    if (!gold || !first || !second) return -1;
    *cap = next;
    return 0;
}

/* One line (without its newline). */
static llmbed_status parse_line(llmbed_sts_file *f, const char *line, size_t len, int64_t line_no,
                                llmbed_error *error) {
    if (len > 0 && line[len - 1] == '\r') len--;
    const char *tab1 = memchr(line, '\t', len);
    const char *tab2 = tab1 ? memchr(tab1 + 1, '\t', len - (size_t)(tab1 + 1 - line)) : NULL;
    const char *tab3 = tab2 ? memchr(tab2 + 1, '\t', len - (size_t)(tab2 + 1 - line)) : NULL;
    if (tab2 == NULL || tab3 != NULL) {
        int fields = 1 + (tab1 != NULL) + (tab2 != NULL) + (tab3 != NULL);
        return llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT,
                           "%s:%" PRId64 ": expected score<TAB>sentence1<TAB>sentence2, found %s%d field%s", f->path,
                           line_no, tab3 ? "more than " : "", tab3 ? 3 : fields, fields == 1 && !tab3 ? "" : "s");
    }
    char score_text[64];
    const size_t score_len = (size_t)(tab1 - line);
    char *end = NULL;
    double score = NAN;
    if (score_len > 0 && score_len < sizeof score_text) {
        memcpy(score_text, line, score_len);
        score_text[score_len] = '\0';
        errno = 0;
        score = strtod(score_text, &end);
        if (errno != 0 || *end != '\0') score = NAN;
    }
    if (!isfinite(score))
        return llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT, "%s:%" PRId64 ": score '%.*s' is not a finite number",
                           f->path, line_no, (int)(score_len < 40 ? score_len : 40), line);
    const size_t n1 = (size_t)(tab2 - tab1 - 1), n2 = len - (size_t)(tab2 + 1 - line);
    if (n1 == 0 || n2 == 0)
        return llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT, "%s:%" PRId64 ": sentence %d is empty", f->path, line_no,
                           n1 == 0 ? 1 : 2);
    char *a = copy_range(tab1 + 1, n1), *b = copy_range(tab2 + 1, n2);
    if (a == NULL || b == NULL) {
        free(a);
        free(b);
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", f->path);
    }
    f->gold[f->n_pairs] = score;
    f->first[f->n_pairs] = a;
    f->second[f->n_pairs] = b;
    f->n_pairs++;
    return LLMBED_OK;
}

llmbed_status llmbed_sts_file_read(const char *path, llmbed_sts_file *f, llmbed_error *error) {
    memset(f, 0, sizeof *f);
    f->path = copy_range(path, strlen(path));
    f->stem = stem_of(path);
    if (f->path == NULL || f->stem == NULL) {
        llmbed_sts_file_free(f);
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        llmbed_status st = llmbed_fail(error, LLMBED_ERR_FILE_NOT_FOUND, "%s: cannot open: %s", path, strerror(errno));
        llmbed_sts_file_free(f);
        return st;
    }
    llmbed_status st = LLMBED_OK;
    char *line = NULL;
    size_t line_cap = 0, cap = 0;
    ssize_t n;
    int64_t line_no = 0;
    while (st == LLMBED_OK && (n = getline(&line, &line_cap, fp)) >= 0) {
        line_no++;
        size_t len = (size_t)n;
        if (len > 0 && line[len - 1] == '\n') len--;
        if (grow(f, &cap) != 0) {
            st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
            break;
        }
        st = parse_line(f, line, len, line_no, error);
    }
    if (st == LLMBED_OK && ferror(fp))
        st = llmbed_fail(error, LLMBED_ERR_IO, "%s: read error after line %" PRId64, path, line_no);
    if (st == LLMBED_OK && f->n_pairs == 0)
        st = llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT, "%s: no sentence pairs (expected score<TAB>sentence1<TAB>sentence2 lines)",
                         path);
    free(line);
    fclose(fp);
    if (st != LLMBED_OK) llmbed_sts_file_free(f);
    return st;
}
