/* POSIX/GNU declarations (realpath, readlink, mkdtemp, sigaction): the CLI
 * target is built as strict C11, unlike the library that defines this for us. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "io/atomic_file.h"
#include "model/weight.h"

int cli_parse_pooling(const char *name, llmbed_pooling *pooling) {
    for (int i = LLMBED_POOLING_LAST; llmbed_pooling_name((llmbed_pooling)i) != NULL; i++) {
        if (i != LLMBED_POOLING_NONE && strcmp(name, llmbed_pooling_name((llmbed_pooling)i)) == 0) {
            *pooling = (llmbed_pooling)i;
            return 0;
        }
    }
    return -1;
}

const char *cli_pooling_name(llmbed_pooling pooling) {
    const char *name = llmbed_pooling_name(pooling);
    return name != NULL ? name : "?";
}

int cli_parse_attention(const char *name, llmbed_attention *attention) {
    for (int i = LLMBED_ATTENTION_CAUSAL; i <= LLMBED_ATTENTION_BIDIRECTIONAL; i++) {
        if (strcmp(name, llmbed_attention_name((llmbed_attention)i)) == 0) {
            *attention = (llmbed_attention)i;
            return 0;
        }
    }
    return -1;
}

const char *cli_attention_name(llmbed_attention attention) {
    const char *name = llmbed_attention_name(attention);
    return name != NULL ? name : "?";
}

int cli_parse_device(const char *text, llmbed_ctx_params *params) {
    return llmbed_device_parse(text, params) == LLMBED_OK ? 0 : -1;
}

void cli_note_device(const llmbed_ctx *ctx) {
    const char *note = llmbed_ctx_device_note(ctx);
    if (note[0] != '\0') fprintf(stderr, "llmbed: note: %s\n", note);
}

int cli_weights_option(const char *command, const char *name, llmbed_model_params *params) {
    if (name == NULL) return 0;
    if (llmbed_weights_parse(name, &params->weights) == 0) return 0;
    cli_error("llmbed %s: --weights '%s': expected native, bf16 or f32", command, name);
    return -1;
}

llmbed_status cli_load_model(const char *path, int n_threads, llmbed_model **model) {
    llmbed_model_params params;
    llmbed_model_params_default(&params);
    params.n_threads = n_threads;
    return cli_load_model_with(path, &params, model);
}

llmbed_status cli_write_text_file(const char *path, const char *text) {
    llmbed_atomic_file out;
    llmbed_error error = {0};
    llmbed_status st = llmbed_atomic_file_open(&out, path, NULL, &error);
    if (st == LLMBED_OK) st = llmbed_atomic_file_write(&out, text, strlen(text), &error);
    if (st == LLMBED_OK) st = llmbed_atomic_file_write(&out, "\n", 1, &error);
    if (st == LLMBED_OK) {
        st = llmbed_atomic_file_commit(&out, &error);
    } else {
        llmbed_atomic_file_abort(&out);
    }
    if (st != LLMBED_OK) cli_error("%s", error.message);
    return st;
}


llmbed_status cli_load_model_with(const char *path, const llmbed_model_params *params, llmbed_model **model) {
    llmbed_error error = {0};
    llmbed_status st = llmbed_model_load(path, params, model, &error);
    if (st != LLMBED_OK) cli_error("%s", error.message[0] ? error.message : llmbed_status_str(st));
    return st;
}

static cJSON *read_json(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) return NULL;
    char *text = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *bigger = realloc(text, cap);
            if (bigger == NULL || cap > (64u << 20)) {
                free(bigger ? bigger : text);
                fclose(fp);
                return NULL;
            }
            text = bigger;
        }
        size_t k = fread(text + n, 1, 4096, fp);
        n += k;
        if (k == 0) break;
    }
    fclose(fp);
    text[n] = '\0';
    /* Skip a UTF-8 byte order mark, as llmbed_json_parse does. */
    cJSON *root = cJSON_Parse(n >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? text + 3 : text);
    free(text);
    return root;
}

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    if (s != NULL) snprintf(s, n, "%s/%s", dir, name);
    return s;
}

llmbed_status cli_resolve_prompt(const char *model_path, const char *prompt, const char *prompt_name,
                                 char **owned, const char **out) {
    *owned = NULL;
    *out = prompt;
    if (prompt_name == NULL) return LLMBED_OK;
    if (prompt != NULL) {
        cli_error("--prompt and --prompt-name exclude each other");
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    char *path = join(model_path, "config_sentence_transformers.json");
    cJSON *root = path != NULL ? read_json(path) : NULL;
    const cJSON *prompts = cJSON_GetObjectItemCaseSensitive(root, "prompts");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(prompts, prompt_name);
    llmbed_status st = LLMBED_OK;
    if (root == NULL) {
        cli_error("%s: cannot read it (or malformed JSON), needed for --prompt-name %s", path ? path : model_path,
                  prompt_name);
        st = LLMBED_ERR_FILE_NOT_FOUND;
    } else if (!cJSON_IsString(value)) {
        cli_error("%s: field \"prompts\" has no string \"%s\" (for --prompt-name)", path, prompt_name);
        st = LLMBED_ERR_INVALID_ARGUMENT;
    } else {
        *owned = strdup(value->valuestring);
        *out = *owned;
        if (*owned == NULL) st = LLMBED_ERR_OUT_OF_MEMORY;
    }
    cJSON_Delete(root);
    free(path);
    return st;
}

int64_t cli_peak_rss_bytes(void) {
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) != 0) return -1;
    return (int64_t)usage.ru_maxrss * 1024; /* Linux reports KiB */
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
