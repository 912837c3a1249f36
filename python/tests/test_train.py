"""llmbed.train contrastive on the tiny random llama (seconds): the loss goes
down, the adapter folder loads in `llmbed embed --adapter` with the pooling it
was trained with, and its rows equal transformers + peft on the same adapter
(float64 reference, cosine >= 0.99999). Skipped without the train extra."""
import json
import subprocess
import sys

import numpy as np
import pytest

import llmbed
from conftest import GOLDEN_MIN_COSINE, agreement

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from llmbed.train import data as train_data  # noqa: E402

# Words of the tiny tokenizer's alphabet; paraphrase pairs share their topic word.
TOPICS = ["cat", "dog", "sun", "rain", "tea", "map", "sea", "hat"]
PAIRS = [(f"the {t} sat on the mat", f"a {t} is on a mat") for t in TOPICS]
CHECK_TEXTS = ["the cat sat on the mat", "a dog is here", "rain on the sea", "tea"]


def train(model, tmp_path, *extra):
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "pairs.jsonl"
    with open(source, "w") as f:
        for i, (a, p) in enumerate(PAIRS):
            f.write(json.dumps({"anchor": a, "positive": p, "negative": PAIRS[(i + 1) % len(PAIRS)][1]}) + "\n")
    out = tmp_path / "adapter"
    cmd = [sys.executable, "-m", "llmbed.train", "contrastive", "--model", str(model), "--data", str(source),
           "--output", str(out), "--batch-size", "4", "--max-steps", "12", "--lr", "5e-3", "--warmup-steps", "1",
           "--lora-r", "4", "--lora-alpha", "8", "--seed", "3", "--threads", "1", "--no-progress", *extra]
    run = subprocess.run(cmd, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return out


def reference_rows(model, adapter, texts):
    """transformers + peft in float64: mean over every token of llmbed's ids, L2-normalised."""
    from peft import PeftModel
    from transformers import AutoModel

    base = AutoModel.from_pretrained(str(model), dtype=torch.float64, attn_implementation="eager")
    peft_model = PeftModel.from_pretrained(base, str(adapter)).eval()
    with llmbed.Embedder(model, threads=1) as m:
        ids = m.tokenize(texts)
    rows = []
    with torch.no_grad():
        for x in ids:
            hidden = peft_model(input_ids=torch.tensor([x])).last_hidden_state[0]
            v = hidden.mean(0)
            rows.append((v / v.norm()).numpy())
    return np.array(rows)


def test_training_lowers_loss_and_llmbed_loads_the_adapter(text_model_path, tmp_path):
    adapter = train(text_model_path, tmp_path)
    for name in ("adapter_config.json", "adapter_model.safetensors", "modules.json", "1_Pooling/config.json",
                 "config_sentence_transformers.json", "training_args.json", "checkpoint/state.pt"):
        assert (adapter / name).is_file(), name
    losses = [json.loads(line)["loss"] for line in open(adapter / "train_log.jsonl")]
    assert len(losses) == 12 and all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses

    source = tmp_path / "texts.txt"
    source.write_text("\n".join(CHECK_TEXTS) + "\n")
    out = tmp_path / "rows.npy"
    # No --pooling/--normalize: the adapter's 1_Pooling (mean) and modules.json (Normalize) decide.
    subprocess.run([str(llmbed.cli_path()), "embed", "--model", str(text_model_path), "--adapter", str(adapter),
                    "--input", str(source), "--output", str(out), "--threads", "1", "--quiet"], check=True)
    got = np.load(out)
    want = reference_rows(text_model_path, adapter, CHECK_TEXTS)
    cos, _ = agreement(got, want)
    assert cos >= GOLDEN_MIN_COSINE
    # The check can fail: the base model's rows (adapter not merged) are far from the reference.
    base_out = tmp_path / "base.npy"
    subprocess.run([str(llmbed.cli_path()), "embed", "--model", str(text_model_path), "--pooling", "mean",
                    "--input", str(source), "--output", str(base_out), "--threads", "1", "--quiet"], check=True)
    assert agreement(np.load(base_out), want)[0] < GOLDEN_MIN_COSINE


def test_resume_continues_the_same_run(text_model_path, tmp_path):
    straight = train(text_model_path, tmp_path / "a")
    resumed_dir = tmp_path / "b"
    resumed = train(text_model_path, resumed_dir, "--stop-after", "5", "--save-every", "5")
    assert len(open(resumed / "train_log.jsonl").readlines()) == 5
    train(text_model_path, resumed_dir, "--resume")
    a = [json.loads(line)["loss"] for line in open(straight / "train_log.jsonl")]
    b = [json.loads(line)["loss"] for line in open(resumed / "train_log.jsonl")]
    assert len(b) == 12
    np.testing.assert_allclose(b, a, rtol=1e-4)


def test_sts_pairs_and_hard_negatives(tmp_path):
    sts = tmp_path / "toy.tsv"
    sts.write_text("4.8\tthe cat sat\ta cat sat\n"
                   "0.4\tthe cat ran away\ta dog slept\n"
                   "1.0\tthe sun is up\tthe moon is up\n")
    triples = train_data.load([str(sts)], positive_min=4.0, negative_max=2.0)
    # both orientations; the negative is the low-score sentence with the most word overlap
    # ("a cat sat": {a} of 5 words with "a dog slept" beats {cat} of 6 with "the cat ran away")
    assert triples == [train_data.Triple("the cat sat", "a cat sat", "the cat ran away"),
                       train_data.Triple("a cat sat", "the cat sat", "a dog slept")]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"anchor": "x"}\n')
    with pytest.raises(train_data.DataError, match=r"bad.jsonl:1: field \"positive\""):
        train_data.load([str(bad)])
