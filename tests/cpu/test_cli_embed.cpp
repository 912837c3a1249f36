// `llmbed` as users run it: the built binary is spawned with arguments and
// its exit status, the one stderr line and the files it leaves are checked.
// Exit status = the llmbed_status of the failure; no partial output ever.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <random>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "cpu/blas_core.h"
#include "support/cli_process.hpp"

using namespace llmbed_test::cli;

namespace {

const std::string kModel = LLMBED_TEST_DATA_DIR "/models/llama-tiny";  // vocab 211, hidden 48, 3 layers

int count_lines(const std::string &s) {
    int n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

// float32 [rows, cols] from an .npy written by llmbed or numpy (v1 header).
std::vector<float> read_npy(const std::string &path, int64_t *rows, int64_t *cols) {
    std::string bytes = slurp(path);
    *rows = *cols = -1;
    if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) return {};
    size_t header = 10 + ((unsigned char)bytes[8] | ((unsigned char)bytes[9] << 8));
    std::string dict = bytes.substr(10, header - 10);
    if (dict.find("'<f4'") == std::string::npos) return {};
    long long r = 0, c = 0;
    size_t at = dict.find("'shape': (");
    if (at == std::string::npos || std::sscanf(dict.c_str() + at, "'shape': (%lld, %lld)", &r, &c) != 2) return {};
    *rows = r;
    *cols = c;
    std::vector<float> v((size_t)(r * c));
    if (bytes.size() != header + v.size() * 4) return {};
    std::memcpy(v.data(), bytes.data() + header, v.size() * 4);
    return v;
}

std::string ids_line(const std::vector<int> &ids) {
    std::string s = "{\"input_ids\": [";
    for (size_t i = 0; i < ids.size(); i++) s += (i ? ", " : "") + std::to_string(ids[i]);
    return s + "]}\n";
}

std::string random_ids_file(int n, unsigned seed, int max_len = 24) {
    std::mt19937 rng(seed);
    std::string s;
    for (int i = 0; i < n; i++) {
        std::vector<int> ids(1 + rng() % max_len);
        for (int &t : ids) t = (int)(rng() % 211);
        s += ids_line(ids);
    }
    return s;
}

void check_one_error_line(const Result &r, int status, const std::string &needle) {
    INFO("stderr: " << r.err);
    CHECK(r.status == status);
    const std::string err = without_notes(r.err);
    CHECK(count_lines(err) == 1);
    CHECK(err.rfind("llmbed: error: ", 0) == 0);
    CHECK(r.err.find(needle) != std::string::npos);
}

}  // namespace

TEST_CASE("cli: help, version and usage errors", "[cli]") {
    std::string dir = scratch("cli", "usage");
    Result r = run({"--help"}, dir);
    CHECK(r.status == 0);
    CHECK(r.out.find("embed") != std::string::npos);
    CHECK(r.out.find("Exit status") != std::string::npos);
    r = run({"--version"}, dir);
    CHECK(r.status == 0);
    CHECK(r.out.find("llmbed 0.1.0") == 0);
    for (const char *cmd : {"embed", "info", "tokenize", "bench"}) {
        r = run({cmd, "--help"}, dir);
        CHECK(r.status == 0);
        CHECK(r.out.find(std::string("llmbed ") + cmd) != std::string::npos);
    }
    r = run({"embed", "--help"}, dir);
    CHECK(r.out.find("a line starting with '{' is a JSON object") != std::string::npos);
    check_one_error_line(run({"frobnicate"}, dir), 1, "unknown command 'frobnicate'");
    check_one_error_line(run({"embed", "--model", kModel, "--output", dir + "/o.npy", "--bogus"}, dir), 1,
                         "unknown option '--bogus'");
    check_one_error_line(run({"embed", "--model", kModel, "--output", dir + "/o.npy", "--dims", "x"}, dir), 1,
                         "--dims: expected an integer");
    check_one_error_line(run({"embed", "--model", kModel}, dir), 1, "--output FILE are required");
    check_one_error_line(run({"embed", "--model", kModel, "--output", dir + "/o.bin"}, dir), 1, "cannot tell the output format");
    check_one_error_line(run({"embed", "--model", kModel, "--output", dir + "/o.npy", "--pooling", "max"}, dir), 1,
                         "--pooling 'max'");
    check_one_error_line(run({"embed", "--model", kModel, "--output", dir + "/o.npy", "--resume"}, dir), 1,
                         "--resume needs --shard-rows");
    check_one_error_line(run({"info", "--model", dir + "/no-such-model"}, dir), 3, "no-such-model");
}

TEST_CASE("cli: info prints the architecture and the defaults", "[cli]") {
    std::string dir = scratch("cli", "info");
    Result r = run({"info", "--model", kModel}, dir);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("architecture:       llama") != std::string::npos);
    CHECK(r.out.find("layers:             3") != std::string::npos);
    CHECK(r.out.find("hidden size:        48") != std::string::npos);
    CHECK(r.out.find("vocabulary:         211") != std::string::npos);
    CHECK(r.out.find("default pooling:") != std::string::npos);
}

TEST_CASE("cli: OpenBLAS runs the kernels of the CPU's instruction set, not its generic fallback", "[cli]") {
    // cpu/blas_core.h: an OpenBLAS that does not know this CPU model falls
    // back to "Prescott" (SSE3); the CLI restarts itself with OPENBLAS_CORETYPE.
    std::string dir = scratch("cli", "blas");
    Result r = run({"info", "--model", kModel}, dir);
    REQUIRE(r.status == 0);
    const std::string key = "cpu gemm kernels:   OpenBLAS ";
    size_t at = r.out.find(key);
    REQUIRE(at != std::string::npos);
    std::string core = r.out.substr(at + key.size(), r.out.find('\n', at) - at - key.size());
    INFO("OpenBLAS core in the CLI: " << core << "; in this test process: " << llmbed_blas_core_name());
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) CHECK(core != "Prescott");
#endif
    // The fix is needed exactly when this process (not restarted) got Prescott on such a CPU.
    const char *fix = llmbed_blas_core_fix();
    if (fix != nullptr) CHECK(core == fix);
    else CHECK(core == llmbed_blas_core_name());
}

TEST_CASE("cli: embed writes [N, D] float32 rows in input order, independent of batching", "[cli]") {
    std::string dir = scratch("cli", "embed");
    std::string input = random_ids_file(57, 1);
    write_file(dir + "/in.jsonl", input);
    Result r = run({"embed", "--model", kModel, "--input", dir + "/in.jsonl", "--output", dir + "/a.npy", "--threads",
                    "1", "--batch-tokens", "37"},
                   dir);
    REQUIRE(r.status == 0);
    CHECK(r.err.find("llmbed: summary: 57 sequences") != std::string::npos);
    CHECK(r.err.find("peak RSS") != std::string::npos);
    int64_t rows, cols;
    std::vector<float> a = read_npy(dir + "/a.npy", &rows, &cols);
    REQUIRE(rows == 57);
    REQUIRE(cols == 48);
    // stdin input, a large budget: the same rows.
    r = run({"embed", "--model", kModel, "--input", "-", "--output", dir + "/b.npy", "--threads", "1", "--quiet"}, dir,
            dir + "/in.jsonl");
    REQUIRE(r.status == 0);
    std::vector<float> b = read_npy(dir + "/b.npy", &rows, &cols);
    REQUIRE(b.size() == a.size());
    float worst = 0;
    for (size_t i = 0; i < a.size(); i++) worst = std::max(worst, std::fabs(a[i] - b[i]));
    CHECK(worst <= 1e-6f);
    // Each line alone gives its row of the batched run (rows 0, 13, 56).
    for (int line : {0, 13, 56}) {
        size_t start = 0;
        for (int k = 0; k < line; k++) start = input.find('\n', start) + 1;
        write_file(dir + "/one.jsonl", input.substr(start, input.find('\n', start) + 1 - start));
        r = run({"embed", "--model", kModel, "--input", dir + "/one.jsonl", "--output", dir + "/one.npy", "--threads",
                 "1", "--quiet"},
                dir);
        REQUIRE(r.status == 0);
        std::vector<float> one = read_npy(dir + "/one.npy", &rows, &cols);
        REQUIRE(rows == 1);
        float diff = 0;
        for (int d = 0; d < 48; d++) diff = std::max(diff, std::fabs(one[d] - a[(size_t)line * 48 + d]));
        CHECK(diff <= 1e-5f);
    }
}

TEST_CASE("cli: pooling options, --dims, --layer and output dtypes", "[cli]") {
    std::string dir = scratch("cli", "options");
    write_file(dir + "/in.jsonl", random_ids_file(9, 2));
    auto embed = [&](std::vector<std::string> extra, const std::string &out) {
        std::vector<std::string> args = {"embed", "--model", kModel, "--input", dir + "/in.jsonl", "--output",
                                         dir + "/" + out, "--threads", "1", "--quiet"};
        args.insert(args.end(), extra.begin(), extra.end());
        return run(args, dir);
    };
    int64_t rows, cols;
    REQUIRE(embed({"--pooling", "mean", "--no-normalize"}, "raw.npy").status == 0);
    std::vector<float> raw = read_npy(dir + "/raw.npy", &rows, &cols);
    REQUIRE(embed({"--pooling", "mean", "--normalize"}, "norm.npy").status == 0);
    std::vector<float> norm = read_npy(dir + "/norm.npy", &rows, &cols);
    REQUIRE(raw.size() == 9 * 48);
    REQUIRE(norm.size() == 9 * 48);
    for (int r = 0; r < 9; r++) {
        double n2 = 0;
        for (int d = 0; d < 48; d++) n2 += (double)raw[r * 48 + d] * raw[r * 48 + d];
        for (int d = 0; d < 48; d++) CHECK(norm[r * 48 + d] == Approx(raw[r * 48 + d] / std::sqrt(n2)).margin(1e-6));
    }
    REQUIRE(embed({"--pooling", "mean", "--dims", "16"}, "d16.npy").status == 0);
    std::vector<float> d16 = read_npy(dir + "/d16.npy", &rows, &cols);
    CHECK(cols == 16);
    REQUIRE(embed({"--pooling", "mean", "--layer", "1"}, "l1.npy").status == 0);
    std::vector<float> l1 = read_npy(dir + "/l1.npy", &rows, &cols);
    CHECK(l1 != norm);
    REQUIRE(embed({"--pooling", "mean", "--dtype", "float16", "--format", "npy"}, "h.npy").status == 0);
    std::string h = slurp(dir + "/h.npy");
    CHECK(h.find("'<f2'") != std::string::npos);
    CHECK(h.size() == 128 + 9 * 48 * 2);
    REQUIRE(embed({"--dtype", "int8"}, "q.npy").status == 0);
    CHECK(slurp(dir + "/q.npy").size() == 128 + 9 * 48);
    CHECK(slurp(dir + "/q.scales.npy").size() == 128 + 9 * 4);
    REQUIRE(embed({"--dtype", "ubinary"}, "b.safetensors").status == 0);
    CHECK(slurp(dir + "/b.safetensors").find("\"dtype\":\"U8\",\"shape\":[9,6]") != std::string::npos);
    REQUIRE(embed({}, "e.jsonl").status == 0);
    std::string jsonl = slurp(dir + "/e.jsonl");
    CHECK(count_lines(jsonl) == 9);
    CHECK(jsonl.rfind("{\"id\":0,\"embedding\":[", 0) == 0);
}

TEST_CASE("cli: every bad input exits with its own status, one stderr line and no output", "[cli]") {
    std::string dir = scratch("cli", "bad");
    std::string good = ids_line({5, 6, 7});
    struct Case {
        std::string content;
        std::vector<std::string> extra;
        int status;
        std::string needle;
    } cases[] = {
        {good + ids_line({1, 211}), {}, 18, "in.jsonl:2: input_ids[1] = 211 is outside the vocabulary [0, 211)"},
        {good + good + ids_line({}), {}, 19, "in.jsonl:3: empty sequence"},
        {good, {"--layer", "4"}, 20, "--layer 4: the model"},
        {good + "{\"input_ids\": [1, 2\n", {}, 29, "in.jsonl:2: malformed JSON"},
        {good + "{\"title\": \"x\"}\n", {}, 29, "in.jsonl:2: JSON object has neither \"input_ids\" nor the text field \"text\""},
        {good + "{\"body\": \"x\"}\n", {"--text-field", "content"}, 29, "field \"content\""},
        {good + ids_line(std::vector<int>(300, 3)), {}, 30, "in.jsonl:2: 300 tokens, more than --max-tokens 256"},
        {good + ids_line(std::vector<int>(9, 3)), {"--max-tokens", "8", "--no-truncate"}, 30, "in.jsonl:2: 9 tokens"},
    };
    for (const Case &c : cases) {
        INFO(c.needle);
        write_file(dir + "/in.jsonl", c.content);
        std::vector<std::string> args = {"embed", "--model", kModel, "--input", dir + "/in.jsonl", "--output",
                                         dir + "/out.npy", "--threads", "1", "--no-truncate"};
        args.insert(args.end(), c.extra.begin(), c.extra.end());
        check_one_error_line(run(args, dir), c.status, c.needle);
        CHECK_FALSE(exists(dir + "/out.npy"));
        CHECK_FALSE(exists(dir + "/out.npy.part"));
    }
    write_file(dir + "/in.jsonl", good);
    check_one_error_line(run({"embed", "--model", kModel, "--input", dir + "/missing.jsonl", "--output", dir + "/out.npy"}, dir),
                         3, "missing.jsonl: cannot open the input");
    check_one_error_line(run({"embed", "--model", kModel, "--input", dir, "--output", dir + "/out.npy"}, dir), 3,
                         "is a directory");
    check_one_error_line(run({"embed", "--model", kModel, "--input", dir + "/in.jsonl", "--output", "/dev/null/out.npy"}, dir),
                         21, "/dev/null/out.npy: cannot create the output file");
    check_one_error_line(run({"embed", "--model", kModel, "--input", dir + "/in.jsonl", "--output",
                              dir + "/no/such/dir/out.npy"},
                             dir),
                         21, "no/such/dir/out.npy");
    CHECK_FALSE(exists(dir + "/out.npy"));
}

TEST_CASE("cli: --skip-invalid continues and counts, --truncate counts cut inputs", "[cli]") {
    std::string dir = scratch("cli", "skip");
    std::string good = ids_line({5, 6, 7});
    write_file(dir + "/in.jsonl", good + "{broken\n" + ids_line({300}) + good + ids_line({}) + ids_line(std::vector<int>(20, 4)));
    Result r = run({"embed", "--model", kModel, "--input", dir + "/in.jsonl", "--output", dir + "/out.npy", "--threads",
                    "1", "--skip-invalid", "--max-tokens", "10"},
                   dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.err.find("warning: skipped " + dir + "/in.jsonl:2: malformed JSON") != std::string::npos);
    CHECK(r.err.find("in.jsonl:3: input_ids[0] = 300") != std::string::npos);
    CHECK(r.err.find("in.jsonl:5: empty sequence") != std::string::npos);
    CHECK(r.err.find("summary: 3 sequences, 16 tokens, 1 truncated, 3 skipped") != std::string::npos);
    int64_t rows, cols;
    read_npy(dir + "/out.npy", &rows, &cols);
    CHECK(rows == 3);
}

TEST_CASE("cli: a full disk mid-job fails cleanly with no partial file", "[cli]") {
    std::string dir = scratch("cli", "full");
    write_file(dir + "/in.jsonl", random_ids_file(400, 3, 4));
    // RLIMIT_FSIZE (inherited by the spawned binary, SIGXFSZ ignored) makes
    // writes past 16 KiB fail with EFBIG like a full disk would with ENOSPC.
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit limit = {16384, 16384};
        setrlimit(RLIMIT_FSIZE, &limit);
        int err = open((dir + "/stderr.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(err, 2);
        execl(kBinary.c_str(), kBinary.c_str(), "embed", "--model", kModel.c_str(), "--input", (dir + "/in.jsonl").c_str(),
              "--output", (dir + "/out.npy").c_str(), "--threads", "1", (char *)nullptr);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    Result r;
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.err = slurp(dir + "/stderr.txt");
    check_one_error_line(r, 21, "out.npy: write failed: File too large");
    CHECK_FALSE(exists(dir + "/out.npy"));
    CHECK_FALSE(exists(dir + "/out.npy.part"));
}

TEST_CASE("cli: bench reports throughput, batch latency percentiles and peak memory", "[cli]") {
    std::string dir = scratch("cli", "bench");
    Result r = run({"bench", "--model", kModel, "--tokens", "20", "--sequences", "9", "--threads", "1", "--batch-tokens",
                    "64"},
                   dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("corpus:              9 sequences x 20 tokens (seed 1)") != std::string::npos);
    CHECK(r.out.find("batches:             3 (budget 64 tokens)") != std::string::npos);
    CHECK(r.out.find("tokens/s") != std::string::npos);
    CHECK(r.out.find("batch latency:       p50 ") != std::string::npos);
    CHECK(r.out.find("peak RSS:") != std::string::npos);
    r = run({"bench", "--model", kModel, "--mixed", "--sequences", "5", "--seed", "3", "--threads", "1"}, dir);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("mixed lengths 16..2048 (log-uniform, seed 3): 5 sequences") != std::string::npos);
    write_file(dir + "/in.jsonl", random_ids_file(11, 4));
    r = run({"bench", "--model", kModel, "--input", dir + "/in.jsonl", "--threads", "1"}, dir);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("in.jsonl: 11 sequences") != std::string::npos);
    check_one_error_line(run({"bench", "--model", kModel, "--compare", "sglang"}, dir), 1, "only 'transformers'");
}
