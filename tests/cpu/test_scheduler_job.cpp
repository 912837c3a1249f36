// The batch job (pipeline/job.h) end to end on a deterministic fake engine:
// byte tokenizer with BOS/EOS, and an "embedding" that is a function of the
// sequence's own ids, so any mix-up of order, batching, truncation or
// resume shows in the rows. Covers input order, the token budget, shards +
// manifest, Ctrl-C (stop flag), resume after SIGKILL at random points, a
// full disk, and each kind of bad line with and without --skip-invalid.
#include <catch2/catch.hpp>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vector>

extern "C" {
#include "io/output_format.h"
#include "pipeline/job.h"
#include "pipeline/manifest.h"
}

#include "support/cli_process.hpp"

using namespace llmbed_test::cli;

namespace {

constexpr int kDims = 6;
constexpr int kVocab = 300;
constexpr int32_t kBos = 1, kEos = 2;

struct Fake {
    int64_t max_batch_tokens = 0;
    int64_t calls = 0;
    int slow_us = 0;
    int stop_after = -1;  // set *stop after this many batches
    volatile sig_atomic_t *stop = nullptr;
};

llmbed_status fake_tokenize(void *, const char *text, size_t len, int add_special, int32_t *ids, size_t capacity,
                            size_t *n_ids, llmbed_error *error) {
    size_t n = len + (add_special ? 2 : 0);
    *n_ids = n;
    if (n > capacity) {
        error->status = LLMBED_ERR_BUFFER_TOO_SMALL;
        return LLMBED_ERR_BUFFER_TOO_SMALL;
    }
    size_t k = 0;
    if (add_special) ids[k++] = kBos;
    for (size_t i = 0; i < len; i++) ids[k++] = 3 + (unsigned char)text[i];
    if (add_special) ids[k++] = kEos;
    return LLMBED_OK;
}

void fake_row(const int32_t *ids, int64_t n, int32_t instruction_len, float *row) {
    double sum = 0, weighted = 0;
    for (int64_t i = instruction_len; i < n; i++) {
        sum += ids[i];
        weighted += (double)(i + 1) * ids[i];
    }
    row[0] = (float)n;
    row[1] = (float)sum;
    row[2] = (float)ids[0];
    row[3] = (float)ids[n - 1];
    row[4] = (float)std::fmod(weighted, 9973.0);
    row[5] = (float)instruction_len;
}

llmbed_status fake_embed(void *user, int, const llmbed_batch *batch, float *out, llmbed_error *) {
    Fake *f = static_cast<Fake *>(user);
    int64_t tokens = batch->offsets[batch->n_sequences];
    if (tokens > f->max_batch_tokens) f->max_batch_tokens = tokens;
    for (int s = 0; s < batch->n_sequences; s++) {
        fake_row(batch->tokens + batch->offsets[s], batch->offsets[s + 1] - batch->offsets[s],
                 batch->instruction_lens ? batch->instruction_lens[s] : 0, out + (size_t)s * kDims);
    }
    if (f->slow_us > 0) usleep(f->slow_us);
    if (++f->calls == f->stop_after && f->stop != nullptr) *f->stop = 1;
    return LLMBED_OK;
}

llmbed_job_engine engine_for(Fake &f) {
    llmbed_job_engine e{};
    e.user = &f;
    e.dims = kDims;
    e.vocab_size = kVocab;
    e.tokenize = fake_tokenize;
    e.embed = fake_embed;
    return e;
}

// Rows of an npy float32 file written by llmbed (128-byte header).
std::vector<float> read_rows(const std::string &path) {
    std::vector<float> v;
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f) return v;
    std::fseek(f, 0, SEEK_END);
    long size = std::ftell(f);
    std::fseek(f, LLMBED_NPY_HEADER_BYTES, SEEK_SET);
    v.resize((size_t)(size - LLMBED_NPY_HEADER_BYTES) / sizeof(float));
    size_t got = std::fread(v.data(), sizeof(float), v.size(), f);
    std::fclose(f);
    v.resize(got);
    return v;
}

// Concatenated rows of the shards listed in a manifest.
std::vector<float> read_shards(const std::string &dir, const std::string &manifest_path, llmbed_manifest *out = nullptr) {
    llmbed_manifest m{};
    llmbed_error err{};
    std::vector<float> all;
    REQUIRE(llmbed_manifest_read(manifest_path.c_str(), &m, &err) == LLMBED_OK);
    for (int i = 0; i < m.n_shards; i++) {
        std::vector<float> rows = read_rows(dir + "/" + m.shards[i].file);
        REQUIRE(rows.size() == (size_t)m.shards[i].rows * kDims);
        all.insert(all.end(), rows.begin(), rows.end());
    }
    if (out != nullptr) {
        *out = m;
    } else {
        llmbed_manifest_free(&m);
    }
    return all;
}

// Expected rows for text lines (BOS + bytes + EOS).
std::vector<float> expected_text_rows(const std::vector<std::string> &texts, size_t max_tokens = 0) {
    std::vector<float> rows;
    for (const std::string &t : texts) {
        std::vector<int32_t> ids = {kBos};
        for (unsigned char c : t) ids.push_back(3 + c);
        ids.push_back(kEos);
        if (max_tokens > 0 && ids.size() > max_tokens) {
            ids.resize(max_tokens - 1);
            ids.push_back(kEos);
        }
        float row[kDims];
        fake_row(ids.data(), (int64_t)ids.size(), 0, row);
        rows.insert(rows.end(), row, row + kDims);
    }
    return rows;
}

std::vector<std::string> corpus(int n, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<std::string> lines;
    for (int i = 0; i < n; i++) {
        std::string s = "line " + std::to_string(i) + " ";
        int extra = (int)(rng() % 40);
        for (int k = 0; k < extra; k++) s.push_back((char)('a' + rng() % 26));
        lines.push_back(s);
    }
    return lines;
}

std::string join_lines(const std::vector<std::string> &lines) {
    std::string s;
    for (const auto &l : lines) s += l + "\n";
    return s;
}

llmbed_job_options options_for(const std::string &input, const std::string &output) {
    llmbed_job_options o;
    llmbed_job_options_default(&o);
    o.input_path = strdup(input.c_str());
    o.output_path = strdup(output.c_str());
    o.batch_tokens = 64;
    o.window_lines = 17;
    o.tokenize_threads = 3;
    o.job_json = "{\"model\":\"fake\"}";
    return o;
}

void free_options(llmbed_job_options &o) {
    free((void *)o.input_path);
    free((void *)o.output_path);
}

}  // namespace

TEST_CASE("job: rows in input order, batches within the token budget", "[scheduler]") {
    std::string dir = scratch("job", "order");
    std::vector<std::string> lines = corpus(250, 1);
    write_file(dir + "/in.txt", join_lines(lines));
    Fake fake;
    llmbed_job_engine engine = engine_for(fake);
    llmbed_job_options o = options_for(dir + "/in.txt", dir + "/out.npy");
    llmbed_job_stats stats;
    llmbed_error err{};
    REQUIRE(llmbed_job_run(&engine, &o, &stats, &err) == LLMBED_OK);
    CHECK(read_rows(dir + "/out.npy") == expected_text_rows(lines));
    CHECK(fake.max_batch_tokens <= 64);
    CHECK(stats.sequences == 250);
    CHECK(stats.rows_total == 250);
    CHECK(stats.skipped == 0);
    CHECK(stats.input_offset == (int64_t)join_lines(lines).size());
    CHECK_FALSE(exists(dir + "/out.npy.part"));
    free_options(o);
}

TEST_CASE("job: JSONL text field, input_ids, ids and a prompt masked from the pool", "[scheduler]") {
    std::string dir = scratch("job", "jsonl");
    write_file(dir + "/in.jsonl",
               "{\"body\": \"ab\", \"key\": 7}\n{\"input_ids\": [5, 6, 7], \"key\": \"x\"}\nplain\n");
    Fake fake;
    llmbed_job_engine engine = engine_for(fake);
    llmbed_job_options o = options_for(dir + "/in.jsonl", dir + "/out.jsonl");
    o.format = LLMBED_FORMAT_JSONL;
    o.text_field = "body";
    o.id_field = "key";
    o.prompt = "Q:";
    o.instruction_len = 3;  // BOS + 'Q' + ':'
    llmbed_job_stats stats;
    llmbed_error err{};
    REQUIRE(llmbed_job_run(&engine, &o, &stats, &err) == LLMBED_OK);
    FILE *f = std::fopen((dir + "/out.jsonl").c_str(), "r");
    REQUIRE(f != nullptr);
    char buf[3][512];
    for (auto &b : buf) REQUIRE(std::fgets(b, sizeof b, f) != nullptr);
    std::fclose(f);
    // "Q:ab" -> BOS 'Q' ':' 'a' 'b' EOS; the pool skips the first 3.
    int32_t ids0[] = {kBos, 3 + 'Q', 3 + ':', 3 + 'a', 3 + 'b', kEos};
    float row[kDims];
    fake_row(ids0, 6, 3, row);
    char want[512];
    std::snprintf(want, sizeof want, "{\"id\":7,\"embedding\":[%.9g,%.9g,%.9g,%.9g,%.9g,%.9g]}\n", row[0], row[1], row[2],
                  row[3], row[4], row[5]);
    CHECK(std::string(buf[0]) == want);
    // Pre-tokenised: no prompt, no mask.
    int32_t ids1[] = {5, 6, 7};
    fake_row(ids1, 3, 0, row);
    std::snprintf(want, sizeof want, "{\"id\":\"x\",\"embedding\":[%.9g,%.9g,%.9g,%.9g,%.9g,%.9g]}\n", row[0], row[1],
                  row[2], row[3], row[4], row[5]);
    CHECK(std::string(buf[1]) == want);
    CHECK(std::string(buf[2]).rfind("{\"id\":2,", 0) == 0);  // no id field: the row index
    free_options(o);
}

TEST_CASE("job: bad lines fail naming the line and leave no output, --skip-invalid counts them", "[scheduler]") {
    struct Case {
        const char *line;
        llmbed_status status;
        const char *needle;
    } cases[] = {
        {"{\"text\": oops}", LLMBED_ERR_INPUT_FORMAT, "in.jsonl:3: malformed JSON"},
        {"{\"title\": \"no text\"}", LLMBED_ERR_INPUT_FORMAT, "in.jsonl:3: JSON object has neither"},
        {"{\"input_ids\": [4, 300]}", LLMBED_ERR_TOKEN_OUT_OF_RANGE, "in.jsonl:3: input_ids[1] = 300 is outside"},
        {"{\"input_ids\": [-1]}", LLMBED_ERR_TOKEN_OUT_OF_RANGE, "in.jsonl:3: input_ids[0] = -1"},
        {"{\"input_ids\": []}", LLMBED_ERR_EMPTY_SEQUENCE, "in.jsonl:3: empty sequence"},
        {"this line is far too long for the limit", LLMBED_ERR_SEQUENCE_TOO_LONG, "in.jsonl:3: 41 tokens, more than --max-tokens 20"},
    };
    for (const Case &c : cases) {
        INFO(c.line);
        std::string dir = scratch("job", "bad");
        std::vector<std::string> lines = {"good one", "good two", c.line, "good three"};
        write_file(dir + "/in.jsonl", join_lines(lines));
        Fake fake;
        llmbed_job_engine engine = engine_for(fake);
        llmbed_job_options o = options_for(dir + "/in.jsonl", dir + "/out.npy");
        o.max_tokens = 20;
        o.truncate = 0;
        llmbed_job_stats stats;
        llmbed_error err{};
        CHECK(llmbed_job_run(&engine, &o, &stats, &err) == c.status);
        CHECK(std::string(err.message).find(c.needle) != std::string::npos);
        CHECK_FALSE(exists(dir + "/out.npy"));
        CHECK_FALSE(exists(dir + "/out.npy.part"));

        std::vector<std::string> skipped;
        o.skip_invalid = 1;
        o.on_skip = [](void *user, const char *message) {
            static_cast<std::vector<std::string> *>(user)->push_back(message);
        };
        o.callback_user = &skipped;
        REQUIRE(llmbed_job_run(&engine, &o, &stats, &err) == LLMBED_OK);
        CHECK(stats.skipped == 1);
        CHECK(stats.sequences == 3);
        REQUIRE(skipped.size() == 1);
        CHECK(skipped[0].find(c.needle) != std::string::npos);
        CHECK(read_rows(dir + "/out.npy") == expected_text_rows({"good one", "good two", "good three"}));
        free_options(o);
    }
}

TEST_CASE("job: --truncate cuts long inputs keeping BOS/EOS and counts them", "[scheduler]") {
    std::string dir = scratch("job", "trunc");
    std::vector<std::string> lines = {"short", "a much longer line that exceeds", "x", "another long line here"};
    write_file(dir + "/in.txt", join_lines(lines) + "{\"input_ids\": [9, 8, 7, 6, 5, 4, 3, 2, 1, 4, 5, 6, 7]}\n");
    Fake fake;
    llmbed_job_engine engine = engine_for(fake);
    llmbed_job_options o = options_for(dir + "/in.txt", dir + "/out.npy");
    o.max_tokens = 10;
    llmbed_job_stats stats;
    llmbed_error err{};
    REQUIRE(llmbed_job_run(&engine, &o, &stats, &err) == LLMBED_OK);
    CHECK(stats.truncated == 3);
    std::vector<float> want = expected_text_rows(lines, 10);
    int32_t head[] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 4};  // pre-tokenised: the first 10 ids
    float row[kDims];
    fake_row(head, 10, 0, row);
    want.insert(want.end(), row, row + kDims);
    CHECK(read_rows(dir + "/out.npy") == want);
    free_options(o);
}

TEST_CASE("job: shards + manifest equal the single-file output, Ctrl-C then resume", "[scheduler]") {
    std::string dir = scratch("job", "shards");
    std::vector<std::string> lines = corpus(300, 2);
    write_file(dir + "/in.txt", join_lines(lines));
    std::vector<float> want = expected_text_rows(lines);
    Fake fake;
    llmbed_job_engine engine = engine_for(fake);
    llmbed_job_options o = options_for(dir + "/in.txt", dir + "/out.npy");
    o.shard_rows = 23;
    llmbed_job_stats stats;
    llmbed_error err{};
    REQUIRE(llmbed_job_run(&engine, &o, &stats, &err) == LLMBED_OK);
    llmbed_manifest m{};
    CHECK(read_shards(dir, dir + "/out.manifest.json", &m) == want);
    CHECK(m.n_shards == 14);  // ceil(300 / 23)
    CHECK(m.complete == 1);
    CHECK(m.rows == 300);
    llmbed_manifest_free(&m);
    CHECK(stats.shards == 14);

    // Interrupt after a few batches: committed shards and manifest agree, no temp files.
    std::string dir2 = scratch("job", "interrupt");
    write_file(dir2 + "/in.txt", join_lines(lines));
    volatile sig_atomic_t stop = 0;
    Fake slow;
    slow.stop_after = 30;
    slow.stop = &stop;
    llmbed_job_engine engine2 = engine_for(slow);
    llmbed_job_options o2 = options_for(dir2 + "/in.txt", dir2 + "/out.npy");
    o2.shard_rows = 23;
    o2.stop = &stop;
    CHECK(llmbed_job_run(&engine2, &o2, &stats, &err) == LLMBED_ERR_INTERRUPTED);
    std::vector<float> partial = read_shards(dir2, dir2 + "/out.manifest.json", &m);
    CHECK(m.complete == 0);
    CHECK(m.rows > 0);
    CHECK(m.rows < 300);
    CHECK(m.rows == stats.rows_total);
    CHECK(std::vector<float>(want.begin(), want.begin() + m.rows * kDims) == partial);
    llmbed_manifest_free(&m);
    CHECK_FALSE(exists(dir2 + "/out.shard-00000.npy.part"));

    // Resume with different options is refused, naming the option.
    llmbed_job_options o3 = o2;
    o3.resume = 1;
    o3.stop = nullptr;
    o3.job_json = "{\"model\":\"other\"}";
    CHECK(llmbed_job_run(&engine, &o3, &stats, &err) == LLMBED_ERR_RESUME_MISMATCH);
    CHECK(std::string(err.message).find("\"model\"") != std::string::npos);
    // The same options finish the job without recomputing committed rows.
    o3.job_json = o2.job_json;
    Fake counting;
    llmbed_job_engine engine3 = engine_for(counting);
    REQUIRE(llmbed_job_run(&engine3, &o3, &stats, &err) == LLMBED_OK);
    CHECK(stats.resumed_rows > 0);
    CHECK(stats.sequences == 300 - stats.resumed_rows);
    CHECK(read_shards(dir2, dir2 + "/out.manifest.json") == want);
    // Resuming a complete job does nothing.
    REQUIRE(llmbed_job_run(&engine3, &o3, &stats, &err) == LLMBED_OK);
    CHECK(stats.already_complete == 1);
    // A corrupted shard is detected.
    FILE *f = std::fopen((dir2 + "/out.shard-00001.npy").c_str(), "r+b");
    std::fseek(f, 200, SEEK_SET);
    std::fputc(0x55, f);
    std::fclose(f);
    CHECK(llmbed_job_run(&engine3, &o3, &stats, &err) == LLMBED_ERR_RESUME_MISMATCH);
    CHECK(std::string(err.message).find("out.shard-00001.npy") != std::string::npos);
    free_options(o);
    free_options(o2);
}

TEST_CASE("job: SIGKILL at random points, resumed, equals an uninterrupted run row for row", "[scheduler]") {
    std::string dir = scratch("job", "kill");
    std::vector<std::string> lines = corpus(3000, 3);
    write_file(dir + "/in.txt", join_lines(lines));
    std::vector<float> want = expected_text_rows(lines);
    std::mt19937 rng(11);
    int kills = 0;
    llmbed_job_stats stats;
    llmbed_error err{};
    for (int attempt = 0; attempt < 40; attempt++) {
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            Fake fake;
            fake.slow_us = 300;
            llmbed_job_engine engine = engine_for(fake);
            llmbed_job_options o = options_for(dir + "/in.txt", dir + "/out.npy");
            o.shard_rows = 97;
            o.resume = 1;
            llmbed_job_stats s;
            llmbed_error e{};
            _exit(llmbed_job_run(&engine, &o, &s, &e) == LLMBED_OK ? 0 : 1);
        }
        struct timespec delay = {0, (long)(5 + rng() % 60) * 1000000L};
        nanosleep(&delay, nullptr);
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        if (WIFSIGNALED(status)) kills++;
        if (WIFEXITED(status)) {
            REQUIRE(WEXITSTATUS(status) == 0);
            break;  // the job finished before the kill landed
        }
    }
    CHECK(kills >= 3);
    Fake fake;
    llmbed_job_engine engine = engine_for(fake);
    llmbed_job_options o = options_for(dir + "/in.txt", dir + "/out.npy");
    o.shard_rows = 97;
    o.resume = 1;
    REQUIRE(llmbed_job_run(&engine, &o, &stats, &err) == LLMBED_OK);
    llmbed_manifest m{};
    CHECK(read_shards(dir, dir + "/out.manifest.json", &m) == want);
    CHECK(m.complete == 1);
    CHECK(m.rows == 3000);
    llmbed_manifest_free(&m);
    free_options(o);
}

TEST_CASE("job: a full disk fails cleanly and the manifest lists only whole shards", "[scheduler]") {
    std::string dir = scratch("job", "full");
    std::vector<std::string> lines = corpus(1000, 4);
    write_file(dir + "/in.txt", join_lines(lines));
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        // Each shard of 50 rows is 128 + 50 * 6 * 4 = 1328 bytes: a 1400-byte
        // file-size limit lets shards commit until the manifest outgrows it.
        struct rlimit limit = {1400, 1400};
        setrlimit(RLIMIT_FSIZE, &limit);
        Fake fake;
        llmbed_job_engine engine = engine_for(fake);
        llmbed_job_options o = options_for(dir + "/in.txt", dir + "/out.npy");
        o.shard_rows = 50;
        llmbed_job_stats s;
        llmbed_error e{};
        llmbed_status st = llmbed_job_run(&engine, &o, &s, &e);
        _exit(st == LLMBED_ERR_OUTPUT_WRITE && std::strstr(e.message, "out.") != nullptr ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    llmbed_manifest m{};
    std::vector<float> partial = read_shards(dir, dir + "/out.manifest.json", &m);
    std::vector<float> want = expected_text_rows(lines);
    CHECK(m.complete == 0);
    CHECK(m.rows > 0);
    CHECK(partial == std::vector<float>(want.begin(), want.begin() + m.rows * kDims));
    llmbed_manifest_free(&m);
    CHECK_FALSE(exists(dir + "/out.manifest.json.part"));
    // Space again: --resume completes it.
    Fake fake;
    llmbed_job_engine engine = engine_for(fake);
    llmbed_job_options o = options_for(dir + "/in.txt", dir + "/out.npy");
    o.shard_rows = 50;
    o.resume = 1;
    llmbed_job_stats stats;
    llmbed_error err{};
    REQUIRE(llmbed_job_run(&engine, &o, &stats, &err) == LLMBED_OK);
    CHECK(read_shards(dir, dir + "/out.manifest.json") == want);
    free_options(o);
}

TEST_CASE("job: missing input and unwritable output fail with their own codes", "[scheduler]") {
    std::string dir = scratch("job", "missing");
    Fake fake;
    llmbed_job_engine engine = engine_for(fake);
    llmbed_job_options o = options_for(dir + "/nope.txt", dir + "/out.npy");
    llmbed_job_stats stats;
    llmbed_error err{};
    CHECK(llmbed_job_run(&engine, &o, &stats, &err) == LLMBED_ERR_FILE_NOT_FOUND);
    CHECK(std::string(err.message).find("nope.txt") != std::string::npos);
    CHECK_FALSE(exists(dir + "/out.npy"));
    CHECK_FALSE(exists(dir + "/out.npy.part"));
    free_options(o);
    write_file(dir + "/in.txt", "a\n");
    o = options_for(dir + "/in.txt", "/dev/null/out.npy");
    CHECK(llmbed_job_run(&engine, &o, &stats, &err) == LLMBED_ERR_OUTPUT_WRITE);
    o.shard_rows = 10;
    CHECK(llmbed_job_run(&engine, &o, &stats, &err) == LLMBED_ERR_OUTPUT_WRITE);
    free_options(o);
}

TEST_CASE("job: empty input, and a resume that starts exactly at the end of the input", "[scheduler]") {
    std::string dir = scratch("job", "empty");
    write_file(dir + "/empty.txt", "");
    Fake fake;
    llmbed_job_engine engine = engine_for(fake);
    llmbed_job_options o = options_for(dir + "/empty.txt", dir + "/out.npy");
    llmbed_job_stats stats;
    llmbed_error err{};
    REQUIRE(llmbed_job_run(&engine, &o, &stats, &err) == LLMBED_OK);
    CHECK(stats.rows_total == 0);
    CHECK(read_rows(dir + "/out.npy").empty());
    CHECK(exists(dir + "/out.npy"));
    free_options(o);

    // Killed after the last full shard was committed but before the final
    // manifest said "complete": the resume reads nothing and finishes.
    std::vector<std::string> lines = corpus(40, 9);
    write_file(dir + "/in.txt", join_lines(lines));
    o = options_for(dir + "/in.txt", dir + "/sh.npy");
    o.shard_rows = 20;
    REQUIRE(llmbed_job_run(&engine, &o, &stats, &err) == LLMBED_OK);
    llmbed_manifest m{};
    REQUIRE(llmbed_manifest_read((dir + "/sh.manifest.json").c_str(), &m, &err) == LLMBED_OK);
    CHECK(m.next_offset == (int64_t)join_lines(lines).size());
    m.complete = 0;
    REQUIRE(llmbed_manifest_write(&m, (dir + "/sh.manifest.json").c_str(), nullptr, &err) == LLMBED_OK);
    llmbed_manifest_free(&m);
    o.resume = 1;
    REQUIRE(llmbed_job_run(&engine, &o, &stats, &err) == LLMBED_OK);
    CHECK(stats.sequences == 0);
    CHECK(read_shards(dir, dir + "/sh.manifest.json", &m) == expected_text_rows(lines));
    CHECK(m.complete == 1);
    llmbed_manifest_free(&m);
    free_options(o);
}
