/* What a ThinK golden case of tests/data/goldens/think should equal. The
 * goldens hold SPEC §5's definition at every ratio; the decoder applies it
 * only where the pruned layout (kept channels of every position + full keys
 * of the recent window) holds fewer key bytes than plain keys, and runs
 * shorter sequences on the plain cache (host/decoder/decoder.c). Stated here
 * independently of the decoder: such a case must equal the ratio-0 row. */
#ifndef LLMBED_TESTS_SUPPORT_THINK_GOLDENS_HPP
#define LLMBED_TESTS_SUPPORT_THINK_GOLDENS_HPP

#include <cjson/cJSON.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>

namespace llmbed_test {

constexpr int kThinkRecentWindow = 32; /* SPEC §5 */

inline bool think_saves_memory(int64_t n, int chunk, int head_dim, double ratio) {
    const int64_t kept = head_dim - (int64_t)std::floor(head_dim * ratio);
    const int64_t window = std::min<int64_t>(n, chunk + kThinkRecentWindow);
    return kept < head_dim && n * kept + window * head_dim < n * head_dim;
}

/* The golden row a case is checked against: its own, or the ratio-0 row of
 * the same sequence, chunk and pooling when ThinK does not pay. */
class ThinkRows {
  public:
    explicit ThinkRows(const cJSON *cases) {
        const cJSON *c;
        cJSON_ArrayForEach(c, cases) if (value(c, "ratio") == 0.0) plain_[key(c)] = (int)value(c, "row");
    }
    int expected_row(const cJSON *c, int64_t n, int head_dim, bool *fallback) const {
        *fallback = value(c, "ratio") > 0.0 && !think_saves_memory(n, (int)value(c, "chunk"), head_dim, value(c, "ratio"));
        return *fallback ? plain_.at(key(c)) : (int)value(c, "row");
    }

  private:
    using Key = std::tuple<int, int, std::string>;
    static double value(const cJSON *c, const char *field) {
        return cJSON_GetObjectItemCaseSensitive(c, field)->valuedouble;
    }
    static Key key(const cJSON *c) {
        return Key{(int)value(c, "sequence"), (int)value(c, "chunk"),
                   cJSON_GetObjectItemCaseSensitive(c, "pooling")->valuestring};
    }
    std::map<Key, int> plain_;
};

} // namespace llmbed_test

#endif
