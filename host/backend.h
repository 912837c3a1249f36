/* The backend interface: the CPU reference (host/cpu/) and the CUDA backend
 * (host/cuda/) each implement this table. The engine (host/engine/) plans
 * batches and post-processing; a backend runs the decoder and the pooling
 * for one packed batch, whose op-level arithmetic is defined by the shared
 * structs of op_params.h. */
#ifndef LLMBED_BACKEND_H
#define LLMBED_BACKEND_H

#include <stdint.h>

#include "llmbed.h"
#include "model/model.h"
#include "op_params.h"

/* One packed varlen batch, already validated (ids < vocab, no empty sequence,
 * total tokens within the backend's budget). */
typedef struct llmbed_forward_request {
    int n_seqs;
    int n_tokens;                    /* seq_offsets[n_seqs] */
    const int32_t *tokens;           /* [n_tokens] */
    const int32_t *seq_offsets;      /* [n_seqs + 1] */
    const int32_t *instruction_lens; /* [n_seqs] or NULL */
    int causal;
    int n_layers;                    /* decoder layers to run (early exit), then the final norm */
    int pool_kind;                   /* llmbed_pool_kind, or 0: return hidden states unpooled */
} llmbed_forward_request;

typedef struct llmbed_backend llmbed_backend;

typedef struct llmbed_backend_ops {
    const char *name; /* "cpu", "cuda" */
    /* Runs the request; writes out[n_seqs, hidden] (pooled) or out[n_tokens, hidden]
     * (pool_kind 0) in host memory, fp32. */
    llmbed_status (*forward)(llmbed_backend *backend, const llmbed_forward_request *request,
                             float *out, llmbed_error *error);
    void (*destroy)(llmbed_backend *backend);
} llmbed_backend_ops;

/* Every backend struct starts with this header so the engine can call through it. */
struct llmbed_backend {
    const llmbed_backend_ops *ops;
    const struct llmbed_model *model;
    int64_t max_tokens; /* token budget of one forward call */
};

/* Constructors (each in its backend's folder). The CUDA one returns
 * LLMBED_ERR_NO_DEVICE when no GPU/driver is present and
 * LLMBED_ERR_UNSUPPORTED when built without CUDA. */
llmbed_status llmbed_cpu_backend_create(const struct llmbed_model *model, int n_threads,
                                        int64_t max_tokens, llmbed_backend **out,
                                        llmbed_error *error);
llmbed_status llmbed_cuda_backend_create(const struct llmbed_model *model, int device_index,
                                         int64_t max_tokens, llmbed_backend **out,
                                         llmbed_error *error);

#endif
