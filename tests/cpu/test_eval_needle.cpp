// llmbed eval needle (issue 25 item 3): the document builder is deterministic
// (a fixed seed gives the same documents, pinned by hash), each document hides
// its own needle once within the token budget and never a query; nDCG@10 is
// checked on hand-made rankings; the command writes its table and JSON.
#include <catch2/catch.hpp>

#include <cjson/cJSON.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

extern "C" {
#include "eval/needle.h"
}
#include "llmbed.h"
#include "support/cli_process.hpp"

using namespace llmbed_test::cli;

namespace {

const std::string kModel = LLMBED_TEST_DATA_DIR "/models/families/e5-mistral";
const std::string kSts = LLMBED_SHARED_TESTDATA_DIR "/sts/";

using ModelPtr = std::unique_ptr<llmbed_model, decltype(&llmbed_model_free)>;

const std::vector<const char *> kPool = {"A man is playing a guitar.", "Two dogs run across the field.",
                                         "The sun is shining over the quiet lake.", "A woman slices an onion.",
                                         "Children are playing in the park after school."};
const std::vector<const char *> kNeedles = {"A cat sleeps on the red sofa.", "The train left the station late.",
                                            "An old man feeds the pigeons.", "Rain fell on the empty market."};
const std::vector<const char *> kQueries = {"A cat is asleep on a red couch.", "The train departed late.",
                                            "Pigeons are fed by an elderly man.", "It rained on the deserted market."};

}  // namespace

TEST_CASE("needle sets: deterministic (hash), within budget, own needle once", "[eval][needle]") {
    llmbed_model *raw = nullptr;
    REQUIRE(llmbed_model_load(kModel.c_str(), nullptr, &raw, nullptr) == LLMBED_OK);
    ModelPtr model(raw, llmbed_model_free);
    llmbed_passkey_set a{}, b{}, c{};
    llmbed_error error{};
    const auto generate = [&](uint64_t seed, llmbed_passkey_set *out) {
        return llmbed_needle_generate(model.get(), kPool.data(), kPool.size(), kNeedles.data(), kQueries.data(),
                                      kNeedles.size(), 200, 3, seed, out, &error);
    };
    REQUIRE(generate(7, &a) == LLMBED_OK);
    REQUIRE(generate(7, &b) == LLMBED_OK);
    REQUIRE(generate(8, &c) == LLMBED_OK);
    CHECK(llmbed_needle_set_hash(&a) == llmbed_needle_set_hash(&b));
    CHECK(llmbed_needle_set_hash(&a) != llmbed_needle_set_hash(&c));
    // Pinned: a change of the builder, the generator or the tokenizer shows here (update it knowingly).
    CHECK(llmbed_needle_set_hash(&a) == 0xd899118e7b5afd61ull);
    for (int i = 0; i < a.n; i++) {
        const std::string doc = a.documents[i], query = a.queries[i];
        CHECK(a.tokens[i] <= 200);
        CHECK(a.tokens[i] >= 150);
        int own = -1;
        for (size_t k = 0; k < kQueries.size(); k++)
            if (query == kQueries[k]) own = (int)k;
        REQUIRE(own >= 0);
        CHECK(doc.find(kNeedles[own]) != std::string::npos);
        CHECK(doc.find(kNeedles[own], doc.find(kNeedles[own]) + 1) == std::string::npos);
        for (const char *q : kQueries) CHECK(doc.find(q) == std::string::npos);
        for (int j = 0; j < i; j++) CHECK(query != a.queries[j]);  // distinct pairs
    }
    llmbed_passkey_set more{};
    CHECK(llmbed_needle_generate(model.get(), kPool.data(), kPool.size(), kNeedles.data(), kQueries.data(),
                                 kNeedles.size(), 200, 5, 7, &more, &error) == LLMBED_ERR_INVALID_ARGUMENT);
    llmbed_passkey_set_free(&a);
    llmbed_passkey_set_free(&b);
    llmbed_passkey_set_free(&c);
}

TEST_CASE("needle nDCG@10: one relevant document per query", "[eval][needle]") {
    const std::vector<float> docs = {1, 0, 0, 1};  // two unit rows
    CHECK(llmbed_needle_ndcg10(docs.data(), docs.data(), 2, 2) == Approx(1.0));
    const std::vector<float> swapped = {0, 1, 1, 0};  // each own document at rank 2
    CHECK(llmbed_needle_ndcg10(swapped.data(), docs.data(), 2, 2) == Approx(1.0 / std::log2(3.0)));
    // 11 documents, every query row (1, 0); document 0 is (0, 1), the others (1, 0). Query 0 ranks
    // its own document 11th (> 10: scores 0); query d > 0 ties with nine others: rank 10, counted.
    std::vector<float> many(11 * 2), query(11 * 2, 0.0f);
    for (int d = 0; d < 11; d++) {
        many[2 * d] = d == 0 ? 0.0f : 1.0f;
        many[2 * d + 1] = d == 0 ? 1.0f : 0.0f;
        query[2 * d] = 1.0f;
    }
    const double want = 10.0 * (1.0 / std::log2(1.0 + 10.0)) / 11.0;
    CHECK(llmbed_needle_ndcg10(query.data(), many.data(), 11, 2) == Approx(want));
}

TEST_CASE("cli eval needle: table, JSON, gold-5 pairs only", "[cli][eval][needle]") {
    const std::string dir = scratch("needle", "cli");
    Result r = run({"eval", "needle", "--model", kModel, "--filler", kSts + "sick2014-trial.tsv", "--needles",
                    kSts + "sts2016-headlines.tsv", "--lengths", "96", "--documents", "5", "--think-ratios", "0,0.5",
                    "--chunk-tokens", "32", "--output", dir + "/out.json", "--dump", dir + "/set.jsonl", "--threads",
                    "1", "--quiet"},
                   dir);
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("ndcg@10") != std::string::npos);
    cJSON *json = cJSON_Parse(slurp(dir + "/out.json").c_str());
    REQUIRE(json != nullptr);
    const cJSON *runs = cJSON_GetObjectItem(json, "runs");
    REQUIRE(cJSON_GetArraySize(runs) == 2);
    for (int i = 0; i < 2; i++) {
        const cJSON *run = cJSON_GetArrayItem(runs, i);
        const double ndcg = cJSON_GetObjectItem(run, "ndcg_at_10")->valuedouble;
        CHECK(ndcg >= cJSON_GetObjectItem(run, "accuracy")->valuedouble);  // a hit at rank 1 scores 1
        CHECK(ndcg <= 1.0);
    }
    cJSON_Delete(json);
    CHECK(slurp(dir + "/set.jsonl").find("\"query\"") != std::string::npos);
    Result few = run({"eval", "needle", "--model", kModel, "--filler", kSts + "sick2014-trial.tsv", "--needles",
                      kSts + "sts2016-headlines.tsv", "--documents", "500"},
                     dir);
    CHECK(few.status == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(few.err.find("gold-5 pairs") != std::string::npos);
    Result none = run({"eval", "needle", "--model", kModel, "--filler", kSts + "sick2014-trial.tsv"}, dir);
    CHECK(none.status == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(none.err.find("--needles") != std::string::npos);
}
