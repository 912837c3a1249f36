/* Issue 14 methods on a tiny model with a tokenizer (tests/data/models/
 * methods-tiny) against float64 goldens from tests/gen_method_goldens.py:
 * for every case (method or its parts: template, pool span, pooling,
 * attention, attention temperature, early exit) and text, the templated ids
 * and the pooled token range equal those from HF tokenizers' offsets, and the
 * CPU engine's pooled embedding equals transformers' float64 one within the
 * golden tolerance (cosine >= 0.99999, max |diff| <= 1e-4). Then the same
 * through `llmbed embed --method` and `llmbed eval sts`. */
#include <catch2/catch.hpp>

#include <cjson/cJSON.h>
#include <cmath>
#include <map>
#include <tuple>
#include <string>
#include <vector>

#include "llmbed.h"
#include "support/cli_process.hpp"
#include "support/golden_compare.hpp"

using namespace llmbed_test;
using namespace llmbed_test::cli;

namespace {

const std::string kModel = LLMBED_TEST_DATA_DIR "/models/methods-tiny";
constexpr int kHidden = 32;

struct method_case {
    std::string name, text, pool_span, pooling, attention;
    bool has_template = false;
    std::string template_text;
    float temperature = 1;
    int layer = 0;
    std::vector<int32_t> ids;
    int32_t begin = 0, end = 0;
    std::vector<double> embedding;
};

std::vector<method_case> read_cases(cJSON **sts_out) {
    const std::string json = slurp(LLMBED_TEST_DATA_DIR "/goldens/methods-tiny/methods.json");
    cJSON *root = cJSON_Parse(json.c_str());
    REQUIRE(root != nullptr);
    std::vector<method_case> out;
    for (const cJSON *c = cJSON_GetObjectItem(root, "cases")->child; c; c = c->next) {
        method_case m;
        m.name = cJSON_GetObjectItem(c, "name")->valuestring;
        m.text = cJSON_GetObjectItem(c, "text")->valuestring;
        const cJSON *t = cJSON_GetObjectItem(c, "template");
        m.has_template = cJSON_IsString(t);
        if (m.has_template) m.template_text = t->valuestring;
        m.pool_span = cJSON_GetObjectItem(c, "pool_span")->valuestring;
        m.pooling = cJSON_GetObjectItem(c, "pooling")->valuestring;
        m.attention = cJSON_GetObjectItem(c, "attention")->valuestring;
        m.temperature = (float)cJSON_GetObjectItem(c, "attention_temperature")->valuedouble;
        m.layer = cJSON_GetObjectItem(c, "layer")->valueint;
        for (const cJSON *v = cJSON_GetObjectItem(c, "ids")->child; v; v = v->next) m.ids.push_back(v->valueint);
        m.begin = cJSON_GetObjectItem(c, "pool_begin")->valueint;
        m.end = cJSON_GetObjectItem(c, "pool_end")->valueint;
        for (const cJSON *v = cJSON_GetObjectItem(c, "embedding")->child; v; v = v->next)
            m.embedding.push_back(v->valuedouble);
        out.push_back(m);
    }
    if (sts_out) *sts_out = cJSON_Duplicate(cJSON_GetObjectItem(root, "sts"), 1);
    cJSON_Delete(root);
    return out;
}

llmbed_pool_span span_of(const std::string &s) {
    return s == "text" ? LLMBED_POOL_SPAN_TEXT : s == "last-text" ? LLMBED_POOL_SPAN_LAST_TEXT : LLMBED_POOL_SPAN_ALL;
}

llmbed_pooling pooling_of(const std::string &s) {
    return s == "last" ? LLMBED_POOLING_LAST
           : s == "first" ? LLMBED_POOLING_FIRST
           : s == "weighted-mean" ? LLMBED_POOLING_WEIGHTED_MEAN
                                  : LLMBED_POOLING_MEAN;
}

llmbed_embed_params params_of(const method_case &m) {
    llmbed_embed_params p;
    llmbed_embed_params_default(&p);
    p.pooling = pooling_of(m.pooling);
    p.attention = m.attention == "bidirectional" ? LLMBED_ATTENTION_BIDIRECTIONAL : LLMBED_ATTENTION_CAUSAL;
    p.normalize = 0;
    p.layer = m.layer;
    p.attention_temperature = m.temperature;
    return p;
}

struct model_ctx {
    llmbed_model *model = nullptr;
    llmbed_ctx *ctx = nullptr;
    model_ctx() {
        llmbed_error e = {};
        INFO(e.message);
        REQUIRE(llmbed_model_load(kModel.c_str(), nullptr, &model, &e) == LLMBED_OK);
        llmbed_ctx_params cp;
        llmbed_ctx_params_default(&cp);
        cp.n_threads = 2;
        REQUIRE(llmbed_ctx_create(model, &cp, &ctx, &e) == LLMBED_OK);
    }
    ~model_ctx() {
        llmbed_ctx_free(ctx);
        llmbed_model_free(model);
    }
};

std::vector<float> embed_one(llmbed_ctx *ctx, const method_case &m, llmbed_status *status) {
    std::vector<int64_t> offsets = {0, (int64_t)m.ids.size()};
    llmbed_batch batch{};
    batch.tokens = m.ids.data();
    batch.offsets = offsets.data();
    batch.n_sequences = 1;
    batch.instruction_lens = &m.begin;
    batch.pool_ends = &m.end;
    llmbed_embed_params p = params_of(m);
    std::vector<float> out(kHidden + 4, -7777.25f);
    *status = llmbed_embed(ctx, &batch, &p, out.data(), kHidden);
    CHECK(out[kHidden] == -7777.25f);
    out.resize(kHidden);
    return out;
}

}  // namespace

TEST_CASE("methods: templated ids and pooled spans equal HF tokenizers' on the tiny model", "[methods][golden]") {
    model_ctx mc;
    const auto cases = read_cases(nullptr);
    REQUIRE(cases.size() == 36);
    for (const auto &m : cases) {
        INFO(m.name << " / " << m.text);
        llmbed_template_params tp;
        llmbed_template_params_default(&tp);
        tp.template_text = m.has_template ? m.template_text.c_str() : nullptr;
        tp.pool_span = span_of(m.pool_span);
        std::vector<int32_t> ids(256);
        size_t n = 0;
        int32_t begin = -1, end = -1;
        llmbed_error e = {};
        REQUIRE(llmbed_tokenize_template(mc.model, m.text.data(), m.text.size(), &tp, ids.data(), ids.size(), &n, &begin,
                                         &end, nullptr, &e) == LLMBED_OK);
        ids.resize(n);
        CHECK(ids == m.ids);
        CHECK(begin == m.begin);
        CHECK(end == m.end);
    }
}

TEST_CASE("methods: CPU embeddings equal the float64 goldens per method", "[methods][golden]") {
    model_ctx mc;
    const auto cases = read_cases(nullptr);
    Agreement all;
    int run = 0;
    for (const auto &m : cases) {
        INFO(m.name << " / " << m.text);
        llmbed_status st;
        const std::vector<float> got = embed_one(mc.ctx, m, &st);
        REQUIRE(st == LLMBED_OK);
        const Agreement a = compare_rows(got.data(), m.embedding, kHidden);
        CHECK(a.within_golden_tolerance());
        all.merge(a);
        run++;
    }
    std::printf("method goldens (cpu): %d cases, min cosine %.9f, max |diff| %.2e\n", run, all.min_cosine, all.max_abs);
    CHECK(run == 36);
    /* The comparison tells methods apart: echo's rows are not early-exit echo's. */
    const method_case *echo = nullptr, *early = nullptr;
    for (const auto &m : cases) {
        if (m.name == "echo" && !echo) echo = &m;
        if (m.name == "early exit: echo at layer 1" && !early) early = &m;
    }
    REQUIRE(echo != nullptr);
    REQUIRE(early != nullptr);
    llmbed_status st;
    const std::vector<float> got = embed_one(mc.ctx, *echo, &st);
    REQUIRE(st == LLMBED_OK);
    CHECK_FALSE(compare_rows(got.data(), early->embedding, kHidden).within_golden_tolerance());
}

TEST_CASE("methods: packed batches with per-sequence pool ranges equal the goldens", "[methods][golden]") {
    model_ctx mc;
    const auto cases = read_cases(nullptr);
    std::map<std::tuple<std::string, int, std::string, float>, std::vector<const method_case *>> groups;
    for (const auto &m : cases) groups[{m.attention, m.layer, m.pooling, m.temperature}].push_back(&m);
    size_t checked = 0;
    for (const auto &g : groups) {
        std::vector<int32_t> tokens, begins, ends;
        std::vector<int64_t> offsets = {0};
        std::vector<double> want;
        for (const method_case *m : g.second) {
            tokens.insert(tokens.end(), m->ids.begin(), m->ids.end());
            offsets.push_back((int64_t)tokens.size());
            begins.push_back(m->begin);
            ends.push_back(m->end);
            want.insert(want.end(), m->embedding.begin(), m->embedding.end());
        }
        llmbed_batch batch{};
        batch.tokens = tokens.data();
        batch.offsets = offsets.data();
        batch.n_sequences = (int)g.second.size();
        batch.instruction_lens = begins.data();
        batch.pool_ends = ends.data();
        llmbed_embed_params p = params_of(*g.second[0]);
        std::vector<float> out(g.second.size() * kHidden);
        REQUIRE(llmbed_embed(mc.ctx, &batch, &p, out.data(), out.size()) == LLMBED_OK);
        INFO(g.second[0]->name);
        CHECK(compare_rows(out.data(), want, kHidden).within_golden_tolerance());
        checked += g.second.size();
    }
    CHECK(checked == cases.size());
}

TEST_CASE("methods: llmbed embed --method and JSONL input reproduce the goldens", "[methods][cli]") {
    const auto cases = read_cases(nullptr);
    const std::string dir = scratch("methods", "embed");
    std::string text_lines, jsonl;
    std::vector<std::string> texts;
    for (const auto &m : cases)
        if (m.name == "echo") texts.push_back(m.text);
    REQUIRE(texts.size() == 3);
    for (const auto &t : texts) {
        text_lines += t + "\n";
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "text", t.c_str());
        char *s = cJSON_PrintUnformatted(o);
        jsonl += std::string(s) + "\n";
        cJSON_free(s);
        cJSON_Delete(o);
    }
    write_file(dir + "/in.txt", text_lines);
    write_file(dir + "/in.jsonl", jsonl);
    /* golden case name -> the flags that select it */
    const std::vector<std::pair<std::string, std::vector<std::string>>> runs = {
        {"mean", {"--method", "mean"}},
        {"last", {"--method", "last"}},
        {"echo", {"--method", "echo"}},
        {"prompteol", {"--method", "prompteol"}},
        {"tempscale T=0.5", {"--method", "tempscale", "--attn-temperature", "0.5"}},
        {"tempscale T=3 + prompteol", {"--method", "prompteol", "--attn-temperature", "3"}},
        {"early exit: echo at layer 1", {"--method", "echo", "--layer", "1"}},
        {"first copy of echo (span ends early)", {"--method", "echo", "--pool-span", "text"}},
        {"text span, weighted mean, literal after",
         {"--template", "Query: {text} -- end", "--pool-span", "text", "--pooling", "weighted-mean"}},
        {"echo bidirectional, T=2", {"--method", "echo", "--attention", "bidirectional", "--attn-temperature", "2"}},
    };
    for (const auto &run_case : runs) {
        const std::string method = run_case.first;
        for (const char *input : {"in.txt", "in.jsonl"}) {
            INFO(method << " " << input);
            const std::string out = dir + "/out.npy";
            std::vector<std::string> args = {"embed", "--model", kModel, "--input", dir + "/" + input, "--output", out,
                                             "--no-normalize", "--quiet"};
            args.insert(args.end(), run_case.second.begin(), run_case.second.end());
            Result r = run(args, dir);
            INFO(r.err);
            REQUIRE(r.status == 0);
            const std::string npy = slurp(out);
            REQUIRE(npy.size() > 128);
            const size_t header = 10 + ((unsigned char)npy[8] | ((unsigned char)npy[9] << 8));
            REQUIRE(npy.size() == header + 3 * kHidden * 4);
            const float *rows = reinterpret_cast<const float *>(npy.data() + header);
            std::vector<double> want;
            for (const auto &t : texts)
                for (const auto &m : cases)
                    if (m.name == method && m.text == t) want.insert(want.end(), m.embedding.begin(), m.embedding.end());
            REQUIRE(want.size() == 3 * kHidden);
            CHECK(compare_rows(rows, want, kHidden).within_golden_tolerance());
        }
    }
    /* --pooling overrides the method's pooling: echo's span with last-token pooling. */
    Result r = run({"embed", "--model", kModel, "--input", dir + "/in.txt", "--output", dir + "/o.npy", "--method", "echo",
                    "--pooling", "last", "--no-normalize", "--quiet"},
                   dir);
    CHECK(r.status == 0);
}

TEST_CASE("methods: llmbed eval sts equals scipy on the float64 embeddings", "[methods][cli][eval]") {
    cJSON *sts = nullptr;
    read_cases(&sts);
    REQUIRE(sts != nullptr);
    const std::string dir = scratch("methods", "sts");
    const std::string data = std::string(LLMBED_TEST_DATA_DIR) + "/" + cJSON_GetObjectItem(sts, "file")->valuestring;
    for (const cJSON *m = cJSON_GetObjectItem(sts, "results")->child; m; m = m->next) {
        INFO(m->string);
        const std::string out = dir + "/" + m->string + ".json";
        Result r = run({"eval", "sts", "--model", kModel, "--data", data, "--method", m->string, "--output", out,
                        "--quiet"},
                       dir);
        INFO(r.err);
        REQUIRE(r.status == 0);
        CHECK(r.out.find("small ") != std::string::npos);
        CHECK(r.out.find("macro mean") != std::string::npos);
        cJSON *got = cJSON_Parse(slurp(out).c_str());
        REQUIRE(got != nullptr);
        CHECK(std::string(cJSON_GetObjectItem(got, "model")->valuestring) == kModel);
        CHECK(std::string(cJSON_GetObjectItem(cJSON_GetObjectItem(got, "method"), "name")->valuestring) == m->string);
        const cJSON *file = cJSON_GetObjectItem(cJSON_GetObjectItem(got, "files"), "small");
        REQUIRE(file != nullptr);
        CHECK(cJSON_GetObjectItem(file, "pairs")->valueint == 12);
        /* Ranks are identical (the generator keeps cosines >= 1e-5 apart), so rho is exact. */
        CHECK(std::fabs(cJSON_GetObjectItem(file, "spearman")->valuedouble -
                        cJSON_GetObjectItem(m, "spearman")->valuedouble) <= 1e-9);
        CHECK(std::fabs(cJSON_GetObjectItem(file, "pearson")->valuedouble -
                        cJSON_GetObjectItem(m, "pearson")->valuedouble) <= 1e-3);
        const cJSON *macro = cJSON_GetObjectItem(got, "macro_mean");
        CHECK(cJSON_GetObjectItem(macro, "spearman")->valuedouble == cJSON_GetObjectItem(file, "spearman")->valuedouble);
        cJSON_Delete(got);
    }
    /* Two files: the macro mean is their mean, and a duplicate stem is refused. */
    write_file(dir + "/other.tsv", slurp(data));
    Result r = run({"eval", "sts", "--model", kModel, "--data", data + "," + dir + "/other.tsv", "--method", "mean",
                    "--output", dir + "/two.json", "--quiet"},
                   dir);
    REQUIRE(r.status == 0);
    cJSON *two = cJSON_Parse(slurp(dir + "/two.json").c_str());
    REQUIRE(two != nullptr);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(two, "files")) == 2);
    cJSON_Delete(two);
    r = run({"eval", "sts", "--model", kModel, "--data", data + "," + data, "--quiet"}, dir);
    CHECK(r.status == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(r.err.find("two files with the stem 'small'") != std::string::npos);
    /* An unwritable output: failure, no file. */
    r = run({"eval", "sts", "--model", kModel, "--data", data, "--output", dir + "/missing/dir/x.json", "--quiet"}, dir);
    CHECK(r.status == LLMBED_ERR_OUTPUT_WRITE);
    CHECK_FALSE(exists(dir + "/missing/dir/x.json"));
    cJSON_Delete(sts);
}
