/* Host ranks: every rank is a thread of this process holding its own shard
 * of the weights, and an all-reduce is a reduce-scatter then an all-gather
 * through one shared buffer (each rank sums a slice of the elements over all
 * ranks, then every rank copies the whole sum back). Every element is summed
 * in rank order 0, 1, ..., size - 1, so the result is the same bits on every
 * rank and depends only on the ranks' inputs, never on thread timing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm_group.h"
#include "common/error.h"

typedef struct host_rank {
    llmbed_comm comm;
    struct host_group *group;
} host_rank;

typedef struct host_group {
    llmbed_comm_group base;
    llmbed_rank_barrier barrier;
    host_rank *rank_storage;   /* [size] */
    llmbed_comm **rank_list;   /* [size] */
    float **posted;            /* [size]: each rank's buffer in the current all-reduce */
    size_t *posted_counts;     /* [size] */
    float *sum;                /* [sum_capacity] */
    size_t sum_capacity;
} host_group;

enum { ROUND_OK = 0, ROUND_COUNT_MISMATCH = 1, ROUND_OUT_OF_MEMORY = 2 };

/* Runs in the last rank to arrive, while the others wait: every rank has
 * posted its buffer, none reads `sum` yet. */
static int prepare_sum(void *user) {
    host_group *g = user;
    const size_t count = g->posted_counts[0];
    for (int r = 1; r < g->base.size; r++)
        if (g->posted_counts[r] != count) return ROUND_COUNT_MISMATCH;
    if (count > g->sum_capacity) {
        float *grown = realloc(g->sum, count * sizeof *grown);
        if (grown == NULL) return ROUND_OUT_OF_MEMORY;
        g->sum = grown;
        g->sum_capacity = count;
    }
    return ROUND_OK;
}

static llmbed_status aborted(const llmbed_comm *comm, llmbed_error *error) {
    return llmbed_fail(error, LLMBED_ERR_INTERRUPTED,
                       "tensor-parallel rank %d of %d: another rank failed, so this collective was abandoned",
                       comm->rank, comm->size);
}

static llmbed_status host_all_reduce_sum(llmbed_comm *comm, float *data, size_t count, void *stream,
                                         llmbed_error *error) {
    (void)stream;
    host_group *g = ((host_rank *)comm)->group;
    const int rank = comm->rank, size = comm->size;
    g->posted[rank] = data;
    g->posted_counts[rank] = count;
    const int round = llmbed_rank_barrier_wait(&g->barrier, prepare_sum, g);
    if (round < 0) return aborted(comm, error);
    if (round == ROUND_COUNT_MISMATCH)
        return llmbed_fail(error, LLMBED_ERR_INTERNAL,
                           "tensor-parallel all-reduce: rank %d passed %zu values, rank 0 passed %zu", rank, count,
                           g->posted_counts[0]);
    if (round == ROUND_OUT_OF_MEMORY)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tensor-parallel all-reduce: cannot stage %zu values",
                           count);
    const size_t begin = count * (size_t)rank / (size_t)size, end = count * (size_t)(rank + 1) / (size_t)size;
    for (size_t i = begin; i < end; i++) {
        float total = g->posted[0][i];
        for (int r = 1; r < size; r++) total += g->posted[r][i];
        g->sum[i] = total;
    }
    if (llmbed_rank_barrier_wait(&g->barrier, NULL, NULL) < 0) return aborted(comm, error);
    if (count > 0) memcpy(data, g->sum, count * sizeof *data);
    /* Nobody may post the next all-reduce's buffers (or regrow `sum`)
     * before every rank has copied this one out. */
    if (llmbed_rank_barrier_wait(&g->barrier, NULL, NULL) < 0) return aborted(comm, error);
    return LLMBED_OK;
}

static llmbed_status host_barrier(llmbed_comm *comm, llmbed_error *error) {
    host_group *g = ((host_rank *)comm)->group;
    return llmbed_rank_barrier_wait(&g->barrier, NULL, NULL) < 0 ? aborted(comm, error) : LLMBED_OK;
}

static void host_abort(llmbed_comm *comm) { llmbed_rank_barrier_abort(&((host_rank *)comm)->group->barrier); }

static const llmbed_comm_ops host_ops = {"host", host_all_reduce_sum, host_barrier, host_abort};

static void host_destroy(llmbed_comm_group *base) {
    host_group *g = (host_group *)base;
    llmbed_rank_barrier_destroy(&g->barrier);
    free(g->rank_storage);
    free(g->rank_list);
    free(g->posted);
    free(g->posted_counts);
    free(g->sum);
    free(g);
}

llmbed_status llmbed_comm_group_create_host(int size, llmbed_comm_group **out, llmbed_error *error) {
    *out = NULL;
    if (size < 1) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "communicator: %d ranks (at least 1)", size);
    host_group *g = calloc(1, sizeof *g);
    if (g == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "communicator: out of memory");
    g->rank_storage = calloc((size_t)size, sizeof *g->rank_storage);
    g->rank_list = calloc((size_t)size, sizeof *g->rank_list);
    g->posted = calloc((size_t)size, sizeof *g->posted);
    g->posted_counts = calloc((size_t)size, sizeof *g->posted_counts);
    if (g->rank_storage == NULL || g->rank_list == NULL || g->posted == NULL || g->posted_counts == NULL ||
        llmbed_rank_barrier_init(&g->barrier, size) != 0) {
        free(g->rank_storage);
        free(g->rank_list);
        free(g->posted);
        free(g->posted_counts);
        free(g);
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "communicator: out of memory for %d ranks", size);
    }
    for (int r = 0; r < size; r++) {
        g->rank_storage[r] = (host_rank){{&host_ops, r, size}, g};
        g->rank_list[r] = &g->rank_storage[r].comm;
    }
    g->base = (llmbed_comm_group){size, g->rank_list, host_destroy};
    *out = &g->base;
    return LLMBED_OK;
}
