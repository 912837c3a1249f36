/* Templates with spans (issue 14): parsing ({text} repeats, {{ }} escapes,
 * clear errors), rendering, the pooled token span by the overlap rule
 * against spans computed from HF tokenizers' offsets
 * (tests/tokenizer/gen_offset_goldens.py) on byte-level BPE and
 * SentencePiece vocabularies, and the public llmbed_tokenize_template /
 * llmbed_method_* API. */
#include <catch2/catch.hpp>

#include <cjson/cJSON.h>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "llmbed.h"
#include "template/template.h"
#include "tokenizer_test_util.h"

using namespace tokenizer_test;

namespace {

std::string parse_error(const char *source) {
    llmbed_template t;
    llmbed_error e = {};
    llmbed_status st = llmbed_template_parse(source, "--template", &t, &e);
    llmbed_template_free(&t);
    return st == LLMBED_OK ? "ok" : std::string(llmbed_status_str(st)) + ": " + e.message;
}

struct model_handle {
    llmbed_model *model = nullptr;
    explicit model_handle(const std::string &path) {
        llmbed_model_params mp;
        llmbed_model_params_default(&mp);
        mp.vocab_only = 1;
        llmbed_error e = {};
        INFO(e.message);
        REQUIRE(llmbed_model_load(path.c_str(), &mp, &model, &e) == LLMBED_OK);
    }
    ~model_handle() { llmbed_model_free(model); }
};

struct templated {
    llmbed_status status;
    std::vector<int32_t> ids;
    int32_t begin = -1, end = -1;
    int truncated = -1;
    std::string message;
};

templated tokenize_template(const llmbed_model *model, const std::string &tmpl, const std::string &text,
                            llmbed_pool_span span, int add_special = 1, size_t max_tokens = 0) {
    llmbed_template_params p;
    llmbed_template_params_default(&p);
    p.template_text = tmpl.c_str();
    p.pool_span = span;
    p.add_special = add_special;
    p.max_tokens = max_tokens;
    templated out;
    std::vector<int32_t> ids(512);
    size_t n = 0;
    llmbed_error e = {};
    out.status = llmbed_tokenize_template(model, text.data(), text.size(), &p, ids.data(), ids.size(), &n, &out.begin,
                                          &out.end, &out.truncated, &e);
    ids.resize(out.status == LLMBED_OK ? n : 0);
    out.ids = ids;
    out.message = e.message;
    return out;
}

llmbed_pool_span span_of(const std::string &name) {
    return name == "text" ? LLMBED_POOL_SPAN_TEXT : name == "last-text" ? LLMBED_POOL_SPAN_LAST_TEXT : LLMBED_POOL_SPAN_ALL;
}

}  // namespace

TEST_CASE("templates: parsing, escapes and repeated placeholders", "[template]") {
    llmbed_template t;
    llmbed_error e = {};
    REQUIRE(llmbed_template_parse("{{a}} {text}, again {text}}}", "t", &t, &e) == LLMBED_OK);
    CHECK(std::string(t.literal) == "{a} , again }");
    REQUIRE(t.n_copies == 2);
    CHECK(t.cuts[0] == 4);
    CHECK(t.cuts[1] == 12);
    char *out = nullptr;
    size_t len = 0, starts[2];
    REQUIRE(llmbed_template_render(&t, "hé", 3, &out, &len, starts, &e) == LLMBED_OK);
    CHECK(std::string(out, len) == "{a} hé, again hé}");
    CHECK(starts[0] == 4);
    CHECK(starts[1] == 15);
    std::free(out);
    llmbed_template_free(&t);

    char *escaped = llmbed_template_escape("a {b} }{");
    CHECK(std::string(escaped) == "a {{b}} }}{{");
    std::free(escaped);
}

TEST_CASE("templates: bad templates fail naming the problem and its position", "[template][errors]") {
    CHECK(parse_error("no placeholder here") ==
          "invalid argument: --template: no {text} placeholder (the template must say where the text goes)");
    CHECK(parse_error("") ==
          "invalid argument: --template: no {text} placeholder (the template must say where the text goes)");
    CHECK(parse_error("{text} and {name}") ==
          "invalid argument: --template: unknown placeholder '{name}' at byte 11 (the only placeholder is {text}; "
          "write {{ and }} for literal braces)");
    CHECK(parse_error("{text} {") == "invalid argument: --template: unmatched '{' at byte 7 (write {{ for a literal brace)");
    CHECK(parse_error("} {text}") == "invalid argument: --template: unmatched '}' at byte 0 (write }} for a literal brace)");
    CHECK(parse_error("{{text}}") ==
          "invalid argument: --template: no {text} placeholder (the template must say where the text goes)");
    CHECK(parse_error("{text}") == "ok");
    llmbed_error e = {};
    CHECK(llmbed_template_check("x {text", &e) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(std::strstr(e.message, "unmatched '{' at byte 2") != nullptr);
}

TEST_CASE("templates: overlap rule on token offsets", "[template]") {
    /* Tokens [0,3) [3,3) [3,8) [8,9); text [4, 6) overlaps only token 2. */
    const int64_t offsets[] = {0, 3, 3, 3, 3, 8, 8, 9};
    int32_t first = -1, end = -1;
    REQUIRE(llmbed_span_tokens(offsets, 4, 4, 6, &first, &end));
    CHECK(first == 2);
    CHECK(end == 3);
    REQUIRE(llmbed_span_tokens(offsets, 4, 2, 9, &first, &end));
    CHECK(first == 0); /* [0,3) overlaps [2,9) */
    CHECK(end == 4);   /* the empty token inside is kept: the span is contiguous */
    CHECK_FALSE(llmbed_span_tokens(offsets, 4, 3, 3, &first, &end)); /* empty text */
    CHECK_FALSE(llmbed_span_tokens(offsets, 4, 9, 12, &first, &end));
    REQUIRE(llmbed_span_tokens(offsets, 4, 8, 9, &first, &end));
    CHECK(first == 3); /* touching [3,8) at 8 is no overlap */
}

TEST_CASE("templates: pooled spans equal spans from HF offsets (byte-level BPE, SentencePiece)", "[template][offsets]") {
    const std::string json = read_all(std::string(LLMBED_TEST_DATA_DIR) + "/offsets/hf_offsets.json");
    cJSON *root = cJSON_Parse(json.c_str());
    REQUIRE(root != nullptr);
    int differs_alone = 0, checked = 0;
    for (const char *name : {"gpt-2", "llama-spm"}) {
        const cJSON *tk = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "tokenizers"), name);
        REQUIRE(tk != nullptr);
        model_handle m(shared_dir() + name + "/vocab.gguf");
        for (const cJSON *c = cJSON_GetObjectItem(tk, "templates")->child; c; c = c->next) {
            const std::string tmpl = cJSON_GetObjectItem(c, "template")->valuestring;
            const std::string text = cJSON_GetObjectItem(c, "text")->valuestring;
            const std::string span = cJSON_GetObjectItem(c, "span")->valuestring;
            std::vector<int32_t> ids;
            for (const cJSON *v = cJSON_GetObjectItem(c, "ids")->child; v; v = v->next) ids.push_back(v->valueint);
            INFO(name << ": " << tmpl << " / " << text << " / " << span);
            const templated got = tokenize_template(m.model, tmpl, text, span_of(span), 0);
            REQUIRE(got.status == LLMBED_OK);
            CHECK(got.ids == ids);
            CHECK(got.begin == cJSON_GetObjectItem(c, "begin")->valueint);
            CHECK(got.end == cJSON_GetObjectItem(c, "end")->valueint);
            CHECK(got.truncated == 0);
            differs_alone += cJSON_IsTrue(cJSON_GetObjectItem(c, "differs_alone"));
            checked++;
            /* The whole templated string is tokenised at once: "pre" + "fix" is one GPT-2 token. */
            if (tmpl == "pre{text}" && std::string(name) == "gpt-2") CHECK(got.ids.size() == 1);
        }
    }
    CHECK(checked == 14);
    CHECK(differs_alone >= 4); /* the cases include texts that tokenise differently alone */
    cJSON_Delete(root);
}

TEST_CASE("templates: special tokens, span all, truncation and errors", "[template][errors]") {
    model_handle m(shared_dir() + "llama-spm/vocab.gguf"); /* adds BOS */
    const templated all = tokenize_template(m.model, "Rewrite: {text}\nAgain: {text}", "a cat", LLMBED_POOL_SPAN_ALL);
    REQUIRE(all.status == LLMBED_OK);
    CHECK(all.begin == 0);
    CHECK(all.end == (int32_t)all.ids.size());
    const templated first = tokenize_template(m.model, "Rewrite: {text}\nAgain: {text}", "a cat", LLMBED_POOL_SPAN_TEXT);
    const templated last = tokenize_template(m.model, "Rewrite: {text}\nAgain: {text}", "a cat", LLMBED_POOL_SPAN_LAST_TEXT);
    REQUIRE(first.status == LLMBED_OK);
    REQUIRE(last.status == LLMBED_OK);
    CHECK(first.ids == all.ids);
    CHECK(first.begin >= 1); /* BOS is never part of the text */
    CHECK(last.end == (int32_t)all.ids.size());
    CHECK(last.begin > first.end);
    CHECK(last.end - last.begin == first.end - first.begin);
    /* Plain text alone = llmbed_tokenize. */
    const templated plain = tokenize_template(m.model, "{text}", "a cat", LLMBED_POOL_SPAN_TEXT);
    REQUIRE(plain.status == LLMBED_OK);
    CHECK(plain.begin == 1);
    CHECK(plain.end == (int32_t)plain.ids.size());

    const templated empty = tokenize_template(m.model, "x {text} y", "", LLMBED_POOL_SPAN_TEXT);
    CHECK(empty.status == LLMBED_ERR_EMPTY_SEQUENCE);
    CHECK(empty.message == "the text is empty: the text span has no token to pool");
    const templated cut = tokenize_template(m.model, "Rewrite: {text}\nAgain: {text}", "a cat",
                                            LLMBED_POOL_SPAN_LAST_TEXT, 1, (size_t)first.end);
    CHECK(cut.status == LLMBED_ERR_SEQUENCE_TOO_LONG);
    CHECK(std::strstr(cut.message.c_str(), "last copy of the text lies beyond") != nullptr);
    const templated cut_first = tokenize_template(m.model, "Rewrite: {text}\nAgain: {text}", "a cat",
                                                  LLMBED_POOL_SPAN_TEXT, 1, (size_t)first.end);
    REQUIRE(cut_first.status == LLMBED_OK);
    CHECK(cut_first.truncated == 1);
    CHECK(cut_first.ids.size() == (size_t)first.end);
    CHECK(cut_first.end == first.end);
    const templated bad = tokenize_template(m.model, "no placeholder", "a cat", LLMBED_POOL_SPAN_TEXT);
    CHECK(bad.status == LLMBED_ERR_INVALID_ARGUMENT);

    llmbed_template_params p;
    llmbed_template_params_default(&p);
    p.struct_size = 3;
    int32_t ids[4], b, e;
    size_t n;
    llmbed_error err = {};
    CHECK(llmbed_tokenize_template(m.model, "x", 1, &p, ids, 4, &n, &b, &e, nullptr, &err) == LLMBED_ERR_INVALID_ARGUMENT);
    llmbed_template_params_default(&p);
    p.pool_span = (llmbed_pool_span)7;
    CHECK(llmbed_tokenize_template(m.model, "x", 1, &p, ids, 4, &n, &b, &e, nullptr, &err) == LLMBED_ERR_INVALID_ARGUMENT);
    llmbed_template_params_default(&p);
    p.template_text = "Rewrite the sentence: {text}";
    CHECK(llmbed_tokenize_template(m.model, "a cat", 5, &p, ids, 2, &n, &b, &e, nullptr, &err) ==
          LLMBED_ERR_BUFFER_TOO_SMALL);
    CHECK(n > 2);
}

TEST_CASE("methods: the published templates and the table", "[template]") {
    const llmbed_method *echo = llmbed_method_find("echo");
    REQUIRE(echo != nullptr);
    CHECK(std::string(echo->template_text) == "Rewrite the sentence: {text}\nRewritten sentence: {text}");
    CHECK(echo->pool_span == LLMBED_POOL_SPAN_LAST_TEXT);
    CHECK(echo->pooling == LLMBED_POOLING_MEAN);
    const llmbed_method *eol = llmbed_method_find("prompteol");
    REQUIRE(eol != nullptr);
    CHECK(std::string(eol->template_text) == "This sentence: \"{text}\" means in one word:\"");
    CHECK(eol->pool_span == LLMBED_POOL_SPAN_ALL);
    CHECK(eol->pooling == LLMBED_POOLING_LAST);
    const llmbed_method *temp = llmbed_method_find("tempscale");
    REQUIRE(temp != nullptr);
    CHECK(temp->needs_attention_temperature == 1);
    CHECK(llmbed_method_find("Echo") == nullptr);
    CHECK(llmbed_method_find(nullptr) == nullptr);
    int n = 0;
    while (llmbed_method_at(n) != nullptr) {
        llmbed_error e = {};
        if (llmbed_method_at(n)->template_text) CHECK(llmbed_template_check(llmbed_method_at(n)->template_text, &e) == LLMBED_OK);
        n++;
    }
    CHECK(n == 5);
    CHECK(llmbed_method_at(-1) == nullptr);
}
