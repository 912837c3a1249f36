// llmbed eval passkey (issue 10 item 7): the generated set is deterministic,
// within its token budget, has exactly one needle per document and unique
// names; the accuracy is top-1 retrieval (checked on hand-made rows that
// must score 1, 0.5 and 0); the command writes its table and JSON.
#include <catch2/catch.hpp>

#include <cjson/cJSON.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

extern "C" {
#include "eval/passkey.h"
}
#include "llmbed.h"
#include "support/cli_process.hpp"

using namespace llmbed_test::cli;

namespace {

const std::string kModel = LLMBED_TEST_DATA_DIR "/models/families/e5-mistral";
const std::string kFiller = LLMBED_SHARED_TESTDATA_DIR "/sts/sick2014-trial.tsv";

using ModelPtr = std::unique_ptr<llmbed_model, decltype(&llmbed_model_free)>;

const std::vector<const char *> kPool = {"A man is playing a guitar.", "Two dogs run across the field.",
                                         "The sun is shining over the quiet lake.", "A woman slices an onion.",
                                         "Children are playing in the park after school."};

int count(const std::string &text, const std::string &needle) {
    int n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) n++;
    return n;
}

}  // namespace

TEST_CASE("passkey sets: deterministic, within budget, one needle each", "[eval][passkey]") {
    llmbed_model *raw = nullptr;
    REQUIRE(llmbed_model_load(kModel.c_str(), nullptr, &raw, nullptr) == LLMBED_OK);
    ModelPtr model(raw, llmbed_model_free);
    llmbed_passkey_set a{}, b{}, c{};
    llmbed_error error{};
    REQUIRE(llmbed_passkey_generate(model.get(), kPool.data(), kPool.size(), 300, 12, 7, &a, &error) == LLMBED_OK);
    REQUIRE(llmbed_passkey_generate(model.get(), kPool.data(), kPool.size(), 300, 12, 7, &b, &error) == LLMBED_OK);
    REQUIRE(llmbed_passkey_generate(model.get(), kPool.data(), kPool.size(), 300, 12, 8, &c, &error) == LLMBED_OK);
    std::set<std::string> names;
    int same_as_other_seed = 0;
    for (int i = 0; i < a.n; i++) {
        const std::string doc = a.documents[i], query = a.queries[i];
        CHECK(doc == b.documents[i]);  // same seed, same set
        same_as_other_seed += doc == c.documents[i];
        CHECK(a.tokens[i] <= 300);
        CHECK(a.tokens[i] >= 250);  // filled close to the budget
        llmbed_tokenize_params tp;
        llmbed_tokenize_params_default(&tp);
        size_t n = 0;
        std::vector<int32_t> ids(doc.size() + 16);
        REQUIRE(llmbed_tokenize(model.get(), doc.data(), doc.size(), &tp, ids.data(), ids.size(), &n, nullptr,
                                nullptr) == LLMBED_OK);
        CHECK((int)n == a.tokens[i]);
        const std::string name = query.substr(24, query.size() - 25);  // "What is the pass key of NAME?"
        names.insert(name);
        CHECK(count(doc, "The pass key of " + name + " is ") == 1);
        CHECK(count(doc, "pass key") == 2);  // the needle's two mentions, nothing else
        CHECK(a.depth[i] >= 0.0);
        CHECK(a.depth[i] <= 1.0);
    }
    CHECK(names.size() == 12);  // every query has one answer
    CHECK(same_as_other_seed == 0);
    llmbed_passkey_set tiny{};
    CHECK(llmbed_passkey_generate(model.get(), kPool.data(), kPool.size(), 10, 2, 7, &tiny, &error) ==
          LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(std::string(error.message).find("needle alone") != std::string::npos);
    llmbed_passkey_set_free(&a);
    llmbed_passkey_set_free(&b);
    llmbed_passkey_set_free(&c);
}

TEST_CASE("passkey accuracy is top-1 retrieval", "[eval][passkey]") {
    const std::vector<float> docs = {1, 0, 0, 1};              // two unit rows
    CHECK(llmbed_passkey_accuracy(docs.data(), docs.data(), 2, 2) == 1.0);
    const std::vector<float> swapped = {0, 1, 1, 0};
    CHECK(llmbed_passkey_accuracy(swapped.data(), docs.data(), 2, 2) == 0.0);
    const std::vector<float> half = {1, 0, 1, 0};              // query 1 finds document 0
    CHECK(llmbed_passkey_accuracy(half.data(), docs.data(), 2, 2) == 0.5);
    const std::vector<float> tie = {0.6f, 0.6f, 0, 1};          // query 0 ties: a miss
    CHECK(llmbed_passkey_accuracy(tie.data(), docs.data(), 2, 2) == 0.5);
}

TEST_CASE("cli eval passkey: table, JSON and bad lists", "[cli][eval][passkey]") {
    const std::string dir = scratch("passkey", "cli");
    Result r = run({"eval", "passkey", "--model", kModel, "--filler", kFiller, "--lengths", "96,160", "--documents",
                    "6", "--think-ratios", "0.5,0", "--chunk-tokens", "32,64", "--output", dir + "/out.json",
                    "--dump", dir + "/set.jsonl", "--threads", "1", "--quiet"},
                   dir);
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.status == 0);
    cJSON *json = cJSON_Parse(slurp(dir + "/out.json").c_str());
    REQUIRE(json != nullptr);
    const cJSON *runs = cJSON_GetObjectItem(json, "runs");
    REQUIRE(cJSON_GetArraySize(runs) == 8);  // 2 lengths x 2 ratios x 2 chunks
    for (int i = 0; i < 8; i++) {
        const cJSON *run = cJSON_GetArrayItem(runs, i);
        const double accuracy = cJSON_GetObjectItem(run, "accuracy")->valuedouble;
        const double ratio = cJSON_GetObjectItem(run, "think_ratio")->valuedouble;
        const double cosine = cJSON_GetObjectItem(run, "mean_cosine_vs_ratio0")->valuedouble;
        CHECK(accuracy >= 0.0);
        CHECK(accuracy <= 1.0);
        const double kv = cJSON_GetObjectItem(run, "kv_bytes")->valuedouble;
        const double kv_full = cJSON_GetObjectItem(run, "kv_bytes_full")->valuedouble;
        CHECK(kv > 0);
        CHECK(kv <= kv_full); // ThinK runs only where it saves key memory, else the plain cache
        if (ratio == 0.0 || kv == kv_full) {
            CHECK(cosine == Approx(1.0).margin(1e-6));
        } else {
            CHECK(cosine < 1.0); // pruned documents change their rows
        }
    }
    cJSON_Delete(json);
    CHECK(count(slurp(dir + "/set.jsonl"), "\n") == 12);
    Result bad = run({"eval", "passkey", "--model", kModel, "--filler", kFiller, "--think-ratios", "1.5"}, dir);
    CHECK(bad.status == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(bad.err.find("--think-ratios") != std::string::npos);
    Result missing = run({"eval", "passkey", "--model", kModel, "--filler", dir + "/none.tsv"}, dir);
    CHECK(missing.status == LLMBED_ERR_FILE_NOT_FOUND);
    CHECK(missing.err.find("--filler") != std::string::npos);
}
