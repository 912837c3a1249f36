/* The communicator of tensor-parallel ranks (SPEC §2 `comm/`, issue 21).
 *
 * A group of `size` ranks lives in one process: rank r is driven by its own
 * thread (and, on GPUs, its own device). Two implementations share this
 * interface: NCCL over local GPUs (ncclCommInitAll, the library dlopen'd only
 * when a group is created) and host ranks, where every rank is a thread
 * holding only its shard of the weights, so the whole tensor-parallel
 * arithmetic runs and is tested on the CPU.
 *
 * Collectives are called by every rank of the group in the same order. A
 * rank that fails calls abort, so the others leave their collectives with an
 * error instead of waiting forever. */
#ifndef LLMBED_COMM_COMM_H
#define LLMBED_COMM_COMM_H

#include <stddef.h>

#include "llmbed.h"

typedef struct llmbed_comm llmbed_comm;

typedef struct llmbed_comm_ops {
    const char *name; /* "host", "nccl" */
    /* data[count] (backend memory: host for host ranks, device for NCCL)
     * becomes the element-wise sum over the ranks, the same bits on every
     * rank. `stream` is the rank's CUDA stream for NCCL, NULL for host
     * ranks. Every rank passes the same count. */
    llmbed_status (*all_reduce_sum)(llmbed_comm *comm, float *data, size_t count, void *stream,
                                    llmbed_error *error);
    /* Returns once every rank has entered it. */
    llmbed_status (*barrier)(llmbed_comm *comm, llmbed_error *error);
    /* Marks the group failed: every rank inside a collective, or entering one
     * later, returns LLMBED_ERR_INTERRUPTED. Any thread, any number of times. */
    void (*abort)(llmbed_comm *comm);
} llmbed_comm_ops;

/* One rank's handle. */
struct llmbed_comm {
    const llmbed_comm_ops *ops;
    int rank;
    int size;
};

typedef struct llmbed_comm_group llmbed_comm_group;

/* `size` host ranks (threads of this process). Sums are taken in rank order
 * 0, 1, ..., size - 1 for every element, so a result depends only on the
 * ranks' inputs. */
llmbed_status llmbed_comm_group_create_host(int size, llmbed_comm_group **out, llmbed_error *error);

/* `size` NCCL ranks over the CUDA devices devices[0..size) of this process
 * (ncclCommInitAll). LLMBED_ERR_NO_DEVICE naming the library when NCCL
 * cannot be loaded, LLMBED_ERR_CUDA with NCCL's message when it fails. */
llmbed_status llmbed_comm_group_create_nccl(int size, const int *devices, llmbed_comm_group **out,
                                            llmbed_error *error);

/* Rank `rank` of the group (NULL outside [0, size)); owned by the group. */
llmbed_comm *llmbed_comm_group_rank(llmbed_comm_group *group, int rank);

int llmbed_comm_group_size(const llmbed_comm_group *group);

/* Frees the group once no rank uses it. NULL is a no-op. */
void llmbed_comm_group_free(llmbed_comm_group *group);

#endif
