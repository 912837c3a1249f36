// Test helpers for suites that drive files and the built `llmbed` binary:
//
//   std::string dir = scratch("cli", "usage");       // fresh /tmp/llmbed-test-cli-usage-<pid>
//   write_file(dir + "/in.jsonl", "...");            // REQUIRE()s that the file opens
//   Result r = run({"embed", ...}, dir);             // waits; r.status, r.out, r.err
//   pid_t pid = spawn({"embed", ...}, dir);          // no wait: for kill/SIGINT tests
//   kill(pid, SIGKILL);  int status = finish(pid);
//
// The child's stdout and stderr go to dir/stdout.txt and dir/stderr.txt, its
// stdin is /dev/null unless a file is given. Exit status is reported as the
// exit code, or 128 + signal number like a shell.
//
// Lives in llmbed_test::cli, not llmbed_test: tiny_model_writer.hpp already has
// a llmbed_test::write_file that throws instead of REQUIRE()ing, and two inline
// functions with one name and different bodies would break the ODR.
#pragma once

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#ifndef LLMBED_BINARY_DIR
#error "LLMBED_BINARY_DIR must name the build folder that holds the llmbed binary"
#endif

extern "C" char **environ;

namespace llmbed_test {
namespace cli {

inline const std::string kBinary = LLMBED_BINARY_DIR "/llmbed";

// The whole file, or "" when it cannot be opened.
inline std::string slurp(const std::string &path) {
    std::string s;
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f) return s;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    std::fclose(f);
    return s;
}

inline void write_file(const std::string &path, const std::string &content) {
    FILE *f = std::fopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    std::fwrite(content.data(), 1, content.size(), f);
    std::fclose(f);
}

inline bool exists(const std::string &path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
}

// An empty /tmp/llmbed-test-<suite>-<name>-<pid>; the pid keeps parallel ctest runs apart.
inline std::string scratch(const std::string &suite, const std::string &name) {
    std::string dir = "/tmp/llmbed-test-" + suite + "-" + name + "-" + std::to_string(getpid());
    std::string cmd = "rm -rf '" + dir + "' && mkdir -p '" + dir + "'";
    REQUIRE(std::system(cmd.c_str()) == 0);
    return dir;
}

// Starts `llmbed args...` and returns its pid without waiting.
inline pid_t spawn(const std::vector<std::string> &args, const std::string &dir, const std::string &stdin_path = "") {
    std::vector<std::string> all = {kBinary};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char *> argv;
    for (auto &a : all) argv.push_back(const_cast<char *>(a.c_str()));
    argv.push_back(nullptr);
    std::string out_path = dir + "/stdout.txt", err_path = dir + "/stderr.txt";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, stdin_path.empty() ? "/dev/null" : stdin_path.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, kBinary.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
    return pid;
}

// Waits for pid: exit code (or 128 + signal) and, if asked, the child's peak
// RSS in bytes (Linux reports ru_maxrss in KiB).
inline int finish(pid_t pid, int64_t *peak_rss = nullptr) {
    int status = 0;
    struct rusage usage;
    wait4(pid, &status, 0, &usage);
    if (peak_rss != nullptr) *peak_rss = (int64_t)usage.ru_maxrss * 1024;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct Result {
    int status = -1;  // exit code, or 128 + signal
    std::string out, err;
};

// stderr without the informational "llmbed: note: " lines (e.g. --device auto
// running on the CPU), which may precede the one error line of a failure.
inline std::string without_notes(const std::string &err) {
    std::string kept;
    size_t begin = 0;
    while (begin < err.size()) {
        size_t end = err.find('\n', begin);
        end = end == std::string::npos ? err.size() : end + 1;
        if (err.compare(begin, 14, "llmbed: note: ") != 0) kept.append(err, begin, end - begin);
        begin = end;
    }
    return kept;
}

// Runs `llmbed args...` to completion and reads back what it printed.
inline Result run(const std::vector<std::string> &args, const std::string &dir, const std::string &stdin_path = "",
                     int64_t *peak_rss = nullptr) {
    Result r;
    r.status = finish(spawn(args, dir, stdin_path), peak_rss);
    r.out = slurp(dir + "/stdout.txt");
    r.err = slurp(dir + "/stderr.txt");
    return r;
}

}  // namespace cli
}  // namespace llmbed_test
