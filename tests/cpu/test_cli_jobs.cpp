// Long-running `llmbed embed` jobs as a user sees them: sharded output and
// manifest, SIGKILL at random points then --resume (row-for-row equal to an
// uninterrupted run), Ctrl-C, a resume with changed options, and bounded
// memory on a 100k-line streamed input.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <random>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vector>

#include "support/cli_process.hpp"

using namespace llmbed_test::cli;

namespace {

const std::string kModel = LLMBED_TEST_DATA_DIR "/models/llama-tiny";

std::vector<float> read_npy_rows(const std::string &path, int64_t *rows) {
    std::string bytes = slurp(path);
    *rows = -1;
    if (bytes.size() < 128) return {};
    size_t header = 10 + ((unsigned char)bytes[8] | ((unsigned char)bytes[9] << 8));
    long long r = 0, c = 0;
    size_t at = bytes.find("'shape': (");
    if (at == std::string::npos || std::sscanf(bytes.c_str() + at, "'shape': (%lld, %lld)", &r, &c) != 2) return {};
    *rows = r;
    std::vector<float> v((size_t)(r * c));
    if (bytes.size() != header + v.size() * 4) return {};
    std::memcpy(v.data(), bytes.data() + header, v.size() * 4);
    return v;
}

// Shard files named in the manifest, in order (parsed with plain string search).
std::vector<float> read_shard_set(const std::string &dir, const std::string &stem, int64_t *rows, bool *complete) {
    std::string manifest = slurp(dir + "/" + stem + ".manifest.json");
    std::vector<float> all;
    *rows = 0;
    size_t at = 0;
    while ((at = manifest.find("\"file\":", at)) != std::string::npos) {
        size_t q1 = manifest.find('"', at + 7), q2 = manifest.find('"', q1 + 1);
        int64_t r;
        std::vector<float> part = read_npy_rows(dir + "/" + manifest.substr(q1 + 1, q2 - q1 - 1), &r);
        REQUIRE(r >= 0);
        all.insert(all.end(), part.begin(), part.end());
        *rows += r;
        at = q2;
    }
    *complete = manifest.find("\"complete\":\ttrue") != std::string::npos;
    return all;
}

std::string ids_corpus(int n, unsigned seed, int max_len, const std::string &pad = "") {
    std::mt19937 rng(seed);
    std::string s;
    for (int i = 0; i < n; i++) {
        s += "{\"input_ids\": [";
        int len = 1 + (int)(rng() % max_len);
        for (int k = 0; k < len; k++) s += (k ? "," : "") + std::to_string(rng() % 211);
        s += "]" + pad + "}\n";
    }
    return s;
}

// A row does not depend on its batch (host/cpu/gemm_kernels.h): a resumed
// job, packed differently, gives the uninterrupted run's rows bit for bit.
constexpr float kRowTolerance = 0.0f;

float max_diff(const std::vector<float> &a, const std::vector<float> &b) {
    if (a.size() != b.size()) return INFINITY;
    float worst = 0;
    for (size_t i = 0; i < a.size(); i++) worst = std::max(worst, std::fabs(a[i] - b[i]));
    return worst;
}

std::vector<std::string> embed_args(const std::string &dir, const std::string &out, std::vector<std::string> extra) {
    std::vector<std::string> args = {"embed", "--model", kModel, "--input", dir + "/in.jsonl", "--output", dir + "/" + out,
                                     "--threads", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

}  // namespace

TEST_CASE("cli jobs: SIGKILL at random points, --resume, output equals an uninterrupted run", "[cli]") {
    std::string dir = scratch("clijob", "kill");
    write_file(dir + "/in.jsonl", ids_corpus(3000, 5, 12));
    const std::vector<std::string> job = {"--shard-rows", "50", "--window-lines", "64", "--batch-tokens", "96",
                                          "--quiet"};
    // The uninterrupted run's wall time scales the kill delays to this machine.
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    REQUIRE(run(embed_args(dir, "timing.npy", job), dir).status == 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    REQUIRE(run(embed_args(dir, "ref.npy", {"--quiet"}), dir).status == 0);
    int64_t ref_rows;
    std::vector<float> ref = read_npy_rows(dir + "/ref.npy", &ref_rows);
    REQUIRE(ref_rows == 3000);

    std::mt19937 rng(17);
    int kills = 0, attempts = 0;
    int64_t rows = 0;
    bool complete = false;
    std::vector<int64_t> committed;
    for (; attempts < 30 && !complete; attempts++) {
        std::vector<std::string> resume = job;
        resume.push_back("--resume");
        pid_t pid = spawn(embed_args(dir, "out.npy", resume), dir);
        double fraction = 0.02 + 0.15 * (double)(rng() % 1000) / 1000.0;
        long ns = (long)(fraction * seconds * 1e9);
        struct timespec delay = {ns / 1000000000L, ns % 1000000000L};
        nanosleep(&delay, nullptr);
        kill(pid, SIGKILL);
        int status = finish(pid);
        if (status == 128 + SIGKILL) {
            kills++;
        } else {
            REQUIRE(status == 0);
        }
        // After every kill the manifest describes whole shards that agree with the reference.
        std::vector<float> got = read_shard_set(dir, "out", &rows, &complete);
        REQUIRE(got.size() == (size_t)rows * 48);
        CHECK(max_diff(got, std::vector<float>(ref.begin(), ref.begin() + got.size())) <= kRowTolerance);
        committed.push_back(rows);
    }
    CHECK(kills >= 3);
    WARN("SIGKILLed " << kills << " of " << attempts << " runs of a " << seconds << " s job");
    std::vector<std::string> resume = job;
    resume.push_back("--resume");
    if (!complete) REQUIRE(run(embed_args(dir, "out.npy", resume), dir).status == 0);
    std::vector<float> got = read_shard_set(dir, "out", &rows, &complete);
    CHECK(complete);
    CHECK(rows == 3000);
    CHECK(max_diff(got, ref) <= kRowTolerance);
    WARN("resumed shard set vs uninterrupted run: max |diff| " << max_diff(got, ref));
    CHECK(std::is_sorted(committed.begin(), committed.end()));  // committed work is never lost
    // The resumed run said so and skipped the committed rows.
    REQUIRE(run(embed_args(dir, "out.npy", {"--shard-rows", "50", "--resume"}), dir).status == 0);
    CHECK(slurp(dir + "/stderr.txt").find("already complete (3000 rows in 60 shards)") != std::string::npos);
    // Changed options are refused.
    REQUIRE(run(embed_args(dir, "out.npy", {"--shard-rows", "50", "--resume", "--pooling", "mean"}), dir).status == 33);
    std::string err = slurp(dir + "/stderr.txt");
    CHECK(err.find("\"pooling\" was \"last\" when the job started but is \"mean\" now") != std::string::npos);
}

TEST_CASE("cli jobs: Ctrl-C stops cleanly, committed shards stay valid, --resume completes", "[cli]") {
    std::string dir = scratch("clijob", "sigint");
    write_file(dir + "/in.jsonl", ids_corpus(20000, 6, 8));
    int status = 0;
    const std::string first_shard = dir + "/out.shard-00000.npy";
    for (int attempt = 0; attempt < 5; attempt++) {
        std::remove(first_shard.c_str());
        pid_t pid = spawn(embed_args(dir, "out.npy", {"--shard-rows", "100", "--window-lines", "256"}), dir);
        /* SIGINT once the first shard is committed: the job is past start-up (its handlers are
         * installed) however loaded the machine is, and 199 shards are still to come. */
        struct stat shard;
        for (int waited_ms = 0; waited_ms < 120000 && stat(first_shard.c_str(), &shard) != 0; waited_ms += 5) {
            struct timespec poll = {0, 5 * 1000000L};
            nanosleep(&poll, nullptr);
        }
        kill(pid, SIGINT);
        status = finish(pid);
        if (status == 31) break;
    }
    REQUIRE(status == 31);
    std::string err = slurp(dir + "/stderr.txt");
    CHECK(err.find("llmbed: error: interrupted: ") != std::string::npos);
    CHECK(err.find("(continue with --resume)") != std::string::npos);
    int64_t rows;
    bool complete;
    std::vector<float> partial = read_shard_set(dir, "out", &rows, &complete);
    CHECK_FALSE(complete);
    CHECK(partial.size() == (size_t)rows * 48);
    struct stat st;
    CHECK(stat((dir + "/out.manifest.json.part").c_str(), &st) != 0);
    REQUIRE(run(embed_args(dir, "out.npy", {"--shard-rows", "100", "--resume", "--quiet"}), dir).status == 0);
    std::vector<float> all = read_shard_set(dir, "out", &rows, &complete);
    CHECK(complete);
    CHECK(rows == 20000);
    REQUIRE(run(embed_args(dir, "ref.npy", {"--quiet"}), dir).status == 0);
    int64_t ref_rows;
    std::vector<float> ref = read_npy_rows(dir + "/ref.npy", &ref_rows);
    CHECK(max_diff(all, ref) <= kRowTolerance);
    // An input that changed since the job started is refused.
    FILE *f = std::fopen((dir + "/in.jsonl").c_str(), "ab");
    std::fputs("{\"input_ids\": [1]}\n", f);
    std::fclose(f);
    REQUIRE(run(embed_args(dir, "out.npy", {"--shard-rows", "100", "--resume", "--quiet"}), dir).status == 33);
    CHECK(slurp(dir + "/stderr.txt").find("\"input_bytes\" was") != std::string::npos);
    // Without shards an interrupted job leaves no file at all.
    pid_t pid = spawn(embed_args(dir, "single.npy", {}), dir);
    struct timespec delay = {0, 300 * 1000000L};
    nanosleep(&delay, nullptr);
    kill(pid, SIGINT);
    if (finish(pid) == 31) {
        CHECK(stat((dir + "/single.npy").c_str(), &st) != 0);
        CHECK(stat((dir + "/single.npy.part").c_str(), &st) != 0);
    }
}

TEST_CASE("cli jobs: a 100k-line input is streamed in bounded memory with progress and a summary", "[cli]") {
    std::string dir = scratch("clijob", "rss");
    // 250-byte lines: 25 MB of input that must never be resident at once.
    std::string pad = ",\"note\":\"" + std::string(200, 'x') + "\"";
    std::string big = ids_corpus(100000, 7, 3, pad);
    write_file(dir + "/in.jsonl", big.substr(0, big.find('\n', big.size() / 10) + 1));
    int64_t rss_small = 0, rss_big = 0;
    REQUIRE(run(embed_args(dir, "small.npy", {"--quiet"}), dir, "", &rss_small).status == 0);
    write_file(dir + "/in.jsonl", big);
    std::string().swap(big);
    setenv("LLMBED_PROGRESS_INTERVAL", "0.5", 1);
    REQUIRE(run(embed_args(dir, "big.npy", {}), dir, "", &rss_big).status == 0);
    unsetenv("LLMBED_PROGRESS_INTERVAL");
    std::string err = slurp(dir + "/stderr.txt");
    INFO(err);
    CHECK(err.find("llmbed: progress ") != std::string::npos);  // stderr is a file: plain lines
    CHECK(err.find("llmbed: summary: 100000 sequences") != std::string::npos);
    int64_t rows;
    read_npy_rows(dir + "/big.npy", &rows);
    CHECK(rows == 100000);
    WARN("peak RSS: 10k lines " << rss_small / 1024 << " KiB, 100k lines (25 MB input) " << rss_big / 1024 << " KiB");
#if defined(__SANITIZE_ADDRESS__)
    // ASan's quarantine keeps freed blocks resident: the bound holds only without it.
    WARN("AddressSanitizer build: peak RSS bound not checked");
#else
    // The bound is on what the job adds to the bare process: a binary with the
    // CUDA backend maps libcublasLt, ~200 MiB resident before any work.
    int64_t rss_bare = 0;
    REQUIRE(run({"--help"}, dir, "", &rss_bare).status == 0);
    WARN("peak RSS of `llmbed --help`: " << rss_bare / 1024 << " KiB");
    CHECK(rss_big - rss_bare < 96ll << 20);
    CHECK(rss_big - rss_small < 8ll << 20);  // input and output are streamed, not held
#endif
}
