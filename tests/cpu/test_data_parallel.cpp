// Data parallel (issue 21 item 1): a context of several engines (CPU
// replicas here; GPUs take the same path) fed by the pipeline's worker pool.
//
// - The scheduler (pipeline/job.h) on a fake engine: the worker that takes
//   the one very long sequence of a skewed mix blocks until every other
//   batch of the window is done, so the job finishes only when the other
//   workers take all the remaining work while it is busy (a static split
//   of the batches between workers deadlocks and fails on the timeout);
//   per-worker batch counts recorded by the fake engine say the same.
// - Real engines (the tiny llama, fp32 CPU rows are batch- and
//   thread-count-invariant): 1..4 replicas give rows bit-identical (memcmp)
//   to one replica, in input order, through llmbed_embed_ids, `llmbed embed`
//   and a sharded job interrupted on 3 replicas and resumed on 2.
// - Bad device lists and replica counts are refused with their messages.
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <random>
#include <regex>
#include <string>
#include <vector>

extern "C" {
#include "io/output_format.h"
#include "pipeline/job.h"
#include "pipeline/manifest.h"
#include "pipeline/sink_memory.h"
#include "pipeline/source.h"
}

#include "llmbed.h"
#include "support/cli_process.hpp"

namespace cli = llmbed_test::cli;

namespace {

// ------------------------------------------------------------ scheduler

constexpr int kFakeDims = 3;
constexpr int kWorkers = 3;

// A fake engine: a row is (length, sum of ids, first id) of its sequence.
// The batch holding a sequence longer than `long_above` waits until the
// `n_short` other sequences are embedded (or `timeout` passes, which the
// test reports).
struct Skewed {
    int64_t long_above = 0;
    int n_short = 0;
    std::mutex lock;
    std::condition_variable changed;
    int short_done = 0;
    bool timed_out = false;
    int long_worker = -1;
    int batches_of[kWorkers] = {0, 0, 0};
    std::chrono::seconds timeout{20};
};

llmbed_status skewed_tokenize(void *, const char *text, size_t len, int, int32_t *ids, size_t capacity, size_t *n_ids,
                              llmbed_error *error) {
    *n_ids = len;
    if (len > capacity) {
        error->status = LLMBED_ERR_BUFFER_TOO_SMALL;
        return LLMBED_ERR_BUFFER_TOO_SMALL;
    }
    for (size_t i = 0; i < len; i++) ids[i] = 3 + (unsigned char)text[i];
    return LLMBED_OK;
}

void skewed_row(const int32_t *ids, int64_t n, float *row) {
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += ids[i];
    row[0] = (float)n;
    row[1] = (float)sum;
    row[2] = (float)ids[0];
}

llmbed_status skewed_embed(void *user, int worker, const llmbed_batch *batch, float *out, llmbed_error *) {
    Skewed *s = static_cast<Skewed *>(user);
    int n_long = 0;
    for (int i = 0; i < batch->n_sequences; i++) {
        const int64_t n = batch->offsets[i + 1] - batch->offsets[i];
        skewed_row(batch->tokens + batch->offsets[i], n, out + (size_t)i * kFakeDims);
        n_long += n > s->long_above;
    }
    std::unique_lock<std::mutex> hold(s->lock);
    s->batches_of[worker]++;
    if (n_long > 0) {
        s->long_worker = worker;
        if (!s->changed.wait_for(hold, s->timeout, [s] { return s->short_done == s->n_short; })) s->timed_out = true;
    } else {
        s->short_done += batch->n_sequences;
        s->changed.notify_all();
    }
    return LLMBED_OK;
}

// The job over `texts` (one window, 64-token batches) on `n_workers` workers of the fake engine.
llmbed_job_stats run_skewed(Skewed &skewed, const std::vector<std::string> &texts, int n_workers,
                            std::vector<float> &rows) {
    std::vector<const char *> pointers;
    std::vector<size_t> lengths;
    for (const auto &t : texts) {
        pointers.push_back(t.c_str());
        lengths.push_back(t.size());
    }
    llmbed_job_engine engine{};
    engine.user = &skewed;
    engine.dims = kFakeDims;
    engine.vocab_size = 300;
    engine.n_workers = n_workers;
    engine.tokenize = skewed_tokenize;
    engine.embed = skewed_embed;
    llmbed_memory_source memory;
    llmbed_job_source source;
    llmbed_memory_source_init(&memory, "text", pointers.data(), nullptr, lengths.data(), (int64_t)texts.size(), nullptr,
                              nullptr, &source);
    rows.assign(texts.size() * kFakeDims, -1.0f);
    llmbed_memory_sink memory_rows;
    llmbed_job_sink sink;
    llmbed_memory_sink_init(&memory_rows, LLMBED_PRECISION_FLOAT32, kFakeDims, rows.data(), nullptr, nullptr, nullptr,
                            &sink);
    llmbed_job_options options;
    llmbed_job_options_default(&options);
    options.source = &source;
    options.sink = &sink;
    options.batch_tokens = 64;
    llmbed_job_stats stats{};
    llmbed_error error{};
    INFO(error.message);
    REQUIRE(llmbed_job_run(&engine, &options, &stats, &error) == LLMBED_OK);
    llmbed_memory_sink_free(&memory_rows);
    return stats;
}

// ------------------------------------------------------------ real engines

const std::string kModel = LLMBED_TEST_DATA_DIR "/models/llama-tiny";  // vocab 211, hidden 48, 3 layers

struct Model {
    llmbed_model *model = nullptr;
    Model() {
        llmbed_error error{};
        REQUIRE(llmbed_model_load(kModel.c_str(), nullptr, &model, &error) == LLMBED_OK);
    }
    ~Model() { llmbed_model_free(model); }
};

// A context of `replicas` CPU engines over `threads` threads (REQUIREd to work).
llmbed_ctx *cpu_ctx(const Model &m, int replicas, int threads) {
    llmbed_ctx_params params;
    llmbed_ctx_params_default(&params);
    params.device = LLMBED_DEVICE_CPU;
    params.n_threads = threads;
    params.replicas = replicas;
    params.batch_tokens = 64;
    llmbed_ctx *ctx = nullptr;
    llmbed_error error{};
    INFO(error.message);
    REQUIRE(llmbed_ctx_create(m.model, &params, &ctx, &error) == LLMBED_OK);
    REQUIRE(llmbed_ctx_workers(ctx) == replicas);
    return ctx;
}

// The skewed mix: one 400-token sequence among 40 short ones (3..20 ids), fixed seed.
std::vector<std::vector<int32_t>> skewed_sequences() {
    std::mt19937 rng(21);
    std::vector<std::vector<int32_t>> seqs;
    for (int i = 0; i < 41; i++) {
        const int n = i == 17 ? 400 : 3 + (int)(rng() % 18);
        std::vector<int32_t> ids;
        for (int t = 0; t < n; t++) ids.push_back(1 + (int32_t)(rng() % 210));
        seqs.push_back(ids);
    }
    return seqs;
}

std::vector<float> embed_ids(llmbed_ctx *ctx, const std::vector<std::vector<int32_t>> &seqs) {
    std::vector<const int32_t *> ids;
    std::vector<size_t> lengths;
    for (const auto &s : seqs) {
        ids.push_back(s.data());
        lengths.push_back(s.size());
    }
    std::vector<float> rows(seqs.size() * 48);
    llmbed_text_stats stats{};
    INFO(llmbed_last_error(ctx));
    REQUIRE(llmbed_embed_ids(ctx, ids.data(), lengths.data(), (int)seqs.size(), nullptr, nullptr, rows.data(),
                             rows.size() * sizeof(float), nullptr, &stats) == LLMBED_OK);
    CHECK(stats.batches > 1);
    return rows;
}

std::string jsonl_of(const std::vector<std::vector<int32_t>> &seqs) {
    std::string text;
    for (const auto &s : seqs) {
        text += "{\"input_ids\": [";
        for (size_t i = 0; i < s.size(); i++) text += (i ? ", " : "") + std::to_string(s[i]);
        text += "]}\n";
    }
    return text;
}

bool same_bytes(const std::vector<float> &a, const std::vector<float> &b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::vector<float> npy_rows(const std::string &path) {
    const std::string bytes = cli::slurp(path);
    REQUIRE(bytes.size() >= (size_t)LLMBED_NPY_HEADER_BYTES);
    std::vector<float> rows((bytes.size() - LLMBED_NPY_HEADER_BYTES) / sizeof(float));
    std::memcpy(rows.data(), bytes.data() + LLMBED_NPY_HEADER_BYTES, rows.size() * sizeof(float));
    return rows;
}

struct Stopper {
    volatile int stop = 0;
    int64_t batches = 0, stop_after = 0;
};

void stop_after_batches(void *user, const llmbed_file_stats *stats) {
    Stopper *s = static_cast<Stopper *>(user);
    s->batches = stats->batches;
    if (stats->batches >= s->stop_after) s->stop = 1;
}

}  // namespace

TEST_CASE("data parallel scheduler: while one worker runs the long sequence the others take every other batch",
          "[data_parallel]") {
    std::vector<std::string> texts;
    for (int i = 0; i < 60; i++) texts.push_back("short text " + std::to_string(i));
    texts.insert(texts.begin() + 23, std::string(500, 'x'));
    Skewed skewed;
    skewed.long_above = 100;
    skewed.n_short = 60;
    std::vector<float> rows;
    const llmbed_job_stats stats = run_skewed(skewed, texts, kWorkers, rows);
    llmbed_error error{};
    CHECK_FALSE(skewed.timed_out);
    CHECK(stats.batches > kWorkers);
    REQUIRE(skewed.long_worker >= 0);
    // The long sequence went first (longest first) and its worker ran
    // nothing else: the others ran every other batch while it was busy.
    CHECK(skewed.batches_of[skewed.long_worker] == 1);
    int others = 0;
    for (int w = 0; w < kWorkers; w++) others += w != skewed.long_worker ? skewed.batches_of[w] : 0;
    CHECK(others == stats.batches - 1);
    // Rows in input order.
    for (size_t i = 0; i < texts.size(); i++) {
        std::vector<int32_t> ids(texts[i].size());
        size_t n = 0;
        skewed_tokenize(nullptr, texts[i].data(), texts[i].size(), 1, ids.data(), ids.size(), &n, &error);
        float want[kFakeDims];
        skewed_row(ids.data(), (int64_t)n, want);
        INFO("record " << i);
        CHECK(std::memcmp(want, &rows[i * kFakeDims], sizeof want) == 0);
    }
}

TEST_CASE("data parallel scheduler: the blocking check fails when the other workers cannot take the work",
          "[data_parallel]") {
    // One worker: nobody else can run the short batches while the long one
    // waits, so the engine's wait times out: the check above can fail.
    std::vector<std::string> texts = {std::string(200, 'x'), "a", "b"};
    Skewed skewed;
    skewed.long_above = 100;
    skewed.n_short = 2;
    skewed.timeout = std::chrono::seconds(1);
    std::vector<float> rows;
    run_skewed(skewed, texts, 1, rows);
    CHECK(skewed.timed_out);
}

TEST_CASE("data parallel: 1..4 CPU replicas give the rows of one replica, bit for bit, in input order",
          "[data_parallel]") {
    Model m;
    const auto seqs = skewed_sequences();
    llmbed_ctx *one = cpu_ctx(m, 1, 1);
    const std::vector<float> want = embed_ids(one, seqs);
    llmbed_ctx_free(one);
    for (float v : want) REQUIRE(std::isfinite(v));
    for (int replicas = 1; replicas <= 4; replicas++) {
        llmbed_ctx *ctx = cpu_ctx(m, replicas, 4);
        INFO(replicas << " replicas");
        CHECK(same_bytes(embed_ids(ctx, seqs), want));
        llmbed_ctx_free(ctx);
    }
    // The comparison can fail: a row swapped with its neighbour is caught.
    std::vector<float> swapped = want;
    std::swap_ranges(swapped.begin(), swapped.begin() + 48, swapped.begin() + 48);
    CHECK_FALSE(same_bytes(swapped, want));
}

TEST_CASE("data parallel: a sharded job interrupted on 3 replicas and resumed on 2 equals one replica",
          "[data_parallel]") {
    Model m;
    const auto seqs = skewed_sequences();
    llmbed_ctx *one = cpu_ctx(m, 1, 1);
    const std::vector<float> want = embed_ids(one, seqs);
    llmbed_ctx_free(one);
    const std::string dir = cli::scratch("data-parallel", "resume");
    cli::write_file(dir + "/in.jsonl", jsonl_of(seqs));
    llmbed_file_params file;
    llmbed_file_params_default(&file);
    const std::string input = dir + "/in.jsonl";
    file.input_path = input.c_str();
    const std::string output = dir + "/out.npy";
    file.output_path = output.c_str();
    file.shard_rows = 6;
    file.window_lines = 10;
    Stopper stopper;
    stopper.stop_after = 6;
    file.stop = &stopper.stop;
    file.on_progress = stop_after_batches;
    file.user = &stopper;
    llmbed_ctx *three = cpu_ctx(m, 3, 3);
    llmbed_file_stats stats{};
    CHECK(llmbed_embed_file(three, &file, nullptr, &stats) == LLMBED_ERR_INTERRUPTED);
    INFO(llmbed_last_error(three));
    llmbed_ctx_free(three);
    const int64_t committed = stats.rows_total;
    CHECK(committed > 0);
    CHECK(committed < (int64_t)seqs.size());
    llmbed_ctx *two = cpu_ctx(m, 2, 2);
    file.stop = nullptr;
    file.on_progress = nullptr;
    file.resume = 1;
    INFO(llmbed_last_error(two));
    REQUIRE(llmbed_embed_file(two, &file, nullptr, &stats) == LLMBED_OK);
    llmbed_ctx_free(two);
    CHECK(stats.resumed_rows == committed);
    CHECK(stats.rows_total == (int64_t)seqs.size());
    llmbed_manifest manifest{};
    llmbed_error error{};
    REQUIRE(llmbed_manifest_read((dir + "/out.manifest.json").c_str(), &manifest, &error) == LLMBED_OK);
    std::vector<float> got;
    for (int i = 0; i < manifest.n_shards; i++) {
        const std::vector<float> rows = npy_rows(dir + "/" + manifest.shards[i].file);
        got.insert(got.end(), rows.begin(), rows.end());
    }
    llmbed_manifest_free(&manifest);
    CHECK(same_bytes(got, want));
}

TEST_CASE("data parallel: `llmbed embed --replicas 1..4` writes the bytes of one replica", "[data_parallel][cli]") {
    const std::string dir = cli::scratch("data-parallel", "cli");
    cli::write_file(dir + "/in.jsonl", jsonl_of(skewed_sequences()));
    std::string reference;
    for (int replicas = 1; replicas <= 4; replicas++) {
        const std::string out = dir + "/out" + std::to_string(replicas) + ".npy";
        const cli::Result r = cli::run({"embed", "--model", kModel, "--input", dir + "/in.jsonl", "--output", out,
                                        "--device", "cpu", "--threads", "4", "--replicas", std::to_string(replicas),
                                        "--batch-tokens", "64", "--quiet"},
                                       dir);
        INFO(replicas << " replicas: " << r.err);
        REQUIRE(r.status == 0);
        if (replicas == 1) reference = cli::slurp(out);
        CHECK(reference.size() > (size_t)LLMBED_NPY_HEADER_BYTES);
        CHECK(cli::slurp(out) == reference);
    }
}

TEST_CASE("data parallel: bad replica counts and device lists are refused with their messages", "[data_parallel]") {
    Model m;
    llmbed_ctx_params params;
    llmbed_error error{};
    llmbed_ctx *ctx = nullptr;
    auto create = [&](void (*set)(llmbed_ctx_params &)) {
        llmbed_ctx_params_default(&params);
        set(params);
        error = llmbed_error{};
        return llmbed_ctx_create(m.model, &params, &ctx, &error);
    };
    CHECK(create([](llmbed_ctx_params &p) {
              p.device = LLMBED_DEVICE_CPU;
              p.n_threads = 2;
              p.replicas = 3;
          }) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(std::string(error.message) ==
          "replicas 3: more than the 2 CPU threads (--threads); each replica needs threads of its own");
    CHECK(create([](llmbed_ctx_params &p) { p.replicas = -1; }) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(std::string(error.message) == "replicas -1: expected 1..64 (--replicas)");
    CHECK(create([](llmbed_ctx_params &p) {
              p.device = LLMBED_DEVICE_CPU;
              p.n_devices = 2;
          }) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(std::string(error.message) ==
          "ctx params: a GPU list (n_devices 2) on device cpu; CPU data parallel is replicas (--replicas N)");
    CHECK(create([](llmbed_ctx_params &p) {
              p.device = LLMBED_DEVICE_CUDA;
              p.n_devices = 2;
              p.devices[0] = 1;
              p.devices[1] = 1;
          }) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(std::string(error.message) == "ctx params: device cuda:1 is listed twice");
    CHECK(ctx == nullptr);
    // --device auto (the default) with replicas: the CPU replicas where no GPU
    // is usable; refused naming the GPU where one is.
    const llmbed_status automatic = create([](llmbed_ctx_params &p) {
        p.n_threads = 2;
        p.replicas = 2;
    });
    if (automatic == LLMBED_OK) {
        CHECK(llmbed_ctx_device(ctx, nullptr) == LLMBED_DEVICE_CPU);
        CHECK(llmbed_ctx_workers(ctx) == 2);
        llmbed_ctx_free(ctx);
        ctx = nullptr;
    } else {
        CHECK(automatic == LLMBED_ERR_INVALID_ARGUMENT);
        CHECK(std::string(error.message).rfind("replicas 2: CPU replicas, but the context runs on cuda:0", 0) == 0);
    }

    // The parser: lists, "all", and what it refuses (params unchanged).
    llmbed_ctx_params_default(&params);
    REQUIRE(llmbed_device_parse("cuda:0,2,3", &params) == LLMBED_OK);
    CHECK(params.device == LLMBED_DEVICE_CUDA);
    CHECK(params.n_devices == 3);
    CHECK((params.devices[0] == 0 && params.devices[1] == 2 && params.devices[2] == 3));
    REQUIRE(llmbed_device_parse("cuda:all", &params) == LLMBED_OK);
    CHECK(params.n_devices == LLMBED_ALL_DEVICES);
    REQUIRE(llmbed_device_parse("cuda:5", &params) == LLMBED_OK);
    CHECK((params.n_devices == 0 && params.device_index == 5));
    REQUIRE(llmbed_device_parse("cpu", &params) == LLMBED_OK);
    CHECK((params.device == LLMBED_DEVICE_CPU && params.n_devices == 0));
    for (const char *bad : {"cuda:1,1", "cuda:0,", "cuda:,1", "cuda:a", "cuda:all,1", "cuda:-1", "gpu", "cuda:99999"}) {
        INFO(bad);
        CHECK(llmbed_device_parse(bad, &params) == LLMBED_ERR_INVALID_ARGUMENT);
        CHECK(params.device == LLMBED_DEVICE_CPU);
    }

    // No GPU here: every GPU, or a list, fails cleanly naming what was asked for.
    llmbed_ctx_params_default(&params);
    REQUIRE(llmbed_device_parse("cuda:all", &params) == LLMBED_OK);
    const llmbed_status all = llmbed_ctx_create(m.model, &params, &ctx, &error);
    if (all == LLMBED_OK) {  // a machine with GPUs: one engine per GPU
        CHECK(llmbed_ctx_workers(ctx) >= 1);
        llmbed_ctx_free(ctx);
    } else {
        INFO(error.message);
        CHECK(ctx == nullptr);
        CHECK((all == LLMBED_ERR_NO_DEVICE || all == LLMBED_ERR_UNSUPPORTED));
        CHECK(std::string(error.message).rfind("device cuda:all: ", 0) == 0);
        if (std::string(error.message).find("NVIDIA driver") != std::string::npos)
            CHECK(std::regex_match(std::string(error.message),
                                   std::regex(R"(device cuda:all: no NVIDIA driver \(libcuda\.so\.1: .*\))")));
    }
    REQUIRE(llmbed_device_parse("cuda:3,5", &params) == LLMBED_OK);
    const llmbed_status listed = llmbed_ctx_create(m.model, &params, &ctx, &error);
    if (listed != LLMBED_OK) {
        INFO(error.message);
        CHECK(std::string(error.message).find("cuda:3") != std::string::npos);
    }
    llmbed_ctx_free(ctx);
}
