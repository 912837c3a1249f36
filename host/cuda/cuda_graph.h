/* CUDA graphs of the CUDA backend's uncached forwards (issue 20 item 4).
 *
 * A forward's ops are recorded as the decoder calls them (params copied),
 * not launched; where the host needs rows (postprocess, read_hidden) the
 * record is flushed: its hash, with the forward's padded shape, keys a cache
 * of instantiated graphs; a hit launches the graph (one launch for every
 * kernel and GEMM of the forward), a miss captures the ops into a new graph
 * (running them eagerly inside cudaStreamBeginCapture), instantiates and
 * launches it. Keying on everything the ops were called with, not on a
 * list of parameters someone must keep complete, makes a stale graph
 * impossible. The backend pads every uncached forward to a token bucket
 * (cuda_backend.c) so that batches of similar size share one graph and one
 * set of cuBLASLt plans.
 *
 * Off with LLMBED_CUDA_SYNC=1 (a synchronise inside a capture is illegal)
 * or LLMBED_CUDA_GRAPHS=0, and from the first capture the driver refuses
 * (then the forward runs eagerly and later ones do too). */
#ifndef LLMBED_CUDA_CUDA_GRAPH_H
#define LLMBED_CUDA_CUDA_GRAPH_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#include "backend.h"
#include "llmbed.h"

typedef enum llmbed_cuda_op_kind {
    LLMBED_CUDA_OP_EMBEDDING = 1,
    LLMBED_CUDA_OP_RMSNORM,
    LLMBED_CUDA_OP_LINEAR,
    LLMBED_CUDA_OP_QK_ROPE,
    LLMBED_CUDA_OP_ATTENTION,
    LLMBED_CUDA_OP_SWIGLU,
    LLMBED_CUDA_OP_LATENT,
    LLMBED_CUDA_OP_POOL
} llmbed_cuda_op_kind;

/* One backend op call as the backend will run it (padded shapes). Zeroed
 * before it is filled, so its bytes (padding included) hash the same for
 * the same call. */
typedef struct llmbed_cuda_op {
    llmbed_cuda_op_kind kind;
    int layer, weight, out, qk_norm;
    union {
        llmbed_embedding_params embedding;
        llmbed_rmsnorm_params rmsnorm;
        llmbed_linear_op linear;
        struct {
            llmbed_rmsnorm_params q_norm, k_norm;
            llmbed_rope_params q, k;
        } rope;
        llmbed_attention_params attention;
        llmbed_swiglu_params swiglu;
        llmbed_latent_attention_params latent;
        llmbed_pooling_params pool;
    } p;
    const int32_t *tokens; /* embedding */
} llmbed_cuda_op;

/* Runs one recorded op eagerly (on the backend's stream). */
typedef llmbed_status (*llmbed_cuda_op_runner)(llmbed_backend *backend, const llmbed_cuda_op *op,
                                               llmbed_error *error);

#define LLMBED_CUDA_GRAPH_SLOTS 16

typedef struct llmbed_cuda_graphs {
    llmbed_cuda_op *ops;
    int n_ops, capacity;
    struct {
        int used;
        uint64_t key;
        cudaGraphExec_t exec;
    } slots[LLMBED_CUDA_GRAPH_SLOTS];
    int next_victim;   /* round-robin replacement once every slot is used */
    int disabled;      /* env, or a capture the driver refused */
    int64_t captures;  /* graphs made */
    int64_t replays;   /* graphs launched again */
} llmbed_cuda_graphs;

/* Reads LLMBED_CUDA_SYNC / LLMBED_CUDA_GRAPHS. */
void llmbed_cuda_graphs_init(llmbed_cuda_graphs *graphs);
/* Destroys every graph (they point at buffers that are about to move). */
void llmbed_cuda_graphs_clear(llmbed_cuda_graphs *graphs);
void llmbed_cuda_graphs_free(llmbed_cuda_graphs *graphs);

llmbed_status llmbed_cuda_graphs_record(llmbed_cuda_graphs *graphs, const llmbed_cuda_op *op, llmbed_error *error);
/* Drops the record (a forward that ended early). */
void llmbed_cuda_graphs_discard(llmbed_cuda_graphs *graphs);
/* Runs the recorded forward: a cached graph for (shape, ops), a new one, or
 * the ops eagerly when graphs are off; empties the record. */
llmbed_status llmbed_cuda_graphs_flush(llmbed_cuda_graphs *graphs, uint64_t shape, llmbed_backend *backend,
                                       llmbed_cuda_op_runner run, cudaStream_t stream, llmbed_error *error);

#endif
