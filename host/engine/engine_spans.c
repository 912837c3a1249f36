/* Late chunking (Günther et al. 2024, "Late Chunking: Contextual Chunk
 * Embeddings Using Long-Context Embedding Models"): the whole sequence goes
 * through the decoder once, then every span is pooled from those contextual
 * hidden states, so each chunk's row sees the text around it. Long causal
 * sequences run in chunks over the key/value cache like any other. The
 * spans were checked by the pipeline (host/pipeline/batch_check.c). */
#include "common/error.h"
#include "engine/engine.h"
#include "engine/engine_runs.h"

llmbed_status llmbed_engine_embed_spans(llmbed_engine *engine, const int32_t *tokens, size_t n_tokens,
                                        const int32_t *spans, int n_spans, const llmbed_embed_options *opt,
                                        float *out, llmbed_error *error) {
    LLMBED_TRY(llmbed_engine_check_options(engine, opt, error));
    const int64_t chunk = opt->chunk_tokens > 0 ? opt->chunk_tokens : engine->batch_tokens;
    const int chunked = opt->causal && engine->backend->ops->cache_reserve != NULL && (int64_t)n_tokens > chunk;
    LLMBED_TRY(llmbed_engine_grow(engine, chunked ? chunk : (int64_t)n_tokens, error));
    return llmbed_engine_run_spans(engine, tokens, (int)n_tokens, spans, n_spans, opt, chunked ? (int)chunk : 0, out,
                                   error);
}
