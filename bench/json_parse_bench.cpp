// JSONL hot path of `llmbed embed` (issue 15 item 3): parse one line, take
// the "text" string with its length (and the "id"). Candidates from Debian 12:
// cJSON 1.7.15 (today's parser: NUL-terminated strings, so "\u0000" cuts the
// text), jansson 2.14 (json_loadb + JSON_ALLOW_NUL + json_string_length),
// simdjson 3.0.1 (On-Demand and DOM). Rounds are interleaved; the median of
// 7 rounds is reported per parser and line length.
//
// Build and run (not part of the CMake build: it links two parsers the
// library does not use):
//   g++ -O2 -std=c++17 bench/json_parse_bench.cpp -o /tmp/json_parse_bench \
//       -I/usr/include/cjson -lcjson -ljansson -lsimdjson && /tmp/json_parse_bench
#include <cjson/cJSON.h>
#include <jansson.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

static std::vector<std::string> make_lines(int n, int text_bytes, unsigned seed) {
    std::mt19937 rng(seed);
    const char *words[] = {"the", "embedding", "of", "a", "document", "é", "naïve", "数据", "\\n", "\\\"quoted\\\"",
                           "retrieval", "model", "😀", "and", "long", "context"};
    std::vector<std::string> lines;
    for (int i = 0; i < n; i++) {
        std::string text;
        while ((int)text.size() < text_bytes) text += std::string(words[rng() % 16]) + " ";
        lines.push_back("{\"id\": " + std::to_string(i) + ", \"text\": \"" + text + "\", \"source\": \"bench\"}");
    }
    return lines;
}

typedef size_t (*parse_fn)(const std::vector<std::string> &lines);

static size_t with_cjson(const std::vector<std::string> &lines) {
    size_t total = 0;
    for (const std::string &l : lines) {
        cJSON *root = cJSON_ParseWithLength(l.data(), l.size());
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(root, "text");
        if (cJSON_IsString(text)) total += strlen(text->valuestring);
        cJSON_Delete(root);
    }
    return total;
}

static size_t with_jansson(const std::vector<std::string> &lines) {
    size_t total = 0;
    for (const std::string &l : lines) {
        json_error_t err;
        json_t *root = json_loadb(l.data(), l.size(), JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &err);
        json_t *text = json_object_get(root, "text");
        if (json_is_string(text)) total += json_string_length(text);
        json_decref(root);
    }
    return total;
}

static size_t with_simdjson_ondemand(const std::vector<std::string> &lines) {
    static simdjson::ondemand::parser parser;
    size_t total = 0;
    simdjson::padded_string buffer;
    for (const std::string &l : lines) {
        simdjson::padded_string padded(l);  // a real reader would pad its line buffer once
        auto doc = parser.iterate(padded);
        std::string_view text;
        if (!doc["text"].get_string().get(text)) total += text.size();
    }
    return total;
}

static size_t with_simdjson_dom(const std::vector<std::string> &lines) {
    static simdjson::dom::parser parser;
    size_t total = 0;
    for (const std::string &l : lines) {
        simdjson::dom::element doc;
        if (parser.parse(l.data(), l.size()).get(doc)) continue;
        std::string_view text;
        if (!doc["text"].get_string().get(text)) total += text.size();
    }
    return total;
}

int main() {
    struct Parser {
        const char *name;
        parse_fn fn;
    } parsers[] = {{"cJSON 1.7.15", with_cjson},
                   {"jansson 2.14", with_jansson},
                   {"simdjson 3.0.1 on-demand", with_simdjson_ondemand},
                   {"simdjson 3.0.1 DOM", with_simdjson_dom}};
    for (int text_bytes : {100, 2000}) {
        std::vector<std::string> lines = make_lines(text_bytes < 1000 ? 40000 : 4000, text_bytes, 1);
        size_t bytes = 0;
        for (auto &l : lines) bytes += l.size() + 1;
        std::vector<std::vector<double>> seconds(4);
        size_t check[4] = {0};
        for (int round = 0; round < 7; round++) {
            for (int p = 0; p < 4; p++) {
                auto t0 = std::chrono::steady_clock::now();
                check[p] = parsers[p].fn(lines);
                auto t1 = std::chrono::steady_clock::now();
                seconds[p].push_back(std::chrono::duration<double>(t1 - t0).count());
            }
        }
        std::printf("lines of ~%d text bytes: %zu lines, %.1f MB\n", text_bytes, lines.size(), bytes / 1e6);
        for (int p = 0; p < 4; p++) {
            std::sort(seconds[p].begin(), seconds[p].end());
            double med = seconds[p][3];
            std::printf("  %-26s median %7.2f ms  %7.1f MB/s  %6.2f us/line  (min %.2f, max %.2f ms; text bytes %zu)\n",
                        parsers[p].name, med * 1e3, bytes / med / 1e6, med / lines.size() * 1e6, seconds[p][0] * 1e3,
                        seconds[p][6] * 1e3, check[p]);
        }
    }
    return 0;
}
