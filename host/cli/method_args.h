/* The method flags shared by `llmbed embed` and `llmbed eval sts`:
 * --method NAME sets template, pool span and pooling (include/llmbed.h
 * llmbed_method_find); --template, --pool-span, --pooling and
 * --attn-temperature given explicitly override it. */
#ifndef LLMBED_CLI_METHOD_ARGS_H
#define LLMBED_CLI_METHOD_ARGS_H

#include "llmbed.h"

typedef struct cli_method_args {
    const char *method;        /* --method */
    const char *template_text; /* --template */
    const char *pool_span;     /* --pool-span all|text|last-text */
    const char *pooling;       /* --pooling (the command's own flag) */
    const char *attn_temperature; /* --attn-temperature, parsed here (NULL = not given) */
} cli_method_args;

/* The option-table rows for --method, --template, --pool-span, --attn-temperature. */
#define CLI_METHOD_OPTION_ROWS(a)                                                                                   \
    {"method", CLI_STRING, &(a).method, 0, 0, "NAME",                                                              \
     "mean, last, echo, prompteol or tempscale: sets template, span and pooling"},                                 \
    {"template", CLI_STRING, &(a).template_text, 0, 0, "T",                                                         \
     "text around {text} (may repeat; {{ }} are braces), tokenised whole"},                                         \
    {"pool-span", CLI_STRING, &(a).pool_span, 0, 0, "S",                                                            \
     "all (default), text or last-text: pool the tokens overlapping that copy of the text"},                        \
    {"attn-temperature", CLI_STRING, &(a).attn_temperature, 0, 0, "T",                                              \
     "attention softmax temperature in every layer (logits / T; default 1)"}

typedef struct cli_method {
    const char *name;          /* the --method given, or NULL */
    const char *template_text; /* NULL: no template */
    llmbed_pool_span pool_span;
    int templated;             /* 1 when the text goes through llmbed_tokenize_template */
    int pooling_set;           /* pooling comes from --pooling or the method */
    llmbed_pooling pooling;
    float attention_temperature;
} cli_method;

/* Resolves the flags; prints one error line naming the flag and returns
 * LLMBED_ERR_INVALID_ARGUMENT on a bad value. `command` names the command
 * in messages ("embed", "eval sts"). */
llmbed_status cli_resolve_method(const char *command, const cli_method_args *args, cli_method *out);

/* The flags given explicitly, into the params the job spec resolves
 * (host/pipeline/spec.h applies the method to what is left default, by the
 * same rule as above). */
void cli_method_params(const cli_method_args *args, const cli_method *method, llmbed_embed_params *params,
                       llmbed_text_params *text);

/* "all", "text", "last-text". */
const char *cli_pool_span_name(llmbed_pool_span span);

#endif
