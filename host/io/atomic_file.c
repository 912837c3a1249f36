#include "io/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "io/crc32.h"

llmbed_file_id llmbed_file_id_of_path(const char *path) {
    llmbed_file_id id = {0, 0, 0};
    struct stat st;
    int ok = strcmp(path, "-") == 0 ? fstat(STDIN_FILENO, &st) == 0 : stat(path, &st) == 0;
    if (ok) {
        id.valid = 1;
        id.dev = (uint64_t)st.st_dev;
        id.ino = (uint64_t)st.st_ino;
    }
    return id;
}

static int same_file(const llmbed_file_id *input, const struct stat *st) {
    return input != NULL && input->valid && input->dev == (uint64_t)st->st_dev && input->ino == (uint64_t)st->st_ino;
}

static void release(llmbed_atomic_file *file) {
    if (file->owns_direct_fd && file->direct_fd >= 0) close(file->direct_fd);
    free(file->final_path);
    free(file->target_path);
    free(file->temp_path);
    file->final_path = file->target_path = file->temp_path = NULL;
    file->direct_fd = -1;
    file->owns_direct_fd = 0;
    file->fp = NULL;
    file->open = 0;
}

static llmbed_status out_of_memory(llmbed_atomic_file *file, const char *path, llmbed_error *error) {
    release(file);
    return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
}

static llmbed_status refuse(llmbed_atomic_file *file, const char *path, const char *why, llmbed_error *error) {
    release(file);
    return llmbed_fail(error, LLMBED_ERR_OUTPUT_WRITE, "%s: %s", path, why);
}

/* A FIFO, device, socket or stdout: opened now (so permissions fail before
 * any work), written at commit from an unlinked spool file. */
static llmbed_status open_direct(llmbed_atomic_file *file, const char *path, int fd, int owns, llmbed_error *error) {
    file->direct_fd = fd;
    file->owns_direct_fd = owns;
    file->fp = tmpfile();
    if (file->fp == NULL) {
        int err = errno;
        release(file);
        return llmbed_fail(error, LLMBED_ERR_OUTPUT_WRITE, "%s: cannot create a temporary spool file: %s", path,
                           strerror(err));
    }
    file->open = 1;
    return LLMBED_OK;
}

static llmbed_status open_regular(llmbed_atomic_file *file, const char *path, const struct stat *existing,
                                  llmbed_error *error) {
    size_t n = strlen(file->target_path);
    file->temp_path = malloc(n + 6);
    if (file->temp_path == NULL) return out_of_memory(file, path, error);
    memcpy(file->temp_path, file->target_path, n);
    memcpy(file->temp_path + n, ".part", 6);
    /* A stale ".part" (SIGKILL) or a link planted under that name is removed,
     * never followed: O_EXCL | O_NOFOLLOW create a fresh file of our own. */
    struct stat st;
    if (lstat(file->temp_path, &st) == 0) {
        if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
            unlink(file->temp_path);
        } else {
            char why[PATH_MAX + 64];
            snprintf(why, sizeof why, "cannot create the output file: %s exists and is not a regular file",
                     file->temp_path);
            return refuse(file, path, why, error);
        }
    }
    int fd = open(file->temp_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0) {
        int err = errno;
        release(file);
        return llmbed_fail(error, LLMBED_ERR_OUTPUT_WRITE, "%s: cannot create the output file: %s", path,
                           strerror(err));
    }
    if (existing != NULL) (void)fchmod(fd, existing->st_mode & 07777); /* keep the replaced file's mode */
    file->fp = fdopen(fd, "w+b");
    if (file->fp == NULL) {
        close(fd);
        unlink(file->temp_path);
        return out_of_memory(file, path, error);
    }
    file->open = 1;
    return LLMBED_OK;
}

llmbed_status llmbed_atomic_file_open(llmbed_atomic_file *file, const char *final_path, const llmbed_file_id *input,
                                      llmbed_error *error) {
    memset(file, 0, sizeof *file);
    file->direct_fd = -1;
    file->final_path = strdup(final_path);
    if (file->final_path == NULL) return out_of_memory(file, final_path, error);
    const char *same = "is the input file: refusing to overwrite the input (choose another output path)";
    if (strcmp(final_path, "-") == 0) {
        struct stat st;
        if (fstat(STDOUT_FILENO, &st) == 0 && same_file(input, &st)) return refuse(file, "<stdout>", same, error);
        return open_direct(file, "<stdout>", STDOUT_FILENO, 0, error);
    }
    struct stat link_st, st;
    if (lstat(final_path, &link_st) != 0) {
        if (errno != ENOENT) {
            int err = errno;
            release(file);
            return llmbed_fail(error, LLMBED_ERR_OUTPUT_WRITE, "%s: cannot create the output file: %s", final_path,
                               strerror(err));
        }
        file->target_path = strdup(final_path);
        if (file->target_path == NULL) return out_of_memory(file, final_path, error);
        return open_regular(file, final_path, NULL, error);
    }
    st = link_st;
    if (S_ISLNK(link_st.st_mode) && stat(final_path, &st) != 0) {
        return refuse(file, final_path, "is a symlink to a missing file: refusing to replace the link", error);
    }
    if (S_ISDIR(st.st_mode)) return refuse(file, final_path, "is a directory", error);
    if (same_file(input, &st)) return refuse(file, final_path, same, error);
    if (S_ISREG(st.st_mode)) {
        /* Renaming over a symlink would replace the link: rename over what it points at. */
        char resolved[PATH_MAX];
        const char *target = final_path;
        if (S_ISLNK(link_st.st_mode)) {
            if (realpath(final_path, resolved) == NULL) {
                return refuse(file, final_path, "is a symlink that cannot be resolved: refusing to replace the link",
                              error);
            }
            target = resolved;
        }
        file->target_path = strdup(target);
        if (file->target_path == NULL) return out_of_memory(file, final_path, error);
        return open_regular(file, final_path, &st, error);
    }
    int fd = open(final_path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        release(file);
        return llmbed_fail(error, LLMBED_ERR_OUTPUT_WRITE, "%s: cannot open the output for writing: %s", final_path,
                           strerror(err));
    }
    return open_direct(file, final_path, fd, 1, error);
}

static llmbed_status write_failed(llmbed_atomic_file *file, llmbed_error *error) {
    int err = errno ? errno : EIO;
    return llmbed_fail(error, LLMBED_ERR_OUTPUT_WRITE, "%s: write failed: %s", file->final_path, strerror(err));
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

/* Reads the finished bytes back from the start of `fd`, computing their
 * CRC-32 and, when `copy_to` >= 0, writing them there. 0 or an errno. */
static int read_back(int fd, int copy_to, uint32_t *crc, int64_t *bytes) {
    unsigned char buffer[1 << 16];
    uint32_t c = 0;
    int64_t total = 0;
    for (;;) {
        ssize_t n = pread(fd, buffer, sizeof buffer, (off_t)total);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        if (n == 0) break;
        c = llmbed_crc32_update(c, buffer, (size_t)n);
        for (ssize_t done = 0; copy_to >= 0 && done < n;) {
            ssize_t w = write(copy_to, buffer + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return w < 0 ? errno : EIO;
            done += w;
        }
        total += n;
    }
    *crc = c;
    *bytes = total;
    return 0;
}

llmbed_status llmbed_atomic_file_commit(llmbed_atomic_file *file, llmbed_error *error) {
    errno = 0;
    int err = fflush(file->fp) != 0 ? (errno ? errno : EIO) : 0;
    int fd = fileno(file->fp);
    const int direct = file->direct_fd >= 0;
    if (err == 0) err = read_back(fd, direct ? file->direct_fd : -1, &file->crc32, &file->bytes);
    if (err == 0 && !direct && fsync(fd) != 0) err = errno;
    if (fclose(file->fp) != 0 && err == 0) err = errno ? errno : EIO;
    file->fp = NULL;
    if (err == 0 && !direct && rename(file->temp_path, file->target_path) != 0) err = errno;
    if (err != 0) {
        llmbed_fail(error, LLMBED_ERR_OUTPUT_WRITE, "%s: cannot finish the output file: %s", file->final_path,
                    strerror(err));
        if (!direct) unlink(file->temp_path);
        release(file);
        return LLMBED_ERR_OUTPUT_WRITE;
    }
    release(file);
    return LLMBED_OK;
}

void llmbed_atomic_file_abort(llmbed_atomic_file *file) {
    if (file == NULL || !file->open) return;
    if (file->fp != NULL) fclose(file->fp);
    if (file->temp_path != NULL) unlink(file->temp_path);
    release(file);
}
