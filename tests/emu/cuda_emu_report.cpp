/* Violations found by the emulator: one report naming the kernel (as the
 * launch wrote it), its launch site, the block, the thread, the source line
 * of the offending access and the seed that reproduces the interleaving;
 * then the test process aborts, as a GPU fault ends a CUDA program, unless
 * an ExpectViolations guard collects the report (the emulator's own tests).
 * Source lines and shared-variable names come from addr2line and readelf of
 * the test executable, run only when a report is written. */
#include "cuda_emu_internal.h"

#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

namespace emu {

namespace {

std::mutex g_reports_mutex;
std::vector<std::string> g_reports;
std::atomic<int> g_expecting{0};
/* A guard keeps the first reports only: a broken kernel repeats its fault in every thread. */
constexpr size_t kKeptReports = 8;

/* Symbol lookups run tools; their answers are kept for the process. */
std::mutex g_symbols_mutex;
std::map<uintptr_t, std::string> g_lines;
struct TlsSymbol {
    uint64_t offset, size;
    std::string name;
};
std::vector<TlsSymbol> g_tls_symbols;
bool g_tls_symbols_read = false;

/* The lines of a command's output. */
std::vector<std::string> run_lines(const std::string &command) {
    std::vector<std::string> lines;
    FILE *p = popen(command.c_str(), "r");
    if (p == nullptr) return lines;
    char line[4096];
    while (std::fgets(line, sizeof line, p) != nullptr) {
        std::string text = line;
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
        lines.push_back(text);
    }
    pclose(p);
    return lines;
}

/* /build/tests/emu/../../kernels/x.cu:17 -> /src/kernels/x.cu:17 ("" for addr2line's "??"). */
std::string resolved_line(const std::string &answer) {
    if (answer.rfind("??", 0) == 0) return "";
    const size_t colon = answer.rfind(':');
    char resolved[4096];
    if (colon != std::string::npos && realpath(answer.substr(0, colon).c_str(), resolved) != nullptr)
        return resolved + answer.substr(colon);
    return answer;
}

/* Emulator and wrapper headers inline into the kernel: the line to show is
 * the kernel's own, outside them. */
bool in_wrapper(const std::string &line) {
    return line.find("/tests/emu/cuda_emu") != std::string::npos ||
           line.find("/kernels/common/") != std::string::npos;
}

/* The test executable's path (a child process's /proc/self/exe is itself). */
std::string executable() {
    char path[4096];
    const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) return "";
    path[n] = '\0';
    return path;
}

/* The object file holding `pc` and the offset addr2line expects. */
bool locate(uintptr_t pc, std::string *file, uintptr_t *offset) {
    Dl_info info;
    struct link_map *map = nullptr;
    if (dladdr1(reinterpret_cast<void *>(pc), &info, reinterpret_cast<void **>(&map), RTLD_DL_LINKMAP) == 0 ||
        map == nullptr)
        return false;
    *file = map->l_name[0] != '\0' ? map->l_name : executable();
    *offset = pc - (uintptr_t)map->l_addr;
    return true;
}

bool keeping_reports() {
    std::lock_guard<std::mutex> lock(g_reports_mutex);
    return g_reports.size() < kKeptReports;
}

void report(const std::string &text) {
    if (g_expecting.load() > 0) {
        std::lock_guard<std::mutex> lock(g_reports_mutex);
        if (g_reports.size() < kKeptReports) g_reports.push_back(text);
        return;
    }
    std::fprintf(stderr, "%s\n", text.c_str());
    std::fflush(stderr);
    std::abort();
}

/* What addr2line says of a code address: with `function` the function's
 * name, else "file:line" of the innermost inlined frame and, when that is
 * in the emulator or the PTX wrappers, " (in file:line)" of the kernel code
 * around it; "" when unknown. */
std::string addr2line(uintptr_t pc, bool function) {
    std::string file;
    uintptr_t offset = 0;
    if (pc == 0 || !locate(pc, &file, &offset)) return "";
    const uintptr_t key = pc * 2 + (function ? 1 : 0);
    std::lock_guard<std::mutex> lock(g_symbols_mutex);
    auto it = g_lines.find(key);
    if (it != g_lines.end()) return it->second;
    char command[1200];
    snprintf(command, sizeof command, "addr2line %s -e '%s' 0x%" PRIxPTR " 2>/dev/null", function ? "-C -f" : "-i",
             file.c_str(), offset);
    const std::vector<std::string> lines = run_lines(command);
    std::string answer = lines.empty() ? "" : function ? lines[0] : resolved_line(lines[0]);
    if (!function && in_wrapper(answer)) {
        for (size_t i = 1; i < lines.size(); i++) {
            const std::string outer = resolved_line(lines[i]);
            if (!outer.empty() && !in_wrapper(outer)) {
                answer += " (in " + outer + ")";
                break;
            }
        }
    }
    return g_lines[key] = answer;
}

std::string header(const Block &block) {
    char text[2048];
    const LaunchSite *site = block.site;
    const std::string function = site != nullptr ? addr2line((uintptr_t)site->function, true) : "";
    char where[512] = "";
    if (site != nullptr && site->file != nullptr) snprintf(where, sizeof where, " launched at %s:%d", site->file, site->line);
    snprintf(text, sizeof text, "kernel `%s`%s%s%s%s, block (%u,%u,%u), seed %" PRIu64 " (LLMBED_EMU_SEED)",
             site != nullptr ? site->kernel : "?", function.empty() ? "" : " (", function.c_str(),
             function.empty() ? "" : ")", where, block.index.x, block.index.y, block.index.z, seed());
    return text;
}

} // namespace


std::string symbolize(uintptr_t pc) { return addr2line(pc, false); }

std::string shared_symbol(uintptr_t tls_offset) {
    std::lock_guard<std::mutex> lock(g_symbols_mutex);
    if (!g_tls_symbols_read) {
        g_tls_symbols_read = true;
        /* readelf -sW: "Num: Value Size Type Bind Vis Ndx Name"; a TLS symbol's value is its offset in the segment. */
        FILE *p = popen(("readelf -sW -C '" + executable() + "' 2>/dev/null").c_str(), "r");
        char line[4096];
        while (p != nullptr && std::fgets(line, sizeof line, p) != nullptr) {
            unsigned long long value = 0, size = 0;
            char type[16], name[3000];
            if (std::sscanf(line, " %*[0-9]: %llx %llu %15s %*s %*s %*s %2999[^\n]", &value, &size, type, name) == 4 &&
                std::string(type) == "TLS")
                g_tls_symbols.push_back({value, size, name});
        }
        if (p != nullptr) pclose(p);
    }
    for (const TlsSymbol &s : g_tls_symbols)
        if (tls_offset >= s.offset && tls_offset < s.offset + s.size)
            return s.name + " + " + std::to_string(tls_offset - s.offset);
    return "";
}

void violation(uintptr_t pc, const char *fmt, ...) {
    if (g_expecting.load() > 0 && !keeping_reports()) return;
    char message[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    ThreadState *s = current_or_null();
    std::string text = std::string("cuda_emu: ") + message;
    if (s != nullptr) {
        char who[96];
        snprintf(who, sizeof who, ", thread %d (warp %d, lane %d)", s->linear_id, s->warp, s->lane);
        text += "\n  " + header(*s->block) + who;
    }
    const std::string where = symbolize(pc);
    if (!where.empty()) text += "\n  at " + where;
    report(text);
}

void block_violation(const Block &block, const char *fmt, ...) {
    char message[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    report(std::string("cuda_emu: ") + message + "\n  " + header(block));
}

ExpectViolations::ExpectViolations() {
    std::lock_guard<std::mutex> lock(g_reports_mutex);
    g_reports.clear();
    g_expecting++;
}

ExpectViolations::~ExpectViolations() {
    std::lock_guard<std::mutex> lock(g_reports_mutex);
    g_reports.clear();
    g_expecting--;
}

std::vector<std::string> ExpectViolations::reports() const {
    std::lock_guard<std::mutex> lock(g_reports_mutex);
    return g_reports;
}

} // namespace emu
