// Issue 15 items 1 and 2: what `--output` does to an existing path that is
// not a plain regular file (io/atomic_file.h has the rules). The node, the
// link or the input must still be there, untouched, after the run.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "support/cli_process.hpp"

using namespace llmbed_test::cli;

namespace {

const std::string kModel = LLMBED_TEST_DATA_DIR "/models/llama-tiny";  // hidden 48
const size_t kNpyBytes = 128 + 2 * 48 * 4;                             // 2 float32 rows

std::vector<std::string> embed(const std::string &dir, const std::string &input, const std::string &output,
                               std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"embed", "--model", kModel, "--input", input, "--output", output,
                                     "--threads", "1", "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    (void)dir;
    return args;
}

mode_t lmode(const std::string &path) {
    struct stat st;
    REQUIRE(lstat(path.c_str(), &st) == 0);
    return st.st_mode;
}

std::string link_target(const std::string &path) {
    char buf[4096];
    ssize_t n = readlink(path.c_str(), buf, sizeof buf - 1);
    REQUIRE(n >= 0);
    return std::string(buf, (size_t)n);
}

const std::string kInput = "{\"input_ids\": [5, 6, 7]}\n{\"input_ids\": [9, 1]}\n";

}  // namespace

TEST_CASE("output: a FIFO is written through, never replaced", "[cli][output]") {
    std::string dir = scratch("out", "fifo");
    write_file(dir + "/in.jsonl", kInput);
    REQUIRE(mkfifo((dir + "/fifo").c_str(), 0644) == 0);
    // The read end is opened first (non-blocking), so the writer's open
    // succeeds at once and a build that replaces the FIFO cannot hang the test;
    // the 2-row file fits in the pipe buffer.
    int fd = open((dir + "/fifo").c_str(), O_RDONLY | O_NONBLOCK);
    REQUIRE(fd >= 0);
    Result r = run(embed(dir, dir + "/in.jsonl", dir + "/fifo", {"--format", "npy"}), dir);
    std::string received;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) received.append(buf, (size_t)n);
    close(fd);
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(S_ISFIFO(lmode(dir + "/fifo")));
    CHECK(received.size() == kNpyBytes);
    CHECK(received.compare(0, 6, "\x93NUMPY") == 0);
    CHECK_FALSE(exists(dir + "/fifo.part"));
}

TEST_CASE("output: a device node is written through, never replaced", "[cli][output]") {
    std::string dir = scratch("out", "device");
    write_file(dir + "/in.jsonl", kInput);
    // Our own copy of /dev/null (major 1, minor 3): as root, mknod works and
    // the system's /dev/null is never at risk, even on a build with the bug.
    if (mknod((dir + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) {
        WARN("mknod not permitted here; device case skipped");
        return;
    }
    Result r = run(embed(dir, dir + "/in.jsonl", dir + "/null", {"--format", "npy"}), dir);
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(S_ISCHR(lmode(dir + "/null")));
    // tokenize --output follows the same rules.
    r = run({"tokenize", "--model", kModel, "--input", dir + "/in.jsonl", "--output", dir + "/null"}, dir);
    CHECK(r.status == 0);
    CHECK(S_ISCHR(lmode(dir + "/null")));
}

TEST_CASE("output: symlinks are resolved, the link itself is never replaced", "[cli][output]") {
    std::string dir = scratch("out", "symlink");
    write_file(dir + "/in.jsonl", kInput);
    // A link to a regular file: the target gets the rows, the link stays.
    write_file(dir + "/target.npy", "old");
    REQUIRE(symlink("target.npy", (dir + "/link.npy").c_str()) == 0);
    Result r = run(embed(dir, dir + "/in.jsonl", dir + "/link.npy"), dir);
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(S_ISLNK(lmode(dir + "/link.npy")));
    CHECK(link_target(dir + "/link.npy") == "target.npy");
    CHECK(slurp(dir + "/target.npy").size() == kNpyBytes);
    CHECK_FALSE(exists(dir + "/link.npy.part"));
    CHECK_FALSE(exists(dir + "/target.npy.part"));
    // A link to /proc/self/fd/1 (the process's stdout): written through.
    REQUIRE(symlink("/proc/self/fd/1", (dir + "/stdout.npy").c_str()) == 0);
    r = run(embed(dir, dir + "/in.jsonl", dir + "/stdout.npy"), dir);
    CHECK(r.status == 0);
    CHECK(S_ISLNK(lmode(dir + "/stdout.npy")));
    CHECK(r.out.size() == kNpyBytes);
    // A dangling link is refused and left alone.
    REQUIRE(symlink("nowhere/missing.npy", (dir + "/dangling.npy").c_str()) == 0);
    r = run(embed(dir, dir + "/in.jsonl", dir + "/dangling.npy"), dir);
    CHECK(r.status == 21);
    CHECK(r.err.find("dangling.npy: is a symlink to a missing file") != std::string::npos);
    CHECK(S_ISLNK(lmode(dir + "/dangling.npy")));
    // tokenize --output through a link.
    r = run({"tokenize", "--model", kModel, "--input", dir + "/in.jsonl", "--output", dir + "/link.npy"}, dir);
    CHECK(r.status == 0);
    CHECK(S_ISLNK(lmode(dir + "/link.npy")));
    CHECK(slurp(dir + "/target.npy") == "{\"input_ids\":[5,6,7]}\n{\"input_ids\":[9,1]}\n");
}

TEST_CASE("output: '-' writes to stdout, and an existing file keeps its permission bits", "[cli][output]") {
    std::string dir = scratch("out", "stdout");
    write_file(dir + "/in.jsonl", kInput);
    Result r = run(embed(dir, dir + "/in.jsonl", "-", {"--format", "jsonl"}), dir);
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(r.out.rfind("{\"id\":0,\"embedding\":[", 0) == 0);
    CHECK(r.err.find("wrote - [2 x 48 float32]") != std::string::npos);
    write_file(dir + "/private.npy", "old");
    REQUIRE(chmod((dir + "/private.npy").c_str(), 0600) == 0);
    REQUIRE(run(embed(dir, dir + "/in.jsonl", dir + "/private.npy"), dir).status == 0);
    CHECK((lmode(dir + "/private.npy") & 0777) == 0600);
    // Shards need a folder to live in.
    r = run(embed(dir, dir + "/in.jsonl", "-", {"--format", "npy", "--shard-rows", "1"}), dir);
    CHECK(r.status == 1);
    CHECK(r.err.find("--shard-rows writes <stem>.shard-NNNNN files") != std::string::npos);
}

TEST_CASE("output: the input file is never the output (same device and inode)", "[cli][output]") {
    std::string dir = scratch("out", "same");
    write_file(dir + "/in.jsonl", kInput);
    REQUIRE(symlink("in.jsonl", (dir + "/alias.jsonl").c_str()) == 0);
    REQUIRE(link((dir + "/in.jsonl").c_str(), (dir + "/hard.jsonl").c_str()) == 0);
    for (const std::string &out : {dir + "/in.jsonl", dir + "/alias.jsonl", dir + "/hard.jsonl"}) {
        INFO(out);
        Result r = run(embed(dir, dir + "/in.jsonl", out, {"--format", "jsonl"}), dir);
        CHECK(r.status == 21);
        CHECK(r.err.find("is the input file: refusing to overwrite the input") != std::string::npos);
        CHECK(slurp(dir + "/in.jsonl") == kInput);
        r = run({"tokenize", "--model", kModel, "--input", dir + "/in.jsonl", "--output", out}, dir);
        CHECK(r.status == 21);
        CHECK(slurp(dir + "/in.jsonl") == kInput);
    }
    // stdin redirected from the file that is also the output.
    Result r = run(embed(dir, "-", dir + "/in.jsonl", {"--format", "jsonl"}), dir, dir + "/in.jsonl");
    CHECK(r.status == 21);
    CHECK(slurp(dir + "/in.jsonl") == kInput);
    CHECK_FALSE(exists(dir + "/in.jsonl.part"));
}
