#include "cli/options.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_error(const char *fmt, ...) {
    char message[2048];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    /* One line: a message that quotes input must not break it. */
    for (char *p = message; *p; p++) {
        if (*p == '\n' || *p == '\r') *p = ' ';
    }
    fprintf(stderr, "llmbed: error: %s\n", message);
}

static void print_help(const char *usage, const cli_option *options, int n) {
    printf("%s\n\nOptions:\n", usage);
    for (int i = 0; i < n; i++) {
        char left[64];
        if (options[i].kind == CLI_FLAG) {
            snprintf(left, sizeof left, "--%s", options[i].name);
        } else {
            snprintf(left, sizeof left, "--%s %s", options[i].name, options[i].metavar ? options[i].metavar : "X");
        }
        printf("  %-26s %s\n", left, options[i].help);
    }
    printf("  %-26s %s\n", "--help", "show this help");
}

static int parse_value(const char *command, const cli_option *o, const char *value) {
    char *end = NULL;
    errno = 0;
    switch (o->kind) {
    case CLI_STRING:
        *(const char **)o->target = value;
        return 0;
    case CLI_INT: {
        long long v = strtoll(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || v < o->min_value) {
            cli_error("llmbed %s: --%s: expected an integer >= %" PRId64 ", got '%s'", command, o->name, o->min_value,
                      value);
            return -1;
        }
        *(int64_t *)o->target = (int64_t)v;
        return 0;
    }
    case CLI_DOUBLE: {
        double v = strtod(value, &end);
        if (errno != 0 || end == value || *end != '\0') {
            cli_error("llmbed %s: --%s: expected a number, got '%s'", command, o->name, value);
            return -1;
        }
        *(double *)o->target = v;
        return 0;
    }
    case CLI_STRING_LIST: {
        cli_string_list *list = o->target;
        if (list->n == CLI_STRING_LIST_MAX) {
            cli_error("llmbed %s: --%s given more than %d times", command, o->name, CLI_STRING_LIST_MAX);
            return -1;
        }
        list->items[list->n++] = value;
        return 0;
    }
    case CLI_FLAG: break;
    }
    return -1;
}

int cli_parse(const char *command, const char *usage, int argc, char **argv, int first,
              const cli_option *options, int n_options) {
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_help(usage, options, n_options);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            cli_error("llmbed %s: unexpected argument '%s' (see llmbed %s --help)", command, arg, command);
            return -1;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        const cli_option *o = NULL;
        for (int k = 0; k < n_options; k++) {
            if (strlen(options[k].name) == name_len && strncmp(options[k].name, name, name_len) == 0) o = &options[k];
        }
        if (o == NULL) {
            cli_error("llmbed %s: unknown option '%.*s' (see llmbed %s --help)", command, (int)name_len + 2, arg,
                      command);
            return -1;
        }
        if (o->kind == CLI_FLAG) {
            if (eq != NULL) {
                cli_error("llmbed %s: --%s takes no value", command, o->name);
                return -1;
            }
            *(int *)o->target = o->flag_value;
            continue;
        }
        const char *value = eq != NULL ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (value == NULL) {
            cli_error("llmbed %s: --%s needs a value (%s)", command, o->name, o->metavar ? o->metavar : "X");
            return -1;
        }
        if (parse_value(command, o, value) != 0) return -1;
    }
    return 0;
}
