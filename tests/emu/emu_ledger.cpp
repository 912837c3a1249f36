#include "emu_ledger.h"

#include <cstring>
#include <vector>

extern "C" {
#include "common/error.h"
#include "decoder/decoder.h"
#include "model/model.h"
}

extern "C" llmbed_status llmbed_emu_cuda_backend_create(const struct llmbed_model *model, int device_index,
                                                        int64_t max_tokens, llmbed_backend **out,
                                                        llmbed_error *error);

namespace {

/* The model's default pooling as a pooling op (NONE and DEFAULT: the last token, Qwen3-Embedding's). */
int pool_kind_of(llmbed_pooling pooling) {
    switch (pooling) {
    case LLMBED_POOLING_MEAN: return LLMBED_POOL_MEAN;
    case LLMBED_POOLING_FIRST: return LLMBED_POOL_FIRST;
    case LLMBED_POOLING_WEIGHTED_MEAN: return LLMBED_POOL_WEIGHTED_MEAN;
    case LLMBED_POOLING_LATENT: return LLMBED_POOL_LATENT;
    default: return LLMBED_POOL_LAST;
    }
}

} // namespace

extern "C" llmbed_status llmbed_emu_ledger_run(const llmbed_model *model, const llmbed_ledger_batch *batch,
                                               int dry_run, llmbed_emu_launch_log *log, llmbed_error *error) {
    const int n = batch->n_sequences, len = batch->sequence_tokens;
    if (n < 1 || len < 1 || (int64_t)n * len > INT32_MAX || batch->batch_tokens < 1)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "ledger: %d sequences of %d tokens, budget %lld", n,
                           len, (long long)batch->batch_tokens);
    std::vector<int32_t> tokens((size_t)n * len), offsets((size_t)n + 1), pool_begin((size_t)n), pool_end((size_t)n);
    for (size_t t = 0; t < tokens.size(); t++) tokens[t] = (int32_t)(t % (size_t)model->config.vocab_size);
    for (int s = 0; s <= n; s++) offsets[(size_t)s] = s * len;
    for (int s = 0; s < n; s++) pool_begin[(size_t)s] = s * len, pool_end[(size_t)s] = (s + 1) * len;
    llmbed_forward_request request{};
    request.n_seqs = n;
    request.n_tokens = n * len;
    request.tokens = tokens.data();
    request.seq_offsets = offsets.data();
    request.causal = model->default_attention != LLMBED_ATTENTION_BIDIRECTIONAL;
    request.n_layers = model->config.n_layers;
    request.attention_temperature = 1.0f;
    request.pool_kind = pool_kind_of(model->default_pooling);
    request.n_pools = n;
    request.pool_begin = pool_begin.data();
    request.pool_end = pool_end.data();
    std::vector<float> out((size_t)n * model->config.hidden_size, 0.0f);

    /* the log is open while the backend is created so a dry run skips the weight upload too
     * (no device copy of the weights is made); those records are then dropped */
    llmbed_backend *backend = nullptr;
    llmbed_emu_log_open(log, dry_run);
    llmbed_status st = llmbed_emu_cuda_backend_create(model, 0, batch->batch_tokens, &backend, error);
    log->count = 0;
    llmbed_decoder decoder;
    std::memset(&decoder, 0, sizeof decoder);
    decoder.backend = backend;
    if (st == LLMBED_OK) st = llmbed_decoder_forward(&decoder, &request, out.data(), error);
    llmbed_emu_log_close();
    llmbed_decoder_release(&decoder);
    if (backend != nullptr) backend->ops->destroy(backend);
    if (st == LLMBED_OK && log->out_of_memory)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "ledger: out of memory for the launch log");
    return st;
}
