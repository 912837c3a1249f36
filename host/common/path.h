/* Small filesystem helpers for the loaders: joining folder and file names,
 * and asking what a path is. */
#ifndef LLMBED_COMMON_PATH_H
#define LLMBED_COMMON_PATH_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "dir/name" in a new malloc'd string (NULL when out of memory). */
char *llmbed_path_join(const char *dir, const char *name);

bool llmbed_path_is_dir(const char *path);
bool llmbed_path_is_file(const char *path);

#ifdef __cplusplus
}
#endif

#endif
