/* llmbed eval needle: the long-context retrieval runner of
 * cmd_eval_passkey.c with natural needles (eval/needle.h): sentence 1 of a
 * gold-5 pair of the --needles files hidden in filler of the --filler files,
 * retrieved by the pair's sentence 2. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/eval_needle.h"
#include "cli/options.h"

llmbed_status cli_needle_pairs_read(const char *list, double min_score, const llmbed_text_set *filler,
                                    cli_needle_pairs *out) {
    memset(out, 0, sizeof *out);
    char *copy = strdup(list);
    int cap = 1;
    for (const char *p = list; *p; p++) cap += *p == ',';
    out->files = calloc((size_t)cap, sizeof *out->files);
    llmbed_text_set seen = {0};
    llmbed_status st = copy && out->files ? LLMBED_OK : LLMBED_ERR_OUT_OF_MEMORY;
    char *save = NULL;
    size_t n_pairs = 0;
    for (char *path = st == LLMBED_OK ? strtok_r(copy, ",", &save) : NULL; path && st == LLMBED_OK;
         path = strtok_r(NULL, ",", &save)) {
        llmbed_error error = {0};
        st = llmbed_sts_file_read(path, &out->files[out->n_files], &error);
        if (st != LLMBED_OK) {
            cli_error("--needles: %s", error.message);
            free(copy);
            cli_needle_pairs_free(out);
            llmbed_text_set_free(&seen);
            return st;
        }
        n_pairs += out->files[out->n_files++].n_pairs;
    }
    free(copy);
    out->needles = malloc((n_pairs ? n_pairs : 1) * sizeof *out->needles);
    out->queries = malloc((n_pairs ? n_pairs : 1) * sizeof *out->queries);
    out->pool = malloc((filler->n ? filler->n : 1) * sizeof *out->pool);
    if (st == LLMBED_OK && (out->needles == NULL || out->queries == NULL || out->pool == NULL))
        st = LLMBED_ERR_OUT_OF_MEMORY;
    /* Every sentence of the needle files first: a filler sentence whose index
     * lands below that count is one of them and stays out of the documents. */
    for (int f = 0; f < out->n_files && st == LLMBED_OK; f++)
        for (size_t j = 0; j < out->files[f].n_pairs && st == LLMBED_OK; j++)
            if (llmbed_text_set_add(&seen, out->files[f].first[j]) == (size_t)-1 ||
                llmbed_text_set_add(&seen, out->files[f].second[j]) == (size_t)-1)
                st = LLMBED_ERR_OUT_OF_MEMORY;
    const size_t n_needle_sentences = seen.n;
    for (size_t i = 0; i < filler->n && st == LLMBED_OK; i++) {
        const size_t index = llmbed_text_set_add(&seen, filler->texts[i]);
        if (index == (size_t)-1) st = LLMBED_ERR_OUT_OF_MEMORY;
        else if (index >= n_needle_sentences) out->pool[out->pool_size++] = filler->texts[i];
    }
    llmbed_text_set used = {0};
    for (int f = 0; f < out->n_files && st == LLMBED_OK; f++) {
        const llmbed_sts_file *file = &out->files[f];
        for (size_t j = 0; j < file->n_pairs && st == LLMBED_OK; j++) {
            if (file->gold[j] < min_score || strcmp(file->first[j], file->second[j]) == 0) continue;
            const size_t before = used.n;
            const size_t a = llmbed_text_set_add(&used, file->first[j]);
            const size_t b = llmbed_text_set_add(&used, file->second[j]);
            if (a == (size_t)-1 || b == (size_t)-1) st = LLMBED_ERR_OUT_OF_MEMORY;
            else if (a >= before && b >= before) {
                out->needles[out->n] = file->first[j];
                out->queries[out->n++] = file->second[j];
            }
        }
    }
    llmbed_text_set_free(&used);
    llmbed_text_set_free(&seen);
    if (st == LLMBED_OK && out->pool_size == 0) {
        cli_error("llmbed eval needle: --filler holds no sentence outside the --needles files");
        st = LLMBED_ERR_INVALID_ARGUMENT;
    } else if (st != LLMBED_OK) {
        cli_error("llmbed eval needle: out of memory");
    }
    if (st != LLMBED_OK) cli_needle_pairs_free(out);
    return st;
}

void cli_needle_pairs_free(cli_needle_pairs *p) {
    for (int i = 0; i < p->n_files; i++) llmbed_sts_file_free(&p->files[i]);
    free(p->files);
    free(p->needles);
    free(p->queries);
    free(p->pool);
    memset(p, 0, sizeof *p);
}

int cli_eval_needle(int argc, char **argv) { return cli_eval_long_retrieval(argc, argv, 1); }
