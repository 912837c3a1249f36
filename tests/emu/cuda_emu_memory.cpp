/* Shared-memory checks of the emulator: poison, races, cp.async in flight,
 * alignment, and the voluntary switches that interleave a block's threads
 * between barriers.
 *
 * How accesses are seen: the kernel files are compiled with
 * -fsanitize=thread (tests/emu/CMakeLists.txt), which makes the compiler
 * call __tsan_read4(address) etc. before every memory access; this file
 * defines those functions itself (no ThreadSanitizer runtime is linked), the
 * approach of the Linux kernel's KCSAN. An access counts as shared memory
 * when it falls in the host thread's copy of the executable's static TLS
 * block (where `__shared__` = `static thread_local` variables live; kernel
 * files have no other thread-local data) or in the block's dynamic shared
 * memory. Each shared byte has a shadow state per host thread:
 *   - the block that first touched it: a read of a byte the block has not
 *     written first gets 0xFF written under it (lazy poisoning: the same as
 *     poisoning all of shared memory at block start, without knowing where
 *     the variables are);
 *   - the last writer and up to two readers of the current barrier interval
 *     (with their warp's epoch, so a __syncwarp orders lanes of one warp);
 *   - whether a cp.async that has not been waited for targets it.
 * Typed accesses (__tsan_readN, not the _unaligned_ or _range forms that
 * memcpy produces) must be aligned to N, shared or global. */
#include "cuda_emu_internal.h"

#include <link.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace emu {

namespace {

struct ByteState {
    uint32_t block_serial;   /* block that first touched the byte; else it is untouched in this block */
    uint32_t write_interval; /* barrier interval of the last write */
    uint32_t read_interval;  /* barrier interval of the recorded reads */
    uint32_t write_epoch;    /* the writer's warp epoch at the write */
    uint32_t read_epoch[2];
    uintptr_t write_pc, read_pc;
    uint16_t writer;
    uint16_t reader[2];    /* the last two distinct readers */
    int16_t write_warp;
    int16_t read_warp[2];
    uint8_t readers;       /* distinct readers recorded (3: more than two) */
    uint8_t async_pending; /* a cp.async not yet waited for will write it */
};

/* One range of shared memory with its shadow. */
struct Region {
    uintptr_t lo = 0;
    size_t span = 0;
    std::vector<ByteState> shadow;
    ByteState *find(uintptr_t a, size_t n) {
        return a - lo < span && a + n - lo <= span ? &shadow[a - lo] : nullptr;
    }
};

struct HostThreadShared {
    bool initialised = false;
    Region tls;     /* static __shared__ variables */
    Region dynamic; /* extern __shared__ */
    std::vector<unsigned char> dynamic_storage;
    uint32_t block_serial = 0;
    uint32_t interval = 0;
};

thread_local HostThreadShared t_shared;

/* The executable's static TLS block in the calling thread. */
int find_tls(struct dl_phdr_info *info, size_t, void *out) {
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type != PT_TLS) continue;
        Region *r = static_cast<Region *>(out);
        r->lo = (uintptr_t)info->dlpi_tls_data;
        r->span = info->dlpi_tls_data != nullptr ? (size_t)info->dlpi_phdr[i].p_memsz : 0;
    }
    return 1; /* the first object is the executable */
}

HostThreadShared &host_shared() {
    HostThreadShared &h = t_shared;
    if (!h.initialised) {
        dl_iterate_phdr(find_tls, &h.tls);
        h.tls.shadow.assign(h.tls.span, ByteState());
        h.initialised = true;
    }
    return h;
}

/* Region holding [a, a + n), or nullptr when it is not shared memory. */
Region *shared_region(HostThreadShared &h, uintptr_t a, size_t n) {
    if (h.tls.find(a, n)) return &h.tls;
    if (h.dynamic.find(a, n)) return &h.dynamic;
    return nullptr;
}

const char *describe(HostThreadShared &h, uintptr_t a, char *buffer, size_t capacity) {
    if (h.tls.find(a, 1)) {
        std::string name = shared_symbol(a - h.tls.lo);
        snprintf(buffer, capacity, "shared address %p (%s)", (void *)a,
                 name.empty() ? "static __shared__" : name.c_str());
    } else if (h.dynamic.find(a, 1)) {
        snprintf(buffer, capacity, "shared address %p (dynamic shared memory + %zu)", (void *)a,
                 (size_t)(a - h.dynamic.lo));
    } else {
        snprintf(buffer, capacity, "address %p", (void *)a);
    }
    return buffer;
}

/* Accesses by `other` (warp, epoch at its access) and by the running thread
 * are ordered within one barrier interval only through a warp collective
 * both lanes passed: same warp, and the warp's epoch has moved on since. */
bool ordered_in_warp(int other_warp, uint32_t other_epoch, int warp, uint32_t epoch) {
    return other_warp == warp && other_epoch < epoch;
}

void report_race(HostThreadShared &h, ThreadState *s, uintptr_t a, const char *mine, uintptr_t pc, int other,
                 const char *theirs, uintptr_t other_pc) {
    char where[256];
    const std::string other_site = symbolize(other_pc);
    violation(pc,
              "shared-memory race on %s: thread %d %s it and thread %d %s it in the same barrier interval (no "
              "__syncthreads or warp collective orders them; the other access: %s)",
              describe(h, a, where, sizeof where), s->linear_id, mine, other, theirs,
              other_site.empty() ? "unknown" : other_site.c_str());
}

void check_and_record(HostThreadShared &h, Region &r, ThreadState *s, uintptr_t a, size_t n, bool write,
                      uintptr_t pc) {
    Block *b = s->block;
    const uint16_t me = (uint16_t)s->linear_id;
    const int warp = s->warp;
    const uint32_t epoch = b->warps[(size_t)warp].epoch;
    const uint32_t interval = b->interval;
    ByteState *bytes = &r.shadow[a - r.lo];
    unsigned char *memory = reinterpret_cast<unsigned char *>(a);
    bool reported = false;
    for (size_t i = 0; i < n; i++) {
        ByteState &x = bytes[i];
        if (x.block_serial != h.block_serial) {
            x = ByteState();
            x.block_serial = h.block_serial;
            if (!write) memory[i] = 0xff; /* never written by this block: poison */
        }
        if (x.async_pending) {
            char where[256];
            violation(pc, "thread %d %s %s while a cp.async still writes it: the cp.async.wait_group / wait_all "
                          "that covers the copy comes later or is missing",
                      s->linear_id, write ? "writes" : "reads", describe(h, a + i, where, sizeof where));
            x.async_pending = 0;
        }
        /* One report per access: the first conflicting byte. */
        if (!reported && x.write_interval == interval && x.writer != me &&
            !ordered_in_warp(x.write_warp, x.write_epoch, warp, epoch)) {
            report_race(h, s, a + i, write ? "writes" : "reads", pc, x.writer, "wrote", x.write_pc);
            reported = true;
        }
        if (write) {
            if (!reported && x.read_interval == interval) {
                for (int k = 0; k < (x.readers < 2 ? x.readers : 2); k++) {
                    if (x.reader[k] != me && !ordered_in_warp(x.read_warp[k], x.read_epoch[k], warp, epoch)) {
                        report_race(h, s, a + i, "writes", pc, x.reader[k], "read", x.read_pc);
                        reported = true;
                        break;
                    }
                }
            }
            x.write_interval = interval;
            x.writer = me;
            x.write_warp = (int16_t)warp;
            x.write_epoch = epoch;
            x.write_pc = pc;
        } else if (x.read_interval != interval) {
            x.read_interval = interval;
            x.readers = 1;
            x.reader[0] = me;
            x.read_warp[0] = (int16_t)warp;
            x.read_epoch[0] = epoch;
            x.read_pc = pc;
        } else if (x.reader[0] == me) {
            x.read_epoch[0] = epoch;
        } else {
            /* Keep the two most recent distinct readers: the newest is slot 0. */
            x.reader[1] = x.reader[0];
            x.read_warp[1] = x.read_warp[0];
            x.read_epoch[1] = x.read_epoch[0];
            x.reader[0] = me;
            x.read_warp[0] = (int16_t)warp;
            x.read_epoch[0] = epoch;
            x.read_pc = pc;
            if (x.readers < 3) x.readers++;
        }
    }
}

/* Every instrumented access of kernel code lands here. */
inline void on_access(const void *p, size_t n, bool write, bool typed, uintptr_t pc) {
    ThreadState *s = current_or_null();
    if (s == nullptr) return; /* host code of a kernel file (launchers) */
    const uintptr_t a = (uintptr_t)p;
    if (typed && n > 1 && (a & (n - 1)) != 0) {
        HostThreadShared &h = host_shared();
        char where[256];
        violation(pc, "misaligned %zu-byte %s of %s (address %% %zu = %zu): a GPU faults on it", n,
                  write ? "store" : "load", describe(h, a, where, sizeof where), n, (size_t)(a & (n - 1)));
    }
    HostThreadShared &h = t_shared;
    Region *r = shared_region(h, a, n);
    if (r == nullptr) return;
    /* Interleave: another thread of the block may run before this access
     * (one access in 16: enough to reorder every barrier interval of a
     * kernel's loop, cheap enough for CI). */
    Block *b = s->block;
    if ((b->rng.next() & 15) == 0) {
        park(b, nullptr);
        s = current_or_null();
    }
    check_and_record(h, *r, s, a, n, write, pc);
}

inline void on_range(const void *p, size_t n, bool write, uintptr_t pc) {
    if (n > 0) on_access(p, n, write, false, pc);
}

} // namespace

void memory_begin_block(Block &block) {
    HostThreadShared &h = host_shared();
    h.block_serial++;
    block.interval = ++h.interval;
    if (block.dynamic_shared_bytes > h.dynamic_storage.size()) {
        h.dynamic_storage.assign(block.dynamic_shared_bytes, 0);
        h.dynamic.shadow.assign(block.dynamic_shared_bytes, ByteState());
        h.dynamic.lo = (uintptr_t)h.dynamic_storage.data();
    }
    h.dynamic.span = block.dynamic_shared_bytes;
}

void memory_end_block(Block &) {}

uint32_t memory_next_interval() { return ++host_shared().interval; }

unsigned char *memory_dynamic_shared() { return host_shared().dynamic_storage.data(); }

bool memory_is_shared(const void *address, size_t bytes) {
    return shared_region(host_shared(), (uintptr_t)address, bytes) != nullptr;
}

void memory_note_write(const void *address, size_t bytes, uintptr_t pc) {
    HostThreadShared &h = host_shared();
    Region *r = shared_region(h, (uintptr_t)address, bytes);
    ThreadState *s = current_or_null();
    if (r != nullptr && s != nullptr) check_and_record(h, *r, s, (uintptr_t)address, bytes, true, pc);
}

void memory_async_issue(void *dst, size_t bytes) {
    HostThreadShared &h = host_shared();
    Region *r = shared_region(h, (uintptr_t)dst, bytes);
    if (r == nullptr) return;
    ByteState *x = r->find((uintptr_t)dst, bytes);
    for (size_t i = 0; i < bytes; i++) {
        if (x[i].block_serial != h.block_serial) {
            x[i] = ByteState();
            x[i].block_serial = h.block_serial;
        }
        x[i].async_pending = 1;
    }
    std::memset(dst, 0xff, bytes); /* what a read before the wait would see */
}

void memory_async_land(void *dst, const void *data, size_t bytes, uintptr_t pc) {
    HostThreadShared &h = host_shared();
    Region *r = shared_region(h, (uintptr_t)dst, bytes);
    if (r != nullptr) {
        ByteState *x = r->find((uintptr_t)dst, bytes);
        for (size_t i = 0; i < bytes; i++) x[i].async_pending = 0;
        memory_note_write(dst, bytes, pc);
    }
    std::memcpy(dst, data, bytes);
}

/* ------------------------------------------------------------- cp.async */

void cp_async(void *shared_dst, const void *global_src, size_t bytes, bool valid) {
    ThreadState *s = current();
    const uintptr_t pc = LLMBED_EMU_CALLER_PC;
    HostThreadShared &h = host_shared();
    char where[256];
    if (bytes != 4 && bytes != 8 && bytes != 16)
        violation(pc, "cp.async of %zu bytes: the copy size must be 4, 8 or 16", bytes);
    if (!memory_is_shared(shared_dst, bytes))
        violation(pc, "cp.async destination %s is not shared memory", describe(h, (uintptr_t)shared_dst, where,
                                                                                 sizeof where));
    if ((uintptr_t)shared_dst % bytes != 0)
        violation(pc, "cp.async destination %s is not %zu-byte aligned",
                  describe(h, (uintptr_t)shared_dst, where, sizeof where), bytes);
    if (valid && (uintptr_t)global_src % bytes != 0)
        violation(pc, "cp.async source %p is not %zu-byte aligned", global_src, bytes);
    if (valid && memory_is_shared(global_src, bytes))
        violation(pc, "cp.async source %s is shared memory, not global",
                  describe(h, (uintptr_t)global_src, where, sizeof where));
    Block *b = s->block;
    AsyncCopy copy;
    copy.dst = static_cast<unsigned char *>(shared_dst);
    copy.bytes = (unsigned)std::min<size_t>(bytes, sizeof copy.data);
    copy.group = -1;
    copy.pc = pc;
    if (valid)
        std::memcpy(copy.data, global_src, copy.bytes);
    else
        std::memset(copy.data, 0, copy.bytes);
    memory_async_issue(shared_dst, copy.bytes);
    b->async_copies[(size_t)s->linear_id].push_back(copy);
}

void cp_async_commit() {
    ThreadState *s = current();
    Block *b = s->block;
    int &next = b->async_next_group[(size_t)s->linear_id];
    for (AsyncCopy &c : b->async_copies[(size_t)s->linear_id])
        if (c.group < 0) c.group = next;
    next++;
}

void cp_async_wait(int pending) {
    ThreadState *s = current();
    Block *b = s->block;
    std::vector<AsyncCopy> &copies = b->async_copies[(size_t)s->linear_id];
    const int next = b->async_next_group[(size_t)s->linear_id];
    std::vector<AsyncCopy> still;
    for (AsyncCopy &c : copies) {
        const bool lands = pending < 0 || (c.group >= 0 && c.group < next - pending);
        if (lands)
            memory_async_land(c.dst, c.data, c.bytes, c.pc);
        else
            still.push_back(c);
    }
    copies.swap(still);
}

void ldmatrix_row(const void *row) {
    const uintptr_t pc = LLMBED_EMU_CALLER_PC;
    HostThreadShared &h = host_shared();
    char where[256];
    if (!memory_is_shared(row, 16))
        violation(pc, "ldmatrix row address %s is not shared memory", describe(h, (uintptr_t)row, where,
                                                                                 sizeof where));
    else if ((uintptr_t)row % 16 != 0)
        violation(pc, "ldmatrix row address %s is not 16-byte aligned",
                  describe(h, (uintptr_t)row, where, sizeof where));
}

bool checks_enabled() {
#if defined(LLMBED_EMU_CHECKS)
    return true;
#else
    return false;
#endif
}

} // namespace emu

/* ------------------------------------------------ instrumentation entry */

/* Only where the kernels are instrumented: a sanitizer build (ASan) declares
 * these names as compiler built-ins of its own. */
#if defined(LLMBED_EMU_CHECKS)
extern "C" {

void __tsan_init(void) {}
void __tsan_func_entry(void *) {}
void __tsan_func_exit(void) {}
void __tsan_vptr_update(void **, void *) {}
void __tsan_vptr_read(void **) {}

#define LLMBED_EMU_ACCESS(n)                                                                         \
    void __tsan_read##n(void *p) { emu::on_access(p, n, false, true, LLMBED_EMU_CALLER_PC); }              \
    void __tsan_write##n(void *p) { emu::on_access(p, n, true, true, LLMBED_EMU_CALLER_PC); }              \
    void __tsan_unaligned_read##n(const void *p) { emu::on_access(p, n, false, false, LLMBED_EMU_CALLER_PC); } \
    void __tsan_unaligned_write##n(void *p) { emu::on_access(p, n, true, false, LLMBED_EMU_CALLER_PC); }   \
    void __tsan_volatile_read##n(void *p) { emu::on_access(p, n, false, true, LLMBED_EMU_CALLER_PC); }     \
    void __tsan_volatile_write##n(void *p) { emu::on_access(p, n, true, true, LLMBED_EMU_CALLER_PC); }
LLMBED_EMU_ACCESS(1)
LLMBED_EMU_ACCESS(2)
LLMBED_EMU_ACCESS(4)
LLMBED_EMU_ACCESS(8)
LLMBED_EMU_ACCESS(16)
#undef LLMBED_EMU_ACCESS

void __tsan_read_range(void *p, unsigned long n) { emu::on_range(p, n, false, LLMBED_EMU_CALLER_PC); }
void __tsan_write_range(void *p, unsigned long n) { emu::on_range(p, n, true, LLMBED_EMU_CALLER_PC); }

/* Atomics run as atomics and are left out of the race detector ("outside
 * atomics"); the memory orders of device code are relaxed. */
#define LLMBED_EMU_ATOMICS(bits, type)                                                                          \
    type __tsan_atomic##bits##_load(const volatile type *a, int) { return __atomic_load_n(a, __ATOMIC_SEQ_CST); } \
    void __tsan_atomic##bits##_store(volatile type *a, type v, int) { __atomic_store_n(a, v, __ATOMIC_SEQ_CST); } \
    type __tsan_atomic##bits##_exchange(volatile type *a, type v, int) {                                          \
        return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST);                                                     \
    }                                                                                                             \
    type __tsan_atomic##bits##_fetch_add(volatile type *a, type v, int) {                                         \
        return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST);                                                      \
    }                                                                                                             \
    type __tsan_atomic##bits##_fetch_sub(volatile type *a, type v, int) {                                         \
        return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST);                                                      \
    }                                                                                                             \
    type __tsan_atomic##bits##_fetch_and(volatile type *a, type v, int) {                                         \
        return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST);                                                      \
    }                                                                                                             \
    type __tsan_atomic##bits##_fetch_or(volatile type *a, type v, int) {                                          \
        return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST);                                                       \
    }                                                                                                             \
    type __tsan_atomic##bits##_fetch_xor(volatile type *a, type v, int) {                                         \
        return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST);                                                      \
    }                                                                                                             \
    int __tsan_atomic##bits##_compare_exchange_strong(volatile type *a, type *expected, type v, int, int) {      \
        return __atomic_compare_exchange_n(a, expected, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);          \
    }                                                                                                             \
    int __tsan_atomic##bits##_compare_exchange_weak(volatile type *a, type *expected, type v, int, int) {        \
        return __atomic_compare_exchange_n(a, expected, v, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);           \
    }                                                                                                             \
    type __tsan_atomic##bits##_compare_exchange_val(volatile type *a, type expected, type v, int, int) {         \
        __atomic_compare_exchange_n(a, &expected, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                \
        return expected;                                                                                          \
    }
LLMBED_EMU_ATOMICS(8, uint8_t)
LLMBED_EMU_ATOMICS(16, uint16_t)
LLMBED_EMU_ATOMICS(32, uint32_t)
LLMBED_EMU_ATOMICS(64, uint64_t)
#undef LLMBED_EMU_ATOMICS

void __tsan_atomic_thread_fence(int) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
void __tsan_atomic_signal_fence(int) {}

} // extern "C"
#endif
