"""NV-Embed's latent-attention pooling, twice, for the family goldens.

1. `LatentAttentionTorch`: torch modules laid out as the public
   modeling_nvembed.py (nvidia/NV-Embed-v2, LatentAttentionModel with
   PreNorm / Attention / FeedForward / GEGLU) so that its state_dict has the
   published parameter names; loading the generated safetensors into it with
   strict=True proves the names and shapes. Run in float64.
2. `latent_pool_numpy`: the same computation written out in numpy from the
   paper's description (Lee et al. 2024, NV-Embed, section 3.2) and SPEC 6:
       x = LN(H), ctx = LN_ctx(latents)
       q = x Wq^T, [k, v] = ctx Wkv^T, o_h = softmax(q_h k_h^T / sqrt(dh)) v_h
       H1 = o Wout^T + H,  H2 = W2 GEGLU(W1 LN(H1) + b1) + b2 + H1
       e = masked mean of H2, L2-normalised when output_normalize.
The generator stops when the two differ by more than 1e-10."""
import math

import numpy as np
import torch


class _PreNorm(torch.nn.Module):
    # PreNorm(dim, fn, context_dim): LayerNorm on the input, and on the context when given
    def __init__(self, dim, fn, context_dim=None):
        super().__init__()
        self.fn = fn
        self.norm = torch.nn.LayerNorm(dim)
        self.norm_context = torch.nn.LayerNorm(context_dim) if context_dim is not None else None

    def forward(self, x, context=None):
        x = self.norm(x)
        if self.norm_context is not None:
            return self.fn(x, context=self.norm_context(context))
        return self.fn(x)


class _FeedForward(torch.nn.Module):
    # Linear(dim, 2 * mult * dim) -> GEGLU -> Linear(mult * dim, dim), mult 4
    def __init__(self, dim, mult=4):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(dim, dim * mult * 2), _Geglu(), torch.nn.Linear(dim * mult, dim))

    def forward(self, x):
        return self.net(x)


class _Geglu(torch.nn.Module):
    def forward(self, x):
        value, gates = x.chunk(2, dim=-1)
        return value * torch.nn.functional.gelu(gates)  # exact (erf) GELU


class _CrossAttention(torch.nn.Module):
    # Attention(query_dim, context_dim, heads, dim_head): inner = heads * dim_head, no biases
    def __init__(self, query_dim, context_dim, heads, dim_head):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.to_q = torch.nn.Linear(query_dim, inner, bias=False)
        self.to_kv = torch.nn.Linear(context_dim, inner * 2, bias=False)
        self.to_out = torch.nn.Linear(inner, query_dim, bias=False)

    def forward(self, x, context):
        q = self.to_q(x)
        k, v = self.to_kv(context).chunk(2, dim=-1)
        b, n, _ = q.shape
        split = lambda t: t.reshape(t.shape[0], t.shape[1], self.heads, -1).transpose(1, 2)  # (b h) n d
        out = torch.nn.functional.scaled_dot_product_attention(split(q), split(k), split(v))
        return self.to_out(out.transpose(1, 2).reshape(b, n, -1))


class LatentAttentionTorch(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        dim, latent_dim = cfg["hidden_dim"], cfg["latent_dim"]
        self.cross_attend_blocks = torch.nn.ModuleList([
            _PreNorm(latent_dim, _CrossAttention(latent_dim, dim, cfg["num_cross_heads"], cfg["cross_dim_head"]),
                     context_dim=dim),
            _PreNorm(latent_dim, _FeedForward(latent_dim)),
        ])
        self.output_normalize = cfg["output_normalize"]
        self.latents = torch.nn.Parameter(torch.zeros(cfg["num_latents_value"], latent_dim))

    def forward(self, hiddens, pool_mask):
        cross_attn, cross_ff = self.cross_attend_blocks
        latents = self.latents.unsqueeze(0).expand(hiddens.shape[0], -1, -1)
        hiddens = cross_attn(hiddens, context=latents) + hiddens
        hiddens = cross_ff(hiddens) + hiddens
        s = (hiddens * pool_mask.unsqueeze(-1)).sum(1)
        out = s / pool_mask.sum(1, keepdim=True)
        return torch.nn.functional.normalize(out, p=2, dim=-1) if self.output_normalize else out


def _layernorm(x, w, b, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def _gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def latent_block_numpy(H, w, cfg):
    """H [n, d] float64 -> H2 [n, d]; w: latent_attention_model.* arrays without the prefix."""
    p = "cross_attend_blocks."
    x = _layernorm(H, w[p + "0.norm.weight"], w[p + "0.norm.bias"])
    ctx = _layernorm(w["latents"], w[p + "0.norm_context.weight"], w[p + "0.norm_context.bias"])
    heads, dh = cfg["num_cross_heads"], cfg["cross_dim_head"]
    q = x @ w[p + "0.fn.to_q.weight"].T
    kv = ctx @ w[p + "0.fn.to_kv.weight"].T
    k, v = kv[:, :heads * dh], kv[:, heads * dh:]
    o = np.empty_like(q)
    for h in range(heads):
        cols = slice(h * dh, (h + 1) * dh)
        logits = q[:, cols] @ k[:, cols].T / math.sqrt(dh)
        logits -= logits.max(-1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(-1, keepdims=True)
        o[:, cols] = prob @ v[:, cols]
    H1 = o @ w[p + "0.fn.to_out.weight"].T + H
    y = _layernorm(H1, w[p + "1.norm.weight"], w[p + "1.norm.bias"]) @ w[p + "1.fn.net.0.weight"].T + w[p + "1.fn.net.0.bias"]
    a, g = np.split(y, 2, axis=-1)
    return (a * _gelu(g)) @ w[p + "1.fn.net.2.weight"].T + w[p + "1.fn.net.2.bias"] + H1


def latent_pool_numpy(H, w, cfg, pool_begin):
    """Embedding of one sequence: latent block, mean over tokens [pool_begin, n), L2 when output_normalize."""
    H2 = latent_block_numpy(H, w, cfg)
    e = H2[pool_begin:].mean(0)
    return e / np.linalg.norm(e) if cfg["output_normalize"] else e


def init_latent(module, seed):
    """Seeded values: LayerNorm weights 1 + 0.1 n, biases 0.1 n, latents n, projections n / sqrt(in)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in sorted(module.named_parameters()):
            noise = torch.randn(param.shape, generator=gen, dtype=torch.float64)
            if "norm" in name and name.endswith("weight"):
                value = 1.0 + 0.1 * noise
            elif name.endswith("bias"):
                value = 0.1 * noise
            elif name == "latents":
                value = noise
            else:
                value = 2.0 / math.sqrt(param.shape[1]) * noise
            param.copy_(value.to(param.dtype))
