#!/usr/bin/env python3
"""The peer run for `llmbed bench --compare transformers`.

Embeds pre-tokenised sequences ({"input_ids": [...]} per line) with Hugging
Face transformers the way users usually do: sequences sorted by length
(as sentence-transformers' encode), padded batches with an attention mask,
fp32 on the CPU with the given thread count, or on a GPU (--device cuda:N,
--dtype bfloat16 as llmbed's CUDA backend computes) when llmbed ran there. Pooling, attention and
normalisation follow llmbed's options (SPEC §4): last / mean / first /
weighted-mean (weights 1..n as SGPT) over the unpadded tokens;
bidirectional runs pass a 4-D additive mask with eager attention (SPEC §10).
Note: transformers' dynamic-NTK RoPE is stateful (it keeps the longest
length seen), so with rope_scaling "dynamic" and inputs beyond the original
max positions its rows depend on the batch order; llmbed computes each
sequence as if alone.

Writes the rows in input order to --output (.npy float32) and prints one
JSON line {"seconds": forward wall time without the warm-up batch,
"cpu_seconds": the process's CPU time over the same span, "tokens": ...,
"sequences": ...} on stdout. --dtype bfloat16 runs the model in bf16 (the
peer of llmbed --weights bf16).
"""
import argparse
import json
import os
import sys
import time

import numpy as np


def load_model(path, causal, dtype):
    import torch
    from transformers import AutoModel

    # Causal runs use transformers' default attention (SDPA), as users run it;
    # bidirectional ones need eager attention to take the 4-D mask as is.
    kwargs = {"dtype": getattr(torch, dtype)}
    if not causal:
        kwargs["attn_implementation"] = "eager"
    if path.endswith(".gguf"):
        kwargs["gguf_file"] = os.path.basename(path)
        path = os.path.dirname(path) or "."
    return AutoModel.from_pretrained(path, **kwargs).eval()


def pool(hidden, lengths, pooling):
    import torch

    rows = []
    for b, n in enumerate(lengths):
        h = hidden[b, :n]
        if pooling == "last":
            rows.append(h[n - 1])
        elif pooling == "first":
            rows.append(h[0])
        elif pooling == "mean":
            rows.append(h.mean(dim=0))
        elif pooling == "weighted-mean":
            w = torch.arange(1, n + 1, dtype=h.dtype, device=h.device)
            rows.append((h * w[:, None]).sum(dim=0) / w.sum())
        else:
            raise SystemExit(f"compare_transformers.py: unknown pooling {pooling}")
    return torch.stack(rows)


def forward(model, batch, causal, device):
    import torch

    lengths = [len(s) for s in batch]
    width = max(lengths)
    ids = torch.zeros((len(batch), width), dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for b, s in enumerate(batch):
        ids[b, : len(s)] = torch.tensor(s)
        mask[b, : len(s)] = 1
    ids, mask = ids.to(device), mask.to(device)
    if causal:
        out = model(input_ids=ids, attention_mask=mask)
    else:
        # Every query sees every real key of its sequence; padded keys get -inf.
        additive = torch.zeros((len(batch), 1, width, width), dtype=model.dtype, device=device)
        additive.masked_fill_(mask[:, None, None, :] == 0, torch.finfo(model.dtype).min)
        out = model(input_ids=ids, attention_mask=additive)
    return out.last_hidden_state.float(), lengths


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--pooling", default="last")
    p.add_argument("--attention", default="causal", choices=["causal", "bidirectional"])
    p.add_argument("--normalize", action="store_true")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="cpu", help="cpu, or cuda:N where llmbed ran on that GPU")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"],
                   help="the model's dtype (bfloat16: the peer of llmbed --weights bf16)")
    a = p.parse_args()

    import torch

    torch.set_num_threads(a.threads)
    with open(a.input) as f:
        seqs = [json.loads(line)["input_ids"] for line in f if line.strip()]
    causal = a.attention == "causal"
    model = load_model(a.model, causal, a.dtype).to(a.device)
    order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
    batches = [order[i : i + a.batch_size] for i in range(0, len(order), a.batch_size)]
    out = np.zeros((len(seqs), model.config.hidden_size), dtype=np.float32)
    gpu = a.device.startswith("cuda")
    with torch.inference_mode():
        forward(model, [seqs[i] for i in batches[-1]], causal, a.device)  # warm-up, untimed
        if gpu:
            torch.cuda.synchronize()
        start, cpu_start = time.perf_counter(), time.process_time()
        for idx in batches:
            hidden, lengths = forward(model, [seqs[i] for i in idx], causal, a.device)
            rows = pool(hidden, lengths, a.pooling)
            if a.normalize:
                rows = torch.nn.functional.normalize(rows, dim=-1)
            out[idx] = rows.float().cpu().numpy()  # the host needs the rows, as llmbed's download does
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    np.save(a.output, out)
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "tokens": sum(map(len, seqs)),
                      "sequences": len(seqs)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
