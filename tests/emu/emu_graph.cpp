/* CUDA graphs on the emulated device: stream capture records each launch,
 * copy and matmul issued on the capturing thread as a closure (its
 * arguments copied) instead of running it; a launched graph runs them in
 * order. The launch log records work when it is captured, so a captured
 * batch logs what an eager one does (the ledger's dry run records, and
 * captures nothing to run). */
#include "emu_graph.h"

#include <vector>

struct llmbed_emu_graph {
    std::vector<std::function<void()>> work;
};
struct llmbed_emu_graph_exec {
    std::vector<std::function<void()>> work;
};

namespace {

thread_local llmbed_emu_graph *t_capture = nullptr;
thread_local cudaStream_t t_capture_stream = nullptr;

} // namespace

bool llmbed_emu_capture(const std::function<void()> &work) {
    if (t_capture == nullptr) return false;
    t_capture->work.push_back(work);
    return true;
}

extern "C" {

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode) {
    if (t_capture != nullptr) return cudaErrorIllegalState;
    t_capture = new llmbed_emu_graph();
    t_capture_stream = stream;
    return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *graph) {
    if (t_capture == nullptr || stream != t_capture_stream) return cudaErrorIllegalState;
    *graph = t_capture;
    t_capture = nullptr;
    t_capture_stream = nullptr;
    return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long) {
    *exec = new llmbed_emu_graph_exec{graph->work};
    return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t) {
    if (t_capture != nullptr) return cudaErrorIllegalState;
    for (const std::function<void()> &work : exec->work) work();
    return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
    delete graph;
    return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
    delete exec;
    return cudaSuccess;
}

} // extern "C"
