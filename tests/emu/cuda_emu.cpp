/* Fiber scheduler behind cuda_emu.h: one block = blockDim fibers on one host
 * thread. On x86-64 fibers switch with a 12-instruction stack swap (callee-
 * saved registers, MXCSR and the x87 control word), because glibc's
 * swapcontext makes a sigprocmask system call on every switch and the
 * emulated warps switch at every shuffle; elsewhere swapcontext is used. A fiber runs until it waits at a
 * barrier or finishes; the scheduler resumes fibers round-robin, and a
 * barrier opens when its last participant arrives. A full round in which no
 * barrier opens and no fiber finishes is a deadlock (a __syncthreads inside
 * divergent code): the emulator reports it and aborts, as a hang would be
 * worse in CI. */
#include "cuda_emu.h"
#include "launch_log.h"

#include <sys/mman.h>
#include <ucontext.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define LLMBED_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LLMBED_EMU_ASAN 1
#endif
#endif

#ifdef LLMBED_EMU_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace emu {

namespace {

/* Deep enough for kernels' register arrays under ASan's redzones. */
constexpr size_t kStackBytes = 256 * 1024;

struct Barrier {
    int arrived = 0;
    unsigned generation = 0;
};

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

struct Fiber {
#ifdef LLMBED_EMU_FAST_SWITCH
    void *sp = nullptr;
#else
    ucontext_t context;
#endif
    ThreadState state;
    unsigned char *stack = nullptr;
    bool done = false;
};

thread_local cudaError_t t_last_error = cudaSuccess;
thread_local ThreadState *t_current = nullptr;

} // namespace

struct Block {
    std::vector<Fiber> fibers;
#ifdef LLMBED_EMU_FAST_SWITCH
    void *scheduler_sp = nullptr;
#else
    ucontext_t scheduler;
#endif
    const std::function<void()> *body = nullptr;
    int n_threads = 0;
    Barrier block_barrier;
    std::vector<Barrier> warp_barriers;
    /* [warp][parity][lane][kExchangeBytes] */
    std::vector<unsigned char> exchange;
    unsigned progress = 0; /* barriers opened + fibers finished */
    std::vector<unsigned char> dynamic_shared; /* 16 spare bytes for the alignment */
    size_t dynamic_shared_bytes = 0;
    Fiber *running = nullptr;
#ifdef LLMBED_EMU_ASAN
    void *scheduler_fake_stack = nullptr;
    const void *scheduler_stack_bottom = nullptr;
    size_t scheduler_stack_size = 0;
#endif
};

namespace {

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

void switch_to_fiber(Block *block, Fiber *fiber) {
    block->running = fiber;
    t_current = &fiber->state;
#ifdef LLMBED_EMU_ASAN
    __sanitizer_start_switch_fiber(&block->scheduler_fake_stack, fiber->stack, kStackBytes);
#endif
#ifdef LLMBED_EMU_FAST_SWITCH
    llmbed_emu_switch(&block->scheduler_sp, fiber->sp);
#else
    swapcontext(&block->scheduler, &fiber->context);
#endif
#ifdef LLMBED_EMU_ASAN
    __sanitizer_finish_switch_fiber(block->scheduler_fake_stack, nullptr, nullptr);
#endif
    t_current = nullptr;
    block->running = nullptr;
}

/* Called on a fiber: back to the scheduler; returns when resumed. */
void yield_to_scheduler(Block *block, bool finishing) {
    Fiber *fiber = block->running;
    (void)finishing; /* only ASan needs to know that this stack is being left for good */
#ifdef LLMBED_EMU_ASAN
    void *fake_stack = nullptr;
    __sanitizer_start_switch_fiber(finishing ? nullptr : &fake_stack, block->scheduler_stack_bottom,
                                   block->scheduler_stack_size);
#endif
#ifdef LLMBED_EMU_FAST_SWITCH
    llmbed_emu_switch(&fiber->sp, block->scheduler_sp);
#else
    swapcontext(&fiber->context, &block->scheduler);
#endif
#ifdef LLMBED_EMU_ASAN
    __sanitizer_finish_switch_fiber(fake_stack, &block->scheduler_stack_bottom, &block->scheduler_stack_size);
#endif
}

void fiber_entry() {
    Block *block = t_current->block;
#ifdef LLMBED_EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &block->scheduler_stack_bottom, &block->scheduler_stack_size);
#endif
    (*block->body)();
    block->running->done = true;
    block->progress++;
    yield_to_scheduler(block, true);
}

/* A new fiber starts in fiber_entry, which never returns. */
void prepare_fiber(Fiber &f) {
#ifdef LLMBED_EMU_FAST_SWITCH
    /* The frame llmbed_emu_switch pops: csr word, r15..rbp, return address,
     * plus one slot standing for fiber_entry's own return address so the
     * stack is aligned as after a call. */
    uintptr_t top = ((uintptr_t)(f.stack + kStackBytes)) & ~(uintptr_t)15;
    uint64_t *sp = reinterpret_cast<uint64_t *>(top);
    *--sp = 0;                                       /* fiber_entry's return address: never used */
    *--sp = (uint64_t)(uintptr_t)&fiber_entry;       /* popped by ret */
    for (int r = 0; r < 6; r++) *--sp = 0;           /* rbp rbx r12 r13 r14 r15 */
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

void wait_at(Block *block, Barrier &barrier, int participants) {
    unsigned generation = barrier.generation;
    if (++barrier.arrived == participants) {
        barrier.arrived = 0;
        barrier.generation++;
        block->progress++;
        return;
    }
    while (barrier.generation == generation) yield_to_scheduler(block, false);
}

void run_block(Block &block, dim3 grid, dim3 block_dim, uint3 block_idx) {
    int n = block.n_threads;
    int n_warps = (n + kWarpSize - 1) / kWarpSize;
    block.fibers.assign(n, Fiber());
    block.warp_barriers.assign(n_warps, Barrier());
    block.exchange.assign((size_t)n_warps * 2 * kWarpSize * kExchangeBytes, 0);
    block.block_barrier = Barrier();
    block.progress = 0;
    block.dynamic_shared.assign(block.dynamic_shared_bytes + 16, 0xFF);
    for (int i = 0; i < n; i++) {
        Fiber &f = block.fibers[i];
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
        s.exchange_parity = 0;
        s.block = &block;
        f.stack = t_stacks.get((size_t)i);
        prepare_fiber(f);
    }
    int alive = n;
    while (alive > 0) {
        unsigned before = block.progress;
        alive = 0;
        for (Fiber &f : block.fibers) {
            if (f.done) continue;
            switch_to_fiber(&block, &f);
            if (!f.done) alive++;
        }
        if (alive > 0 && block.progress == before) {
            std::fprintf(stderr,
                         "cuda_emu: deadlock in block (%u,%u,%u): threads wait at barriers that can never "
                         "open (__syncthreads or a warp collective in divergent code)\n",
                         block_idx.x, block_idx.y, block_idx.z);
            std::abort();
        }
    }
}

} // namespace

ThreadState *current() {
    if (!t_current) {
        std::fprintf(stderr, "cuda_emu: device code called outside an emulated launch\n");
        std::abort();
    }
    return t_current;
}

void sync_block() {
    Block *block = current()->block;
    wait_at(block, block->block_barrier, block->n_threads);
}

int warp_lanes() {
    ThreadState *s = current();
    int first = s->warp * kWarpSize;
    int remaining = s->block->n_threads - first;
    return remaining < kWarpSize ? remaining : kWarpSize;
}

void sync_warp() {
    ThreadState *s = current();
    wait_at(s->block, s->block->warp_barriers[(size_t)s->warp], warp_lanes());
}

const unsigned char *warp_exchange(const void *mine, size_t bytes) {
    ThreadState *s = current();
    if (bytes > kExchangeBytes) {
        std::fprintf(stderr, "cuda_emu: warp exchange of %zu bytes exceeds %zu\n", bytes, kExchangeBytes);
        std::abort();
    }
    unsigned char *buffer =
        s->block->exchange.data() + ((size_t)s->warp * 2 + s->exchange_parity) * kWarpSize * kExchangeBytes;
    s->exchange_parity ^= 1u;
    std::memcpy(buffer + (size_t)s->lane * kExchangeBytes, mine, bytes);
    sync_warp();
    return buffer;
}

unsigned char *dynamic_shared_memory() {
    std::vector<unsigned char> &buffer = current()->block->dynamic_shared;
    uintptr_t at = (uintptr_t)buffer.data();
    return buffer.data() + ((16 - at % 16) % 16);
}

void launch(dim3 grid, dim3 block_dim, const std::function<void()> &body) {
    launch(grid, block_dim, 0, nullptr, body);
}

void launch(dim3 grid, dim3 block_dim, size_t shared_bytes, const llmbed_launch_cost *cost,
            const std::function<void()> &body) {
    if (!llmbed_emu_log_kernel(cost, grid.x, grid.y, grid.z, (int)(block_dim.x * block_dim.y * block_dim.z),
                               shared_bytes))
        return; /* a dry run: recorded, not run */
    uint64_t threads = (uint64_t)block_dim.x * block_dim.y * block_dim.z;
    uint64_t blocks = (uint64_t)grid.x * grid.y * grid.z;
    if (threads == 0 || threads > 1024 || block_dim.z > 64 || blocks == 0 || grid.y > 65535 || grid.z > 65535) {
        t_last_error = cudaErrorInvalidConfiguration;
        return;
    }
#pragma omp parallel
    {
        Block block;
        block.body = &body;
        block.n_threads = (int)threads;
        block.dynamic_shared_bytes = shared_bytes;
#pragma omp for schedule(dynamic)
        for (int64_t b = 0; b < (int64_t)blocks; b++) {
            uint3 idx;
            idx.x = (unsigned)(b % grid.x);
            idx.y = (unsigned)((b / grid.x) % grid.y);
            idx.z = (unsigned)(b / ((int64_t)grid.x * grid.y));
            run_block(block, grid, block_dim, idx);
        }
    }
}

} // namespace emu

cudaError_t cudaGetLastError(void) {
    cudaError_t e = emu::t_last_error;
    emu::t_last_error = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError(void) { return emu::t_last_error; }
