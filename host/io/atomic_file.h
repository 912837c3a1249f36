/* Output files that appear whole or not at all, and never at the cost of
 * something that is not ours. What happens depends on what the path is now:
 *
 *   absent or a regular file: data goes to "<path>.part" in the same folder,
 *     which is flushed, fsync'd and renamed over <path> on commit (keeping an
 *     existing file's permission bits), or unlinked on abort. A reader never
 *     sees a half-written file and a failed job leaves nothing behind
 *     (SIGKILL can leave a stale ".part", which the next run removes).
 *   "-", a FIFO, a character or block device, a socket: the node is opened
 *     and written directly, never replaced. The bytes are spooled to an
 *     unlinked temporary file first (headers are rewritten at the end) and
 *     copied to the node at commit, so a failed job writes nothing to it.
 *   a symlink: resolved. One to a regular file is treated as that file (the
 *     temp file sits next to the target and the rename replaces the target,
 *     not the link); one to a node is written directly; a dangling one or one
 *     to a folder is refused. The link itself is never replaced.
 *   a folder: refused.
 *
 * When `input` is given, a target that is the same file (device + inode) as
 * the job's input is refused, so an output can never overwrite its input. */
#ifndef LLMBED_IO_ATOMIC_FILE_H
#define LLMBED_IO_ATOMIC_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "llmbed.h"

/* Identity of an existing file (stat's st_dev + st_ino); valid 0 = none. */
typedef struct llmbed_file_id {
    int valid;
    uint64_t dev;
    uint64_t ino;
} llmbed_file_id;

/* The identity of `path` ("-" = standard input), following symlinks;
 * valid 0 when it does not exist. */
llmbed_file_id llmbed_file_id_of_path(const char *path);

typedef struct llmbed_atomic_file {
    char *final_path;  /* as given, for messages */
    char *target_path; /* regular file renamed over at commit; NULL when direct */
    char *temp_path;   /* "<target>.part"; NULL when direct */
    int direct_fd;     /* >= 0: the node written at commit */
    int owns_direct_fd;
    FILE *fp;          /* the temp file, or the spool of a direct target */
    int open;          /* 1 between open and commit/abort */
    uint32_t crc32;    /* of the committed bytes (valid after commit) */
    int64_t bytes;
} llmbed_atomic_file;

/* Prepares the output. LLMBED_ERR_OUTPUT_WRITE naming the path and the
 * reason when the folder is missing or not writable, the path is a folder or
 * a dangling symlink, or it is the same file as `input` (may be NULL). */
llmbed_status llmbed_atomic_file_open(llmbed_atomic_file *file, const char *final_path, const llmbed_file_id *input,
                                      llmbed_error *error);

/* LLMBED_ERR_OUTPUT_WRITE on a short write (full disk, file size limit). */
llmbed_status llmbed_atomic_file_write(llmbed_atomic_file *file, const void *data, size_t n,
                                       llmbed_error *error);

/* Rewrites bytes at `offset` (headers whose sizes are known only at the end),
 * then returns to the end of the file. */
llmbed_status llmbed_atomic_file_pwrite(llmbed_atomic_file *file, int64_t offset, const void *data,
                                        size_t n, llmbed_error *error);

/* Flush + fsync + rename (or the copy to a direct target); fills crc32 and
 * bytes. On failure the temp file is removed. Either way the paths are
 * released (crc32/bytes stay readable). */
llmbed_status llmbed_atomic_file_commit(llmbed_atomic_file *file, llmbed_error *error);

/* Closes and unlinks the temp file; no-op on a released or zeroed struct. */
void llmbed_atomic_file_abort(llmbed_atomic_file *file);

#endif
