#include "cuda/cuda_graph.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "cuda/cuda_check.h"

void llmbed_cuda_graphs_init(llmbed_cuda_graphs *graphs) {
    memset(graphs, 0, sizeof *graphs);
    const char *env = getenv("LLMBED_CUDA_GRAPHS");
    graphs->disabled = llmbed_cuda_sync_each_launch() || (env != NULL && strcmp(env, "0") == 0);
}

void llmbed_cuda_graphs_clear(llmbed_cuda_graphs *graphs) {
    for (int i = 0; i < LLMBED_CUDA_GRAPH_SLOTS; i++)
        if (graphs->slots[i].used) cudaGraphExecDestroy(graphs->slots[i].exec);
    memset(graphs->slots, 0, sizeof graphs->slots);
    graphs->next_victim = 0;
}

void llmbed_cuda_graphs_free(llmbed_cuda_graphs *graphs) {
    if (graphs == NULL) return;
    llmbed_cuda_graphs_clear(graphs);
    free(graphs->ops);
    memset(graphs, 0, sizeof *graphs);
}

llmbed_status llmbed_cuda_graphs_record(llmbed_cuda_graphs *graphs, const llmbed_cuda_op *op, llmbed_error *error) {
    if (graphs->n_ops == graphs->capacity) {
        const int capacity = graphs->capacity ? 2 * graphs->capacity : 256;
        llmbed_cuda_op *grown = (llmbed_cuda_op *)realloc(graphs->ops, sizeof *grown * (size_t)capacity);
        if (grown == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "cuda backend: cannot record %d ops", capacity);
        graphs->ops = grown;
        graphs->capacity = capacity;
    }
    memcpy(&graphs->ops[graphs->n_ops++], op, sizeof *op); /* padding bytes included: the record is hashed */
    return LLMBED_OK;
}

void llmbed_cuda_graphs_discard(llmbed_cuda_graphs *graphs) { graphs->n_ops = 0; }

/* FNV-1a, 64 bits, over the shape and the recorded ops' bytes. */
static uint64_t key_of(const llmbed_cuda_graphs *graphs, uint64_t shape) {
    uint64_t h = 14695981039346656037ull;
    const unsigned char *bytes = (const unsigned char *)&shape;
    for (size_t i = 0; i < sizeof shape; i++) h = (h ^ bytes[i]) * 1099511628211ull;
    bytes = (const unsigned char *)graphs->ops;
    for (size_t i = 0; i < (size_t)graphs->n_ops * sizeof *graphs->ops; i++) h = (h ^ bytes[i]) * 1099511628211ull;
    return h;
}

static llmbed_status run_all(const llmbed_cuda_graphs *graphs, llmbed_backend *backend, llmbed_cuda_op_runner run,
                             llmbed_error *error) {
    for (int i = 0; i < graphs->n_ops; i++) LLMBED_TRY(run(backend, &graphs->ops[i], error));
    return LLMBED_OK;
}

/* Captures the recorded ops into a graph and instantiates it; on a refusal
 * from the runtime, ends any capture and leaves *exec NULL. */
static llmbed_status capture(llmbed_cuda_graphs *graphs, llmbed_backend *backend, llmbed_cuda_op_runner run,
                             cudaStream_t stream, cudaGraphExec_t *exec, llmbed_error *error) {
    *exec = NULL;
    if (cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed) != cudaSuccess) {
        cudaGetLastError();
        return LLMBED_OK;
    }
    const llmbed_status st = run_all(graphs, backend, run, error);
    cudaGraph_t graph = NULL;
    const cudaError_t ended = cudaStreamEndCapture(stream, &graph);
    if (st != LLMBED_OK) {
        if (graph != NULL) cudaGraphDestroy(graph);
        return st;
    }
    if (ended == cudaSuccess && graph != NULL && cudaGraphInstantiate(exec, graph, 0) != cudaSuccess) *exec = NULL;
    if (graph != NULL) cudaGraphDestroy(graph);
    cudaGetLastError(); /* a refused capture is not this forward's error: it runs eagerly */
    return LLMBED_OK;
}

llmbed_status llmbed_cuda_graphs_flush(llmbed_cuda_graphs *graphs, uint64_t shape, llmbed_backend *backend,
                                       llmbed_cuda_op_runner run, cudaStream_t stream, llmbed_error *error) {
    llmbed_status st = LLMBED_OK;
    const uint64_t key = key_of(graphs, shape);
    int slot = -1;
    for (int i = 0; i < LLMBED_CUDA_GRAPH_SLOTS && slot < 0; i++)
        if (graphs->slots[i].used && graphs->slots[i].key == key) slot = i;
    if (slot < 0 && !graphs->disabled) {
        cudaGraphExec_t exec = NULL;
        st = capture(graphs, backend, run, stream, &exec, error);
        if (st == LLMBED_OK && exec == NULL) graphs->disabled = 1; /* the driver refused: eager from now on */
        if (exec != NULL) {
            slot = graphs->next_victim;
            graphs->next_victim = (graphs->next_victim + 1) % LLMBED_CUDA_GRAPH_SLOTS;
            if (graphs->slots[slot].used) cudaGraphExecDestroy(graphs->slots[slot].exec);
            graphs->slots[slot].used = 1;
            graphs->slots[slot].key = key;
            graphs->slots[slot].exec = exec;
            graphs->captures++;
        }
    } else if (slot >= 0) {
        graphs->replays++;
    }
    if (st == LLMBED_OK && slot >= 0) {
        const cudaError_t rc = cudaGraphLaunch(graphs->slots[slot].exec, stream);
        if (rc != cudaSuccess)
            st = llmbed_fail(error, LLMBED_ERR_CUDA, "cuda backend: launch of the forward's graph: %s",
                             cudaGetErrorString(rc));
    } else if (st == LLMBED_OK) {
        st = run_all(graphs, backend, run, error);
    }
    graphs->n_ops = 0;
    return st;
}
