"""Gemma 3 in float64: the float64 patches of transformers' Gemma 3 modules
and an independent numpy forward, written from modeling_gemma3.py
(transformers 5.25) and the Gemma 3 report:

  x = embed(ids) * sqrt(hidden)                 Gemma3TextScaledWordEmbedding
  per layer (sliding or full, config.layer_types):
    h = rmsnorm(x) * (1 + w_in)                 Gemma3RMSNorm
    q, k = rmsnorm_head(q) * (1 + w_q), ... ; RoPE (rotate_half) with the
        layer type's base (sliding: rope_local_base_freq, plain; full:
        rope_theta with its rope scaling)
    logits = q k^T * query_pre_attn_scalar^-0.5, masked:
        causal sliding: 0 <= i - j < window; causal full: j <= i;
        bidirectional (use_bidirectional_attention): sliding |i - j| < window // 2 + 1,
        full: everything
    x = x + rmsnorm(attn Wo^T) * (1 + w_post_attn)
    x = x + rmsnorm(down(gelu_tanh(gate(h')) * up(h'))) * (1 + w_post_ffw),
        h' = rmsnorm(x) * (1 + w_pre_ffw)
  hidden = rmsnorm(x) * (1 + w_norm)

transformers 5.x keeps float32 roundings in Gemma3RMSNorm (x.float()), the
rotary embedding (float32 inv_freq and cos/sin) and eager attention's
softmax; the patches redo those three in float64, as hf_float64.py does for
the Llama family (SPEC §10)."""
import math

import numpy as np
import torch
from transformers.models.gemma3 import modeling_gemma3

from golden_lib import hf_float64

LOCAL, GLOBAL = "sliding_attention", "full_attention"


# ------------------------------------------------------------ float64 patches

def _rmsnorm_forward(self, x):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * (1.0 + self.weight)


def _rope_parameters(rotary, layer_type):
    """(inv_freq float64, attention_scaling) of one layer type, computed by
    transformers' own init functions with torch.float meaning float64."""
    rope_type = rotary.rope_type[layer_type]
    if rope_type == "default":
        fn, kwargs = type(rotary).compute_default_rope_parameters, {"layer_type": layer_type}
    else:
        fn = hf_float64.modeling_rope_utils.ROPE_INIT_FUNCTIONS[rope_type]
        kwargs = {"device": "cpu", "layer_type": layer_type}
    fn_globals = fn.__globals__
    real_torch = fn_globals["torch"]
    fn_globals["torch"] = hf_float64._TorchFloat64()
    try:
        inv_freq, scaling = fn(rotary.config, **kwargs)
    finally:
        fn_globals["torch"] = real_torch
    assert inv_freq.dtype == torch.float64
    return inv_freq, float(scaling)


def _rotary_forward(self, x, position_ids, layer_type):
    inv_freq, scaling = _rope_parameters(self, layer_type)
    freqs = position_ids[..., None].to(torch.float64) * inv_freq
    emb = torch.cat((freqs, freqs), dim=-1)
    return (emb.cos() * scaling).to(x.dtype), (emb.sin() * scaling).to(x.dtype)


def _eager_attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, softcap=None, **kwargs):
    key_states = modeling_gemma3.repeat_kv(key, module.num_key_value_groups)
    value_states = modeling_gemma3.repeat_kv(value, module.num_key_value_groups)
    weights = torch.matmul(query, key_states.transpose(2, 3)) * scaling
    if softcap is not None:  # never passed by Gemma3Attention (kept for fidelity to the original)
        weights = torch.tanh(weights / softcap) * softcap
    if attention_mask is not None:
        weights = weights + attention_mask
    weights = torch.nn.functional.softmax(weights, dim=-1)
    return torch.matmul(weights, value_states).transpose(1, 2).contiguous(), weights


def patch_transformers():
    modeling_gemma3.Gemma3RMSNorm.forward = _rmsnorm_forward
    modeling_gemma3.Gemma3RotaryEmbedding.forward = _rotary_forward
    modeling_gemma3.eager_attention_forward = _eager_attention


@torch.no_grad()
def run_hf(model, ids, early_exit_layer):
    """(final-norm hidden [n, hidden], final norm after early_exit_layer layers)
    of a Gemma3TextModel as float64 numpy; masks are the model's own (its
    config decides causal or bidirectional and the windows)."""
    out = model(input_ids=torch.tensor([ids], dtype=torch.long), output_hidden_states=True)
    early = model.norm(out.hidden_states[early_exit_layer])
    return out.last_hidden_state[0].numpy(), early[0].numpy()


# ------------------------------------------------------------- numpy forward

def normalized_config(c):
    """What the numpy forward needs from a Gemma3TextConfig-style dict
    (transformers 4.x keys or 5.x rope_parameters)."""
    n_layers = c["num_hidden_layers"]
    if c.get("layer_types"):
        types = list(c["layer_types"])
    else:
        pattern = c.get("sliding_window_pattern", 6)
        types = [LOCAL if (i + 1) % pattern else GLOBAL for i in range(n_layers)]
    params = c.get("rope_parameters") or {}
    full = dict(params.get(GLOBAL) or {})
    if c.get("rope_scaling"):
        full.update(c["rope_scaling"])
    full.setdefault("rope_theta", c.get("rope_theta", 1e6))
    local = dict(params.get(LOCAL) or {})
    local.setdefault("rope_theta", c.get("rope_local_base_freq", 1e4))
    return dict(
        hidden=c["hidden_size"], n_heads=c["num_attention_heads"], n_kv=c["num_key_value_heads"],
        head_dim=c.get("head_dim", 256), n_layers=n_layers, eps=c.get("rms_norm_eps", 1e-6),
        scalar=c.get("query_pre_attn_scalar", 256), window=c.get("sliding_window", 4096),
        bidirectional=bool(c.get("use_bidirectional_attention", False)), layer_types=types,
        rope={GLOBAL: full, LOCAL: local})


def inv_freq(rope, head_dim):
    exponents = np.arange(0, head_dim, 2, dtype=np.float64) / head_dim
    base = rope["rope_theta"] ** -exponents
    kind = rope.get("rope_type", rope.get("type", "default"))
    if kind == "default":
        return base
    if kind == "linear":
        return base / rope["factor"]
    raise ValueError(f"rope type {kind} not in the Gemma reference")


def rmsnorm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * (1.0 + w)


def rope(x, positions, freq):
    angles = positions[:, None] * freq[None, :]
    angles = np.concatenate([angles, angles], axis=-1)
    half = x.shape[-1] // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * np.cos(angles)[:, None, :] + rotated * np.sin(angles)[:, None, :]


def gelu_tanh(g):
    return 0.5 * g * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (g + 0.044715 * g ** 3)))


def allowed_mask(cfg, layer_type, n):
    i = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    if cfg["bidirectional"]:
        if layer_type == LOCAL:
            return np.abs(i - j) < cfg["window"] // 2 + 1
        return np.ones((n, n), bool)
    causal = j <= i
    return causal & (i - j < cfg["window"]) if layer_type == LOCAL else causal


def forward(cfg, weights, ids, early_exit_layer):
    """(final-norm hidden [n, hidden], final norm after early_exit_layer layers), float64."""
    w = {(k[len("model."):] if k.startswith("model.") else k): v.astype(np.float64) for k, v in weights.items()}
    n, H, KV, d = len(ids), cfg["n_heads"], cfg["n_kv"], cfg["head_dim"]
    eps = cfg["eps"]
    # sqrt(hidden) unrounded: a float64 transformers model builds its
    # embed_scale buffer in float64 (llmbed and an fp32 model use fp32(sqrt), 1e-8 apart)
    x = w["embed_tokens.weight"][np.asarray(ids)] * math.sqrt(cfg["hidden"])
    positions = np.arange(n, dtype=np.float64)
    early = None
    for layer in range(cfg["n_layers"]):
        kind = cfg["layer_types"][layer]
        freq = inv_freq(cfg["rope"][kind], d)
        p = f"layers.{layer}."
        h = rmsnorm(x, w[p + "input_layernorm.weight"], eps)
        q = (h @ w[p + "self_attn.q_proj.weight"].T).reshape(n, H, d)
        k = (h @ w[p + "self_attn.k_proj.weight"].T).reshape(n, KV, d)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(n, KV, d)
        q = rope(rmsnorm(q, w[p + "self_attn.q_norm.weight"], eps), positions, freq)
        k = rope(rmsnorm(k, w[p + "self_attn.k_norm.weight"], eps), positions, freq)
        allowed = allowed_mask(cfg, kind, n)
        att = np.empty((n, H, d))
        for head in range(H):
            g = head // (H // KV)
            logits = q[:, head, :] @ k[:, g, :].T * cfg["scalar"] ** -0.5
            logits = np.where(allowed, logits, -np.inf)
            logits -= logits.max(-1, keepdims=True)
            prob = np.exp(logits)
            att[:, head, :] = (prob / prob.sum(-1, keepdims=True)) @ v[:, g, :]
        branch = att.reshape(n, H * d) @ w[p + "self_attn.o_proj.weight"].T
        x = x + rmsnorm(branch, w[p + "post_attention_layernorm.weight"], eps)
        h = rmsnorm(x, w[p + "pre_feedforward_layernorm.weight"], eps)
        mlp = (gelu_tanh(h @ w[p + "mlp.gate_proj.weight"].T) * (h @ w[p + "mlp.up_proj.weight"].T))
        x = x + rmsnorm(mlp @ w[p + "mlp.down_proj.weight"].T, w[p + "post_feedforward_layernorm.weight"], eps)
        if layer + 1 == early_exit_layer:
            early = rmsnorm(x, w["norm.weight"], eps)
    return rmsnorm(x, w["norm.weight"], eps), early
