#!/usr/bin/env python3
"""Generates the tiny Gemma 3 test models and their float64 goldens.

Run from the repository root (offline, CPU only, ~20 s):

    /work/venv/bin/python tests/gen_gemma_goldens.py

Needs torch, transformers 5.x, safetensors, numpy and gguf. CI does not run
it: the outputs are committed. Every draw is seeded, so a re-run rewrites
identical files. Each golden is computed twice, by transformers' Gemma 3 in
float64 (golden_lib/gemma_reference.py patches its three float32 roundings)
and by the independent numpy forward of the same file, which must agree to
1e-10.

What it writes (layouts: golden_lib/cases.py):
  tests/data/models/gemma3-tiny/: Gemma3ForCausalLM, causal, four layers
      (sliding, sliding, full, sliding), window 6 (shorter than the 7-, 13-
      and 31-token sequences), query_pre_attn_scalar 20 (not head_dim 16),
      rope_parameters per layer type (full: linear x2 on base 1e6; sliding:
      base 100). Goldens causal and with use_bidirectional_attention (the
      --attention bidirectional rule, |i - j| <= window / 2 on sliding layers).
  tests/data/models/embeddinggemma-tiny/: an EmbeddingGemma-shaped
      sentence-transformers folder: Gemma3TextModel (no "model." prefix,
      use_bidirectional_attention, window 8, transformers 4.x config keys
      rope_theta / rope_local_base_freq / sliding_window_pattern 3), mean
      Pooling, 2_Dense (40 -> 96, no bias, identity), 3_Dense (96 -> 56, no
      bias, identity), Normalize, prompts. Goldens: hidden states and the
      sentence-transformers output rows (mean -> Dense -> Dense -> L2).
  tests/data/models/gemma3-gguf.gguf: a gemma3 GGUF (six layers: pattern 6
      makes layer 5 the full one) as llama.cpp's converter lays it out (norms
      stored as 1 + w), K-quant (Q4_K, Q6_K) and Q5_0/Q8_0 tensors drawn as
      random blocks; goldens of the float64 model holding gguf-py's
      dequantisation (norms minus 1, as transformers' GGUF loader does).
"""
import json
import math
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import gguf  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from gguf import GGMLQuantizationType as Q  # noqa: E402
from safetensors.numpy import load_file, save_file  # noqa: E402

from golden_lib import build_models, cases, gemma_reference  # noqa: E402

DATA = os.path.join(HERE, "data")
MODELS_DIR = os.path.join(DATA, "models")
GOLDENS_DIR = os.path.join(DATA, "goldens")
SEQ_LENGTHS = [1, 2, 7, 13, 31]
EARLY_EXIT_LAYER = 1
REFERENCE_TOLERANCE = 1e-10

GEMMA3_TINY = dict(
    hidden_size=48, num_attention_heads=4, num_key_value_heads=2, head_dim=16, intermediate_size=80,
    num_hidden_layers=4, vocab_size=160, max_position_embeddings=256, rms_norm_eps=1e-6,
    query_pre_attn_scalar=20, sliding_window=6, tie_word_embeddings=True,
    hidden_activation="gelu_pytorch_tanh",
    layer_types=["sliding_attention", "sliding_attention", "full_attention", "sliding_attention"],
    rope_parameters={"full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1000000.0},
                     "sliding_attention": {"rope_type": "default", "rope_theta": 100.0}})

EMBEDDINGGEMMA_TINY = dict(
    hidden_size=40, num_attention_heads=2, num_key_value_heads=1, head_dim=24, intermediate_size=72,
    num_hidden_layers=3, vocab_size=150, max_position_embeddings=512, rms_norm_eps=1e-6,
    query_pre_attn_scalar=24, sliding_window=8, tie_word_embeddings=True, use_bidirectional_attention=True,
    hidden_activation="gelu_pytorch_tanh",
    layer_types=["sliding_attention", "sliding_attention", "full_attention"],
    rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 1000000.0},
                     "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}})
DENSE_SIZES = [(40, 96), (96, 56)]
PROMPTS = {"query": "task: search result | query: ", "document": "title: none | text: ",
           "Clustering": "task: clustering | query: "}

GEMMA3_GGUF = dict(
    hidden_size=64, num_attention_heads=2, num_key_value_heads=1, head_dim=32, intermediate_size=256,
    num_hidden_layers=6, vocab_size=96, max_position_embeddings=512, rms_norm_eps=1e-6,
    query_pre_attn_scalar=32, sliding_window=5, tie_word_embeddings=True, hidden_activation="gelu_pytorch_tanh",
    layer_types=["sliding_attention"] * 5 + ["full_attention"],
    rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 1000000.0},
                     "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}})


def seeded_model(name, config, cls):
    seed = build_models.model_seed(name)
    torch.manual_seed(seed)
    model = cls(transformers.Gemma3TextConfig(**config)).to(torch.float32)
    build_models.init_weights(model, seed)
    with torch.no_grad():  # Gemma3RMSNorm scales by 1 + w: centre w on 0, not on 1
        for param_name, param in model.named_parameters():
            if "norm" in param_name:
                param.sub_(1.0)
    if config["tie_word_embeddings"] and hasattr(model, "tie_weights"):
        model.tie_weights()
    return model.eval()


def save_folder(model, out_dir):
    shutil.rmtree(out_dir, ignore_errors=True)
    model.save_pretrained(out_dir)
    for extra in os.listdir(out_dir):
        if extra not in ("config.json", "model.safetensors"):
            os.remove(os.path.join(out_dir, extra))


def rewrite_config(out_dir, edit):
    path = os.path.join(out_dir, "config.json")
    with open(path) as f:
        config = json.load(f)
    edit(config)
    with open(path, "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    return config


def legacy_keys(config):
    """transformers 4.x style, as google/embeddinggemma-300m's config.json:
    rope_theta / rope_local_base_freq / rope_scaling and sliding_window_pattern."""
    rope = config.pop("rope_parameters")
    config["rope_theta"] = rope["full_attention"]["rope_theta"]
    config["rope_local_base_freq"] = rope["sliding_attention"]["rope_theta"]
    config["rope_scaling"] = None
    config.pop("layer_types")
    config.pop("_sliding_window_pattern", None)
    config["sliding_window_pattern"] = 3


def float64_model(model_dir):
    model = transformers.AutoModel.from_pretrained(model_dir, dtype=torch.float64, attn_implementation="eager")
    return model.eval()


def float64_from_config(config):
    """A Gemma3TextModel built in float64 (its embed_scale buffer too, as
    from_pretrained(dtype=float64) builds it)."""
    hf_config = transformers.Gemma3TextConfig(**config)
    model = transformers.AutoModel.from_config(hf_config, dtype=torch.float64, attn_implementation="eager")
    return model.eval()


def check_reference(label, ours, theirs, worst):
    err = float(np.abs(ours - theirs).max())
    worst[0] = max(worst[0], err)
    if err > REFERENCE_TOLERANCE:
        raise SystemExit(f"{label}: transformers float64 and the numpy reference differ by {err:g}")


def sequence_ids(name, vocab):
    rng = np.random.default_rng(build_models.model_seed(name))
    return [rng.integers(0, vocab, n).tolist() for n in SEQ_LENGTHS]


def pooled_entries(hidden, early, n):
    entries = []
    for kind in cases.POOLINGS:
        for instruction_len in ([0, 3] if n > 3 else [0]):
            entries.append((kind, instruction_len, 0, cases.pool(hidden, kind, instruction_len)))
    entries.append(("mean", 0, EARLY_EXIT_LAYER, cases.pool(early, "mean", 0)))
    return entries


def write_goldens(name, model_path, architecture, config_json, weights, runs, extra=None):
    """runs: {attention: float64 transformers model}; weights: HF names -> float32."""
    cfg = gemma_reference.normalized_config(config_json)
    out_dir = os.path.join(GOLDENS_DIR, name)
    shutil.rmtree(out_dir, ignore_errors=True)
    rope = cfg["rope"][gemma_reference.GLOBAL]
    writer = cases.GoldenWriter(out_dir, dict(
        model=name, model_path=model_path, architecture=architecture, hidden_size=cfg["hidden"],
        n_layers=cfg["n_layers"], rope_type=rope.get("rope_type", "default")))
    worst = [0.0]
    all_ids = sequence_ids(name, config_json["vocab_size"])
    for ids in all_ids:
        n = len(ids)
        seq = writer.add_sequence(ids)
        for attention, model in runs.items():
            hidden, early = gemma_reference.run_hf(model, ids, EARLY_EXIT_LAYER)
            ref_cfg = dict(cfg, bidirectional=attention == "bidirectional")
            ref_hidden, ref_early = gemma_reference.forward(ref_cfg, weights, ids, EARLY_EXIT_LAYER)
            check_reference(f"{name} {attention} n={n}", hidden, ref_hidden, worst)
            check_reference(f"{name} {attention} n={n} layer {EARLY_EXIT_LAYER}", early, ref_early, worst)
            writer.add_hidden(seq, attention, hidden)
            writer.add_pooled(seq, attention, pooled_entries(hidden, early, n))
            if extra is not None:
                extra(writer, seq, hidden)
    check_windows_matter(name, cfg, weights, all_ids[-1])
    writer.write()
    print(f"goldens {name}: {len(writer.manifest['cases'])} cases, transformers vs numpy max |diff| {worst[0]:.2e}")


def check_windows_matter(name, cfg, weights, ids):
    """The goldens must tell a windowed model from one without windows, and
    the layer types' RoPE bases apart (ids: the longest test sequence)."""
    plain = dict(cfg, window=10 ** 6)
    for bidirectional in {cfg["bidirectional"], False}:
        a = gemma_reference.forward(dict(cfg, bidirectional=bidirectional), weights, ids, 1)[0]
        b = gemma_reference.forward(dict(plain, bidirectional=bidirectional), weights, ids, 1)[0]
        if np.abs(a - b).max() < 1e-3:
            raise SystemExit(f"{name}: the sliding window does not change an n={len(ids)} output")
    same_base = dict(cfg, rope={k: cfg["rope"][gemma_reference.GLOBAL] for k in cfg["rope"]})
    a = gemma_reference.forward(cfg, weights, ids, 1)[0]
    b = gemma_reference.forward(same_base, weights, ids, 1)[0]
    if np.abs(a - b).max() < 1e-3:
        raise SystemExit(f"{name}: the sliding layers' RoPE base does not change the output")


# --------------------------------------------------------------- gemma3-tiny

def gemma3_tiny():
    name = "gemma3-tiny"
    out_dir = os.path.join(MODELS_DIR, name)
    model = seeded_model(name, GEMMA3_TINY, transformers.Gemma3ForCausalLM)
    save_folder(model, out_dir)
    with open(os.path.join(out_dir, "config.json")) as f:
        config_json = json.load(f)
    weights = load_file(os.path.join(out_dir, "model.safetensors"))
    causal = float64_model(out_dir)
    bidirectional = float64_from_config(dict(GEMMA3_TINY, use_bidirectional_attention=True))
    bidirectional.load_state_dict(causal.state_dict())
    write_goldens(name, f"models/{name}", "gemma3", config_json, weights,
                  {"causal": causal, "bidirectional": bidirectional})


# ------------------------------------------------------- embeddinggemma-tiny

def write_st_files(out_dir, rng):
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
        {"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"},
        {"idx": 4, "name": "4", "path": "4_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    files = {
        "modules.json": modules,
        "config_sentence_transformers.json": {
            "model_type": "SentenceTransformer", "prompts": PROMPTS, "default_prompt_name": None,
            "similarity_fn_name": "cosine", "__version__": {"sentence_transformers": "5.1.0"}},
        "sentence_bert_config.json": {"max_seq_length": 2048, "do_lower_case": False},
        "1_Pooling/config.json": {
            "word_embedding_dimension": DENSE_SIZES[0][0], "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False, "include_prompt": True},
    }
    dense = []
    for i, (n_in, n_out) in enumerate(DENSE_SIZES):
        folder = f"{i + 2}_Dense"
        files[f"{folder}/config.json"] = {"in_features": n_in, "out_features": n_out, "bias": False,
                                          "activation_function": "torch.nn.modules.linear.Identity"}
        weight = (rng.standard_normal((n_out, n_in)) / math.sqrt(n_in)).astype(np.float32)
        os.makedirs(os.path.join(out_dir, folder), exist_ok=True)
        save_file({"linear.weight": weight}, os.path.join(out_dir, folder, "model.safetensors"))
        dense.append(weight)
    os.makedirs(os.path.join(out_dir, "4_Normalize"), exist_ok=True)
    for rel, content in files.items():
        path = os.path.join(out_dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(content, f, indent=2)
            f.write("\n")
    return dense


def st_rows(hidden, dense):
    """sentence-transformers' pipeline after the Transformer module: mean
    Pooling (every token), Dense layers (x W^T, identity), Normalize."""
    x = hidden.mean(0)
    for w in dense:
        x = w.astype(np.float64) @ x
    return x / np.linalg.norm(x)


def embeddinggemma_tiny():
    name = "embeddinggemma-tiny"
    out_dir = os.path.join(MODELS_DIR, name)
    model = seeded_model(name, EMBEDDINGGEMMA_TINY, transformers.Gemma3TextModel)
    save_folder(model, out_dir)
    config_json = rewrite_config(out_dir, legacy_keys)
    dense = write_st_files(out_dir, np.random.default_rng(build_models.model_seed(name) + 1))
    weights = load_file(os.path.join(out_dir, "model.safetensors"))
    reloaded = float64_model(out_dir)
    if reloaded.config.layer_types != EMBEDDINGGEMMA_TINY["layer_types"]:
        raise SystemExit(f"{name}: the 4.x config does not reload with the intended layer types")
    st_outputs = []

    def add_st_row(writer, seq, hidden):
        st_outputs.append(st_rows(hidden, dense))

    write_goldens(name, f"models/{name}", "gemma3", config_json, weights, {"bidirectional": reloaded}, add_st_row)
    out = os.path.join(GOLDENS_DIR, name)
    np.save(os.path.join(out, "sentence_transformers.npy"), np.stack(st_outputs).astype(np.float32))
    with open(os.path.join(out, "manifest.json")) as f:
        manifest = json.load(f)
    manifest["sentence_transformers"] = dict(file="sentence_transformers.npy", dims=DENSE_SIZES[-1][1],
                                             pooling="mean", dense=len(DENSE_SIZES), normalize=True)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


# --------------------------------------------------------------- gemma3-gguf

GGUF_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight",
    "post_attention_layernorm.weight": "post_attention_norm.weight",
    "pre_feedforward_layernorm.weight": "ffn_norm.weight",
    "post_feedforward_layernorm.weight": "post_ffw_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def gguf_tensor_type(name, layer):
    """Mixes the types a Q4_K_M file holds: K-quants where rows are 256 wide."""
    if name == "ffn_down.weight":
        return Q.Q4_K if layer % 2 == 0 else Q.Q6_K
    if name in ("ffn_gate.weight", "ffn_up.weight"):
        return Q.Q5_0
    if name in ("attn_q.weight", "attn_k.weight", "attn_v.weight"):
        return Q.Q8_0 if layer % 2 == 0 else Q.Q5_1
    return Q.F32


def random_kquant(rng, qtype, rows, cols):
    """Random blocks of a K-quant type whose values have magnitude ~1/sqrt(cols)."""
    block_elems, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    n = rows * cols // block_elems
    raw = rng.integers(0, 256, size=(n, block_bytes), dtype=np.uint8)
    target = 1.0 / math.sqrt(cols)
    if qtype == Q.Q4_K:  # x = d * sc * q - dmin * m, sc, m < 64, q < 16: centre with dmin = 7.5 d
        d = np.full(n, target / (31 * 7.5), np.float16)
        raw[:, 0:2] = d.view(np.uint8).reshape(n, 2)
        raw[:, 2:4] = (d * np.float16(7.5)).view(np.uint8).reshape(n, 2)
    elif qtype == Q.Q6_K:  # x = d * scale * (q - 32), int8 scales
        raw[:, 208:210] = np.full(n, target / (64 * 18), np.float16).view(np.uint8).reshape(n, 2)
    values = gguf.dequantize(raw.reshape(rows, -1), qtype).astype(np.float32)
    return raw.reshape(rows, -1), values


def gemma3_gguf():
    name = "gemma3-gguf"
    path = os.path.join(MODELS_DIR, name + ".gguf")
    cfg = GEMMA3_GGUF
    model = seeded_model(name, cfg, transformers.Gemma3TextModel)
    rng = np.random.default_rng(build_models.model_seed(name) + 2)
    writer = gguf.GGUFWriter(path, "gemma3")
    writer.add_name(name)
    writer.add_context_length(cfg["max_position_embeddings"])
    writer.add_embedding_length(cfg["hidden_size"])
    writer.add_block_count(cfg["num_hidden_layers"])
    writer.add_feed_forward_length(cfg["intermediate_size"])
    writer.add_head_count(cfg["num_attention_heads"])
    writer.add_head_count_kv(cfg["num_key_value_heads"])
    writer.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    writer.add_key_length(cfg["head_dim"])
    writer.add_value_length(cfg["head_dim"])
    writer.add_rope_freq_base(cfg["rope_parameters"]["full_attention"]["rope_theta"])
    writer.add_sliding_window(cfg["sliding_window"])
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_K_M)
    hf_weights = {}
    for hf_name, tensor in model.state_dict().items():
        data = tensor.detach().numpy().astype(np.float32)
        if hf_name == "embed_tokens.weight":
            gname, layer, short = "token_embd.weight", -1, "token_embd.weight"
        elif hf_name == "norm.weight":
            gname, layer, short = "output_norm.weight", -1, "output_norm.weight"
        else:
            _, layer_str, rest = hf_name.split(".", 2)
            layer, short = int(layer_str), GGUF_NAMES[rest]
            gname = f"blk.{layer}.{short}"
        if "norm" in short:  # convert_hf_to_gguf.py Gemma3Model: norm weights + 1
            writer.add_tensor(gname, data + np.float32(1.0))
            hf_weights[hf_name] = (data + np.float32(1.0)) - np.float32(1.0)  # what transformers' loader rebuilds
            continue
        qtype = Q.Q8_0 if short == "token_embd.weight" else gguf_tensor_type(short, layer)
        if qtype in (Q.Q4_K, Q.Q6_K):
            raw, values = random_kquant(rng, qtype, *data.shape)
        elif qtype == Q.F32:
            raw, values = data, data
        else:
            raw = gguf.quantize(data, qtype)
            values = gguf.dequantize(raw, qtype).astype(np.float32)
        writer.add_tensor(gname, raw, raw_dtype=None if qtype == Q.F32 else qtype)
        hf_weights[hf_name] = values
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    hf_model = float64_from_config(cfg)
    state = {k: torch.from_numpy(v).to(torch.float64) for k, v in hf_weights.items()}
    missing, unexpected = hf_model.load_state_dict(state, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    config_json = dict(cfg)
    write_goldens(name, f"models/{name}.gguf", "gemma3", config_json, hf_weights, {"causal": hf_model})


def main():
    os.makedirs(MODELS_DIR, exist_ok=True)
    gemma_reference.patch_transformers()
    gemma3_tiny()
    embeddinggemma_tiny()
    gemma3_gguf()


if __name__ == "__main__":
    main()
