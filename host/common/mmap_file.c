#include "common/mmap_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"

llmbed_status llmbed_map_file(const char *path, llmbed_mapped_file *out, llmbed_error *error) {
    out->data = NULL;
    out->size = 0;
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return llmbed_fail(error, LLMBED_ERR_FILE_NOT_FOUND, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        const int err = errno;
        close(fd);
        return llmbed_fail(error, LLMBED_ERR_FILE_NOT_FOUND, "%s: cannot stat: %s", path, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return llmbed_fail(error, LLMBED_ERR_FILE_NOT_FOUND, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return LLMBED_OK;
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return llmbed_fail(error, LLMBED_ERR_FILE_NOT_FOUND, "%s: too large to map", path);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    close(fd); /* the mapping keeps the file referenced */
    if (map == MAP_FAILED)
        return llmbed_fail(error, LLMBED_ERR_FILE_NOT_FOUND, "%s: cannot mmap: %s", path, strerror(err));
    out->data = map;
    out->size = (size_t)st.st_size;
    return LLMBED_OK;
}

void llmbed_unmap_file(llmbed_mapped_file *file) {
    if (file->data != NULL) munmap((void *)file->data, file->size);
    file->data = NULL;
    file->size = 0;
}
