#include "common/path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *llmbed_path_join(const char *dir, const char *name) {
    const size_t n = strlen(dir), m = strlen(name);
    const bool slash = n > 0 && dir[n - 1] != '/';
    char *out = malloc(n + slash + m + 1);
    if (out == NULL) return NULL;
    memcpy(out, dir, n);
    if (slash) out[n] = '/';
    memcpy(out + n + slash, name, m + 1);
    return out;
}

bool llmbed_path_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool llmbed_path_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}
