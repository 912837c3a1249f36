/* Fiber scheduler behind cuda_emu.h: one block = blockDim fibers on one host
 * thread. On x86-64 fibers switch with a 12-instruction stack swap (callee-
 * saved registers, MXCSR and the x87 control word), because glibc's
 * swapcontext makes a sigprocmask system call on every switch and the
 * emulated warps switch at every shuffle; elsewhere swapcontext is used.
 *
 * A fiber runs until it parks: at a barrier (__syncthreads, a warp
 * collective), or voluntarily at a shared-memory access
 * (cuda_emu_memory.cpp). The scheduler then resumes a runnable fiber chosen
 * by the block's seeded random generator, so the threads of a block
 * interleave in a different, reproducible order per seed, launch and block,
 * as a GPU's warps do. A barrier opens when its last participant arrives.
 * No runnable fiber while some have not finished is a deadlock (a
 * __syncthreads in divergent code, a warp collective whose mask names a lane
 * that never gets there): the emulator reports it, as a hang would be worse
 * in CI. */
#include "cuda_emu_internal.h"
#include "emu_graph.h"
#include "launch_log.h"

#include <sys/mman.h>
#include <ucontext.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>

#if defined(__SANITIZE_ADDRESS__)
#define LLMBED_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LLMBED_EMU_ASAN 1
#endif
#endif

#ifdef LLMBED_EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace emu {

/* Deep enough for kernels' register arrays under ASan's redzones. */
constexpr size_t kStackBytes = 256 * 1024;

#if defined(__x86_64__)
#define LLMBED_EMU_FAST_SWITCH 1
/* Saves callee-saved state on the current stack, stores the stack pointer in
 * *save_sp, and resumes the stack `next_sp` saved the same way. */
extern "C" void llmbed_emu_switch(void **save_sp, void *next_sp);
asm(R"(
    .text
    .globl llmbed_emu_switch
    .type llmbed_emu_switch, @function
llmbed_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size llmbed_emu_switch, .-llmbed_emu_switch
    .section .note.GNU-stack,"",@progbits
    .text
)");
#endif

/* Where the scheduler of a host thread resumes. */
struct SchedulerContext {
#ifdef LLMBED_EMU_FAST_SWITCH
    void *sp = nullptr;
#else
    ucontext_t context;
#endif
#ifdef LLMBED_EMU_ASAN
    void *fake_stack = nullptr;
    const void *stack_bottom = nullptr;
    size_t stack_size = 0;
#endif
};

/* A participant's view of a completed warp exchange: the contributions of
 * the collective's lanes, copied when it opened, kept until every
 * participant has moved on (a lane may run ahead into its next collective
 * before a slower lane has read this one). */
struct ExchangeSnapshot {
    int refs = 0;
    unsigned char slots[kWarpSize * kExchangeBytes];
};

struct Fiber {
#ifdef LLMBED_EMU_FAST_SWITCH
    void *sp = nullptr;
#else
    ucontext_t context;
#endif
    ThreadState state;
    unsigned char *stack = nullptr;
    FiberStatus status = FiberStatus::Runnable;
    ExchangeSnapshot *view = nullptr; /* the last exchange this lane took part in */
    bool waiting_block = false;        /* parked at __syncthreads (for the deadlock report) */
};

thread_local ThreadState *t_current = nullptr;

namespace {

thread_local cudaError_t t_last_error = cudaSuccess;
thread_local SchedulerContext t_scheduler;
std::atomic<uint64_t> g_seed{0};
std::atomic<uint64_t> g_launches{0};


/* Stacks are reused across launches on the same host thread; mmap keeps
 * untouched pages uncommitted. */
struct StackPool {
    std::vector<unsigned char *> stacks;
    ~StackPool() {
        for (unsigned char *s : stacks) munmap(s, kStackBytes);
    }
    unsigned char *get(size_t i) {
        while (stacks.size() <= i) {
            void *p = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) {
                std::fprintf(stderr, "cuda_emu: cannot map a fiber stack\n");
                std::abort();
            }
            stacks.push_back(static_cast<unsigned char *>(p));
        }
        return stacks[i];
    }
};

thread_local StackPool t_stacks;

/* Exchange snapshots of a host thread, recycled. */
struct SnapshotPool {
    std::vector<std::unique_ptr<ExchangeSnapshot>> all;
    std::vector<ExchangeSnapshot *> free;
    ExchangeSnapshot *get() {
        if (free.empty()) {
            all.push_back(std::make_unique<ExchangeSnapshot>());
            free.push_back(all.back().get());
        }
        ExchangeSnapshot *s = free.back();
        free.pop_back();
        return s;
    }
    void release(ExchangeSnapshot *s) {
        if (s != nullptr && --s->refs == 0) free.push_back(s);
    }
};

thread_local SnapshotPool t_snapshots;

uint64_t mix(uint64_t a, uint64_t b) {
    Rng r{a ^ (b * 0xd1342543de82ef95ull)};
    return r.next();
}

void switch_to_fiber(Block *block, int index) {
    Fiber *fiber = &block->fibers[(size_t)index];
    block->running = index;
    t_current = &fiber->state;
#ifdef LLMBED_EMU_ASAN
    __sanitizer_start_switch_fiber(&t_scheduler.fake_stack, fiber->stack, kStackBytes);
#endif
#ifdef LLMBED_EMU_FAST_SWITCH
    llmbed_emu_switch(&t_scheduler.sp, fiber->sp);
#else
    swapcontext(&t_scheduler.context, &fiber->context);
#endif
#ifdef LLMBED_EMU_ASAN
    __sanitizer_finish_switch_fiber(t_scheduler.fake_stack, nullptr, nullptr);
#endif
    t_current = nullptr;
    block->running = -1;
}

/* Called on a fiber: back to the scheduler; returns when resumed. */
void yield_to_scheduler(Block *block, bool finishing) {
    Fiber *fiber = &block->fibers[(size_t)block->running];
    (void)finishing; /* only ASan needs to know that this stack is being left for good */
#ifdef LLMBED_EMU_ASAN
    void *fake_stack = nullptr;
    __sanitizer_start_switch_fiber(finishing ? nullptr : &fake_stack, t_scheduler.stack_bottom,
                                   t_scheduler.stack_size);
#endif
#ifdef LLMBED_EMU_FAST_SWITCH
    llmbed_emu_switch(&fiber->sp, t_scheduler.sp);
#else
    swapcontext(&fiber->context, &t_scheduler.context);
#endif
#ifdef LLMBED_EMU_ASAN
    __sanitizer_finish_switch_fiber(fake_stack, &t_scheduler.stack_bottom, &t_scheduler.stack_size);
#endif
}

void fiber_entry() {
    Block *block = t_current->block;
#ifdef LLMBED_EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &t_scheduler.stack_bottom, &t_scheduler.stack_size);
#endif
    (*block->body)();
    Fiber &f = block->fibers[(size_t)block->running];
    t_snapshots.release(f.view);
    f.view = nullptr;
    f.status = FiberStatus::Done;
    yield_to_scheduler(block, true);
}

/* A new fiber starts in fiber_entry, which never returns. */
void prepare_fiber(Fiber &f) {
#ifdef LLMBED_EMU_ASAN
    /* The stack comes from the thread's pool: the fiber that used it last
     * finished without unwinding, so the redzones of its frames are still
     * poisoned. */
    __asan_unpoison_memory_region(f.stack, kStackBytes);
#endif
#ifdef LLMBED_EMU_FAST_SWITCH
    /* The frame llmbed_emu_switch pops: csr word, r15..rbp, return address,
     * plus one slot standing for fiber_entry's own return address so the
     * stack is aligned as after a call. */
    uintptr_t top = ((uintptr_t)(f.stack + kStackBytes)) & ~(uintptr_t)15;
    uint64_t *sp = reinterpret_cast<uint64_t *>(top);
    *--sp = 0;                                 /* fiber_entry's return address: never used */
    *--sp = (uint64_t)(uintptr_t)&fiber_entry; /* popped by ret */
    for (int r = 0; r < 6; r++) *--sp = 0;     /* rbp rbx r12 r13 r14 r15 */
    uint32_t csr[2] = {0, 0};
    asm volatile("stmxcsr %0" : "=m"(csr[0]));
    asm volatile("fnstcw %0" : "=m"(csr[1]));
    --sp;
    std::memcpy(sp, csr, 8);
    f.sp = sp;
#else
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = f.stack;
    f.context.uc_stack.ss_size = kStackBytes;
    f.context.uc_link = nullptr;
    makecontext(&f.context, fiber_entry, 0);
#endif
}

/* Arrives at `barrier`; the last participant opens it and wakes the others.
 * Returns true for the thread that opened it. */
bool arrive(Block *block, Barrier &barrier) {
    if (++barrier.arrived < barrier.participants) {
        park(block, &barrier);
        return false;
    }
    barrier.arrived = 0;
    for (int w : barrier.waiters) {
        block->fibers[(size_t)w].status = FiberStatus::Runnable;
        block->fibers[(size_t)w].waiting_block = false;
        block->runnable.push_back(w);
    }
    barrier.waiters.clear();
    return true;
}

void report_deadlock(const Block &block) {
    int at_block = 0, at_warp = 0, finished = 0;
    unsigned long long first_block = ~0ull, first_warp = ~0ull;
    for (size_t i = 0; i < block.fibers.size(); i++) {
        const Fiber &f = block.fibers[i];
        if (f.status == FiberStatus::Done) {
            finished++;
        } else if (f.waiting_block) {
            at_block++;
            if (first_block == ~0ull) first_block = i;
        } else {
            at_warp++;
            if (first_warp == ~0ull) first_warp = i;
        }
    }
    block_violation(block,
                    "deadlock: %d thread(s) wait at __syncthreads (first: thread %lld), %d at a warp collective "
                    "(first: thread %lld) and %d have finished: a barrier in divergent code, or a warp collective "
                    "whose mask names a lane that never reaches it",
                    at_block, (long long)(first_block == ~0ull ? -1 : (long long)first_block), at_warp,
                    (long long)(first_warp == ~0ull ? -1 : (long long)first_warp), finished);
}

void run_block(Block &block, dim3 grid, dim3 block_dim, uint3 block_idx, uint64_t launch_seed) {
    const int n = block.n_threads;
    const int n_warps = (n + kWarpSize - 1) / kWarpSize;
    block.index = block_idx;
    block.fibers.assign((size_t)n, Fiber());
    block.warps.assign((size_t)n_warps, Warp());
    for (int w = 0; w < n_warps; w++) {
        const int lanes = n - w * kWarpSize < kWarpSize ? n - w * kWarpSize : kWarpSize;
        block.warps[(size_t)w].lanes = lanes == kWarpSize ? kFullMask : (1u << lanes) - 1u;
    }
    block.exchange.assign((size_t)n_warps * kWarpSize * kExchangeBytes, 0);
    block.block_barrier = Barrier();
    block.block_barrier.participants = n;
    block.launch_seed = launch_seed;
    block.rng = Rng{mix(launch_seed, ((uint64_t)block_idx.z << 42) ^ ((uint64_t)block_idx.y << 21) ^ block_idx.x)};
    block.async_copies.assign((size_t)n, std::vector<AsyncCopy>());
    block.async_next_group.assign((size_t)n, 0);
    block.runnable.clear();
    for (int i = 0; i < n; i++) {
        Fiber &f = block.fibers[(size_t)i];
        ThreadState &s = f.state;
        s.thread_idx.x = (unsigned)i % block_dim.x;
        s.thread_idx.y = ((unsigned)i / block_dim.x) % block_dim.y;
        s.thread_idx.z = (unsigned)i / (block_dim.x * block_dim.y);
        s.block_idx = block_idx;
        s.block_dim = block_dim;
        s.grid_dim = grid;
        s.linear_id = i;
        s.lane = i % kWarpSize;
        s.warp = i / kWarpSize;
        s.block = &block;
        f.stack = t_stacks.get((size_t)i);
        prepare_fiber(f);
        block.runnable.push_back(i);
    }
    memory_begin_block(block);
    int alive = n;
    while (!block.runnable.empty()) {
        const unsigned pick = block.rng.below((unsigned)block.runnable.size());
        const int index = block.runnable[pick];
        block.runnable[pick] = block.runnable.back();
        block.runnable.pop_back();
        switch_to_fiber(&block, index);
        if (block.fibers[(size_t)index].status == FiberStatus::Done) alive--;
    }
    if (alive > 0) report_deadlock(block);
    memory_end_block(block);
    for (Fiber &f : block.fibers) t_snapshots.release(f.view);
}

Block *running_block() { return current()->block; }

} // namespace

void park(Block *block, Barrier *barrier) {
    Fiber &f = block->fibers[(size_t)block->running];
    if (barrier != nullptr) {
        f.status = FiberStatus::Waiting;
        barrier->waiters.push_back(block->running);
    } else {
        block->runnable.push_back(block->running);
    }
    yield_to_scheduler(block, false);
}

ThreadState *current() {
    if (!t_current) {
        std::fprintf(stderr, "cuda_emu: device code called outside an emulated launch\n");
        std::abort();
    }
    return t_current;
}

void sync_block() {
    Block *block = running_block();
    block->fibers[(size_t)block->running].waiting_block = true;
    if (arrive(block, block->block_barrier)) {
        block->fibers[(size_t)block->running].waiting_block = false;
        block->interval = memory_next_interval(); /* a new barrier interval for every thread of the block */
        park(block, nullptr); /* let the woken threads race the opener */
    }
}

unsigned warp_lane_mask() {
    ThreadState *s = current();
    return s->block->warps[(size_t)s->warp].lanes;
}

int warp_lanes() { return __builtin_popcount(warp_lane_mask()); }

namespace {

/* The collective of `mask` in the caller's warp: joins it (creating it for the
 * first lane), checks the mask, and returns it; nullptr after a violation
 * (the caller then goes on without synchronising). Lanes that do not exist
 * (a partial last warp) are dropped from the mask, as exited threads. */
WarpCollective *join_collective(ThreadState *s, unsigned mask, uintptr_t pc) {
    Warp &warp = s->block->warps[(size_t)s->warp];
    const unsigned effective = mask & warp.lanes;
    if (((effective >> s->lane) & 1u) == 0) {
        violation(pc, "lane %d of warp %d calls a warp collective (__shfl*_sync, __ballot_sync, __syncwarp, mma, "
                      "ldmatrix) with mask 0x%08x, which does not include the lane",
                  s->lane, s->warp, mask);
        return nullptr;
    }
    for (WarpCollective &c : warp.pending) {
        if (c.mask == effective) return &c;
        if (c.mask & effective) {
            violation(pc, "lanes of warp %d join warp collectives with different masks 0x%08x and 0x%08x: the "
                          "lanes a mask names must all use that mask",
                      s->warp, c.mask, effective);
            return nullptr;
        }
    }
    warp.pending.emplace_back();
    WarpCollective &c = warp.pending.back();
    c.mask = effective;
    c.barrier.participants = __builtin_popcount(effective);
    return &c;
}

/* Opens collective `c` of the caller's warp: the warp's epoch advances and
 * the collective leaves the pending list. */
void close_collective(ThreadState *s, WarpCollective &c) {
    Warp &warp = s->block->warps[(size_t)s->warp];
    warp.epoch++;
    for (size_t i = 0; i < warp.pending.size(); i++) {
        if (&warp.pending[i] == &c) {
            warp.pending.erase(warp.pending.begin() + (long)i);
            break;
        }
    }
}

} // namespace

void sync_warp(unsigned mask) {
    ThreadState *s = current();
    Block *block = s->block;
    WarpCollective *c = join_collective(s, mask, LLMBED_EMU_CALLER_PC);
    if (c != nullptr && arrive(block, c->barrier)) {
        close_collective(s, *c);
        park(block, nullptr);
    }
}

const unsigned char *warp_exchange(unsigned mask, const void *mine, size_t bytes) {
    ThreadState *s = current();
    Block *block = s->block;
    if (bytes > kExchangeBytes) {
        std::fprintf(stderr, "cuda_emu: warp exchange of %zu bytes exceeds %zu\n", bytes, kExchangeBytes);
        std::abort();
    }
    Fiber &me = block->fibers[(size_t)block->running];
    t_snapshots.release(me.view);
    me.view = nullptr;
    unsigned char *staging = block->exchange.data() + (size_t)s->warp * kWarpSize * kExchangeBytes;
    std::memcpy(staging + (size_t)s->lane * kExchangeBytes, mine, bytes);
    WarpCollective *joined = join_collective(s, mask, LLMBED_EMU_CALLER_PC);
    if (joined == nullptr) {
        static thread_local unsigned char poison[kWarpSize * kExchangeBytes];
        std::memset(poison, 0xff, sizeof poison);
        return poison;
    }
    WarpCollective &c = *joined;
    const unsigned lanes = c.mask;
    if (arrive(block, c.barrier)) {
        /* The opener snapshots every participant's slot and hands it to each. */
        ExchangeSnapshot *snapshot = t_snapshots.get();
        std::memcpy(snapshot->slots, staging, sizeof snapshot->slots);
        snapshot->refs = __builtin_popcount(lanes);
        const int first = s->warp * kWarpSize;
        for (int lane = 0; lane < kWarpSize; lane++)
            if ((lanes >> lane) & 1u) block->fibers[(size_t)(first + lane)].view = snapshot;
        close_collective(s, c);
        park(block, nullptr);
    }
    return me.view->slots;
}

const unsigned char *warp_exchange(const void *mine, size_t bytes) { return warp_exchange(kFullMask, mine, bytes); }

uint64_t seed() {
    uint64_t s = g_seed.load(std::memory_order_relaxed);
    if (s == 0) {
        const char *env = std::getenv("LLMBED_EMU_SEED");
        s = env != nullptr && std::strtoull(env, nullptr, 10) > 0 ? std::strtoull(env, nullptr, 10) : 1;
        g_seed.store(s, std::memory_order_relaxed);
    }
    return s;
}

/* Every block of an accepted launch, blocks in parallel on the OpenMP pool. */
void run_grid(const LaunchSite &site, dim3 grid, dim3 block_dim, size_t dynamic_shared_bytes,
              const std::function<void()> &body);

void set_seed(uint64_t s) {
    g_seed.store(s > 0 ? s : 1, std::memory_order_relaxed);
    g_launches.store(0, std::memory_order_relaxed);
}

void launch(dim3 grid, dim3 block, const std::function<void()> &body) { launch(grid, block, 0, nullptr, body); }

void launch(dim3 grid, dim3 block, size_t shared_bytes, const llmbed_launch_cost *cost,
            const std::function<void()> &body) {
    launch_at(LaunchSite{cost != nullptr ? cost->op : "?", nullptr, 0, nullptr}, grid, block, shared_bytes, cost, body);
}

void launch_at(const LaunchSite &site, dim3 grid, dim3 block_dim, size_t dynamic_shared_bytes,
               const llmbed_launch_cost *cost, const std::function<void()> &body) {
    if (!llmbed_emu_log_kernel(cost, grid.x, grid.y, grid.z, (int)(block_dim.x * block_dim.y * block_dim.z),
                               dynamic_shared_bytes))
        return; /* a dry run: recorded, not run */
    uint64_t threads = (uint64_t)block_dim.x * block_dim.y * block_dim.z;
    uint64_t blocks = (uint64_t)grid.x * grid.y * grid.z;
    if (threads == 0 || threads > 1024 || block_dim.z > 64 || blocks == 0 || grid.y > 65535 || grid.z > 65535) {
        t_last_error = cudaErrorInvalidConfiguration;
        return;
    }
    /* a captured launch owns copies of the site and the body (whose lambda owns copies of the arguments) */
    if (llmbed_emu_capture([=]() { run_grid(site, grid, block_dim, dynamic_shared_bytes, body); })) return;
    run_grid(site, grid, block_dim, dynamic_shared_bytes, body);
}

void run_grid(const LaunchSite &site, dim3 grid, dim3 block_dim, size_t dynamic_shared_bytes,
              const std::function<void()> &body) {
    const uint64_t threads = (uint64_t)block_dim.x * block_dim.y * block_dim.z;
    const uint64_t blocks = (uint64_t)grid.x * grid.y * grid.z;
    const uint64_t launch_seed = mix(seed(), g_launches.fetch_add(1, std::memory_order_relaxed));
#pragma omp parallel
    {
        Block block;
        block.body = &body;
        block.site = &site;
        block.n_threads = (int)threads;
        block.dynamic_shared_bytes = dynamic_shared_bytes;
#pragma omp for schedule(dynamic)
        for (int64_t b = 0; b < (int64_t)blocks; b++) {
            uint3 idx;
            idx.x = (unsigned)(b % grid.x);
            idx.y = (unsigned)((b / grid.x) % grid.y);
            idx.z = (unsigned)(b / ((int64_t)grid.x * grid.y));
            run_block(block, grid, block_dim, idx, launch_seed);
        }
    }
}

unsigned char *dynamic_shared_memory() {
    (void)current();
    return memory_dynamic_shared();
}

} // namespace emu

cudaError_t cudaGetLastError(void) {
    cudaError_t e = emu::t_last_error;
    emu::t_last_error = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError(void) { return emu::t_last_error; }

