"""Independent float64 numpy forward of the five decoder families, written
from the papers and the public modeling files (Llama, Mistral, Qwen2 QKV
bias, Qwen3 q_norm/k_norm, MiniCPM embedding and residual scaling) and from
transformers' rope formulas. It reads config.json and the weights itself, so
it checks both the float64 patches of hf_float64.py and the saved files."""
import json
import math
import os

import numpy as np
from safetensors.numpy import load_file


def normalized_config(config_json):
    """Flat dict of what the forward needs; accepts transformers 4.x
    (`rope_theta` + `rope_scaling`, key "type" or "rope_type") and 5.x
    (`rope_parameters`) configs."""
    c = config_json
    rope = dict(c.get("rope_parameters") or c.get("rope_scaling") or {})
    theta = rope.pop("rope_theta", c.get("rope_theta", 10000.0))
    kind = rope.pop("rope_type", rope.pop("type", "default"))
    n_heads = c["num_attention_heads"]
    return dict(
        model_type=c["model_type"], hidden=c["hidden_size"], n_heads=n_heads,
        n_kv=c.get("num_key_value_heads", n_heads),
        head_dim=c.get("head_dim") or c["hidden_size"] // n_heads,
        n_layers=c["num_hidden_layers"], eps=c["rms_norm_eps"],
        max_pos=c["max_position_embeddings"], theta=float(theta), rope_type=kind, rope=rope,
        scale_emb=float(c.get("scale_emb", 1.0)) if c["model_type"] == "minicpm" else 1.0,
        residual_scale=(c["scale_depth"] / math.sqrt(c["num_hidden_layers"])
                        if c["model_type"] == "minicpm" else 1.0))


def load_folder(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = normalized_config(json.load(f))
    weights = load_file(os.path.join(model_dir, "model.safetensors"))
    return cfg, weights


def rope_inv_freq(cfg, seq_len):
    """inv_freq [d/2] and cos/sin multiplier for a sequence of seq_len tokens."""
    d, theta, r = cfg["head_dim"], cfg["theta"], cfg["rope"]
    exponents = np.arange(0, d, 2, dtype=np.float64) / d
    kind = cfg["rope_type"]
    if kind == "default":
        return theta ** -exponents, 1.0
    if kind == "linear":  # positions / factor
        return theta ** -exponents / r["factor"], 1.0
    if kind == "dynamic":  # NTK-aware base growth beyond max_position_embeddings
        length = max(seq_len, cfg["max_pos"])
        f = r["factor"]
        base = theta * ((f * length / cfg["max_pos"]) - (f - 1)) ** (d / (d - 2))
        return base ** -exponents, 1.0
    if kind == "llama3":
        inv = theta ** -exponents
        f, lo, hi = r["factor"], r["low_freq_factor"], r["high_freq_factor"]
        old = r["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv
        out = np.where(wavelen > old / lo, inv / f, inv)
        smooth = (old / wavelen - lo) / (hi - lo)
        medium = (wavelen >= old / hi) & (wavelen <= old / lo)
        return np.where(medium, (1 - smooth) * inv / f + smooth * inv, out), 1.0
    if kind == "yarn":  # YaRN (Peng et al. 2023), transformers' defaults
        f = r["factor"]
        old = r.get("original_max_position_embeddings", cfg["max_pos"])
        beta_fast, beta_slow = r.get("beta_fast", 32), r.get("beta_slow", 1)
        scale = r.get("attention_factor") or (0.1 * math.log(f) + 1.0 if f > 1 else 1.0)

        def correction_dim(rotations):
            return d * math.log(old / (rotations * 2 * math.pi)) / (2 * math.log(theta))

        low = max(math.floor(correction_dim(beta_fast)), 0)
        high = min(math.ceil(correction_dim(beta_slow)), d - 1)
        if low == high:
            high += 0.001
        ramp = np.clip((np.arange(d // 2, dtype=np.float64) - low) / (high - low), 0, 1)
        extrapolation = 1 - ramp
        pos_freqs = theta ** exponents
        inv = (1 / (f * pos_freqs)) * (1 - extrapolation) + (1 / pos_freqs) * extrapolation
        return inv, scale
    raise ValueError(f"rope type {kind}")


def rmsnorm(x, w, eps):
    # x [..., d]: x / sqrt(mean(x^2) + eps) * w
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def rope(x, cos, sin):
    # x [T, H, d], rotate_half layout: pairs (i, i + d/2)
    half = x.shape[-1] // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos[:, None, :] + rotated * sin[:, None, :]


def forward(cfg, weights, ids, bidirectional, early_exit_layer):
    """Returns (final-norm hidden [T, hidden], final norm of the hidden after
    early_exit_layer layers [T, hidden]), float64."""
    w = {(k[len("model."):] if k.startswith("model.") else k): v.astype(np.float64)
         for k, v in weights.items()}
    T, H, KV, d = len(ids), cfg["n_heads"], cfg["n_kv"], cfg["head_dim"]
    x = w["embed_tokens.weight"][np.asarray(ids)] * cfg["scale_emb"]
    inv_freq, rope_scale = rope_inv_freq(cfg, T)
    angles = np.arange(T, dtype=np.float64)[:, None] * inv_freq[None, :]
    angles = np.concatenate([angles, angles], axis=-1)
    cos, sin = np.cos(angles) * rope_scale, np.sin(angles) * rope_scale
    allowed = np.ones((T, T), bool) if bidirectional else np.tril(np.ones((T, T), bool))
    rs = cfg["residual_scale"]
    early = None
    for layer in range(cfg["n_layers"]):
        p = f"layers.{layer}."
        h = rmsnorm(x, w[p + "input_layernorm.weight"], cfg["eps"])
        q = h @ w[p + "self_attn.q_proj.weight"].T + w.get(p + "self_attn.q_proj.bias", 0)
        k = h @ w[p + "self_attn.k_proj.weight"].T + w.get(p + "self_attn.k_proj.bias", 0)
        v = h @ w[p + "self_attn.v_proj.weight"].T + w.get(p + "self_attn.v_proj.bias", 0)
        q, k, v = q.reshape(T, H, d), k.reshape(T, KV, d), v.reshape(T, KV, d)
        if p + "self_attn.q_norm.weight" in w:
            q = rmsnorm(q, w[p + "self_attn.q_norm.weight"], cfg["eps"])
            k = rmsnorm(k, w[p + "self_attn.k_norm.weight"], cfg["eps"])
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        att = np.empty((T, H, d))
        for head in range(H):
            g = head // (H // KV)
            logits = q[:, head, :] @ k[:, g, :].T / math.sqrt(d)
            logits = np.where(allowed, logits, -np.inf)
            logits -= logits.max(-1, keepdims=True)
            prob = np.exp(logits)
            prob /= prob.sum(-1, keepdims=True)
            att[:, head, :] = prob @ v[:, g, :]
        x = x + rs * (att.reshape(T, H * d) @ w[p + "self_attn.o_proj.weight"].T)
        h = rmsnorm(x, w[p + "post_attention_layernorm.weight"], cfg["eps"])
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        up = h @ w[p + "mlp.up_proj.weight"].T
        x = x + rs * ((gate / (1 + np.exp(-gate)) * up) @ w[p + "mlp.down_proj.weight"].T)
        if layer + 1 == early_exit_layer:
            early = rmsnorm(x, w["norm.weight"], cfg["eps"])
    return rmsnorm(x, w["norm.weight"], cfg["eps"]), early
