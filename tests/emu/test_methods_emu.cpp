/* Issue 14 methods through the emulated CUDA backend: every case of the
 * methods-tiny goldens (tests/gen_method_goldens.py) whose request this
 * case of the goldens runs as part of one packed request per (attention,
 * layer, pooling, temperature) group through the decoder loop, the pooled
 * rows given by the template's token range [begin, end). Issue 5 tolerance
 * for bf16 (cosine >= 0.999 per row and the lead's relative bound) against
 * the float64 goldens. */
#include "emu_harness.h"

#include <cblas.h>
#include <cjson/cJSON.h>

#include <map>
#include <memory>
#include <tuple>

extern "C" {
#include "backend.h"
#include "decoder/decoder.h"
}
#include "support/cli_process.hpp"
#include "support/golden_compare.hpp"

extern "C" llmbed_status llmbed_emu_cuda_backend_create(const struct llmbed_model *model, int device_index,
                                                        int64_t max_tokens, llmbed_backend **out,
                                                        llmbed_error *error);

namespace {

struct method_case {
    std::string name, pooling, attention;
    float temperature;
    int layer;
    std::vector<int32_t> ids;
    int32_t begin, end;
    std::vector<double> embedding;
};

int pool_kind_of(const std::string &p) {
    return p == "last" ? LLMBED_POOL_LAST
           : p == "first" ? LLMBED_POOL_FIRST
           : p == "weighted-mean" ? LLMBED_POOL_WEIGHTED_MEAN
                                  : LLMBED_POOL_MEAN;
}

}  // namespace

TEST_CASE("emu backend: method goldens (templates, spans, early exit)", "[emu][forward][methods]") {
    using namespace llmbed_test;
    const std::string json = cli::slurp(LLMBED_TEST_DATA_DIR "/goldens/methods-tiny/methods.json");
    cJSON *root = cJSON_Parse(json.c_str());
    REQUIRE(root != nullptr);
    std::vector<method_case> cases;
    for (const cJSON *c = cJSON_GetObjectItem(root, "cases")->child; c; c = c->next) {
        method_case m;
        m.name = cJSON_GetObjectItem(c, "name")->valuestring;
        m.pooling = cJSON_GetObjectItem(c, "pooling")->valuestring;
        m.attention = cJSON_GetObjectItem(c, "attention")->valuestring;
        m.temperature = (float)cJSON_GetObjectItem(c, "attention_temperature")->valuedouble;
        m.layer = cJSON_GetObjectItem(c, "layer")->valueint;
        for (const cJSON *v = cJSON_GetObjectItem(c, "ids")->child; v; v = v->next) m.ids.push_back(v->valueint);
        m.begin = cJSON_GetObjectItem(c, "pool_begin")->valueint;
        m.end = cJSON_GetObjectItem(c, "pool_end")->valueint;
        for (const cJSON *v = cJSON_GetObjectItem(c, "embedding")->child; v; v = v->next)
            m.embedding.push_back(v->valuedouble);
        cases.push_back(m);
    }
    cJSON_Delete(root);
    REQUIRE(cases.size() == 36);

    llmbed_model *raw = nullptr;
    llmbed_error error;
    REQUIRE(llmbed_model_load(LLMBED_TEST_DATA_DIR "/models/methods-tiny", nullptr, &raw, &error) == LLMBED_OK);
    std::unique_ptr<llmbed_model, void (*)(llmbed_model *)> model(raw, llmbed_model_free);
    openblas_set_num_threads(1);
    const int C = model->config.hidden_size;

    /* Group the cases by request parameters. */
    std::map<std::tuple<std::string, int, std::string, float>, std::vector<const method_case *>> groups;
    for (const auto &m : cases) groups[{m.attention, m.layer, m.pooling, m.temperature}].push_back(&m);
    Agreement worst;
    size_t checked = 0;
    for (const auto &g : groups) {
        std::vector<int32_t> tokens, pool_begin, pool_end;
        std::vector<int> lens;
        for (const method_case *m : g.second) {
            pool_begin.push_back((int32_t)tokens.size() + m->begin);
            pool_end.push_back((int32_t)tokens.size() + m->end);
            tokens.insert(tokens.end(), m->ids.begin(), m->ids.end());
            lens.push_back((int)m->ids.size());
        }
        const harness::Buffer<int32_t> offsets = harness::offsets_of(lens);
        const int n = (int)lens.size(), T = (int)tokens.size();
        llmbed_backend *backend = nullptr;
        REQUIRE(llmbed_emu_cuda_backend_create(model.get(), 0, T, &backend, &error) == LLMBED_OK);
        llmbed_forward_request req{};
        req.n_seqs = n;
        req.n_tokens = T;
        req.tokens = tokens.data();
        req.seq_offsets = offsets.data();
        req.causal = std::get<0>(g.first) == "causal";
        req.n_layers = std::get<1>(g.first) > 0 ? std::get<1>(g.first) : model->config.n_layers;
        req.pool_kind = pool_kind_of(std::get<2>(g.first));
        req.attention_temperature = std::get<3>(g.first);
        req.n_pools = n;
        req.pool_begin = pool_begin.data();
        req.pool_end = pool_end.data();
        harness::Guarded<float> out((size_t)n * C);
        llmbed_decoder decoder{};
        decoder.backend = backend;
        const llmbed_status st = llmbed_decoder_forward(&decoder, &req, out.data(), &error);
        llmbed_decoder_release(&decoder);
        INFO(error.message);
        REQUIRE(st == LLMBED_OK);
        REQUIRE(out.intact());
        for (int s = 0; s < n; s++) {
            const Agreement a = compare_rows(out.data() + (size_t)s * C, g.second[(size_t)s]->embedding, C);
            const double bound = bf16_path_relative_bound(req.n_layers);
            INFO(g.second[(size_t)s]->name << ": min cosine " << a.min_cosine << ", max |diff| / row scale "
                                           << a.max_scaled << " (bound " << bound << ")");
            CHECK(a.within_bf16_tolerance(0.999, bound));
            worst.merge(a);
            checked++;
        }
        backend->ops->destroy(backend);
    }
    std::printf("[emu] method goldens: %zu cases in %zu packed requests, min cosine %.6f, max |diff| %.3g\n", checked,
                groups.size(), worst.min_cosine, worst.max_abs);
    CHECK(checked == 36);
}
