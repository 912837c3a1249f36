/* Table-driven parsing of a subcommand's options ("--name value",
 * "--name=value", flags), and the --help text generated from the same table,
 * so the two cannot disagree. */
#ifndef LLMBED_CLI_OPTIONS_H
#define LLMBED_CLI_OPTIONS_H

#include <stdint.h>

typedef enum cli_option_kind {
    CLI_FLAG,   /* sets *(int *)target = flag_value */
    CLI_STRING, /* *(const char **)target = the argument */
    CLI_INT,    /* *(int64_t *)target, a decimal integer >= min_value */
    CLI_DOUBLE, /* *(double *)target */
    CLI_STRING_LIST /* repeatable: appended to *(cli_string_list *)target */
} cli_option_kind;

#define CLI_STRING_LIST_MAX 16
typedef struct cli_string_list {
    const char *items[CLI_STRING_LIST_MAX];
    int n;
} cli_string_list;

typedef struct cli_option {
    const char *name; /* without the leading "--" */
    cli_option_kind kind;
    void *target;
    int flag_value;
    int64_t min_value;
    const char *metavar; /* shown in help: "N", "FILE", ... */
    const char *help;
} cli_option;

/* Parses argv[first..argc). Returns 0, 1 when --help was given (help
 * printed to stdout), or -1 after printing one usage error line to stderr
 * (the caller exits with LLMBED_ERR_INVALID_ARGUMENT). */
int cli_parse(const char *command, const char *usage, int argc, char **argv, int first,
              const cli_option *options, int n_options);

/* Prints "llmbed: error: <message>" as one line on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
