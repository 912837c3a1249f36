"""Float64 runs of transformers' own modeling code (eager attention).

transformers 5.x keeps three float32 roundings even in a float64 model
(SPEC §10): RMSNorm casts to float32, eager attention's softmax runs with
dtype=float32, and the rotary embedding computes inv_freq and cos/sin in
float32. Left alone they put ~5e-6 of noise into a "double" reference. The
patches below redo exactly those three steps in the input dtype, keeping
everything else (weights layout, GQA, masks, rope formulas) as transformers
runs it. Rope parameters come from transformers' own init functions, run
with `torch.float` meaning float64.

Dynamic NTK: transformers' rotary module is stateful (it keeps the largest
length seen); the patched forward recomputes the frequencies from each
call's own length, which equals a fresh model per sequence."""
import importlib

import torch
import transformers
from transformers import modeling_rope_utils

ARCH_MODULES = {
    "llama": ("llama", "Llama"),
    "mistral": ("mistral", "Mistral"),
    "qwen2": ("qwen2", "Qwen2"),
    "qwen3": ("qwen3", "Qwen3"),
}


class _TorchFloat64:
    """Stands in for the `torch` module inside rope init functions so that
    their explicit float32 casts (`dtype=torch.float`) produce float64."""

    def __getattr__(self, name):
        if name in ("float", "float32"):
            return torch.float64
        return getattr(torch, name)


def rope_parameters_f64(rotary, seq_len):
    """(inv_freq float64 [head_dim/2], attention_scaling) of a rotary module."""
    if rotary.rope_type == "default":
        fn = type(rotary).compute_default_rope_parameters
        kwargs = {}
    else:
        fn = modeling_rope_utils.ROPE_INIT_FUNCTIONS[rotary.rope_type]
        kwargs = {"device": "cpu"}
        if "dynamic" in rotary.rope_type:
            kwargs["seq_len"] = seq_len
    fn_globals = fn.__globals__
    real_torch = fn_globals["torch"]
    fn_globals["torch"] = _TorchFloat64()
    try:
        inv_freq, scaling = fn(rotary.config, **kwargs)
    finally:
        fn_globals["torch"] = real_torch
    assert inv_freq.dtype == torch.float64
    return inv_freq, float(scaling)


def _rotary_forward(self, x, position_ids):
    seq_len = int(position_ids.max()) + 1
    inv_freq, scaling = rope_parameters_f64(self, seq_len)
    freqs = position_ids[..., None].to(torch.float64) * inv_freq
    emb = torch.cat((freqs, freqs), dim=-1)
    return (emb.cos() * scaling).to(x.dtype), (emb.sin() * scaling).to(x.dtype)


def _rmsnorm_forward(self, hidden_states):
    variance = hidden_states.pow(2).mean(-1, keepdim=True)
    return self.weight * (hidden_states * torch.rsqrt(variance + self.variance_epsilon))


def _make_eager(module):
    repeat_kv = module.repeat_kv

    def eager_attention_forward(attn, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
        key_states = repeat_kv(key, attn.num_key_value_groups)
        value_states = repeat_kv(value, attn.num_key_value_groups)
        weights = torch.matmul(query, key_states.transpose(2, 3)) * scaling
        if attention_mask is not None:
            weights = weights + attention_mask
        weights = torch.nn.functional.softmax(weights, dim=-1)
        out = torch.matmul(weights, value_states).transpose(1, 2).contiguous()
        return out, weights

    return eager_attention_forward


def patch_transformers():
    """Applies the three float64 patches to every architecture used here."""
    for module_name, prefix in ARCH_MODULES.values():
        module = importlib.import_module(f"transformers.models.{module_name}.modeling_{module_name}")
        getattr(module, f"{prefix}RMSNorm").forward = _rmsnorm_forward
        getattr(module, f"{prefix}RotaryEmbedding").forward = _rotary_forward
        module.eager_attention_forward = _make_eager(module)


def load_float64(model_dir):
    """The base model (XModel) of a saved folder in float64 with eager attention."""
    model = transformers.AutoModel.from_pretrained(model_dir, dtype=torch.float64, attn_implementation="eager")
    return model.eval()


def from_weights(config, weights):
    """XModel for a transformers config with the given float32 numpy weights
    (HF names, with or without the "model." prefix), in float64."""
    config._attn_implementation = "eager"
    model = transformers.AutoModel.from_config(config, dtype=torch.float64, attn_implementation="eager")
    state = {(k[len("model."):] if k.startswith("model.") else k): torch.from_numpy(v).to(torch.float64)
             for k, v in weights.items() if k != "lm_head.weight"}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and not missing, (missing, unexpected)
    return model.eval()


@torch.no_grad()
def run(model, ids, bidirectional, early_exit_layer, scale_emb=None):
    """Returns (final-norm hidden [n, hidden], final-norm hidden after
    `early_exit_layer` layers [n, hidden]) as float64 numpy arrays.

    Bidirectional: a 4D float mask of zeros, which transformers adds to the
    logits as is (SPEC §10). scale_emb: MiniCPM's embedding multiplier."""
    n = len(ids)
    input_ids = torch.tensor([ids], dtype=torch.long)
    kwargs = {"output_hidden_states": True}
    if bidirectional:
        kwargs["attention_mask"] = torch.zeros(1, 1, n, n, dtype=torch.float64)
    if scale_emb is not None:
        kwargs["inputs_embeds"] = model.embed_tokens(input_ids) * scale_emb
    else:
        kwargs["input_ids"] = input_ids
    out = model(**kwargs)
    early = model.norm(out.hidden_states[early_exit_layer])
    return out.last_hidden_state[0].numpy(), early[0].numpy()
