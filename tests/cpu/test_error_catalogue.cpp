// docs/errors.md is executable: every case row there ("| `id` | situation |
// `message shape` |" under a "## <code> <NAME>" heading) whose id has a
// runner below is run, and must exit with the heading's status and print a
// message that matches the shape ({placeholders} match any text; the rest is
// literal, the whole line). Rows without a runner must say "not exercised"
// and why; every runner must have a row; every status code must have a
// heading; at least 60 cases must run. So the document cannot go stale.
//
// LLMBED_CATALOGUE_PRINT=1 prints each runner's status and message (with the
// scratch folder as {dir} and the test model as {model}) to draft new rows.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "llmbed.h"
#include "support/cli_process.hpp"
#include "support/tiny_model_writer.hpp"

namespace cli = llmbed_test::cli;

namespace {

const std::string kModel = LLMBED_TEST_DATA_DIR "/models/llama-tiny";  // vocab 211, hidden 48, 3 layers
const std::string kDoc = LLMBED_SOURCE_DIR "/docs/errors.md";

struct Outcome {
    int status = -1;
    std::string message;  // the one error line, without "llmbed: error: " and the newline
};

struct Fixture {
    llmbed_test::TempDir tmp;
    std::string dir = tmp.path;
    std::string good;  // a loadable HF folder (tiny config of tiny_model_writer)
    llmbed_test::TinyConfig cfg;
    std::vector<llmbed_test::TensorSpec> tensors;
    Fixture() {
        tensors = llmbed_test::tiny_tensors(cfg, 11);
        good = tmp.mkdir("good");
        llmbed_test::write_hf_folder(good, cfg, tensors, llmbed_test::Dtype::F32);
        cli::write_file(dir + "/in.jsonl", "{\"input_ids\": [5, 6, 7]}\n");
    }
    Outcome run(const std::vector<std::string> &args, const std::string &stdin_path = "") {
        cli::Result r = cli::run(args, dir, stdin_path);
        Outcome o{r.status, r.err};
        size_t at = o.message.rfind("llmbed: error: ");
        if (at != std::string::npos) o.message = o.message.substr(at + 15);
        while (!o.message.empty() && o.message.back() == '\n') o.message.pop_back();
        return o;
    }
    // embed of `input` (written to in.jsonl) with the tiny llama.
    Outcome embed(const std::string &input, std::vector<std::string> extra = {}, const std::string &model = kModel) {
        cli::write_file(dir + "/in.jsonl", input);
        std::vector<std::string> a = {"embed", "--model", model, "--input", dir + "/in.jsonl", "--output",
                                      dir + "/out.npy", "--threads", "1", "--quiet"};
        a.insert(a.end(), extra.begin(), extra.end());
        return run(a);
    }
    Outcome embed_args(std::vector<std::string> extra) {
        std::vector<std::string> a = {"embed", "--model", kModel, "--input", dir + "/in.jsonl", "--threads", "1", "--quiet"};
        a.insert(a.end(), extra.begin(), extra.end());
        return run(a);
    }
    // `llmbed info` on a copy of the good folder with one file replaced.
    Outcome info_with(const std::string &name, const std::string &file, const std::string &bytes) {
        std::string folder = tmp.mkdir(name);
        llmbed_test::write_hf_folder(folder, cfg, tensors, llmbed_test::Dtype::F32);
        cli::write_file(folder + "/" + file, bytes);
        return run({"info", "--model", folder});
    }
    Outcome config_with(const std::string &name, const std::string &key, const std::string &value) {
        std::string c = llmbed_test::config_json(cfg);
        size_t at = c.find("\"" + key + "\": ");
        if (at == std::string::npos) {
            c = c.substr(0, c.size() - 1) + ", \"" + key + "\": " + value + "}";
        } else {
            size_t end = c.find_first_of(",}", at);
            c = c.substr(0, at) + "\"" + key + "\": " + value + c.substr(end);
        }
        return info_with(name, "config.json", c);
    }
    Outcome safetensors(const std::string &name, const std::string &header, const std::string &data) {
        return info_with(name, "model.safetensors", llmbed_test::safetensors_bytes(header, data));
    }
    Outcome gguf(const std::string &name, const std::string &bytes) {
        cli::write_file(dir + "/" + name + ".gguf", bytes);
        return run({"info", "--model", dir + "/" + name + ".gguf"});
    }
};

std::string tensor_entry(const std::string &name, const std::string &dtype, const std::string &shape, long begin,
                         long end) {
    return "\"" + name + "\": {\"dtype\": \"" + dtype + "\", \"shape\": " + shape + ", \"data_offsets\": [" +
           std::to_string(begin) + ", " + std::to_string(end) + "]}";
}

// A resumable state: a finished 3-row job at --shard-rows 1, then `edit` on its manifest text.
Outcome resume_with(Fixture &f, const std::function<void(std::string &)> &edit, std::vector<std::string> extra = {}) {
    cli::write_file(f.dir + "/r.jsonl", "{\"input_ids\": [5]}\n{\"input_ids\": [6]}\n{\"input_ids\": [7]}\n");
    std::vector<std::string> a = {"embed", "--model", kModel, "--input", f.dir + "/r.jsonl", "--output", f.dir + "/r.npy",
                                  "--threads", "1", "--quiet", "--shard-rows", "1"};
    REQUIRE(f.run(a).status == 0);
    std::string text = cli::slurp(f.dir + "/r.manifest.json");
    edit(text);
    cli::write_file(f.dir + "/r.manifest.json", text);
    a.push_back("--resume");
    a.insert(a.end(), extra.begin(), extra.end());
    return f.run(a);
}

void replace(std::string &s, const std::string &from, const std::string &to) {
    size_t at = s.find(from);
    REQUIRE(at != std::string::npos);
    s.replace(at, from.size(), to);
}

using Runner = std::function<Outcome(Fixture &)>;

std::map<std::string, Runner> runners() {
    using namespace llmbed_test;
    std::map<std::string, Runner> r;
    const std::string ids = "{\"input_ids\": [5, 6, 7]}\n";
    // 1 invalid argument
    r["cli-unknown-command"] = [](Fixture &f) { return f.run({"frobnicate"}); };
    r["cli-unknown-option"] = [](Fixture &f) { return f.embed_args({"--output", f.dir + "/o.npy", "--bogus"}); };
    r["cli-not-an-integer"] = [](Fixture &f) { return f.embed_args({"--output", f.dir + "/o.npy", "--dims", "x"}); };
    r["cli-below-minimum"] = [](Fixture &f) { return f.embed_args({"--output", f.dir + "/o.npy", "--batch-tokens", "0"}); };
    r["cli-missing-required"] = [](Fixture &f) { return f.run({"embed", "--model", kModel}); };
    r["embed-format-unknown-extension"] = [](Fixture &f) { return f.embed_args({"--output", f.dir + "/o.bin"}); };
    r["embed-format-bad-value"] = [](Fixture &f) { return f.embed_args({"--output", f.dir + "/o.npy", "--format", "foo"}); };
    r["embed-format-contradicts"] = [](Fixture &f) {
        return f.embed_args({"--output", f.dir + "/o.jsonl", "--format", "npy"});
    };
    r["embed-dtype"] = [](Fixture &f) { return f.embed_args({"--output", f.dir + "/o.npy", "--dtype", "bf16"}); };
    r["embed-pooling"] = [](Fixture &f) { return f.embed_args({"--output", f.dir + "/o.npy", "--pooling", "max"}); };
    r["embed-attention"] = [](Fixture &f) { return f.embed_args({"--output", f.dir + "/o.npy", "--attention", "x"}); };
    r["embed-device"] = [](Fixture &f) { return f.embed_args({"--output", f.dir + "/o.npy", "--device", "tpu"}); };
    r["embed-device-list-repeats"] = [](Fixture &f) {
        return f.embed_args({"--output", f.dir + "/o.npy", "--device", "cuda:1,1"});
    };
    r["embed-replicas-above-threads"] = [](Fixture &f) {
        return f.embed_args({"--output", f.dir + "/o.npy", "--device", "cpu", "--threads", "2", "--replicas", "3"});
    };
    r["embed-replicas-below-one"] = [](Fixture &f) {
        return f.embed_args({"--output", f.dir + "/o.npy", "--replicas", "0"});
    };
    r["embed-resume-without-shards"] = [](Fixture &f) { return f.embed_args({"--output", f.dir + "/o.npy", "--resume"}); };
    r["embed-shards-to-stream"] = [](Fixture &f) {
        return f.embed_args({"--output", "-", "--format", "npy", "--shard-rows", "2"});
    };
    r["embed-dims-too-large"] = [](Fixture &f) { return f.embed_args({"--output", f.dir + "/o.npy", "--dims", "49"}); };
    r["embed-prompt-and-name"] = [](Fixture &f) {
        return f.embed_args({"--output", f.dir + "/o.npy", "--prompt", "q: ", "--prompt-name", "query"});
    };
    r["gguf-architecture"] = [](Fixture &f) {
        return f.run({"info", "--model", LLMBED_SHARED_TESTDATA_DIR "/tokenizer/gpt-2/vocab.gguf", "--check-weights"});
    };
    // 3 file not found
    r["model-missing"] = [](Fixture &f) { return f.run({"info", "--model", f.dir + "/no-such-model"}); };
    r["input-missing"] = [](Fixture &f) {
        return f.run({"embed", "--model", kModel, "--input", f.dir + "/missing.jsonl", "--output", f.dir + "/o.npy"});
    };
    r["input-directory"] = [](Fixture &f) {
        return f.run({"embed", "--model", kModel, "--input", f.dir, "--output", f.dir + "/o.npy"});
    };
    r["prompt-name-no-file"] = [](Fixture &f) { return f.embed_args({"--output", f.dir + "/o.npy", "--prompt-name", "q"}); };
    // 4-11 safetensors
    r["safetensors-truncated"] = [](Fixture &f) { return f.info_with("st-trunc", "model.safetensors", "\x10\0\0"); };
    r["safetensors-header-too-large"] = [](Fixture &f) {
        return f.info_with("st-large", "model.safetensors", std::string("\xff\xff\0\0\0\0\0\0{}", 10));
    };
    r["safetensors-offset"] = [](Fixture &f) {
        return f.safetensors("st-offset", "{" + tensor_entry("w", "F32", "[5]", 0, 20) + "}", std::string(8, '\0'));
    };
    r["safetensors-overlap"] = [](Fixture &f) {
        return f.safetensors("st-overlap",
                             "{" + tensor_entry("a", "F32", "[2]", 0, 8) + ", " + tensor_entry("b", "F32", "[2]", 4, 12) + "}",
                             std::string(16, '\0'));
    };
    r["safetensors-dtype"] = [](Fixture &f) {
        return f.safetensors("st-dtype", "{" + tensor_entry("ids", "I64", "[2]", 0, 16) + "}", std::string(16, '\0'));
    };
    r["safetensors-shape-bytes"] = [](Fixture &f) {
        return f.safetensors("st-shape", "{" + tensor_entry("w", "BF16", "[3, 2]", 0, 16) + "}", std::string(16, '\0'));
    };
    r["safetensors-bad-json"] = [](Fixture &f) {
        return f.safetensors("st-json", "{\"w\": {\"dtype\": \"F32\",, }", "");
    };
    r["weights-missing-tensor"] = [](Fixture &f) {
        std::vector<TensorSpec> t;
        for (auto &s : f.tensors)
            if (s.name != "model.layers.1.mlp.up_proj.weight") t.push_back(s);
        return f.info_with("missing-tensor", "model.safetensors", safetensors_file(t, Dtype::F32));
    };
    r["weights-shape-config"] = [](Fixture &f) {
        auto t = f.tensors;
        for (auto &s : t)
            if (s.name == "model.layers.0.self_attn.k_proj.weight") s.shape = {4, 48};
        for (auto &s : t)
            if (s.name == "model.layers.0.self_attn.k_proj.weight") s.values.resize(4 * 48);
        return f.info_with("shape-config", "model.safetensors", safetensors_file(t, Dtype::F32));
    };
    r["weights-embedding-transposed"] = [](Fixture &f) {
        auto t = f.tensors;
        for (auto &s : t)
            if (s.name == "model.embed_tokens.weight") s.shape = {24, 37};
        return f.info_with("transposed", "model.safetensors", safetensors_file(t, Dtype::F32));
    };
    // 11-14 config
    r["config-bad-json"] = [](Fixture &f) { return f.info_with("cfg-json", "config.json", "{\"model_type\": \"llama\",}"); };
    r["config-missing-field"] = [](Fixture &f) {
        std::string c = config_json(f.cfg);
        replace(c, "\"hidden_size\": 24, ", "");
        return f.info_with("cfg-missing", "config.json", c);
    };
    r["config-not-integer"] = [](Fixture &f) { return f.config_with("cfg-int", "num_hidden_layers", "2.5"); };
    r["config-integer-out-of-range"] = [](Fixture &f) { return f.config_with("cfg-big", "hidden_size", "1099511627776"); };
    r["config-value-out-of-range"] = [](Fixture &f) { return f.config_with("cfg-range", "num_hidden_layers", "0"); };
    r["config-heads-not-dividing"] = [](Fixture &f) {
        std::string c = config_json(f.cfg);
        replace(c, "\"head_dim\": 8, ", "");
        replace(c, "\"num_attention_heads\": 3", "\"num_attention_heads\": 5");
        return f.info_with("cfg-div", "config.json", c);
    };
    r["config-kv-heads"] = [](Fixture &f) { return f.config_with("cfg-kv", "num_key_value_heads", "2"); };
    r["config-eps"] = [](Fixture &f) { return f.config_with("cfg-eps", "rms_norm_eps", "-1"); };
    r["config-unknown-arch"] = [](Fixture &f) { return f.config_with("cfg-arch", "model_type", "\"gpt_neox\""); };
    r["config-unknown-rope"] = [](Fixture &f) {
        return f.config_with("cfg-rope", "rope_scaling", "{\"rope_type\": \"longrope\", \"factor\": 2.0}");
    };
    r["config-mlp-bias"] = [](Fixture &f) { return f.config_with("cfg-mlp", "mlp_bias", "true"); };
    r["config-partial-rotary"] = [](Fixture &f) { return f.config_with("cfg-partial", "partial_rotary_factor", "0.5"); };
    // 15-17 GGUF
    r["gguf-magic"] = [](Fixture &f) { return f.gguf("magic", std::string("GGML\3\0\0\0", 8) + std::string(16, '\0')); };
    r["gguf-version"] = [](Fixture &f) {
        GgufWriter g;
        g.version = 99;
        return f.gguf("version", g.bytes());
    };
    r["gguf-value-type"] = [](Fixture &f) {
        GgufWriter g;
        g.kv_raw("general.architecture", 77, "");
        return f.gguf("type", g.bytes());
    };
    // 18-20, 29-30 input lines
    r["ids-out-of-range"] = [ids](Fixture &f) { return f.embed(ids + "{\"input_ids\": [1, 211]}\n"); };
    r["ids-negative"] = [](Fixture &f) { return f.embed("{\"input_ids\": [-1]}\n"); };
    r["ids-empty"] = [](Fixture &f) { return f.embed("{\"input_ids\": []}\n"); };
    r["layer-out-of-range"] = [ids](Fixture &f) { return f.embed(ids, {"--layer", "4"}); };
    r["json-malformed"] = [ids](Fixture &f) { return f.embed(ids + "{\"input_ids\": [1, 2\n"); };
    r["json-trailing-text"] = [](Fixture &f) { return f.embed("{\"input_ids\": [1]} x\n"); };
    r["json-no-text-field"] = [](Fixture &f) { return f.embed("{\"title\": \"x\"}\n"); };
    r["json-text-not-string"] = [](Fixture &f) { return f.embed("{\"text\": 5}\n"); };
    r["json-ids-not-array"] = [](Fixture &f) { return f.embed("{\"input_ids\": \"12\"}\n"); };
    r["json-ids-element"] = [](Fixture &f) { return f.embed("{\"input_ids\": [1, 2.5]}\n"); };
    r["json-id-field-type"] = [](Fixture &f) { return f.embed("{\"input_ids\": [1], \"id\": [1]}\n", {"--id-field", "id"}); };
    r["utf8-strict"] = [](Fixture &f) { return f.embed("{\"input_ids\": [1]}\n{\"input_ids\": [2], \"x\": \"\xff\"}\n", {"--strict-utf8"}); };
    r["too-long-default-limit"] = [ids](Fixture &f) {
        std::string long_ids = "{\"input_ids\": [";
        for (int i = 0; i < 300; i++) long_ids += (i ? ",3" : "3");
        return f.embed(ids + long_ids + "]}\n", {"--no-truncate"});
    };
    r["too-long-max-tokens"] = [](Fixture &f) {
        return f.embed("{\"input_ids\": [1, 2, 3, 4]}\n", {"--max-tokens", "3", "--no-truncate"});
    };
    // 21 output
    r["output-folder-is-a-file"] = [](Fixture &f) {
        return f.run({"embed", "--model", kModel, "--input", f.dir + "/in.jsonl", "--output", "/dev/null/out.npy"});
    };
    r["output-folder-missing"] = [](Fixture &f) {
        return f.run({"embed", "--model", kModel, "--input", f.dir + "/in.jsonl", "--output", f.dir + "/no/out.npy"});
    };
    r["output-is-input"] = [](Fixture &f) {
        return f.run({"embed", "--model", kModel, "--input", f.dir + "/in.jsonl", "--output", f.dir + "/in.jsonl",
                      "--format", "jsonl"});
    };
    r["output-dangling-symlink"] = [](Fixture &f) {
        symlink("nowhere/x.npy", (f.dir + "/dangling.npy").c_str());
        return f.run({"embed", "--model", kModel, "--input", f.dir + "/in.jsonl", "--output", f.dir + "/dangling.npy"});
    };
    r["output-directory"] = [](Fixture &f) {
        f.tmp.mkdir("outdir.npy");
        return f.run({"embed", "--model", kModel, "--input", f.dir + "/in.jsonl", "--output", f.dir + "/outdir.npy"});
    };
    // 23, 26-28 tokenizer and support
    r["text-without-tokenizer"] = [](Fixture &f) { return f.embed("hello world\n"); };
    r["tokenizer-unsupported"] = [](Fixture &f) {
        return f.run({"tokenize", "--model", LLMBED_SHARED_TESTDATA_DIR "/tokenizer/bert-bge/vocab.gguf", "--input",
                      f.dir + "/in.jsonl"});
    };
    r["tokenizer-json-malformed"] = [](Fixture &f) {
        return f.info_with("tok-bad", "tokenizer.json",
                           "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b\"]}}");
    };
    // long inputs (issue 10): chunked prefill, ThinK, suffix mode, late chunking, memory limit
    const std::string text_model = LLMBED_TEST_DATA_DIR "/models/families/e5-mistral";  // causal, with a tokenizer
    r["long-chunk-bidirectional"] = [ids](Fixture &f) {
        return f.embed(ids, {"--attention", "bidirectional", "--chunk-tokens", "4"});
    };
    r["long-think-ratio-range"] = [ids](Fixture &f) { return f.embed(ids, {"--think-ratio", "1.5"}); };
    r["long-think-bidirectional"] = [ids](Fixture &f) {
        return f.embed(ids, {"--attention", "bidirectional", "--think-ratio", "0.5"});
    };
    r["long-document-missing"] = [ids](Fixture &f) { return f.embed(ids, {"--document", f.dir + "/missing.txt"}); };
    r["long-document-empty"] = [ids](Fixture &f) {
        cli::write_file(f.dir + "/empty.txt", "");
        return f.embed(ids, {"--document", f.dir + "/empty.txt"});
    };
    r["long-document-bidirectional"] = [ids, text_model](Fixture &f) {
        cli::write_file(f.dir + "/doc.txt", "the quick brown fox");
        return f.embed(ids, {"--document", f.dir + "/doc.txt", "--attention", "bidirectional"}, text_model);
    };
    r["long-document-too-long"] = [ids, text_model](Fixture &f) {
        cli::write_file(f.dir + "/doc.txt", "the quick brown fox jumps over the lazy dog");
        return f.embed(ids, {"--document", f.dir + "/doc.txt", "--max-tokens", "4"}, text_model);
    };
    r["long-suffix-query-too-long"] = [text_model](Fixture &f) {
        cli::write_file(f.dir + "/doc.txt", "the quick brown fox");
        return f.embed("{\"input_ids\": [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]}\n",
                       {"--document", f.dir + "/doc.txt", "--chunk-tokens", "4"}, text_model);
    };
    r["long-memory-limit"] = [](Fixture &f) {
        std::string long_ids = "{\"input_ids\": [";
        for (int i = 0; i < 3000; i++) long_ids += (i ? ",3" : "3");
        return f.embed(long_ids + "]}\n", {"--max-tokens", "4000", "--chunk-tokens", "64", "--memory-limit", "1"});
    };
    r["long-rope-scaling"] = [ids](Fixture &f) { return f.embed(ids, {"--rope-scaling", "sideways:2"}); };
    r["late-chunking-spec"] = [ids](Fixture &f) { return f.embed(ids, {"--late-chunking", "words:3"}); };
    r["late-chunking-conflict"] = [ids](Fixture &f) {
        return f.embed(ids, {"--late-chunking", "tokens:2", "--shard-rows", "5"});
    };
    r["late-chunking-no-spans"] = [ids](Fixture &f) { return f.embed(ids, {"--late-chunking", "spans"}); };
    r["late-chunking-empty-spans"] = [](Fixture &f) {
        return f.embed("{\"input_ids\": [5, 6, 7], \"spans\": []}\n", {"--late-chunking", "spans"});
    };
    r["late-chunking-span-range"] = [](Fixture &f) {
        return f.embed("{\"input_ids\": [5, 6, 7], \"spans\": [[0, 99]]}\n", {"--late-chunking", "spans"});
    };
    r["late-chunking-span-order"] = [](Fixture &f) {
        return f.embed("{\"input_ids\": [5, 6, 7], \"spans\": [[2, 3], [0, 1]]}\n", {"--late-chunking", "spans"});
    };
    r["late-chunking-too-long"] = [](Fixture &f) {
        return f.embed("{\"input_ids\": [5, 6, 7, 8]}\n", {"--late-chunking", "tokens:1", "--max-tokens", "3"});
    };
    r["spans-without-late-chunking"] = [](Fixture &f) {
        return f.embed("{\"input_ids\": [5, 6, 7], \"spans\": [[0, 1]]}\n");
    };
    r["mask-prefix-empty-row"] = [ids](Fixture &f) { return f.embed(ids, {"--mask-prefix-tokens", "3"}); };
    // 33 resume
    r["resume-option-changed"] = [](Fixture &f) {
        return resume_with(f, [](std::string &) {}, {"--dims", "16"});
    };
    r["resume-version"] = [](Fixture &f) {
        return resume_with(f, [](std::string &t) { replace(t, "\"version\":\t2", "\"version\":\t1"); });
    };
    r["resume-negative-field"] = [](Fixture &f) {
        return resume_with(f, [](std::string &t) {
            size_t at = t.find("\"next_offset\":\t");
            REQUIRE(at != std::string::npos);
            size_t end = t.find(',', at);
            t.replace(at, end - at, "\"next_offset\":\t-5");
        });
    };
    r["resume-shard-outside"] = [](Fixture &f) {
        return resume_with(f, [](std::string &t) { replace(t, "\"r.shard-00001.npy\"", "\"../victim.npy\""); });
    };
    r["resume-shard-rows"] = [](Fixture &f) {
        return resume_with(f, [](std::string &t) {
            replace(t, "\"rows\":\t1,", "\"rows\":\t2,");
            replace(t, "\"rows\":\t1,", "\"rows\":\t0,");
        });
    };
    r["resume-malformed"] = [](Fixture &f) { return resume_with(f, [](std::string &t) { t += "}"; }); };
    // 35 non-finite
    r["nan-row"] = [](Fixture &f) {
        auto t = f.tensors;
        for (auto &s : t)
            if (s.name == "model.norm.weight") s.values[0] = NAN;
        std::string folder = f.tmp.mkdir("nan");
        write_hf_folder(folder, f.cfg, t, Dtype::F32);
        return f.embed("{\"input_ids\": [1, 2]}\n", {}, folder);
    };
    r["nan-weight"] = [](Fixture &f) {
        auto t = f.tensors;
        for (auto &s : t)
            if (s.name == "model.layers.0.self_attn.v_proj.weight") s.values[9] = INFINITY;
        std::string folder = f.tmp.mkdir("inf");
        write_hf_folder(folder, f.cfg, t, Dtype::F32);
        return f.run({"info", "--model", folder, "--check-weights"});
    };
    return r;
}

struct Row {
    std::string id, situation, shape;
    int status;
};

std::vector<Row> read_catalogue(std::vector<int> *headings) {
    std::string text = cli::slurp(kDoc);
    REQUIRE(!text.empty());
    std::vector<Row> rows;
    int status = -1;
    std::regex heading(R"(^## (\d+) (LLMBED_\w+))");
    std::regex row(R"(^\| `([a-z0-9-]+)` \| (.*) \| `(.*)` \|\s*$)");
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(start, end - start);
        std::smatch m;
        if (std::regex_search(line, m, heading)) {
            status = std::stoi(m[1]);
            headings->push_back(status);
        } else if (std::regex_match(line, m, row)) {
            rows.push_back({m[1], m[2], m[3], status});
        }
        start = end + 1;
    }
    return rows;
}

// `{name}` -> any text; everything else literal; the whole message.
bool matches(const std::string &shape, const std::string &message) {
    std::string re;
    for (size_t i = 0; i < shape.size(); i++) {
        if (shape[i] == '{') {
            size_t close = shape.find('}', i);
            if (close != std::string::npos && close > i + 1 &&
                shape.find_first_not_of("abcdefghijklmnopqrstuvwxyz_", i + 1) == close) {
                re += ".*?";
                i = close;
                continue;
            }
        }
        if (std::string("\\^$.|?*+()[]{}").find(shape[i]) != std::string::npos) re += '\\';
        re += shape[i];
    }
    return std::regex_match(message, std::regex(re));
}

std::string printable(std::string m, const Fixture &f) {
    for (const std::string &from : {f.dir, kModel}) {
        size_t at;
        while ((at = m.find(from)) != std::string::npos) m.replace(at, from.size(), from == f.dir ? "{dir}" : "{model}");
    }
    return m;
}

}  // namespace

TEST_CASE("docs/errors.md: every catalogued case produces its status and message shape", "[cli][catalogue]") {
    Fixture f;
    const auto all = runners();
    const bool print = std::getenv("LLMBED_CATALOGUE_PRINT") != nullptr;
    if (print) {
        for (const auto &[id, runner] : all) {
            Outcome o = runner(f);
            std::printf("%d | `%s` | `%s`\n", o.status, id.c_str(), printable(o.message, f).c_str());
        }
        return;
    }
    std::vector<int> headings;
    const std::vector<Row> rows = read_catalogue(&headings);
#define LLMBED_CATALOGUE_HEADING(name, value, text) CHECK(std::count(headings.begin(), headings.end(), value) == 1);
    LLMBED_STATUS_LIST(LLMBED_CATALOGUE_HEADING)
#undef LLMBED_CATALOGUE_HEADING
    int exercised = 0;
    std::map<std::string, int> seen;
    for (const Row &row : rows) {
        INFO("case " << row.id << " (section " << row.status << ")");
        CHECK(seen[row.id]++ == 0);
        auto it = all.find(row.id);
        if (it == all.end()) {
            CHECK(row.situation.find("not exercised") != std::string::npos);
            continue;
        }
        Outcome o = it->second(f);
        INFO("message: " << o.message);
        CHECK(o.status == row.status);
        CHECK(matches(row.shape, o.message));
        exercised++;
    }
    for (const auto &[id, runner] : all) {
        INFO("runner without a row in docs/errors.md: " << id);
        CHECK(seen.count(id) == 1);
    }
    CHECK(exercised >= 60);
}
