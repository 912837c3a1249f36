/* llmbed eval sts: Spearman (average ranks for ties) and Pearson against
 * scipy on committed vectors (tests/eval/gen_correlation_goldens.py), the
 * TSV reader and its errors (file and line named), the distinct-sentence
 * set, and the command's usage errors. */
#include <catch2/catch.hpp>

#include <cjson/cJSON.h>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "eval/correlation.h"
#include "eval/sts_file.h"
#include "eval/text_set.h"
#include "support/cli_process.hpp"

using namespace llmbed_test::cli;

namespace {

std::vector<double> numbers(const cJSON *array) {
    std::vector<double> v;
    for (const cJSON *p = array->child; p; p = p->next) v.push_back(p->valuedouble);
    return v;
}

std::string read_error(const std::string &path, llmbed_status *status) {
    llmbed_sts_file f;
    llmbed_error e = {};
    *status = llmbed_sts_file_read(path.c_str(), &f, &e);
    llmbed_sts_file_free(&f);
    return e.message;
}

void check_one_error_line(const Result &r, int status, const std::string &needle) {
    INFO("stderr: " << r.err);
    CHECK(r.status == status);
    const std::string err = without_notes(r.err);
    CHECK(std::count(err.begin(), err.end(), '\n') == 1);
    CHECK(err.rfind("llmbed: error: ", 0) == 0);
    CHECK(r.err.find(needle) != std::string::npos);
}

}  // namespace

TEST_CASE("eval: Spearman and Pearson equal scipy", "[eval]") {
    const std::string json = slurp(LLMBED_TEST_DATA_DIR "/sts/correlation.json");
    cJSON *root = cJSON_Parse(json.c_str());
    REQUIRE(root != nullptr);
    int n_cases = 0;
    for (const cJSON *c = cJSON_GetObjectItem(root, "cases")->child; c; c = c->next, n_cases++) {
        const std::vector<double> x = numbers(cJSON_GetObjectItem(c, "x")), y = numbers(cJSON_GetObjectItem(c, "y"));
        INFO(cJSON_GetObjectItem(c, "name")->valuestring);
        const cJSON *rho = cJSON_GetObjectItem(c, "spearman"), *r = cJSON_GetObjectItem(c, "pearson");
        const double ours_rho = llmbed_spearman(x.data(), y.data(), x.size());
        const double ours_r = llmbed_pearson(x.data(), y.data(), x.size());
        if (cJSON_IsNull(rho)) {
            CHECK(std::isnan(ours_rho));
        } else {
            CHECK(std::fabs(ours_rho - rho->valuedouble) <= 1e-12);
        }
        if (cJSON_IsNull(r)) {
            CHECK(std::isnan(ours_r));
        } else {
            CHECK(std::fabs(ours_r - r->valuedouble) <= 1e-12);
        }
        if (n_cases == 1) {
            /* Ties matter: ranking tied values 1, 2, 3, ... instead of averaging misses scipy's value. */
            std::vector<double> rx(x.size()), ry(y.size());
            std::vector<size_t> ix(x.size()), iy(y.size());
            for (size_t i = 0; i < x.size(); i++) ix[i] = iy[i] = i;
            std::stable_sort(ix.begin(), ix.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
            std::stable_sort(iy.begin(), iy.end(), [&](size_t a, size_t b) { return y[a] < y[b]; });
            for (size_t k = 0; k < x.size(); k++) {
                rx[ix[k]] = (double)k;
                ry[iy[k]] = (double)k;
            }
            CHECK(std::fabs(llmbed_pearson(rx.data(), ry.data(), x.size()) - rho->valuedouble) > 1e-3);
        }
    }
    CHECK(n_cases == 6);
    const double tied[] = {3, 1, 3, 2};
    double ranks[4];
    REQUIRE(llmbed_average_ranks(tied, 4, ranks) == 0);
    CHECK(ranks[0] == 3.5);
    CHECK(ranks[1] == 1.0);
    CHECK(ranks[2] == 3.5);
    CHECK(ranks[3] == 2.0);
    cJSON_Delete(root);
}

TEST_CASE("eval: the TSV reader and its errors name the file and line", "[eval][errors]") {
    llmbed_sts_file f;
    llmbed_error e = {};
    REQUIRE(llmbed_sts_file_read(LLMBED_TEST_DATA_DIR "/sts/small.tsv", &f, &e) == LLMBED_OK);
    CHECK(std::string(f.stem) == "small");
    REQUIRE(f.n_pairs == 12);
    CHECK(f.gold[0] == 4.4);
    CHECK(std::string(f.first[5]) == "Café prices rose in Zürich.");
    CHECK(std::string(f.second[11]) == "The mouse was chased by the cat.");
    llmbed_sts_file_free(&f);

    const std::string dir = scratch("eval", "tsv");
    write_file(dir + "/crlf.tsv", "1\ta\tb\r\n2.5\tc\td\r\n");
    REQUIRE(llmbed_sts_file_read((dir + "/crlf.tsv").c_str(), &f, &e) == LLMBED_OK);
    CHECK(f.n_pairs == 2);
    CHECK(std::string(f.second[1]) == "d");
    llmbed_sts_file_free(&f);

    llmbed_status st;
    write_file(dir + "/two.tsv", "1\ta\tb\n2\tonly two fields\n");
    CHECK(read_error(dir + "/two.tsv", &st) ==
          dir + "/two.tsv:2: expected score<TAB>sentence1<TAB>sentence2, found 2 fields");
    CHECK(st == LLMBED_ERR_INPUT_FORMAT);
    write_file(dir + "/four.tsv", "1\ta\tb\tc\n");
    CHECK(read_error(dir + "/four.tsv", &st) ==
          dir + "/four.tsv:1: expected score<TAB>sentence1<TAB>sentence2, found more than 3 fields");
    write_file(dir + "/score.tsv", "1\ta\tb\n\n");
    CHECK(read_error(dir + "/score.tsv", &st) ==
          dir + "/score.tsv:2: expected score<TAB>sentence1<TAB>sentence2, found 1 field");
    write_file(dir + "/nan.tsv", "high\ta\tb\n");
    CHECK(read_error(dir + "/nan.tsv", &st) == dir + "/nan.tsv:1: score 'high' is not a finite number");
    write_file(dir + "/inf.tsv", "inf\ta\tb\n");
    CHECK(read_error(dir + "/inf.tsv", &st) == dir + "/inf.tsv:1: score 'inf' is not a finite number");
    write_file(dir + "/empty_sentence.tsv", "3\t\tb\n");
    CHECK(read_error(dir + "/empty_sentence.tsv", &st) == dir + "/empty_sentence.tsv:1: sentence 1 is empty");
    write_file(dir + "/empty.tsv", "");
    CHECK(read_error(dir + "/empty.tsv", &st) ==
          dir + "/empty.tsv: no sentence pairs (expected score<TAB>sentence1<TAB>sentence2 lines)");
    CHECK(st == LLMBED_ERR_INPUT_FORMAT);
    read_error(dir + "/missing.tsv", &st);
    CHECK(st == LLMBED_ERR_FILE_NOT_FOUND);
}

TEST_CASE("eval: distinct sentences are kept once, in first-seen order", "[eval]") {
    llmbed_text_set set = {};
    std::vector<std::string> words;
    for (int i = 0; i < 3000; i++) words.push_back("s" + std::to_string(i % 1234));
    for (auto &w : words) llmbed_text_set_add(&set, w.c_str());
    REQUIRE(set.n == 1234);
    CHECK(std::string(set.texts[0]) == "s0");
    CHECK(std::string(set.texts[1233]) == "s1233");
    CHECK(llmbed_text_set_add(&set, "s17") == 17);
    CHECK(llmbed_text_set_add(&set, "new") == 1234);
    llmbed_text_set_free(&set);
}

TEST_CASE("eval: bad method flags and data exit with one clear line", "[eval][cli][errors]") {
    const std::string dir = scratch("eval", "cli");
    const std::string model = LLMBED_TEST_DATA_DIR "/models/llama-tiny";
    const std::string data = LLMBED_TEST_DATA_DIR "/sts/small.tsv";
    write_file(dir + "/bad.tsv", "4\tfine\tpair\n3.5\tmissing the second sentence\n");
    check_one_error_line(run({"eval", "sts", "--model", model, "--data", data + "," + dir + "/bad.tsv"}, dir),
                         LLMBED_ERR_INPUT_FORMAT,
                         dir + "/bad.tsv:2: expected score<TAB>sentence1<TAB>sentence2, found 2 fields");
    check_one_error_line(run({"eval", "sts", "--model", model, "--data", dir + "/none.tsv"}, dir),
                         LLMBED_ERR_FILE_NOT_FOUND, "none.tsv: cannot open");
    check_one_error_line(run({"eval", "sts", "--model", model, "--data", data, "--method", "echoes"}, dir),
                         LLMBED_ERR_INVALID_ARGUMENT,
                         "--method 'echoes': unknown method (known: mean, last, echo, prompteol, tempscale)");
    for (const char *t : {"0", "-1", "nan", "inf", "1e-50", "x"})
        check_one_error_line(run({"eval", "sts", "--model", model, "--data", data, "--attn-temperature", t}, dir),
                             LLMBED_ERR_INVALID_ARGUMENT, "--attn-temperature '" + std::string(t) + "': expected a finite number > 0");
    check_one_error_line(run({"eval", "sts", "--model", model, "--data", data, "--method", "tempscale"}, dir),
                         LLMBED_ERR_INVALID_ARGUMENT, "--method tempscale needs --attn-temperature T");
    check_one_error_line(run({"eval", "sts", "--model", model, "--data", data, "--template", "Summarise: {txt}"}, dir),
                         LLMBED_ERR_INVALID_ARGUMENT, "--template: unknown placeholder '{txt}' at byte 11");
    check_one_error_line(run({"eval", "sts", "--model", model, "--data", data, "--template", "no placeholder"}, dir),
                         LLMBED_ERR_INVALID_ARGUMENT, "--template: no {text} placeholder");
    check_one_error_line(run({"eval", "sts", "--model", model, "--data", data, "--pool-span", "middle"}, dir),
                         LLMBED_ERR_INVALID_ARGUMENT, "--pool-span 'middle': expected all, text or last-text");
    check_one_error_line(run({"eval", "needles", "--model", model}, dir), LLMBED_ERR_INVALID_ARGUMENT,
                         "unknown evaluation 'needles' (known: sts, passkey, needle)");
    check_one_error_line(run({"eval", "sts", "--data", data}, dir), LLMBED_ERR_INVALID_ARGUMENT,
                         "--model PATH and --data FILE.tsv are required");
    /* The same method errors from llmbed embed. */
    write_file(dir + "/in.txt", "hello\n");
    check_one_error_line(run({"embed", "--model", model, "--input", dir + "/in.txt", "--output", dir + "/o.npy",
                              "--attn-temperature", "-2"}, dir),
                         LLMBED_ERR_INVALID_ARGUMENT, "--attn-temperature '-2'");
    check_one_error_line(run({"embed", "--model", model, "--input", dir + "/in.txt", "--output", dir + "/o.npy",
                              "--method", "nope"}, dir),
                         LLMBED_ERR_INVALID_ARGUMENT, "--method 'nope': unknown method");
    check_one_error_line(run({"embed", "--model", model, "--input", dir + "/in.txt", "--output", dir + "/o.npy",
                              "--template", "{text"}, dir),
                         LLMBED_ERR_INVALID_ARGUMENT, "unmatched '{' at byte 0");
    CHECK_FALSE(exists(dir + "/o.npy"));
    /* A model without a tokenizer cannot template text. */
    check_one_error_line(run({"eval", "sts", "--model", model, "--data", data, "--quiet"}, dir),
                         LLMBED_ERR_TOKENIZER_MISSING, "has no tokenizer");
}
