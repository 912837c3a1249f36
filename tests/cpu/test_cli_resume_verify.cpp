// Issue 15 item 5: --resume trusts nothing in the manifest that it can check.
// A valid interrupted state (the manifest of a finished run cut back to 2 of
// its 3 shards) resumes to the uninterrupted result; every edit of it, and a
// same-size edit of the already-embedded part of the input, fails with
// status 33 naming the field and "rerun without --resume", and leaves the
// manifest as it was.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

extern "C" {
#include "io/crc32.h"
#include "pipeline/manifest.h"
}
#include "support/cli_process.hpp"

using namespace llmbed_test::cli;

namespace {

const std::string kModel = LLMBED_TEST_DATA_DIR "/models/llama-tiny";

std::string corpus() {
    std::string s;
    for (int i = 0; i < 12; i++) s += "{\"input_ids\": [" + std::to_string(5 + i) + ", 7, " + std::to_string(20 + 3 * i) + "]}\n";
    return s;
}

// Offset just past line `n` (1-based) of s.
int64_t end_of_line(const std::string &s, int n) {
    size_t at = 0;
    for (int k = 0; k < n; k++) at = s.find('\n', at) + 1;
    return (int64_t)at;
}

std::vector<std::string> args(const std::string &dir, bool resume) {
    std::vector<std::string> a = {"embed", "--model", kModel, "--input", dir + "/in.jsonl", "--output", dir + "/out.npy",
                                  "--threads", "1", "--quiet", "--shard-rows", "4"};
    if (resume) a.push_back("--resume");
    return a;
}

// The manifest of a job killed after 2 of its 3 shards (8 of 12 lines).
void cut_to_two_shards(llmbed_manifest *m, const std::string &input) {
    llmbed_manifest_shard last = m->shards[2];
    free(last.file);
    free(last.sidecar);
    m->n_shards = 2;
    m->rows = 8;
    m->next_line = 8;
    m->next_offset = end_of_line(input, 8);
    m->input_crc32 = llmbed_crc32_update(0, input.data(), (size_t)m->next_offset);
    m->tokens = 24;
    m->complete = 0;
}

void set_file(llmbed_manifest_shard *s, const char *name) {
    free(s->file);
    s->file = strdup(name);
}

}  // namespace

TEST_CASE("resume: every inconsistency in the manifest or the input fails naming the field", "[cli][resume]") {
    std::string dir = scratch("resume", "verify");
    const std::string input = corpus();
    write_file(dir + "/in.jsonl", input);
    Result r = run(args(dir, false), dir);
    REQUIRE(r.status == 0);
    const std::string manifest_path = dir + "/out.manifest.json";
    llmbed_error err{};
    llmbed_manifest complete{};
    REQUIRE(llmbed_manifest_read(manifest_path.c_str(), &complete, &err) == LLMBED_OK);
    REQUIRE(complete.n_shards == 3);
    CHECK(complete.input_crc32 == llmbed_crc32_update(0, input.data(), input.size()));
    llmbed_manifest_free(&complete);
    const std::string complete_text = slurp(manifest_path);

    struct Case {
        const char *name;
        std::function<void(llmbed_manifest *)> edit;
        std::string needle;
    };
    const std::vector<Case> cases = {
        {"next_offset one line forward (a line lost)", [&](llmbed_manifest *m) { m->next_offset = end_of_line(input, 9); },
         "\"next_offset\" is " + std::to_string(end_of_line(input, 9)) + ": the first " +
             std::to_string(end_of_line(input, 9)) + " bytes of " + dir + "/in.jsonl hold 9 lines, but \"next_line\" is 8"},
        {"next_offset inside a line", [&](llmbed_manifest *m) { m->next_offset = end_of_line(input, 8) + 5; },
         "\"next_offset\" is " + std::to_string(end_of_line(input, 8) + 5) + ", inside line 9 of"},
        {"next_offset negative", [](llmbed_manifest *m) { m->next_offset = -5; }, "\"next_offset\" is -5, not an integer"},
        {"rows changed", [](llmbed_manifest *m) { m->rows = 7; }, "\"rows\" is 7 but the shards hold 8 rows"},
        {"a shard's rows changed", [](llmbed_manifest *m) { m->shards[0].rows = 3; m->shards[1].rows = 5; },
         "\"shards[0].rows\" is 3 but " + dir + "/out.shard-00000.npy holds 4 rows"},
        {"next_line inconsistent", [](llmbed_manifest *m) { m->next_line = 9; }, "\"next_line\" is 9 but rows + skipped is 8"},
        {"shard outside the folder", [](llmbed_manifest *m) { set_file(&m->shards[1], "../victim.npy"); },
         "\"shards[1].file\" is \"../victim.npy\", not a bare file name"},
        {"absolute shard path", [](llmbed_manifest *m) { set_file(&m->shards[0], "/etc/passwd"); },
         "\"shards[0].file\" is \"/etc/passwd\", not a bare file name"},
        {"another shard name", [](llmbed_manifest *m) { set_file(&m->shards[1], "out.shard-00000.npy"); },
         "\"shards[1].file\" is \"out.shard-00000.npy\", expected \"out.shard-00001.npy\""},
        {"input prefix CRC", [](llmbed_manifest *m) { m->input_crc32 ^= 1; }, "\"input_crc32\": the first"},
        {"complete before the end", [](llmbed_manifest *m) { m->complete = 1; }, "\"complete\" is true but"},
        {"shard bytes", [](llmbed_manifest *m) { m->shards[1].bytes += 4; }, "\"shards[1].bytes\": "},
    };
    for (const Case &c : cases) {
        INFO(c.name);
        llmbed_manifest m{};
        write_file(manifest_path, complete_text);
        REQUIRE(llmbed_manifest_read(manifest_path.c_str(), &m, &err) == LLMBED_OK);
        cut_to_two_shards(&m, input);
        c.edit(&m);
        REQUIRE(llmbed_manifest_write(&m, manifest_path.c_str(), nullptr, &err) == LLMBED_OK);
        llmbed_manifest_free(&m);
        const std::string before = slurp(manifest_path);
        r = run(args(dir, true), dir);
        INFO(r.err);
        CHECK(r.status == 33);
        CHECK(r.err.find(c.needle) != std::string::npos);
        CHECK(r.err.find("rerun without --resume to start over") != std::string::npos);
        CHECK(slurp(manifest_path) == before);
    }

    // A same-size edit inside the embedded part of the input (line 2's first id 6 -> 9).
    llmbed_manifest m{};
    write_file(manifest_path, complete_text);
    REQUIRE(llmbed_manifest_read(manifest_path.c_str(), &m, &err) == LLMBED_OK);
    cut_to_two_shards(&m, input);
    REQUIRE(llmbed_manifest_write(&m, manifest_path.c_str(), nullptr, &err) == LLMBED_OK);
    llmbed_manifest_free(&m);
    std::string edited = input;
    edited[(size_t)end_of_line(input, 1) + 15] = '9';
    REQUIRE(edited.size() == input.size());
    write_file(dir + "/in.jsonl", edited);
    r = run(args(dir, true), dir);
    CHECK(r.status == 33);
    CHECK(r.err.find("\"input_crc32\": the first " + std::to_string(end_of_line(input, 8)) + " bytes of " + dir +
                     "/in.jsonl changed since the job started") != std::string::npos);
    // The untouched state resumes and completes: 12 rows in 3 shards.
    write_file(dir + "/in.jsonl", input);
    r = run(args(dir, true), dir);
    INFO(r.err);
    CHECK(r.status == 0);
    REQUIRE(llmbed_manifest_read(manifest_path.c_str(), &m, &err) == LLMBED_OK);
    CHECK(m.rows == 12);
    CHECK(m.n_shards == 3);
    CHECK(m.complete == 1);
    llmbed_manifest_free(&m);
    // A manifest of the previous format is refused, not misread.
    std::string text = slurp(manifest_path);
    size_t at = text.find("\"version\":\t2");
    REQUIRE(at != std::string::npos);
    text.replace(at, 12, "\"version\":\t1");
    write_file(manifest_path, text);
    r = run(args(dir, true), dir);
    CHECK(r.status == 33);
    CHECK(r.err.find("field \"version\" is not 2") != std::string::npos);
}
