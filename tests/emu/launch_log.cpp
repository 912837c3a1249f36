#include "launch_log.h"

#include <cstdlib>
#include <cstring>

namespace {

thread_local llmbed_emu_launch_log *t_log = nullptr;
/* The cost host code declared for the next matmul (consumed by it). */
thread_local llmbed_launch_cost t_declared = {nullptr, 0.0, 0.0};

void append(const llmbed_emu_launch &launch) {
    llmbed_emu_launch_log *log = t_log;
    if (log->count == log->capacity) {
        const size_t capacity = log->capacity ? 2 * log->capacity : 256;
        void *grown = std::realloc(log->launches, capacity * sizeof *log->launches);
        if (grown == nullptr) {
            log->out_of_memory = 1;
            return;
        }
        log->launches = static_cast<llmbed_emu_launch *>(grown);
        log->capacity = capacity;
    }
    log->launches[log->count++] = launch;
}

} // namespace

extern "C" {

void llmbed_emu_log_open(llmbed_emu_launch_log *log, int dry_run) {
    log->dry_run = dry_run;
    t_log = log;
}

void llmbed_emu_log_close(void) { t_log = nullptr; }

void llmbed_emu_log_free(llmbed_emu_launch_log *log) {
    if (log == nullptr) return;
    std::free(log->launches);
    std::memset(log, 0, sizeof *log);
}

int llmbed_emu_log_kernel(const llmbed_launch_cost *cost, unsigned grid_x, unsigned grid_y, unsigned grid_z,
                          int threads, size_t shared_bytes) {
    if (t_log == nullptr) return 1;
    llmbed_emu_launch launch = {LLMBED_EMU_KERNEL, "undeclared", {grid_x, grid_y, grid_z}, threads, shared_bytes,
                                0.0, 0.0};
    if (cost != nullptr) {
        launch.op = cost->op;
        launch.flops = cost->flops;
        launch.bytes = cost->bytes;
    }
    append(launch);
    return !t_log->dry_run;
}

void llmbed_emu_declare_cost(const llmbed_launch_cost *cost) { t_declared = *cost; }

int llmbed_emu_log_gemm(double flops, double bytes) {
    const llmbed_launch_cost declared = t_declared;
    t_declared = llmbed_launch_cost{nullptr, 0.0, 0.0};
    if (t_log == nullptr) return 1;
    llmbed_emu_launch launch = {LLMBED_EMU_GEMM, "undeclared", {1, 1, 1}, 0, 0, flops, bytes};
    if (declared.op != nullptr) {
        /* the launcher's declaration must match what the matmul really does */
        const bool agrees = declared.flops == flops && declared.bytes == bytes;
        launch.op = agrees ? declared.op : "gemm whose declared cost disagrees with its layouts";
    }
    append(launch);
    return !t_log->dry_run;
}

int llmbed_emu_log_copy(llmbed_emu_launch_kind kind, size_t bytes) {
    if (t_log == nullptr) return 1;
    static const char *const names[] = {"", "", "copy host->device", "copy device->host", "copy device->device"};
    /* device memory traffic: read + write for a device-to-device copy, else the bytes crossing the bus */
    const double moved = kind == LLMBED_EMU_COPY_D2D ? 2.0 * (double)bytes : (double)bytes;
    append(llmbed_emu_launch{kind, names[kind], {1, 1, 1}, 0, 0, 0.0, moved});
    return !t_log->dry_run;
}

} // extern "C"
