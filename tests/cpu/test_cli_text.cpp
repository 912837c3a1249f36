// Text input through `llmbed tokenize` and `llmbed embed`: a model folder
// made at test time (the tiny llama weights + a small SentencePiece-style
// BPE tokenizer.json whose ids were taken from HF `tokenizers` 0.23), so the
// text path can be checked against the pre-tokenised path and HF ids.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

#include "support/cli_process.hpp"

using namespace llmbed_test::cli;

namespace {

const std::string kWeights = LLMBED_TEST_DATA_DIR "/models/llama-tiny";

// Llama-2-like: "▁" prefix and space replacement, BPE with 20 merges, <unk>
// for characters outside [a-zA-Z0-9.,!?'], <s> (id 1) prepended.
const char *const kTokenizerJson = R"json({"version":"1.0","truncation":null,"padding":null,"added_tokens":[{"id":0,"content":"<unk>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},{"id":1,"content":"<s>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},{"id":2,"content":"</s>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],"normalizer":{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]},"pre_tokenizer":null,"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"pair":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"<s>","type_id":1}},{"Sequence":{"id":"B","type_id":1}}],"special_tokens":{"<s>":{"id":"<s>","ids":[1],"tokens":["<s>"]}}},"decoder":{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]},"model":{"type":"BPE","dropout":null,"unk_token":"<unk>","continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":true,"byte_fallback":false,"ignore_merges":false,"vocab":{"<unk>":0,"<s>":1,"</s>":2,"▁":3,"a":4,"b":5,"c":6,"d":7,"e":8,"f":9,"g":10,"h":11,"i":12,"j":13,"k":14,"l":15,"m":16,"n":17,"o":18,"p":19,"q":20,"r":21,"s":22,"t":23,"u":24,"v":25,"w":26,"x":27,"y":28,"z":29,"A":30,"B":31,"C":32,"D":33,"E":34,"F":35,"G":36,"H":37,"I":38,"J":39,"K":40,"L":41,"M":42,"N":43,"O":44,"P":45,"Q":46,"R":47,"S":48,"T":49,"U":50,"V":51,"W":52,"X":53,"Y":54,"Z":55,"0":56,"1":57,"2":58,"3":59,"4":60,"5":61,"6":62,"7":63,"8":64,"9":65,".":66,",":67,"!":68,"?":69,"'":70,"▁t":71,"he":72,"▁the":73,"in":74,"er":75,"an":76,"on":77,"▁a":78,"▁s":79,"re":80,"▁w":81,"or":82,"▁c":83,"at":84,"en":85,"▁i":86,"▁b":87,"ing":88,"▁o":89,"ed":90},"merges":["▁ t","h e","▁t he","i n","e r","a n","o n","▁ a","▁ s","r e","▁ w","o r","▁ c","a t","e n","▁ i","▁ b","in g","▁ o","e d"]}})json";

// A model folder: the tiny llama's config and weights plus the tokenizer and prompts.
std::string make_model(const std::string &dir) {
    std::string model = dir + "/model";
    REQUIRE(std::system(("rm -rf '" + dir + "' && mkdir -p '" + model + "'").c_str()) == 0);
    REQUIRE(symlink((kWeights + "/config.json").c_str(), (model + "/config.json").c_str()) == 0);
    REQUIRE(symlink((kWeights + "/model.safetensors").c_str(), (model + "/model.safetensors").c_str()) == 0);
    write_file(model + "/tokenizer.json", kTokenizerJson);
    write_file(model + "/config_sentence_transformers.json", "{\"prompts\": {\"query\": \"Query: \", \"document\": \"\"}}");
    return model;
}

std::vector<float> read_npy(const std::string &path) {
    std::string bytes = slurp(path);
    if (bytes.size() < 128) return {};
    std::vector<float> v((bytes.size() - 128) / 4);
    std::memcpy(v.data(), bytes.data() + 128, v.size() * 4);
    return v;
}

float max_diff(const std::vector<float> &a, const std::vector<float> &b) {
    if (a.size() != b.size() || a.empty()) return INFINITY;
    float worst = 0;
    for (size_t i = 0; i < a.size(); i++) worst = std::fmax(worst, std::fabs(a[i] - b[i]));
    return worst;
}

const char *const kTexts =
    "the cat sat on the mat\n"
    "Hello, World!\n"
    "\n"
    "{\"text\": \"weird \\u00e9 chars\"}\n"
    "{\"input_ids\": [1, 5, 9]}\n";

// HF tokenizers' ids for the lines above (pre-tokenised lines pass through).
const char *const kIds =
    "{\"input_ids\":[1,73,83,84,79,84,3,77,73,3,16,84]}\n"
    "{\"input_ids\":[1,3,37,8,15,15,18,67,3,52,82,15,7,68]}\n"
    "{\"input_ids\":[1]}\n"
    "{\"input_ids\":[1,81,8,12,21,7,3,0,83,11,4,21,22]}\n"
    "{\"input_ids\":[1,5,9]}\n";

}  // namespace

TEST_CASE("cli text: tokenize writes HF's ids, embed of text equals embed of those ids", "[cli]") {
    std::string dir = "/tmp/llmbed-test-clitext-" + std::to_string(getpid());
    std::string model = make_model(dir);
    write_file(dir + "/texts.txt", kTexts);
    Result r = run({"tokenize", "--model", model, "--input", dir + "/texts.txt", "--output", dir + "/ids.jsonl"}, dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(slurp(dir + "/ids.jsonl") == kIds);
    r = run({"tokenize", "--model", model, "--input", dir + "/texts.txt"}, dir);
    CHECK(r.out == kIds);  // stdout without --output

    std::vector<std::string> common = {"--model", model, "--threads", "1", "--quiet", "--pooling", "mean"};
    auto embed = [&](const std::string &input, const std::string &out, std::vector<std::string> extra) {
        std::vector<std::string> args = {"embed", "--input", input, "--output", dir + "/" + out};
        args.insert(args.end(), common.begin(), common.end());
        args.insert(args.end(), extra.begin(), extra.end());
        return run(args, dir);
    };
    REQUIRE(embed(dir + "/texts.txt", "text.npy", {}).status == 0);
    REQUIRE(embed(dir + "/ids.jsonl", "ids.npy", {}).status == 0);
    std::vector<float> text = read_npy(dir + "/text.npy"), ids = read_npy(dir + "/ids.npy");
    CHECK(text.size() == 5 * 48);
    CHECK(max_diff(text, ids) <= 1e-6f);
}

TEST_CASE("cli text: prompts, prompt names, prompt masking and truncation", "[cli]") {
    std::string dir = "/tmp/llmbed-test-clitext2-" + std::to_string(getpid());
    std::string model = make_model(dir);
    write_file(dir + "/q.txt", "the cat sat\non the mat, he said\n");
    // "Query: " + text, tokenised by HF: the pool sees every token with --include-prompt.
    write_file(dir + "/q_ids.jsonl",
               "{\"input_ids\": [1, 3, 46, 24, 75, 28, 0, 73, 83, 84, 79, 84]}\n"
               "{\"input_ids\": [1, 3, 46, 24, 75, 28, 0, 3, 77, 73, 3, 16, 84, 67, 3, 72, 79, 4, 12, 7]}\n");
    std::vector<std::string> common = {"--model", model, "--threads", "1", "--quiet", "--pooling", "mean"};
    auto embed = [&](const std::string &input, const std::string &out, std::vector<std::string> extra) {
        std::vector<std::string> args = {"embed", "--input", input, "--output", dir + "/" + out};
        args.insert(args.end(), common.begin(), common.end());
        args.insert(args.end(), extra.begin(), extra.end());
        return run(args, dir);
    };
    REQUIRE(embed(dir + "/q.txt", "p.npy", {"--prompt", "Query: ", "--include-prompt"}).status == 0);
    REQUIRE(embed(dir + "/q_ids.jsonl", "p_ids.npy", {}).status == 0);
    CHECK(max_diff(read_npy(dir + "/p.npy"), read_npy(dir + "/p_ids.npy")) <= 1e-6f);
    REQUIRE(embed(dir + "/q.txt", "named.npy", {"--prompt-name", "query", "--include-prompt"}).status == 0);
    CHECK(max_diff(read_npy(dir + "/named.npy"), read_npy(dir + "/p.npy")) == 0.0f);
    // Masking the prompt (8 tokens: <s> + "▁Query:▁" as sentence-transformers counts them) changes mean pooling.
    REQUIRE(embed(dir + "/q.txt", "masked.npy", {"--prompt", "Query: ", "--exclude-prompt"}).status == 0);
    CHECK(max_diff(read_npy(dir + "/masked.npy"), read_npy(dir + "/p.npy")) > 1e-3f);
    Result r = embed(dir + "/q.txt", "x.npy", {"--prompt-name", "passage"});
    CHECK(r.status == 1);
    CHECK(r.err.find("config_sentence_transformers.json: field \"prompts\" has no string \"passage\"") != std::string::npos);

    // Truncation keeps the first --max-tokens ids of HF's encoding (this tokenizer adds no EOS).
    write_file(dir + "/t_ids.jsonl", "{\"input_ids\": [1, 73, 83, 84, 79]}\n{\"input_ids\": [1, 3, 77, 73, 3]}\n");
    r = embed(dir + "/q.txt", "t.npy", {"--max-tokens", "5"});
    REQUIRE(r.status == 0);
    CHECK(r.err.find("2 truncated") != std::string::npos);
    REQUIRE(embed(dir + "/t_ids.jsonl", "t_ids.npy", {}).status == 0);
    CHECK(max_diff(read_npy(dir + "/t.npy"), read_npy(dir + "/t_ids.npy")) <= 1e-6f);
    r = embed(dir + "/q.txt", "t.npy", {"--max-tokens", "5", "--no-truncate"});
    CHECK(r.status == 30);
    CHECK(r.err.find("q.txt:1: 6 tokens, more than --max-tokens 5") != std::string::npos);
    // Invalid UTF-8 is replaced as HF does, never a crash.
    write_file(dir + "/bad_utf8.txt", "caf\xff\xfe ok\n");
    CHECK(embed(dir + "/bad_utf8.txt", "u.npy", {}).status == 0);
}

TEST_CASE("cli text: a UTF-8 BOM is not text, U+0000 is, invalid UTF-8 is counted or rejected", "[cli][text-edge]") {
    // Issue 15 items 3, 4 and 8; expected ids from HF tokenizers 0.23 with kTokenizerJson
    // (Tokenizer.encode(text).ids, the text decoded as Python does with errors="replace").
    std::string dir = "/tmp/llmbed-test-clitext3-" + std::to_string(getpid());
    std::string model = make_model(dir);
    const std::string hello = "{\"input_ids\":[1,3,72,15,15,18]}\n";  // "hello"
    auto tokenize = [&](const std::string &content) {
        write_file(dir + "/in.txt", content);
        return run({"tokenize", "--model", model, "--input", dir + "/in.txt"}, dir);
    };
    CHECK(tokenize("\xEF\xBB\xBFhello\n").out == hello);                       // BOM + plain text
    CHECK(tokenize("\xEF\xBB\xBF{\"text\": \"hello\"}\nhello\n").out == hello + hello);  // BOM + JSONL
    CHECK(tokenize("hello\n\xEF\xBB\xBFhello\n").out != hello + hello);     // only the file's start is a BOM
    Result r = tokenize("{\"text\": \"a\\u0000 hello world\"}\n");
    INFO(r.err);
    CHECK(r.out == "{\"input_ids\":[1,78,0,3,72,15,15,18,81,82,15,7]}\n");
    CHECK(tokenize("{\"text\": \"caf\xff x\"}\n").out == "{\"input_ids\":[1,83,4,9,0,3,27]}\n");

    // embed: counted in the summary, or an error naming the line and byte with --strict-utf8.
    write_file(dir + "/mixed.txt", "hello\nbad \xff\xfe byte\n{\"text\": \"caf\xff x\"}\n");
    std::vector<std::string> args = {"embed", "--model", model, "--input", dir + "/mixed.txt", "--output",
                                     dir + "/u.npy", "--threads", "1", "--quiet"};
    r = run(args, dir);
    CHECK(r.status == 0);
    CHECK(r.err.find("3 sequences") != std::string::npos);
    CHECK(r.err.find("2 with invalid UTF-8 (replaced by U+FFFD)") != std::string::npos);
    args.push_back("--strict-utf8");
    r = run(args, dir);
    CHECK(r.status == 29);
    CHECK(r.err.find("mixed.txt:2: invalid UTF-8 at byte 5 of the line (--strict-utf8)") != std::string::npos);
    CHECK_FALSE(exists(dir + "/u.npy.part"));
    args.push_back("--skip-invalid");
    r = run(args, dir);
    CHECK(r.status == 0);
    CHECK(r.err.find("1 sequences, 6 tokens, 0 truncated, 2 skipped, 0 with invalid UTF-8") != std::string::npos);
}
