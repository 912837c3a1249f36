/* Issue 14 methods through the emulated CUDA backend: every case of the
 * methods-tiny goldens (tests/gen_method_goldens.py) whose request this
 * build can express runs as part of one packed request per (attention,
 * layer, pooling) group, the pooled span given by the template's token
 * range. Issue 5 tolerance for bf16: cosine >= 0.999 per row against the
 * float64 goldens. */
#include "emu_harness.h"

#include <cblas.h>
#include <cjson/cJSON.h>

#include <map>
#include <memory>
#include <tuple>

extern "C" {
#include "backend.h"
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

    /* Group the runnable cases by request parameters. */
    std::map<std::tuple<std::string, int, std::string>, std::vector<const method_case *>> groups;
    int pending = 0;
    for (const auto &m : cases) {
        if (m.end < (int32_t)m.ids.size() || m.temperature != 1.0f) {
            pending++; /* needs pool_ends / an attention temperature in the forward request */
            continue;
        }
        groups[{m.attention, m.layer, m.pooling}].push_back(&m);
    }
    Agreement worst;
    size_t checked = 0;
    for (const auto &g : groups) {
        std::vector<int32_t> tokens, begins;
        std::vector<int> lens;
        for (const method_case *m : g.second) {
            tokens.insert(tokens.end(), m->ids.begin(), m->ids.end());
            lens.push_back((int)m->ids.size());
            begins.push_back(m->begin);
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
        req.instruction_lens = begins.data();
        req.causal = std::get<0>(g.first) == "causal";
        req.n_layers = std::get<1>(g.first) > 0 ? std::get<1>(g.first) : model->config.n_layers;
        req.pool_kind = pool_kind_of(std::get<2>(g.first));
        harness::Guarded<float> out((size_t)n * C);
        const llmbed_status st = backend->ops->forward(backend, &req, out.data(), &error);
        INFO(error.message);
        REQUIRE(st == LLMBED_OK);
        REQUIRE(out.intact());
        for (int s = 0; s < n; s++) {
            const Agreement a = compare_rows(out.data() + (size_t)s * C, g.second[(size_t)s]->embedding, C);
            INFO(g.second[(size_t)s]->name << ": min cosine " << a.min_cosine);
            CHECK(!a.has_nan);
            CHECK(a.min_cosine >= 0.999);
            worst.merge(a);
            checked++;
        }
        backend->ops->destroy(backend);
    }
    std::printf("[emu] method goldens: %zu cases in %zu packed requests, min cosine %.6f, max |diff| %.3g; %d pending "
                "(pool_ends / attention temperature)\n",
                checked, groups.size(), worst.min_cosine, worst.max_abs, pending);
    CHECK(checked >= 18);
}
