/* Chunked prefill and ThinK through the CUDA backend's host code and the
 * emulated kernels (cache append, channel selection, compaction, attention
 * over cache + chunk), driven by the one decoder loop, against the float64
 * reference of SPEC §5 (tests/data/goldens/think, tests/gen_think_goldens.py).
 * Tolerance: cosine >= 0.999 and max |diff| within the bf16 path bound of
 * support/golden_compare.hpp, as the unchunked emulated forward. */
#include "emu_harness.h"

#include <cblas.h>
#include <cjson/cJSON.h>

#include <memory>

extern "C" {
#include "backend.h"
#include "decoder/decoder.h"
}
#include "support/golden_compare.hpp"
#include "support/npy_reader.hpp"
#include "support/think_goldens.hpp"

extern "C" llmbed_status llmbed_emu_cuda_backend_create(const struct llmbed_model *model, int device_index,
                                                        int64_t max_tokens, llmbed_backend **out,
                                                        llmbed_error *error);

namespace {

constexpr double kEmuMinCosine = 0.999;

} // namespace

TEST_CASE("emu backend: chunked prefill and ThinK equal the float64 reference", "[emu][chunked]") {
    using namespace llmbed_test;
    const std::string dir = std::string(LLMBED_TEST_DATA_DIR) + "/goldens/think";
    std::vector<unsigned char> text;
    REQUIRE(npy_detail::read_all(dir + "/manifest.json", text));
    text.push_back(0);
    cJSON *root = cJSON_Parse((const char *)text.data());
    REQUIRE(root != nullptr);
    openblas_set_num_threads(1);
    size_t n_checked = 0, n_pruned = 0;
    const cJSON *entry;
    cJSON_ArrayForEach(entry, cJSON_GetObjectItemCaseSensitive(root, "models")) {
        const std::string name = cJSON_GetObjectItemCaseSensitive(entry, "model")->valuestring;
        const NpyArray rows = read_npy(dir + "/" + cJSON_GetObjectItemCaseSensitive(entry, "file")->valuestring);
        REQUIRE(rows.ok);
        const std::string path = std::string(LLMBED_TEST_DATA_DIR) + "/models/" + name;
        llmbed_model *raw = nullptr;
        llmbed_error error;
        REQUIRE(llmbed_model_load(path.c_str(), nullptr, &raw, &error) == LLMBED_OK);
        std::unique_ptr<llmbed_model, void (*)(llmbed_model *)> model(raw, llmbed_model_free);
        const int hidden = model->config.hidden_size;
        std::vector<std::vector<int32_t>> sequences;
        const cJSON *seq, *id;
        cJSON_ArrayForEach(seq, cJSON_GetObjectItemCaseSensitive(entry, "sequences")) {
            sequences.emplace_back();
            cJSON_ArrayForEach(id, seq) sequences.back().push_back(id->valueint);
        }
        llmbed_backend *backend = nullptr;
        llmbed_status st = llmbed_emu_cuda_backend_create(model.get(), 0, 128, &backend, &error);
        INFO(error.message);
        REQUIRE(st == LLMBED_OK);
        llmbed_decoder decoder{};
        decoder.backend = backend;
        const double bound = bf16_path_relative_bound(model->config.n_layers);
        Agreement worst;
        const cJSON *c, *cases = cJSON_GetObjectItemCaseSensitive(entry, "cases");
        const ThinkRows expected(cases);
        cJSON_ArrayForEach(c, cases) {
            const int s = cJSON_GetObjectItemCaseSensitive(c, "sequence")->valueint;
            const int chunk = cJSON_GetObjectItemCaseSensitive(c, "chunk")->valueint;
            const float ratio = (float)cJSON_GetObjectItemCaseSensitive(c, "ratio")->valuedouble;
            /* emulation is slow: every case of the 97-token sequence (2 chunks of 64; the
             * plain cache at every ratio: ThinK would not save memory there), and the
             * 300-token one in chunks of 64 at ratio 0.75 (kept 4 of 16 channels, 4 pruned
             * chunks); the CPU suite checks every case */
            const size_t n = sequences[(size_t)s].size();
            if (!(n <= 100 || (n <= 300 && chunk == 64 && ratio == 0.75f))) continue;
            bool fallback = false;
            const int row = expected.expected_row(c, (int64_t)n, model->config.head_dim, &fallback);
            n_pruned += ratio > 0.0f && !fallback;
            const std::string pooling = cJSON_GetObjectItemCaseSensitive(c, "pooling")->valuestring;
            const int32_t begin = 0, end = (int32_t)n;
            llmbed_chunked_request req{};
            req.n_tokens = end;
            req.tokens = sequences[(size_t)s].data();
            req.chunk_tokens = chunk;
            req.think_ratio = ratio;
            req.n_layers = model->config.n_layers;
            req.attention_temperature = 1.0f;
            req.pool_kind = pooling == "last" ? LLMBED_POOL_LAST : LLMBED_POOL_MEAN;
            req.n_pools = 1;
            req.pool_begin = &begin;
            req.pool_end = &end;
            harness::Guarded<float> out((size_t)hidden);
            st = llmbed_decoder_forward_chunked(&decoder, &req, out.data(), &error);
            INFO(error.message);
            REQUIRE(st == LLMBED_OK);
            REQUIRE(out.intact());
            const std::vector<double> want(rows.values.begin() + (long)row * hidden,
                                           rows.values.begin() + (long)(row + 1) * hidden);
            const Agreement a = compare_rows(out.data(), want, hidden);
            INFO(name << " n=" << end << " chunk " << req.chunk_tokens << " ratio " << req.think_ratio << " " << pooling
                      << ": cosine " << a.min_cosine << " max |diff| / row scale " << a.max_scaled << " (bound "
                      << bound << ")");
            CHECK(a.within_bf16_tolerance(kEmuMinCosine, bound));
            worst.merge(a);
            n_checked++;
        }
        llmbed_decoder_release(&decoder);
        backend->ops->destroy(backend);
        std::printf("[emu] chunked/ThinK %-13s vs float64 SPEC 5 reference: min cosine %.6f, max |diff| / row scale "
                    "%.3g (bound %.3g)\n",
                    name.c_str(), worst.min_cosine, worst.max_scaled, bound);
    }
    cJSON_Delete(root);
    CHECK(n_checked == 3 * (2 * 4 * 2 + 2));
    CHECK(n_pruned == 3 * 2); /* the pruned layout runs on every model */
}
