#include "io/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"

static void release(llmbed_atomic_file *file) {
    free(file->final_path);
    free(file->temp_path);
    file->final_path = NULL;
    file->temp_path = NULL;
    file->fp = NULL;
}

llmbed_status llmbed_atomic_file_open(llmbed_atomic_file *file, const char *final_path,
                                      llmbed_error *error) {
    memset(file, 0, sizeof *file);
    size_t n = strlen(final_path);
    file->final_path = malloc(n + 1);
    file->temp_path = malloc(n + 6);
    if (file->final_path == NULL || file->temp_path == NULL) {
        release(file);
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", final_path);
    }
    memcpy(file->final_path, final_path, n + 1);
    memcpy(file->temp_path, final_path, n);
    memcpy(file->temp_path + n, ".part", 6);
    int fd = open(file->temp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        int err = errno;
        llmbed_fail(error, LLMBED_ERR_OUTPUT_WRITE, "%s: cannot create the output file: %s", final_path,
                    strerror(err));
        release(file);
        return LLMBED_ERR_OUTPUT_WRITE;
    }
    file->fp = fdopen(fd, "wb");
    if (file->fp == NULL) {
        close(fd);
        unlink(file->temp_path);
        release(file);
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", final_path);
    }
    return LLMBED_OK;
}

static llmbed_status write_failed(llmbed_atomic_file *file, llmbed_error *error) {
    int err = errno ? errno : EIO;
    return llmbed_fail(error, LLMBED_ERR_OUTPUT_WRITE, "%s: write failed: %s", file->final_path,
                       strerror(err));
}

llmbed_status llmbed_atomic_file_write(llmbed_atomic_file *file, const void *data, size_t n,
                                       llmbed_error *error) {
    errno = 0;
    if (n > 0 && fwrite(data, 1, n, file->fp) != n) return write_failed(file, error);
    return LLMBED_OK;
}

llmbed_status llmbed_atomic_file_pwrite(llmbed_atomic_file *file, int64_t offset, const void *data,
                                        size_t n, llmbed_error *error) {
    errno = 0;
    if (fseeko(file->fp, (off_t)offset, SEEK_SET) != 0) return write_failed(file, error);
    if (fwrite(data, 1, n, file->fp) != n) return write_failed(file, error);
    if (fseeko(file->fp, 0, SEEK_END) != 0) return write_failed(file, error);
    return LLMBED_OK;
}

llmbed_status llmbed_atomic_file_commit(llmbed_atomic_file *file, llmbed_error *error) {
    errno = 0;
    int failed = fflush(file->fp) != 0 || fsync(fileno(file->fp)) != 0;
    int err = errno;
    if (fclose(file->fp) != 0 && !failed) {
        failed = 1;
        err = errno;
    }
    file->fp = NULL;
    if (!failed && rename(file->temp_path, file->final_path) != 0) {
        failed = 1;
        err = errno;
    }
    if (failed) {
        llmbed_fail(error, LLMBED_ERR_OUTPUT_WRITE, "%s: cannot finish the output file: %s",
                    file->final_path, strerror(err ? err : EIO));
        unlink(file->temp_path);
        release(file);
        return LLMBED_ERR_OUTPUT_WRITE;
    }
    release(file);
    return LLMBED_OK;
}

void llmbed_atomic_file_abort(llmbed_atomic_file *file) {
    if (file == NULL || file->temp_path == NULL) return;
    if (file->fp != NULL) fclose(file->fp);
    unlink(file->temp_path);
    release(file);
}
