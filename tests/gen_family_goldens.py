#!/usr/bin/env python3
"""Generates the embedder-family test models and goldens (issue 12).

    python3 tests/gen_family_goldens.py        # from the repository root, ~20 s on CPU

For each family of SPEC section 3 a tiny random-weight Hugging Face folder is
written under tests/data/models/families/<family>/ with the real checkpoint's
config layout (architectures / auto_map / _name_or_path, sentence-transformers
files where the real one ships them, NV-Embed's NVEmbedModel config with
text_config + latent_attention_config and sharded safetensors with an
index), a byte-level BPE tokenizer.json, and float32 weights. Goldens go to
tests/data/goldens/families/<family>/: manifest.json + embeddings.npy, the
L2-normalised embeddings `llmbed embed --model DIR` must produce (the
family's defaults, no other flag except --prompt where a case has one).

Every embedding is computed in float64 by the numpy reference forward
(golden_lib/reference.py, itself checked against transformers) plus the
family's pooling rule written out here; decoder hidden states are also
checked against transformers' float64 eager forward (golden_lib/hf_float64.py)
and NV-Embed's latent block against a torch mirror of modeling_nvembed.py
loaded strictly from the saved files (golden_lib/nvembed_reference.py).
LoRA: two peft adapters (MNTP-like then supervised, as LLM2Vec stacks them)
are created with peft on the llm2vec model, saved with save_pretrained, and
the golden is computed from peft's own merge_and_unload of both; a third
adapter built for another base (llama-tiny) feeds the shape-mismatch test.

Needs torch, transformers 5.x, peft, safetensors, tokenizers, numpy. Not run
in CI: its outputs are committed (all seeded; a re-run rewrites them)."""
import json
import math
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers  # noqa: E402

from golden_lib import build_models, hf_float64, nvembed_reference, reference  # noqa: E402

DATA = os.path.join(HERE, "data")
MODELS = os.path.join(DATA, "models", "families")
GOLDENS = os.path.join(DATA, "goldens", "families")
VOCAB = 320
REFERENCE_TOLERANCE = 1e-10

CORPUS = [
    "The quick brown fox jumps over the lazy dog.", "Instruct: Given a question, retrieve passages that answer it",
    "Query: how do rivers form deltas?", "Rivers carry sediment and drop it where they meet the sea.",
    "Given a web search query, retrieve relevant passages that answer the query",
    "Embeddings map text to vectors; similar texts land close together.", "What is the capital of France?",
    "Paris is the capital and most populous city of France.", "Instruction: Represent this sentence for retrieval",
] * 4

# (text, prompt) per case; prompt None = document. Each family's own query prompt below.
TEXTS = ["how do rivers form deltas?", "Paris is the capital and most populous city of France.",
         "Embeddings map text to vectors.", "fox"]

LLAMA_SPECIALS = ["<s>", "</s>", "<|user|>", "<|embed|>"]
QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def make_tokenizer(specials, bos, append_eos):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    single, used = [], []
    if bos is not None:
        single.append(bos)
        used.append((bos, tok.token_to_id(bos)))
    single.append("$A")
    if append_eos is not None:
        single.append(append_eos)
        used.append((append_eos, tok.token_to_id(append_eos)))
    tok.post_processor = processors.TemplateProcessing(single=" ".join(single), special_tokens=used)
    assert tok.get_vocab_size() == VOCAB, tok.get_vocab_size()
    return tok


def decoder_spec(model_type, **cfg):
    base = dict(vocab_size=VOCAB, num_hidden_layers=2, max_position_embeddings=512, rms_norm_eps=1e-5,
                tie_word_embeddings=False, rope_parameters=dict(rope_type="default", rope_theta=10000.0))
    base.update(cfg)
    return dict(model_type=model_type, config=base)


GTE_PROMPT = "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery: "
QWEN3_PROMPT = "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:"
NV_PROMPT = "Instruct: Given a question, retrieve passages that answer the question\nQuery: "
E5_PROMPT = "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery: "
GRIT_PROMPT = "<|user|>\nGiven a question, retrieve passages that answer it\n<|embed|>\n"
LLM2VEC_PROMPT = "Given a web search query, retrieve relevant passages that answer the query: "
MINICPM_PROMPT = "Instruction: Represent this sentence for retrieval Query: "

FAMILIES = [
    dict(name="nv-embed", style="llama", eos="</s>", tokenizer_eos=None, append_eos=True,
         attention="bidirectional", pooling="latent", prompt=NV_PROMPT, mask="bare",
         spec=decoder_spec("mistral", hidden_size=48, num_attention_heads=4, num_key_value_heads=2, head_dim=12,
                           intermediate_size=80, sliding_window=None),
         latent=dict(num_latents_value=7, num_cross_heads=3, cross_dim_head=20, hidden_dim=48, latent_dim=48,
                     output_normalize=True)),
    dict(name="gte-qwen2", style="qwen", eos="<|endoftext|>", tokenizer_eos=None, append_eos=True,
         attention="bidirectional", pooling="last", prompt=GTE_PROMPT, prompt_name="query",
         spec=decoder_spec("qwen2", hidden_size=56, num_attention_heads=7, num_key_value_heads=1,
                           intermediate_size=72, use_sliding_window=False, tie_word_embeddings=True)),
    dict(name="llm2vec", style="llama", eos="</s>", tokenizer_eos=None, append_eos=False,
         attention="bidirectional", pooling="mean", prompt=LLM2VEC_PROMPT, mask="full", save_as="base",
         spec=decoder_spec("llama", hidden_size=40, num_attention_heads=5, num_key_value_heads=5, head_dim=8,
                           intermediate_size=64)),
    dict(name="gritlm", style="llama", eos="</s>", tokenizer_eos=None, append_eos=False,
         attention="bidirectional", pooling="mean", prompt=GRIT_PROMPT, mask="full",
         spec=decoder_spec("mistral", hidden_size=32, num_attention_heads=4, num_key_value_heads=2,
                           intermediate_size=48, sliding_window=None)),
    dict(name="qwen3-embedding", style="qwen", eos="<|endoftext|>", tokenizer_eos="<|endoftext|>", append_eos=True,
         attention="causal", pooling="last", prompt=QWEN3_PROMPT, prompt_name="query", save_as="base",
         spec=decoder_spec("qwen3", hidden_size=40, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                           intermediate_size=72, tie_word_embeddings=True)),
    dict(name="e5-mistral", style="llama", eos="</s>", tokenizer_eos=None, append_eos=True,
         attention="causal", pooling="last", prompt=E5_PROMPT,
         spec=decoder_spec("mistral", hidden_size=36, num_attention_heads=3, num_key_value_heads=1, head_dim=12,
                           intermediate_size=56, sliding_window=None)),
    dict(name="minicpm-embedding", style="llama", eos="</s>", tokenizer_eos=None, append_eos=False,
         attention="bidirectional", pooling="weighted_mean", prompt=MINICPM_PROMPT, mask="none",
         spec=dict(model_type="minicpm", config=dict(
             hidden_size=48, num_attention_heads=6, num_key_value_heads=2, intermediate_size=64, num_hidden_layers=2,
             vocab_size=VOCAB, max_position_embeddings=512, rms_norm_eps=1e-5, tie_word_embeddings=True,
             rope_theta=10000.0, scale_emb=12, scale_depth=1.4, dim_model_base=256))),
]


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def torch_decoder(fam, seed):
    """The family's decoder as a transformers XModel with seeded weights (MiniCPM as Llama)."""
    spec = dict(fam["spec"], name=fam["name"])
    config = build_models.hf_config(spec)
    torch.manual_seed(seed)
    model = transformers.AutoModel.from_config(config, dtype=torch.float32)
    build_models.init_weights(model, seed, embedding_std=0.1 if spec["model_type"] == "minicpm" else 1.0)
    return model.eval()


def config_json(fam, tok):
    """config.json as the published checkpoint lays it out."""
    spec = fam["spec"]
    cfg = dict(spec["config"])
    bos, eos = tok.token_to_id(LLAMA_SPECIALS[0]) if fam["style"] == "llama" else None, tok.token_to_id(fam["eos"])
    if spec["model_type"] != "minicpm":
        rope = cfg.pop("rope_parameters")
        cfg["rope_theta"] = rope["rope_theta"]
        cfg["rope_scaling"] = None
    cfg.update(model_type=spec["model_type"], eos_token_id=eos, bos_token_id=bos, hidden_act="silu",
               torch_dtype="float32", transformers_version="4.42.0")
    name = fam["name"]
    if name == "nv-embed":
        cfg["model_type"] = "bidir_mistral"
        cfg["architectures"] = ["MistralModel"]
        cfg["_name_or_path"] = "nvidia/NV-Embed-v2"
        return {"architectures": ["NVEmbedModel"], "model_type": "nvembed", "add_eos": True, "add_pad_token": True,
                "is_mask_instruction": True, "mask_type": "b", "padding_side": "right", "hidden_size": cfg["hidden_size"],
                "auto_map": {"AutoConfig": "configuration_nvembed.NVEmbedConfig",
                             "AutoModel": "modeling_nvembed.NVEmbedModel"},
                "latent_attention_config": dict(fam["latent"], model_type="latent_attention"),
                "text_config": cfg, "torch_dtype": "float32", "transformers_version": "4.42.0"}
    if name == "gte-qwen2":  # detected through auto_map (no _name_or_path)
        cfg["architectures"] = ["Qwen2ForCausalLM"]
        cfg["auto_map"] = {"AutoModel": "modeling_qwen.Qwen2Model",
                           "AutoModelForCausalLM": "modeling_qwen.Qwen2ForCausalLM"}
    elif name == "llm2vec":  # LLM2Vec's encoder class in auto_map
        cfg["architectures"] = ["LlamaEncoderModel"]
        cfg["auto_map"] = {"AutoModel": "modeling_llama_encoder.LlamaEncoderModel"}
    elif name == "gritlm":  # only the name says GritLM
        cfg["architectures"] = ["MistralForCausalLM"]
        cfg["_name_or_path"] = "GritLM/GritLM-7B"
    elif name == "qwen3-embedding":  # sentence-transformers lasttoken on qwen3
        cfg["architectures"] = ["Qwen3ForCausalLM"]
    elif name == "e5-mistral":  # sentence-transformers lasttoken on mistral
        cfg["architectures"] = ["MistralModel"]
    elif name == "minicpm-embedding":  # the bare MiniCPM encoder
        cfg["architectures"] = ["MiniCPMModel"]
        cfg["auto_map"] = {"AutoModel": "modeling_minicpm.MiniCPMModel"}
    return cfg


def sentence_transformers_files(fam, out):
    st_pooling = {"gte-qwen2": "lasttoken", "qwen3-embedding": "lasttoken", "e5-mistral": "lasttoken"}
    if fam["name"] not in st_pooling:
        return
    write_json(os.path.join(out, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
    os.makedirs(os.path.join(out, "1_Pooling"))
    modes = ["cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens", "lasttoken"]
    pooling = {f"pooling_mode_{m}": m == st_pooling[fam["name"]] for m in modes}
    pooling.update(word_embedding_dimension=fam["spec"]["config"]["hidden_size"], include_prompt=True)
    write_json(os.path.join(out, "1_Pooling", "config.json"), pooling)
    write_json(os.path.join(out, "config_sentence_transformers.json"),
               {"prompts": {"query": fam["prompt"], "document": ""}, "default_prompt_name": None,
                "similarity_fn_name": "cosine"})


def save_weights(fam, tensors, out):
    if fam["name"] != "nv-embed":
        save_file(tensors, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
        return
    # two shards + index, as the published NV-Embed folders (4 shards there)
    names = sorted(tensors)
    first = [n for n in names if n.startswith("embedding_model.") and ".layers.1." not in n and "norm.weight" != n[-11:]]
    shards = {"model-00001-of-00002.safetensors": first,
              "model-00002-of-00002.safetensors": [n for n in names if n not in first]}
    weight_map, total = {}, 0
    for file, members in shards.items():
        save_file({n: tensors[n] for n in members}, os.path.join(out, file), metadata={"format": "pt"})
        for n in members:
            weight_map[n] = file
            total += tensors[n].numel() * 4
    write_json(os.path.join(out, "model.safetensors.index.json"), {"metadata": {"total_size": total},
                                                                   "weight_map": weight_map})


def build_family(fam):
    out = os.path.join(MODELS, fam["name"])
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    specials = LLAMA_SPECIALS if fam["style"] == "llama" else QWEN_SPECIALS
    tok = make_tokenizer(specials, "<s>" if fam["style"] == "llama" else None, fam["tokenizer_eos"])
    tok.save(os.path.join(out, "tokenizer.json"))
    seed = build_models.model_seed("family-" + fam["name"])
    model = torch_decoder(fam, seed)
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    latent = None
    if fam["name"] == "nv-embed":
        state = {"embedding_model." + k: v for k, v in state.items()}
        latent = nvembed_reference.LatentAttentionTorch(fam["latent"])
        nvembed_reference.init_latent(latent, seed + 1)
        state.update({"latent_attention_model." + k: v.detach().to(torch.float32).contiguous().clone()
                      for k, v in latent.state_dict().items()})
    elif fam.get("save_as") != "base":
        state = {"model." + k: v for k, v in state.items()}
    save_weights(fam, state, out)
    write_json(os.path.join(out, "config.json"), config_json(fam, tok))
    sentence_transformers_files(fam, out)
    return tok, model


def load_weights(folder):
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        weights = {}
        for file in sorted(set(json.load(open(index))["weight_map"].values())):
            weights.update(load_file(os.path.join(folder, file)))
        return weights
    return load_file(os.path.join(folder, "model.safetensors"))


def decoder_weights(weights):
    """HF decoder names with "model."/"embedding_model." stripped (reference.forward's layout)."""
    out = {}
    for k, v in weights.items():
        for prefix in ("embedding_model.", "model.", ""):
            if k.startswith(prefix) and not k.startswith("latent_attention_model."):
                out[k[len(prefix):]] = v
                break
    return out


def family_ids(fam, tok, text, prompt):
    """Token ids as the family's own code builds them, and the pool start.

    nv-embed: tokenizer(instruction + text + eos_token) (input_transform_func
    always_add_eos), pool mask zeroes len(tokenizer.tokenize(instruction))
    leading positions (prepare_kwargs_from_batch). gte-qwen2 / e5-mistral /
    qwen3-embedding: EOS appended when the tokenizer has not (model cards).
    llm2vec / gritlm: mean over the text after BOS + instruction."""
    full = tok.encode((prompt or "") + text).ids
    eos = tok.token_to_id(fam["eos"])
    if fam["append_eos"] and full[-1] != eos:
        full = full + [eos]
    begin = 0
    if prompt:
        bare = len(tok.encode(prompt, add_special_tokens=False).ids)
        if fam.get("mask") == "bare":
            begin = bare
        elif fam.get("mask") == "full":
            begin = bare + (1 if fam["style"] == "llama" else 0)
    return full, begin


def pool(hidden, kind, begin):
    rows = hidden[begin:]
    if kind == "last":
        e = rows[-1]
    elif kind == "mean":
        e = rows.mean(0)
    elif kind == "weighted_mean":  # MiniCPM-Embedding: weights = positions 1..n (attention_mask.cumsum)
        weights = np.arange(1, len(rows) + 1, dtype=np.float64)
        e = (weights[:, None] * rows).sum(0) / weights.sum()
    else:
        raise ValueError(kind)
    return e / np.linalg.norm(e)


def check(name, ours, theirs, worst):
    err = float(np.abs(ours - theirs).max())
    worst[0] = max(worst[0], err)
    if err > REFERENCE_TOLERANCE:
        raise SystemExit(f"{name}: references differ by {err:g}")


def hf_hidden(fam, weights, ids, bidirectional):
    """transformers float64 eager forward of the decoder (MiniCPM: scales folded as in gen_goldens.py)."""
    spec = dict(fam["spec"], name=fam["name"])
    cfg = reference.normalized_config(dict(spec["config"], model_type=spec["model_type"]))
    dec = decoder_weights(weights)
    scale_emb = None
    if spec["model_type"] == "minicpm":
        dec = {k: (v.astype(np.float64) * cfg["residual_scale"] if k.endswith(("o_proj.weight", "down_proj.weight"))
                   else v) for k, v in dec.items()}
        scale_emb = cfg["scale_emb"]
    model = hf_float64.from_weights(build_models.hf_config(spec), dec)
    return hf_float64.run(model, ids, bidirectional, 1, scale_emb)[0]


def write_goldens(fam, tok, adapters=None, golden_name=None, weights=None):
    name = golden_name or fam["name"]
    folder = os.path.join(MODELS, fam["name"])
    weights = weights if weights is not None else load_weights(folder)
    spec = fam["spec"]
    cfg = reference.normalized_config(dict(spec["config"], model_type=spec["model_type"]))
    dec = decoder_weights(weights)
    bidirectional = fam["attention"] == "bidirectional"
    latent_w = latent_torch = None
    if fam["pooling"] == "latent":
        latent_w = {k[len("latent_attention_model."):]: v.astype(np.float64) for k, v in weights.items()
                    if k.startswith("latent_attention_model.")}
        latent_torch = nvembed_reference.LatentAttentionTorch(fam["latent"]).to(torch.float64)
        latent_torch.load_state_dict({k: torch.from_numpy(v) for k, v in latent_w.items()}, strict=True)
    out_dir = os.path.join(GOLDENS, name)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    cases, rows, worst = [], [], [0.0]
    for prompt in (None, fam["prompt"]):
        for text in TEXTS:
            ids, begin = family_ids(fam, tok, text, prompt)
            hidden, _ = reference.forward(cfg, dec, ids, bidirectional, 1)
            check(f"{name} decoder n={len(ids)}", hidden, hf_hidden(fam, weights, ids, bidirectional), worst)
            if latent_w is not None:
                e = nvembed_reference.latent_pool_numpy(hidden, latent_w, fam["latent"], begin)
                mask = torch.zeros(1, len(ids), dtype=torch.float64)
                mask[0, begin:] = 1
                with torch.no_grad():
                    e_torch = latent_torch(torch.from_numpy(hidden)[None], mask)[0].numpy()
                check(f"{name} latent n={len(ids)}", e, e_torch, worst)
            else:
                e = pool(hidden, fam["pooling"], begin)
            cases.append(dict(text=text, prompt=prompt, prompt_name=fam.get("prompt_name") if prompt else None,
                              ids=ids, pool_begin=begin, row=len(rows)))
            rows.append(e)
    np.save(os.path.join(out_dir, "embeddings.npy"), np.stack(rows).astype(np.float32))
    write_json(os.path.join(out_dir, "manifest.json"), dict(
        family=fam["name"], model_path=f"models/families/{fam['name']}", adapters=adapters or [],
        attention=fam["attention"], pooling=fam["pooling"], hidden_size=spec["config"]["hidden_size"],
        eos_token_id=tok.token_to_id(fam["eos"]), cases=cases, embeddings="embeddings.npy"))
    print(f"goldens {name}: {len(cases)} cases, references agree to {worst[0]:.1e}")


def make_adapter(base_model, out, seed, targets, r, alpha, rslora):
    """A peft LoRA adapter with seeded non-zero A and B (peft initialises B to 0); 0.12 randn
    keeps scale * B A near half the base weights, a fine-tune-sized change that bf16 still resolves."""
    import peft
    config = peft.LoraConfig(r=r, lora_alpha=alpha, target_modules=targets, use_rslora=rslora, lora_dropout=0.0)
    model = peft.get_peft_model(base_model, config)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.copy_(0.12 * torch.randn(param.shape, generator=gen, dtype=torch.float64).to(param.dtype))
    shutil.rmtree(out, ignore_errors=True)
    model.save_pretrained(out)
    for extra in os.listdir(out):
        if extra not in ("adapter_config.json", "adapter_model.safetensors"):
            os.remove(os.path.join(out, extra))
    return model.merge_and_unload()


def write_lora(fam, tok, model):
    """Two stacked adapters on llm2vec; goldens from peft's merge_and_unload of both."""
    adapters = os.path.join(DATA, "models", "families", "adapters")
    os.makedirs(adapters, exist_ok=True)
    merged = make_adapter(model, os.path.join(adapters, "llm2vec-mntp"), 11,
                          ["q_proj", "k_proj", "v_proj", "o_proj"], r=4, alpha=8, rslora=False)
    merged = make_adapter(merged, os.path.join(adapters, "llm2vec-supervised"), 12,
                          ["gate_proj", "up_proj", "down_proj", "q_proj"], r=3, alpha=5, rslora=True)
    state = {k: v.detach().numpy() for k, v in merged.state_dict().items()}
    # independent check of peft's merge: W + scaling * B A by hand
    base = load_weights(os.path.join(MODELS, fam["name"]))
    for file, rank_scale in (("llm2vec-mntp", 8 / 4), ("llm2vec-supervised", 5 / math.sqrt(3))):
        lora = load_file(os.path.join(adapters, file, "adapter_model.safetensors"))
        for key in [k for k in lora if k.endswith("lora_A.weight")]:
            target = key[len("base_model.model."):-len(".lora_A.weight")] + ".weight"
            base[target] = (base[target].astype(np.float64) + rank_scale *
                            lora[key.replace("lora_A", "lora_B")].astype(np.float64) @ lora[key].astype(np.float64))
    for k, v in state.items():
        if np.abs(base[k] - v).max() > 1e-5:  # peft merges in float32
            raise SystemExit(f"peft merge of {k} differs from W + s B A by {np.abs(base[k] - v).max():g}")
    write_goldens(fam, tok, adapters=["models/families/adapters/llm2vec-mntp",
                                      "models/families/adapters/llm2vec-supervised"],
                  golden_name="llm2vec-lora", weights={k: v.astype(np.float32) for k, v in state.items()})
    # an adapter for another base: llama-tiny (hidden 48, not 40)
    other = hf_float64.load_float64(os.path.join(DATA, "models", "llama-tiny")).to(torch.float32)
    make_adapter(other, os.path.join(adapters, "llama-tiny-lora"), 13, ["q_proj"], r=2, alpha=2, rslora=False)


def main():
    hf_float64.patch_transformers()
    os.makedirs(MODELS, exist_ok=True)
    for fam in FAMILIES:
        tok, model = build_family(fam)
        print(f"model {fam['name']}: {os.path.join(MODELS, fam['name'])}")
        write_goldens(fam, tok)
        if fam["name"] == "llm2vec":
            write_lora(fam, tok, model)


if __name__ == "__main__":
    main()
