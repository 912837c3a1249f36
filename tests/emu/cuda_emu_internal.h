/* What the emulator's own files share (cuda_emu.cpp: fibers and barriers;
 * cuda_emu_memory.cpp: shared-memory checks; cuda_emu_report.cpp:
 * violations). Not for kernels or tests. */
#ifndef LLMBED_TESTS_EMU_CUDA_EMU_INTERNAL_H
#define LLMBED_TESTS_EMU_CUDA_EMU_INTERNAL_H

#include <cstdarg>
#include <cstdint>
#include <vector>

#include "cuda_emu.h"

namespace emu {

/* splitmix64: the interleaving's random numbers (seeded, reproducible). */
struct Rng {
    uint64_t state;
    uint64_t next() {
        uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    unsigned below(unsigned n) { return (unsigned)(next() % n); }
};

enum class FiberStatus : uint8_t { Runnable, Waiting, Done };

/* A barrier among some threads of a block: __syncthreads (every thread) or
 * a warp collective (the lanes of one mask). */
struct Barrier {
    int participants = 0;
    int arrived = 0;
    std::vector<int> waiters; /* fibers parked here */
};

/* One warp's collectives in flight, one per mask (disjoint lane groups of a
 * warp may run their own collectives at the same time). */
struct WarpCollective {
    unsigned mask = 0;
    Barrier barrier;
};

struct Warp {
    unsigned lanes = 0; /* mask of the lanes that exist */
    unsigned epoch = 0; /* completed collectives: orders the lanes' shared accesses */
    std::vector<WarpCollective> pending;
};

/* A cp.async of one thread that has not landed yet. */
struct AsyncCopy {
    unsigned char *dst;
    unsigned char data[16];
    unsigned bytes;
    int group;    /* commit group; -1 until committed */
    uintptr_t pc; /* where it was issued: the write's source line in reports */
};

struct Fiber;

struct Block {
    std::vector<Fiber> fibers;
    std::vector<int> runnable; /* fibers that may run next, picked at random */
    void *scheduler_context = nullptr;
    const std::function<void()> *body = nullptr;
    const LaunchSite *site = nullptr;
    int n_threads = 0;
    uint3 index{0, 0, 0};
    Barrier block_barrier;
    std::vector<Warp> warps;
    /* [warp][parity][lane][kExchangeBytes] */
    std::vector<unsigned char> exchange;
    Rng rng{0};
    uint64_t launch_seed = 0;
    /* Barrier interval of the block (advances at every __syncthreads): two
     * threads' accesses race only within one interval. Unique per host thread. */
    uint32_t interval = 0;
    /* Per thread: its cp.async copies in flight and its next commit group. */
    std::vector<std::vector<AsyncCopy>> async_copies;
    std::vector<int> async_next_group;
    size_t dynamic_shared_bytes = 0;
    int running = -1; /* the fiber on the host thread now, or -1 */
};

/* The running thread, or nullptr outside a launch (host code of a kernel file).
 * A variable, not a function: the instrumentation reads it on every access. */
extern thread_local ThreadState *t_current;
inline ThreadState *current_or_null() { return t_current; }

/* The running fiber parks until `barrier` opens, or (nullptr) just lets
 * another runnable thread of its block run first. */
void park(Block *block, Barrier *barrier);

/* Shared-memory checks (cuda_emu_memory.cpp), per host thread. */
void memory_begin_block(Block &block);
/* A fresh barrier interval number (unique on the host thread). */
uint32_t memory_next_interval();
void memory_end_block(Block &block);
/* The code address of the call that called the function using it (a return address minus one, so
 * addr2line names the call's line, not the next one). */
#define LLMBED_EMU_CALLER_PC ((uintptr_t)__builtin_return_address(0) - 1)

/* The calling block's dynamic shared memory. */
unsigned char *memory_dynamic_shared();
/* Records a write/read by the running thread that the instrumentation does
 * not see (cp.async landing at the wait, exchanges done by the emulator). */
void memory_note_write(const void *address, size_t bytes, uintptr_t pc);
bool memory_is_shared(const void *address, size_t bytes);
/* Marks a cp.async destination as in flight (reads fail) and fills it with poison. */
void memory_async_issue(void *dst, size_t bytes);
void memory_async_land(void *dst, const void *data, size_t bytes, uintptr_t pc);

/* A violation in the running thread (cuda_emu_report.cpp): the message gets
 * the kernel, launch site, block, thread and seed; `pc` (a code address in
 * the kernel, or 0) is resolved to a source line. Aborts unless an
 * ExpectViolations guard is alive. */
void violation(uintptr_t pc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same for a whole block (no running thread), e.g. a deadlock. */
void block_violation(const Block &block, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "function at file:line" of a code address (addr2line), or "". */
std::string symbolize(uintptr_t pc);
/* "name+offset" of a static __shared__ variable for an address, or "". */
std::string shared_symbol(uintptr_t tls_offset);

} // namespace emu

#endif
