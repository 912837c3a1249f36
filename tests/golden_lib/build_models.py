"""Builds the tiny random-weight models of specs.py and saves them as Hugging
Face folders (config.json + model.safetensors, float32)."""
import json
import math
import os
import zlib

import torch
import transformers
from safetensors.torch import save_file


def model_seed(name):
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def init_weights(model, seed, embedding_std=1.0):
    """Overwrites every parameter from one seeded generator, in name order.

    Scales are chosen so attention is peaked (q/k logits of order 2) and rope
    therefore visibly changes the output; HF's default init (std 0.02) gives
    near-uniform attention that would hide rope and masking bugs. Values are
    drawn in float64 and rounded to float32 so the float32 file holds the
    exact weights the float64 reference uses."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in sorted(model.named_parameters()):
            noise = torch.randn(param.shape, generator=gen, dtype=torch.float64)
            if "norm" in name:
                value = 1.0 + 0.1 * noise
            elif name.endswith("bias"):
                value = 0.1 * noise
            elif "embed_tokens" in name or "lm_head" in name:
                value = embedding_std * noise
            else:
                scale = 1.5 if ("q_proj" in name or "k_proj" in name) else 1.0
                value = scale / math.sqrt(param.shape[1]) * noise
            param.copy_(value.to(torch.float32))


def hf_config(spec):
    """transformers config object for a spec (MiniCPM maps onto Llama)."""
    cfg = dict(spec["config"])
    model_type = spec["model_type"]
    if model_type == "minicpm":
        for key in ("scale_emb", "scale_depth", "dim_model_base"):
            cfg.pop(key)
        cfg["rope_parameters"] = dict(rope_type="default", rope_theta=cfg.pop("rope_theta"))
        model_type = "llama"
    cfg.setdefault("hidden_act", "silu")
    cfg.setdefault("attention_bias", model_type == "qwen2")
    config = transformers.AutoConfig.for_model(model_type, **cfg)
    return config


MINICPM_CONFIG_EXTRA = {
    "architectures": ["MiniCPMForCausalLM"],
    "model_type": "minicpm",
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
    "initializer_range": 0.1,
    "rope_scaling": None,
    "torch_dtype": "float32",
    "transformers_version": "4.36.0",
    "use_cache": True,
}


def legacy_rope_config(config_json, use_type_key):
    """Rewrites `rope_parameters` (transformers 5.x) as `rope_theta` +
    `rope_scaling` (4.x, as e.g. Llama-3.1 and Qwen2.5 configs ship)."""
    rope = dict(config_json.pop("rope_parameters"))
    config_json["rope_theta"] = rope.pop("rope_theta")
    kind = rope.pop("rope_type")
    rope = {("type" if use_type_key else "rope_type"): kind, **rope}
    config_json["rope_scaling"] = rope
    return config_json


def create_model(spec):
    """The float32 torch model of a spec with its seeded random weights
    (XForCausalLM, or XModel for save_as "base"; Llama for MiniCPM)."""
    config = hf_config(spec)
    seed = model_seed(spec["name"])
    torch.manual_seed(seed)
    if spec.get("save_as") == "base":
        model = transformers.AutoModel.from_config(config, dtype=torch.float32)
    else:
        model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    init_weights(model, seed, embedding_std=0.1 if spec["model_type"] == "minicpm" else 1.0)
    if config.tie_word_embeddings and hasattr(model, "tie_weights"):
        model.tie_weights()
    model.eval()
    return model


def build_model(spec, out_dir):
    """Creates, initialises and saves one model; returns the float32 torch model."""
    os.makedirs(out_dir, exist_ok=True)
    model = create_model(spec)
    if spec.get("save_as") == "minicpm":
        tensors = {name: t.detach().contiguous().clone() for name, t in model.state_dict().items()
                   if name != "lm_head.weight"}
        save_file(tensors, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
        config_json = dict(MINICPM_CONFIG_EXTRA)
        config_json.update(spec["config"])
        with open(os.path.join(out_dir, "config.json"), "w") as f:
            json.dump(config_json, f, indent=2, sort_keys=True)
            f.write("\n")
        return model

    model.save_pretrained(out_dir)
    for extra in os.listdir(out_dir):
        if extra not in ("config.json", "model.safetensors"):
            os.remove(os.path.join(out_dir, extra))
    config_path = os.path.join(out_dir, "config.json")
    with open(config_path) as f:
        config_json = json.load(f)
    if spec.get("legacy_rope"):
        config_json = legacy_rope_config(config_json, spec.get("legacy_type_key", False))
    with open(config_path, "w") as f:
        json.dump(config_json, f, indent=2, sort_keys=True)
        f.write("\n")
    return model
