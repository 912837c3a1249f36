#include "cli/method_args.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/options.h"

static const char *const span_names[] = {"all", "text", "last-text"};

const char *cli_pool_span_name(llmbed_pool_span span) {
    return (unsigned)span <= LLMBED_POOL_SPAN_LAST_TEXT ? span_names[span] : "?";
}

static void list_methods(char *buf, size_t size) {
    buf[0] = '\0';
    for (int i = 0; llmbed_method_at(i) != NULL; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "%s%s", i ? ", " : "", llmbed_method_at(i)->name);
    }
}

llmbed_status cli_resolve_method(const char *command, const cli_method_args *a, cli_method *out) {
    memset(out, 0, sizeof *out);
    out->pool_span = LLMBED_POOL_SPAN_ALL;
    out->attention_temperature = 1.0f;
    const llmbed_method *m = NULL;
    if (a->method != NULL) {
        m = llmbed_method_find(a->method);
        if (m == NULL) {
            char names[256];
            list_methods(names, sizeof names);
            cli_error("llmbed %s: --method '%s': unknown method (known: %s)", command, a->method, names);
            return LLMBED_ERR_INVALID_ARGUMENT;
        }
        out->name = m->name;
        out->template_text = m->template_text;
        out->pool_span = m->pool_span;
        out->pooling = m->pooling;
        out->pooling_set = 1;
    }
    if (a->template_text != NULL) {
        llmbed_error error = {0};
        if (llmbed_template_check(a->template_text, &error) != LLMBED_OK) {
            cli_error("llmbed %s: --%s", command, error.message); /* the message starts with "template: ..." */
            return LLMBED_ERR_INVALID_ARGUMENT;
        }
        out->template_text = a->template_text;
    }
    if (a->pool_span != NULL) {
        int found = 0;
        for (int i = 0; i <= LLMBED_POOL_SPAN_LAST_TEXT; i++) {
            if (strcmp(a->pool_span, span_names[i]) == 0) {
                out->pool_span = (llmbed_pool_span)i;
                found = 1;
            }
        }
        if (!found) {
            cli_error("llmbed %s: --pool-span '%s': expected all, text or last-text", command, a->pool_span);
            return LLMBED_ERR_INVALID_ARGUMENT;
        }
    }
    if (a->pooling != NULL) {
        if (cli_parse_pooling(a->pooling, &out->pooling) != 0) {
            cli_error("llmbed %s: --pooling '%s': expected last, mean, first or weighted-mean", command, a->pooling);
            return LLMBED_ERR_INVALID_ARGUMENT;
        }
        out->pooling_set = 1;
    }
    if (a->attn_temperature != NULL) {
        char *end = NULL;
        errno = 0;
        const double t = strtod(a->attn_temperature, &end);
        if (errno != 0 || end == a->attn_temperature || *end != '\0' || !(t > 0) || !isfinite(t) ||
            !((float)t > 0.0f) || !isfinite((float)t)) {
            cli_error("llmbed %s: --attn-temperature '%s': expected a finite number > 0 (1 = plain attention)", command,
                      a->attn_temperature);
            return LLMBED_ERR_INVALID_ARGUMENT;
        }
        out->attention_temperature = (float)t;
    } else if (m != NULL && m->needs_attention_temperature) {
        cli_error("llmbed %s: --method %s needs --attn-temperature T (the softmax temperature to use)", command,
                  m->name);
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    out->templated = out->template_text != NULL || out->pool_span != LLMBED_POOL_SPAN_ALL;
    return LLMBED_OK;
}

void cli_method_params(const cli_method_args *a, const cli_method *m, llmbed_embed_params *params,
                       llmbed_text_params *text) {
    text->method = a->method;
    text->template_text = a->template_text;
    text->pool_span = a->pool_span != NULL ? m->pool_span : LLMBED_POOL_SPAN_DEFAULT;
    if (a->pooling != NULL) params->pooling = m->pooling;
    params->attention_temperature = m->attention_temperature;
}
