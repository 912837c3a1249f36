"""Writes tiny models as GGUF files with gguf-py, laid out as llama.cpp's
convert_hf_to_gguf.py writes them, and returns the dequantised weights the
float64 reference then runs with."""
import re

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q

# Hugging Face name suffix -> GGUF tensor name (llama.cpp's tensor_mapping.py).
LAYER_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}

# Storage type per GGUF tensor (by layer where it varies): every supported
# type appears, 1-D tensors (norms, biases) stay F32 as llama.cpp keeps them,
# and token_embd is Q8_0 like SmolLM2's Q4_1 file.
TYPES_BY_LAYER = {
    "attn_q.weight": (Q.Q4_0, Q.Q8_0),
    "attn_k.weight": (Q.Q4_1, Q.Q4_1),
    "attn_v.weight": (Q.Q8_0, Q.F16),
    "attn_output.weight": (Q.F16, Q.BF16),
    "ffn_gate.weight": (Q.Q4_1, Q.Q4_0),
    "ffn_up.weight": (Q.Q4_0, Q.F32),
    "ffn_down.weight": (Q.Q8_0, Q.Q4_1),
}


def gguf_name(hf_name):
    name = hf_name[len("model."):] if hf_name.startswith("model.") else hf_name
    if name == "embed_tokens.weight":
        return "token_embd.weight"
    if name == "norm.weight":
        return "output_norm.weight"
    m = re.fullmatch(r"layers\.(\d+)\.(.+)", name)
    if m is None or m.group(2) not in LAYER_NAMES:
        raise ValueError(f"no GGUF name for {hf_name}")
    return f"blk.{m.group(1)}.{LAYER_NAMES[m.group(2)]}"


def storage_type(name):
    if name == "token_embd.weight":
        return Q.Q8_0
    m = re.fullmatch(r"blk\.(\d+)\.(.+)", name)
    if m and m.group(2) in TYPES_BY_LAYER:
        return TYPES_BY_LAYER[m.group(2)][int(m.group(1)) % 2]
    return Q.F32


def llama_permute(weights, n_head, n_head_kv):
    """convert_hf_to_gguf.py LlamaModel.permute: rows reordered so that
    llama.cpp's "normal" rope (adjacent pairs) equals HF's rotate_half."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2)
            .reshape(weights.shape))


def llama_unpermute(weights, n_head):
    """Inverse of llama_permute (n_head already the per-tensor head count)."""
    return (weights.reshape(n_head, weights.shape[0] // n_head // 2, 2, *weights.shape[1:])
            .swapaxes(1, 2)
            .reshape(weights.shape))


def write_gguf(spec, model, path):
    """Writes `model` (float32 torch, HF names) to `path`.

    Returns (dequant, hf_weights): dequant maps each non-F32 GGUF tensor name
    to its gguf-py dequantisation as stored in the file (llama q/k permuted);
    hf_weights maps HF names to the float32 weights a reader of the file ends
    up with (dequantised, q/k un-permuted)."""
    cfg = spec["config"]
    arch = spec["gguf_arch"]
    n_head = cfg["num_attention_heads"]
    n_kv = cfg["num_key_value_heads"]
    head_dim = cfg.get("head_dim", cfg["hidden_size"] // n_head)

    writer = gguf.GGUFWriter(path, arch)
    writer.add_name(spec["name"])
    writer.add_vocab_size(cfg["vocab_size"])
    writer.add_context_length(cfg["max_position_embeddings"])
    writer.add_embedding_length(cfg["hidden_size"])
    writer.add_block_count(cfg["num_hidden_layers"])
    writer.add_feed_forward_length(cfg["intermediate_size"])
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_rope_freq_base(cfg["rope_parameters"]["rope_theta"])
    writer.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_rope_dimension_count(head_dim)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_1)

    dequant = {}
    hf_weights = {}
    for hf_name, tensor in model.state_dict().items():
        if hf_name == "lm_head.weight":
            continue  # tied: llama.cpp omits output.weight
        name = gguf_name(hf_name)
        data = tensor.detach().numpy().astype(np.float32)
        permuted = arch == "llama" and (name.endswith("attn_q.weight") or name.endswith("attn_k.weight"))
        heads = n_head if name.endswith("attn_q.weight") else n_kv
        if permuted:
            data = llama_permute(data, n_head, n_kv if name.endswith("attn_k.weight") else n_head)
        qtype = storage_type(name)
        if qtype == Q.F32:
            writer.add_tensor(name, data)
            stored = data
        else:
            raw = gguf.quants.quantize(data, qtype)
            writer.add_tensor(name, raw, raw_dtype=qtype)
            stored = gguf.quants.dequantize(raw, qtype).astype(np.float32)
            dequant[name] = (qtype.name, stored)
        hf_weights[hf_name] = llama_unpermute(stored, heads) if permuted else stored
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dequant, hf_weights
