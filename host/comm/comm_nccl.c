/* NCCL ranks over the local GPUs of this process (ncclCommInitAll: one
 * communicator per device, each driven by its rank's thread). libnccl is
 * dlopen'd when a group is created, so a build with the CUDA backend runs on
 * machines without NCCL until tensor parallelism over GPUs is asked for.
 *
 * The few NCCL types used are declared here with the values of NCCL 2's
 * nccl.h (checked against the header in tests/cpu/test_comm.cpp when the
 * header is installed): the library's ABI, not its headers, is what a
 * dlopen'd symbol has to match. */
#include <dlfcn.h>
#include <stdlib.h>

#include "comm/comm_group.h"
#include "common/error.h"

typedef struct nccl_comm_opaque *nccl_comm_t; /* ncclComm_t */
typedef int nccl_result_t;                    /* ncclResult_t: ncclSuccess = 0 */
enum { NCCL_SUCCESS = 0, NCCL_FLOAT32 = 7 /* ncclFloat32 */, NCCL_SUM = 0 /* ncclSum */ };

typedef struct nccl_api {
    void *library;
    nccl_result_t (*comm_init_all)(nccl_comm_t *comms, int n_devices, const int *devices);
    nccl_result_t (*all_reduce)(const void *send, void *recv, size_t count, int dtype, int op, nccl_comm_t comm,
                                void *stream);
    nccl_result_t (*comm_destroy)(nccl_comm_t comm);
    nccl_result_t (*comm_abort)(nccl_comm_t comm);
    const char *(*error_string)(nccl_result_t result);
} nccl_api;

#define NCCL_LIBRARY "libnccl.so.2"

typedef struct nccl_rank {
    llmbed_comm comm;
    struct nccl_group *group;
    nccl_comm_t handle;
} nccl_rank;

typedef struct nccl_group {
    llmbed_comm_group base;
    nccl_api api;
    llmbed_rank_barrier barrier; /* the rank threads are threads of this process */
    nccl_rank *rank_storage;
    llmbed_comm **rank_list;
    int aborted;
} nccl_group;

static llmbed_status nccl_all_reduce_sum(llmbed_comm *comm, float *data, size_t count, void *stream,
                                         llmbed_error *error) {
    nccl_rank *r = (nccl_rank *)comm;
    const nccl_api *api = &r->group->api;
    const nccl_result_t result = api->all_reduce(data, data, count, NCCL_FLOAT32, NCCL_SUM, r->handle, stream);
    if (result != NCCL_SUCCESS)
        return llmbed_fail(error, LLMBED_ERR_CUDA, "ncclAllReduce of %zu floats on rank %d of %d: %s", count,
                           comm->rank, comm->size, api->error_string(result));
    return LLMBED_OK;
}

static llmbed_status nccl_barrier(llmbed_comm *comm, llmbed_error *error) {
    if (llmbed_rank_barrier_wait(&((nccl_rank *)comm)->group->barrier, NULL, NULL) < 0)
        return llmbed_fail(error, LLMBED_ERR_INTERRUPTED,
                           "tensor-parallel rank %d of %d: another rank failed, so this barrier was abandoned",
                           comm->rank, comm->size);
    return LLMBED_OK;
}

/* Wakes ranks waiting in the barrier and aborts every communicator, so a
 * rank stuck in an all-reduce that will never complete gets out too. */
static void nccl_abort(llmbed_comm *comm) {
    nccl_group *g = ((nccl_rank *)comm)->group;
    llmbed_rank_barrier_abort(&g->barrier);
    pthread_mutex_lock(&g->barrier.lock);
    const int first = !g->aborted;
    g->aborted = 1;
    pthread_mutex_unlock(&g->barrier.lock);
    for (int i = 0; first && i < g->base.size; i++) g->api.comm_abort(g->rank_storage[i].handle);
}

static const llmbed_comm_ops nccl_ops = {"nccl", nccl_all_reduce_sum, nccl_barrier, nccl_abort};

static void nccl_destroy(llmbed_comm_group *base) {
    nccl_group *g = (nccl_group *)base;
    for (int i = 0; g->rank_storage != NULL && !g->aborted && i < base->size; i++)
        if (g->rank_storage[i].handle != NULL) g->api.comm_destroy(g->rank_storage[i].handle);
    llmbed_rank_barrier_destroy(&g->barrier);
    if (g->api.library != NULL) dlclose(g->api.library);
    free(g->rank_storage);
    free(g->rank_list);
    free(g);
}

static llmbed_status load_api(nccl_api *api, llmbed_error *error) {
    api->library = dlopen(NCCL_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (api->library == NULL)
        return llmbed_fail(error, LLMBED_ERR_NO_DEVICE,
                           "tensor parallelism over GPUs needs NCCL 2: %s cannot be loaded (%s); install NCCL or "
                           "run without --tensor-parallel",
                           NCCL_LIBRARY, dlerror());
    *(void **)&api->comm_init_all = dlsym(api->library, "ncclCommInitAll");
    *(void **)&api->all_reduce = dlsym(api->library, "ncclAllReduce");
    *(void **)&api->comm_destroy = dlsym(api->library, "ncclCommDestroy");
    *(void **)&api->comm_abort = dlsym(api->library, "ncclCommAbort");
    *(void **)&api->error_string = dlsym(api->library, "ncclGetErrorString");
    if (api->comm_init_all == NULL || api->all_reduce == NULL || api->comm_destroy == NULL ||
        api->comm_abort == NULL || api->error_string == NULL)
        return llmbed_fail(error, LLMBED_ERR_NO_DEVICE,
                           "%s lacks ncclCommInitAll, ncclAllReduce, ncclCommDestroy, ncclCommAbort or "
                           "ncclGetErrorString: it is not NCCL 2",
                           NCCL_LIBRARY);
    return LLMBED_OK;
}

llmbed_status llmbed_comm_group_create_nccl(int size, const int *devices, llmbed_comm_group **out,
                                            llmbed_error *error) {
    *out = NULL;
    if (size < 1 || devices == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "NCCL communicator: %d ranks without devices", size);
    nccl_group *g = calloc(1, sizeof *g);
    if (g == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "NCCL communicator: out of memory");
    g->base = (llmbed_comm_group){size, NULL, nccl_destroy};
    g->rank_storage = calloc((size_t)size, sizeof *g->rank_storage);
    g->rank_list = calloc((size_t)size, sizeof *g->rank_list);
    if (g->rank_storage == NULL || g->rank_list == NULL || llmbed_rank_barrier_init(&g->barrier, size) != 0) {
        free(g->rank_storage);
        free(g->rank_list);
        free(g);
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "NCCL communicator: out of memory for %d ranks", size);
    }
    g->base.ranks = g->rank_list;
    llmbed_status st = load_api(&g->api, error);
    nccl_comm_t *handles = st == LLMBED_OK ? calloc((size_t)size, sizeof *handles) : NULL;
    if (st == LLMBED_OK && handles == NULL)
        st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "NCCL communicator: out of memory");
    if (st == LLMBED_OK) {
        const nccl_result_t result = g->api.comm_init_all(handles, size, devices);
        if (result != NCCL_SUCCESS) {
            /* ncclCommInitAll leaves no communicator behind when it fails. */
            st = llmbed_fail(error, LLMBED_ERR_CUDA, "ncclCommInitAll over %d GPUs (first device %d): %s", size,
                             devices[0], g->api.error_string(result));
        }
    }
    for (int r = 0; st == LLMBED_OK && r < size; r++) {
        g->rank_storage[r] = (nccl_rank){{&nccl_ops, r, size}, g, handles[r]};
        g->rank_list[r] = &g->rank_storage[r].comm;
    }
    free(handles);
    if (st != LLMBED_OK) {
        nccl_destroy(&g->base);
        return st;
    }
    *out = &g->base;
    return LLMBED_OK;
}
