/* llmbed_cuda_backend_create as libllmbed sees it: finds the CUDA backend
 * module (host/plugin/cuda_plugin.h), loads it with dlopen and forwards.
 * Nothing CUDA is mapped before a context asks for a CUDA device.
 *
 * Where the module is looked for, first match wins:
 *   1. $LLMBED_CUDA_PLUGIN (a path; nothing else is tried when it is set);
 *   2. beside the file holding this code: libllmbed.so (also inside the
 *      Python wheel), or the executable that links llmbed statically;
 *   3. the installed library folder relative to that (bin/ -> lib/).
 * The NVIDIA driver (libcuda.so.1) is checked first: without it no GPU can
 * be used, and the check costs nothing where loading cuBLASLt would cost
 * ~0.4 s and ~150 MiB (what `--device auto` pays on GPU-less machines). */
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "plugin/cuda_plugin.h"

#if defined(LLMBED_WITH_CUDA)

#define DRIVER_LIBRARY "libcuda.so.1"

/* Folders that may hold the module: the one of the file this code was loaded
 * from (libllmbed.so, or the executable linking llmbed statically) and, for
 * the executable, the one of the path it was started as, which differs from
 * /proc/self/exe when it runs through the dynamic loader (ld.so PROGRAM).
 * Returns how many of the two `folders` (PATH_MAX bytes each) were filled. */
static int own_folders(char folders[2][PATH_MAX]) {
    Dl_info info;
    struct link_map *map = NULL;
    if (dladdr1((const void *)&own_folders, &info, (void **)&map, RTLD_DL_LINKMAP) == 0 || map == NULL) return 0;
    /* The main program's link map has an empty name (dladdr then reports argv[0]). */
    const int main_program = map->l_name[0] == '\0';
    const char *files[2] = {main_program ? "/proc/self/exe" : map->l_name,
                            main_program && strchr(info.dli_fname, '/') != NULL ? info.dli_fname : NULL};
    int n = 0;
    for (int i = 0; i < 2; i++) {
        if (files[i] == NULL || realpath(files[i], folders[n]) == NULL) continue;
        char *slash = strrchr(folders[n], '/');
        if (slash == NULL) continue;
        *slash = '\0';
        if (n == 0 || strcmp(folders[0], folders[n]) != 0) n++;
    }
    return n;
}

/* Path of the module to load into `path` (PATH_MAX bytes); -1 when none exists. */
static int find_module(char *path, char *searched, size_t searched_cap) {
    const char *env = getenv(LLMBED_CUDA_PLUGIN_ENV);
    if (env != NULL && env[0] != '\0') {
        snprintf(path, PATH_MAX, "%s", env);
        snprintf(searched, searched_cap, "%s=%s", LLMBED_CUDA_PLUGIN_ENV, env);
        return access(path, R_OK) == 0 ? 0 : -1;
    }
    char folders[2][PATH_MAX];
    const int n_folders = own_folders(folders);
    const char *const relative[] = {"", "/" LLMBED_BIN_TO_LIBDIR};
    snprintf(searched, searched_cap, "%s", n_folders == 0 ? "(the folder of libllmbed is unknown)" : "");
    for (int f = 0; f < n_folders; f++) {
        for (size_t i = 0; i < sizeof relative / sizeof relative[0]; i++) {
            if (snprintf(path, PATH_MAX, "%s%s/%s", folders[f], relative[i], LLMBED_CUDA_PLUGIN_FILE) >= PATH_MAX)
                continue;
            if (access(path, R_OK) == 0) return 0;
            size_t used = strlen(searched);
            snprintf(searched + used, searched_cap - used, "%s%s", used ? ", " : "", path);
        }
    }
    return -1;
}

/* `device` names what was asked for in messages: "cuda:N" or "cuda:all". */
static llmbed_status load_module(const char *device, const llmbed_cuda_plugin **out, llmbed_error *error) {
    void *driver = dlopen(DRIVER_LIBRARY, RTLD_LAZY | RTLD_LOCAL);
    if (driver == NULL)
        return llmbed_fail(error, LLMBED_ERR_NO_DEVICE, "device %s: no NVIDIA driver (%s)", device,
                           dlerror());
    dlclose(driver);
    char path[PATH_MAX], searched[4 * PATH_MAX + 64];
    if (find_module(path, searched, sizeof searched) != 0)
        return llmbed_fail(error, LLMBED_ERR_NO_DEVICE,
                           "device %s: the CUDA backend %s is missing (looked for %s); reinstall llmbed or set %s",
                           device, LLMBED_CUDA_PLUGIN_FILE, searched, LLMBED_CUDA_PLUGIN_ENV);
    /* Never unloaded: the module holds the CUDA runtime, whose state outlives any one context. */
    void *module = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (module == NULL)
        return llmbed_fail(error, LLMBED_ERR_NO_DEVICE,
                           "device %s: cannot load the CUDA backend %s: %s (install the CUDA 13 runtime "
                           "libraries or add their folder to LD_LIBRARY_PATH)",
                           device, path, dlerror());
    llmbed_cuda_plugin_entry_fn entry;
    void *symbol = dlsym(module, LLMBED_CUDA_PLUGIN_ENTRY);
    memcpy(&entry, &symbol, sizeof entry); /* object pointer -> function pointer without a pedantic cast */
    const llmbed_cuda_plugin *plugin = entry != NULL ? entry() : NULL;
    const llmbed_cuda_plugin expected = LLMBED_CUDA_PLUGIN_INIT(NULL, NULL);
    if (plugin == NULL || plugin->version_number != expected.version_number ||
        plugin->model_bytes != expected.model_bytes || plugin->backend_ops_bytes != expected.backend_ops_bytes)
        return llmbed_fail(error, LLMBED_ERR_NO_DEVICE,
                           "device %s: %s is not the CUDA backend of this llmbed %s build (it comes from "
                           "another version or build); reinstall llmbed",
                           device, path, LLMBED_VERSION_STRING);
    *out = plugin;
    return LLMBED_OK;
}

llmbed_status llmbed_cuda_backend_create(const struct llmbed_model *model, int device_index, int64_t max_tokens,
                                         llmbed_backend **out, llmbed_error *error) {
    if (out) *out = NULL;
    char device[32];
    snprintf(device, sizeof device, "cuda:%d", device_index);
    const llmbed_cuda_plugin *plugin = NULL;
    LLMBED_TRY(load_module(device, &plugin, error));
    return plugin->backend_create(model, device_index, max_tokens, out, error);
}

llmbed_status llmbed_cuda_device_count(int *count, llmbed_error *error) {
    *count = 0;
    const llmbed_cuda_plugin *plugin = NULL;
    LLMBED_TRY(load_module("cuda:all", &plugin, error));
    return plugin->device_count(count, error);
}

#else

llmbed_status llmbed_cuda_backend_create(const struct llmbed_model *model, int device_index, int64_t max_tokens,
                                         llmbed_backend **out, llmbed_error *error) {
    (void)model;
    (void)max_tokens;
    if (out) *out = NULL;
    return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                       "device cuda:%d: llmbed was built without CUDA (configure with -DLLMBED_CUDA=ON "
                       "where nvcc is installed)",
                       device_index);
}

llmbed_status llmbed_cuda_device_count(int *count, llmbed_error *error) {
    *count = 0;
    return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                       "device cuda:all: llmbed was built without CUDA (configure with -DLLMBED_CUDA=ON where nvcc is "
                       "installed)");
}

#endif
