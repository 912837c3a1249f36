"""``python -m llmbed.train contrastive``: LoRA + InfoNCE fine-tuning of a causal decoder.

Loss (SimCSE supervised / e5's recipe): for anchor i of a micro-batch,
``-log softmax_j(cos(a_i, c_j) / T)[pos(i)]`` where the candidates c_j are
every distinct positive and hard negative of the micro-batch (in-batch
negatives). A candidate with the anchor's own text is masked out. Gradient
accumulation sums micro-batch losses; negatives stay within a micro-batch.

Inputs are token ids from llmbed's own tokenizer (``llmbed.Embedder.tokenize``,
BOS/EOS as ``llmbed embed`` adds them for this model's family), no template,
and the pool is the one ``llmbed embed`` applies with the written
``1_Pooling/config.json``: mean over every token, or the last token. The
model runs in transformers (``gguf_file=`` for a .gguf base, dequantised to
float32) with PEFT LoRA on the decoder projections.

Output folder: ``adapter_config.json`` + ``adapter_model.safetensors`` (peft),
``modules.json`` + ``1_Pooling/config.json`` + ``config_sentence_transformers.json``
(sentence-transformers' layout: the pooling llmbed applies by itself),
``training_args.json`` (the command, data files, seed), ``train_log.jsonl``
(loss per step) and ``checkpoint/state.pt`` (resume with ``--resume``).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import sys
import time
from typing import Dict, List, Sequence

from . import data as data_mod

DEFAULT_TARGETS = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m llmbed.train contrastive",
        description="Fine-tune a causal decoder into an embedder: LoRA, InfoNCE with in-batch and hard negatives.")
    ap.add_argument("--model", required=True, help="base model: Hugging Face folder or .gguf file")
    ap.add_argument("--data", required=True,
                    help="comma-separated files: .jsonl {anchor, positive, negative?} or score<TAB>s1<TAB>s2")
    ap.add_argument("--output", required=True, help="adapter folder to write (created)")
    ap.add_argument("--pooling", choices=["mean", "last"], default="mean")
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--lora-alpha", type=float, default=32.0)
    ap.add_argument("--lora-dropout", type=float, default=0.0)
    ap.add_argument("--lora-targets", default=DEFAULT_TARGETS, help="comma-separated module names")
    ap.add_argument("--temperature", type=float, default=0.05)
    ap.add_argument("--batch-size", type=int, default=32, help="triples per micro-batch (in-batch negatives)")
    ap.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step")
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--warmup-steps", type=int, default=10)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after N optimizer steps (0: --epochs decides)")
    ap.add_argument("--positive-min", type=float, default=4.0, help="STS files: gold score of a positive pair")
    ap.add_argument("--negative-max", type=float, default=2.0, help="STS files: gold score of a hard-negative pair")
    ap.add_argument("--no-hard-negatives", action="store_true")
    ap.add_argument("--max-tokens", type=int, default=128, help="cut longer inputs (counted in the summary)")
    ap.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32", help="compute dtype (bf16: autocast)")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save-every", type=int, default=50, help="checkpoint + adapter every N steps")
    ap.add_argument("--resume", action="store_true", help="continue from OUTPUT/checkpoint/state.pt")
    ap.add_argument("--stop-after", type=int, default=0,
                    help="checkpoint and stop at step N (continue later with --resume; the schedule is unchanged)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    for name in ("lora_r", "batch_size", "grad_accum", "max_tokens", "save_every"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1")
    if not args.temperature > 0:
        ap.error("--temperature must be > 0")
    if args.epochs <= 0 and args.max_steps <= 0:
        ap.error("--epochs or --max-steps must be > 0")
    return args


def load_base(path: str, torch, device):
    from transformers import AutoModel

    if os.path.isdir(path):
        model = AutoModel.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa")
    elif os.path.isfile(path) and path.endswith(".gguf"):
        folder, name = os.path.split(os.path.abspath(path))
        model = AutoModel.from_pretrained(folder, gguf_file=name, dtype=torch.float32, attn_implementation="sdpa")
    else:
        raise SystemExit(f"--model {path}: expected a Hugging Face model folder or a .gguf file")
    return model.to(device)


def tokenize(path: str, texts: List[str], max_tokens: int, threads: int):
    """llmbed's token ids of each text (as `llmbed embed` feeds them), cut at max_tokens."""
    import llmbed

    with llmbed.Embedder(path, threads=threads or None) as m:
        ids = m.tokenize(texts)
    cut = sum(len(x) > max_tokens for x in ids)
    return [x[:max_tokens] for x in ids], cut


def pool(hidden, mask, pooling: str):
    """hidden [B, L, H], mask [B, L] (1 = token, right padding) -> [B, H]."""
    if pooling == "mean":
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1)
    last = mask.sum(1) - 1
    return hidden[range(hidden.shape[0]), last]


def encode(model, token_ids: List[List[int]], pooling: str, torch, device, autocast):
    """Pooled rows of token sequences, one padded forward per length-sorted group of <= 4096 tokens."""
    order = sorted(range(len(token_ids)), key=lambda i: len(token_ids[i]))
    rows = [None] * len(token_ids)
    k = 0
    while k < len(order):
        j = k + 1
        while j < len(order) and (j - k + 1) * len(token_ids[order[j]]) <= 4096:
            j += 1
        group = order[k:j]
        width = len(token_ids[group[-1]])
        ids = torch.zeros((len(group), width), dtype=torch.long)
        mask = torch.zeros((len(group), width), dtype=torch.long)
        for r, i in enumerate(group):
            ids[r, :len(token_ids[i])] = torch.tensor(token_ids[i])
            mask[r, :len(token_ids[i])] = 1
        ids, mask = ids.to(device), mask.to(device)
        # Right padding under causal attention leaves the real tokens' states as without padding.
        with autocast():
            hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
        pooled = pool(hidden.float(), mask, pooling)
        for r, i in enumerate(group):
            rows[i] = pooled[r]
        k = j
    return torch.stack(rows)


def infonce(model, batch, ids_of, pooling, temperature, torch, device, autocast):
    """InfoNCE of one micro-batch of Triples over its distinct positives and negatives."""
    import torch.nn.functional as F

    candidates: Dict[str, int] = {}
    for t in batch:
        for text in (t.positive, t.negative):
            if text is not None and text not in candidates:
                candidates[text] = len(candidates)
    cand_texts = list(candidates)
    anchors = encode(model, [ids_of[t.anchor] for t in batch], pooling, torch, device, autocast)
    cands = encode(model, [ids_of[s] for s in cand_texts], pooling, torch, device, autocast)
    logits = F.normalize(anchors, dim=-1) @ F.normalize(cands, dim=-1).T / temperature
    same = torch.tensor([[s == t.anchor for s in cand_texts] for t in batch], device=device)
    logits = logits.masked_fill(same, float("-inf"))
    target = torch.tensor([candidates[t.positive] for t in batch], device=device)
    return F.cross_entropy(logits, target)


def sentence_transformers_files(folder: str, pooling: str, hidden: int) -> None:
    """modules.json + 1_Pooling/config.json + config_sentence_transformers.json: the
    layout sentence-transformers writes, which llmbed's loader reads for the pooling."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    pooling_config = {
        "word_embedding_dimension": hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": pooling == "mean",
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": pooling == "last",
        "include_prompt": True,
    }
    os.makedirs(os.path.join(folder, "1_Pooling"), exist_ok=True)
    os.makedirs(os.path.join(folder, "2_Normalize"), exist_ok=True)
    write_json(os.path.join(folder, "modules.json"), modules)
    write_json(os.path.join(folder, "1_Pooling", "config.json"), pooling_config)
    write_json(os.path.join(folder, "config_sentence_transformers.json"),
               {"prompts": {}, "default_prompt_name": None, "similarity_fn_name": "cosine"})


def write_json(path: str, value) -> None:
    tmp = path + ".part"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def save_adapter(model, folder: str, pooling: str, hidden: int) -> None:
    model.save_pretrained(folder)
    card = os.path.join(folder, "README.md")  # peft's generated model card template: not ours
    if os.path.exists(card):
        os.remove(card)
    sentence_transformers_files(folder, pooling, hidden)


def run_identity(args, triples) -> str:
    """Hash of what a resumed run must share with the first: data and every training choice."""
    h = hashlib.sha256()
    for key in ("model", "pooling", "lora_r", "lora_alpha", "lora_dropout", "lora_targets", "temperature",
                "batch_size", "grad_accum", "lr", "warmup_steps", "epochs", "max_steps", "seed", "max_tokens"):
        h.update(f"{key}={getattr(args, key)};".encode())
    for t in triples:
        h.update(f"{t.anchor}\x00{t.positive}\x00{t.negative}\x01".encode())
    return h.hexdigest()


def micro_batches(n_triples: int, batch_size: int, seed: int, epoch: int) -> List[List[int]]:
    """Micro-batches of one epoch: a seeded permutation cut into full batches (the remainder is dropped)."""
    order = list(range(n_triples))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return [order[i:i + batch_size] for i in range(0, n_triples - batch_size + 1, batch_size)]


def main(argv: Sequence[str]) -> int:
    if not argv or argv[0] != "contrastive":
        print("usage: python -m llmbed.train contrastive --model BASE --data FILES --output DIR [options]\n"
              "       (python -m llmbed.train contrastive --help lists the options)", file=sys.stderr)
        return 2
    args = parse_args(argv[1:])
    try:
        import torch
        from peft import LoraConfig, get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict
    except ImportError as e:
        print(f"llmbed.train: {e.name} is missing: pip install 'llmbed[train]' (torch, transformers, peft)",
              file=sys.stderr)
        return 2
    from contextlib import nullcontext

    from tqdm import tqdm

    try:
        triples = data_mod.load(args.data.split(","), args.positive_min, args.negative_max,
                                not args.no_hard_negatives)
    except data_mod.DataError as e:
        print(f"llmbed.train: {e}", file=sys.stderr)
        return 2
    if len(triples) < args.batch_size:
        print(f"llmbed.train: {len(triples)} training pairs, fewer than --batch-size {args.batch_size}",
              file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    device = torch.device(args.device)
    if args.dtype == "bf16":
        def autocast():
            return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    else:
        autocast = nullcontext

    texts = sorted({s for t in triples for s in (t.anchor, t.positive, t.negative) if s is not None})
    token_ids, n_cut = tokenize(args.model, texts, args.max_tokens, args.threads)
    ids_of = dict(zip(texts, token_ids))
    empty = [t for t, x in ids_of.items() if not x]
    if empty:
        print(f"llmbed.train: text {empty[0]!r} has no tokens", file=sys.stderr)
        return 2

    base = load_base(args.model, torch, device)
    hidden = base.config.hidden_size
    lora = LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
                      target_modules=[m for m in args.lora_targets.split(",") if m], bias="none")
    model = get_peft_model(base, lora)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)

    per_epoch = len(triples) // args.batch_size // args.grad_accum
    total = args.max_steps if args.max_steps > 0 else max(1, int(per_epoch * args.epochs))

    def lr_at(step):  # linear warm-up, then linear decay to 0 (step counts from 0)
        if step < args.warmup_steps:
            return args.lr * (step + 1) / args.warmup_steps
        return args.lr * max(0.0, (total - step) / max(1, total - args.warmup_steps))

    os.makedirs(args.output, exist_ok=True)
    ckpt_dir = os.path.join(args.output, "checkpoint")
    ckpt_path = os.path.join(ckpt_dir, "state.pt")
    identity = run_identity(args, triples)
    step = 0
    if args.resume:
        if not os.path.isfile(ckpt_path):
            print(f"llmbed.train: --resume: {ckpt_path} not found", file=sys.stderr)
            return 2
        state = torch.load(ckpt_path, weights_only=False)
        if state["identity"] != identity:
            print(f"llmbed.train: --resume: {ckpt_path} was written by a run with other data or options "
                  "(rerun without --resume, or with the first run's options)", file=sys.stderr)
            return 2
        set_peft_model_state_dict(model, state["lora"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        step = state["step"]
    write_json(os.path.join(args.output, "training_args.json"),
               {"command": "python -m llmbed.train contrastive " + " ".join(argv[1:]), "args": vars(args),
                "n_triples": len(triples), "n_with_negative": sum(t.negative is not None for t in triples),
                "n_texts": len(texts), "n_cut": n_cut, "steps": total})
    print(f"llmbed.train: {len(triples)} pairs ({sum(t.negative is not None for t in triples)} with a hard negative),"
          f" {len(texts)} distinct texts ({n_cut} cut at {args.max_tokens} tokens); "
          f"{total} steps of {args.batch_size}x{args.grad_accum}; trainable parameters "
          f"{sum(p.numel() for p in params)}", file=sys.stderr)

    log = open(os.path.join(args.output, "train_log.jsonl"), "a" if args.resume else "w", encoding="utf-8")
    model.train()
    started = time.time()
    bar = tqdm(total=total, initial=step, disable=args.no_progress, desc="contrastive", unit="step",
               dynamic_ncols=True, file=sys.stderr)
    batches: List[List[int]] = []
    batches_epoch = -1
    while step < total:
        first = step * args.grad_accum
        epoch = first // (len(triples) // args.batch_size)
        if epoch != batches_epoch:
            batches = micro_batches(len(triples), args.batch_size, args.seed, epoch)
            batches_epoch = epoch
        for g in optimizer.param_groups:
            g["lr"] = lr_at(step)
        optimizer.zero_grad(set_to_none=True)
        loss_sum = 0.0
        for k in range(args.grad_accum):
            batch = [triples[i] for i in batches[(first + k) % len(batches)]]
            loss = infonce(model, batch, ids_of, args.pooling, args.temperature, torch, device, autocast)
            (loss / args.grad_accum).backward()
            loss_sum += loss.item() / args.grad_accum
        if not math.isfinite(loss_sum):
            print(f"llmbed.train: loss is {loss_sum} at step {step + 1}: lower --lr", file=sys.stderr)
            return 1
        optimizer.step()
        step += 1
        log.write(json.dumps({"step": step, "loss": loss_sum, "lr": lr_at(step - 1),
                              "elapsed_s": round(time.time() - started, 1)}) + "\n")
        log.flush()
        bar.update(1)
        bar.set_postfix(loss=f"{loss_sum:.4f}")
        stopping = 0 < args.stop_after <= step
        if step % args.save_every == 0 or step == total or stopping:
            save_adapter(model, args.output, args.pooling, hidden)
            os.makedirs(ckpt_dir, exist_ok=True)
            torch.save({"identity": identity, "step": step, "lora": get_peft_model_state_dict(model),
                        "optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state()},
                       ckpt_path + ".part")
            os.replace(ckpt_path + ".part", ckpt_path)
        if stopping:
            break
    bar.close()
    log.close()
    print(f"llmbed.train: wrote {args.output} ({step} steps, {time.time() - started:.0f} s)", file=sys.stderr)
    return 0
