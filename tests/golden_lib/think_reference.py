"""float64 numpy reference of chunked prefill with the ThinK key cache,
written from ../shared/SPEC.md §5 (and ThinK, Xu et al. 2024, eq. 3-4:
query-driven channel scores of the observation window), independent of the
C code. It reuses the decoder pieces of reference.py.

Per layer and KV head g (D = head dim, group = the query heads of g):
  - the sequence is split into chunks [a_j, b_j) of C tokens; the queries of
    chunk j attend causally to the chunk's own keys and to every earlier
    position;
  - when chunk j's keys are written, its channels are scored with the last
    w = min(32, b_j - a_j) queries (post-RoPE, after q_norm):
        score[c] = mean_{t, h in group} Q[t, h, c]^2 * mean_{s in chunk} K[s, c]^2
    and the D - floor(D * ratio) best channels are kept (ties: lower index
    first);
  - a query of chunk j sees a cached position s < a_j - r (r = 32) through
    s's own chunk's kept channels only: q[kept] . K[s, kept] / sqrt(D); newer
    positions with all channels. Values are never pruned. ratio 0 keeps every
    channel, which is plain chunked attention.
The logits are computed the way SPEC's oracle states them: a full key cache
whose dropped channels of old positions are zero."""
import math

import numpy as np

from golden_lib import reference

OBSERVATION_WINDOW = 32
RECENT_WINDOW = 32


def kept_channels(q_obs, k_chunk, ratio):
    """q_obs [w, group, D], k_chunk [n, D] -> sorted kept channel indices."""
    d = k_chunk.shape[-1]
    score = (q_obs ** 2).mean(axis=(0, 1)) * (k_chunk ** 2).mean(axis=0)
    keep = d - math.floor(d * ratio)
    # stable sort of -score: equal scores keep the lower index first
    order = np.argsort(-score, kind="stable")
    return np.sort(order[:keep])


def chunked_forward(cfg, weights, ids, chunk, ratio):
    """Final-norm hidden states [N, hidden] of a causal forward in chunks of
    `chunk` tokens with the ThinK key cache at `ratio`."""
    w = {(k[len("model."):] if k.startswith("model.") else k): v.astype(np.float64)
         for k, v in weights.items()}
    N, H, KV, d = len(ids), cfg["n_heads"], cfg["n_kv"], cfg["head_dim"]
    group = H // KV
    eps, rs = cfg["eps"], cfg["residual_scale"]
    # RoPE frequencies of the whole sequence (dynamic NTK uses its full length)
    inv_freq, rope_scale = reference.rope_inv_freq(cfg, N)
    angles = np.arange(N, dtype=np.float64)[:, None] * inv_freq[None, :]
    angles = np.concatenate([angles, angles], axis=-1)
    cos_all, sin_all = np.cos(angles) * rope_scale, np.sin(angles) * rope_scale
    n_layers = cfg["n_layers"]
    # per layer: full keys and values of every position so far, and each
    # position's kept-channel mask (all True until its chunk is selected)
    keys = [np.zeros((0, KV, d)) for _ in range(n_layers)]
    values = [np.zeros((0, KV, d)) for _ in range(n_layers)]
    masks = [np.zeros((0, KV, d), bool) for _ in range(n_layers)]
    out = np.zeros((N, cfg["hidden"]))
    for a in range(0, N, chunk):
        b = min(a + chunk, N)
        n = b - a
        x = w["embed_tokens.weight"][np.asarray(ids[a:b])] * cfg["scale_emb"]
        cos, sin = cos_all[a:b], sin_all[a:b]
        for layer in range(n_layers):
            p = f"layers.{layer}."
            h = reference.rmsnorm(x, w[p + "input_layernorm.weight"], eps)
            q = h @ w[p + "self_attn.q_proj.weight"].T + w.get(p + "self_attn.q_proj.bias", 0)
            k = h @ w[p + "self_attn.k_proj.weight"].T + w.get(p + "self_attn.k_proj.bias", 0)
            v = h @ w[p + "self_attn.v_proj.weight"].T + w.get(p + "self_attn.v_proj.bias", 0)
            q, k, v = q.reshape(n, H, d), k.reshape(n, KV, d), v.reshape(n, KV, d)
            if p + "self_attn.q_norm.weight" in w:
                q = reference.rmsnorm(q, w[p + "self_attn.q_norm.weight"], eps)
                k = reference.rmsnorm(k, w[p + "self_attn.k_norm.weight"], eps)
            q, k = reference.rope(q, cos, sin), reference.rope(k, cos, sin)
            mask = np.ones((n, KV, d), bool)
            if ratio > 0:
                obs = q[n - min(OBSERVATION_WINDOW, n):]
                for g in range(KV):
                    kept = kept_channels(obs[:, g * group:(g + 1) * group, :], k[:, g, :], ratio)
                    mask[:, g, :] = False
                    mask[:, g, kept] = True
            keys[layer] = np.concatenate([keys[layer], k])
            values[layer] = np.concatenate([values[layer], v])
            masks[layer] = np.concatenate([masks[layer], mask])
            # zero-filled oracle: positions older than the recent window lose their dropped channels
            visible = keys[layer].copy()
            old = max(a - RECENT_WINDOW, 0)
            visible[:old] = np.where(masks[layer][:old], visible[:old], 0.0)
            att = np.empty((n, H, d))
            allowed = np.arange(b)[None, :] <= np.arange(a, b)[:, None]
            for head in range(H):
                g = head // group
                logits = q[:, head, :] @ visible[:, g, :].T / math.sqrt(d)
                logits = np.where(allowed, logits, -np.inf)
                logits -= logits.max(-1, keepdims=True)
                prob = np.exp(logits)
                prob /= prob.sum(-1, keepdims=True)
                att[:, head, :] = prob @ values[layer][:, g, :]
            x = x + rs * (att.reshape(n, H * d) @ w[p + "self_attn.o_proj.weight"].T)
            h = reference.rmsnorm(x, w[p + "post_attention_layernorm.weight"], eps)
            gate = h @ w[p + "mlp.gate_proj.weight"].T
            up = h @ w[p + "mlp.up_proj.weight"].T
            x = x + rs * ((gate / (1 + np.exp(-gate)) * up) @ w[p + "mlp.down_proj.weight"].T)
        out[a:b] = reference.rmsnorm(x, w["norm.weight"], eps)
    return out
