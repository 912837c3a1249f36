"""One pipeline (issue 19): Python, the CLI, eval and the resume check all
go through the same job spec and the same path, so they agree bit for bit.

* encode(prompt=...) == `llmbed embed --prompt` for every family test model
  (the family's rules -- instruction masking, EOS -- are the library's);
* late chunking, suffix mode, templates and methods through Python equal
  the CLI's rows;
* Parquet in/out through Python equals the CLI's rows for the same texts;
* a resume with any row-changing option changed is refused (status 33
  naming the option) from the CLI and from Python;
* `llmbed eval sts` scores equal the scores computed from `llmbed embed` rows.
"""
import json
import subprocess

import numpy as np
import pytest

import llmbed
from conftest import DATA, SENTENCES

FAMILIES = ["nv-embed", "llm2vec", "gritlm", "qwen3-embedding", "e5-mistral", "gte-qwen2", "minicpm-embedding"]
TEXTS = [f"{s} {i}" for i in range(6) for s in SENTENCES]
PROMPT = "Instruct: Given a question, retrieve passages that answer it\nQuery: "


def cli(*args, check=True):
    return subprocess.run([str(llmbed.cli_path()), *map(str, args)], check=check, capture_output=True, text=True)


def cli_embed(model, lines, tmp_path, *args, name="out.npy"):
    source = tmp_path / "in.txt"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / name
    cli("embed", "--model", model, "--input", source, "--output", out, "--threads", "1", "--quiet", *args)
    return np.load(out)


@pytest.mark.parametrize("family", FAMILIES)
def test_prompt_rows_equal_the_cli_for_every_family(family, tmp_path):
    folder = DATA / "models" / "families" / family
    with llmbed.Embedder(folder, threads=1) as m:
        got = m.encode(TEXTS, prompt=PROMPT)
        plain = m.encode(TEXTS)
    want = cli_embed(folder, TEXTS, tmp_path, "--prompt", PROMPT)
    np.testing.assert_array_equal(got, want)
    assert not np.array_equal(got, plain)  # the prompt did change the rows: the comparison can fail


def test_long_inputs_templates_and_methods_equal_the_cli(embedder, text_model_path, tmp_path):
    long_texts = [" ".join(SENTENCES) * (2 + i % 3) for i in range(5)]
    # chunked prefill with ThinK
    got = embedder.encode(long_texts, chunk_tokens=16, think_ratio=0.5)
    want = cli_embed(text_model_path, long_texts, tmp_path, "--chunk-tokens", 16, "--think-ratio", 0.5)
    np.testing.assert_array_equal(got, want)
    # late chunking (never truncates: inputs within max_positions): rows and their (input, span) index
    rows, index = embedder.encode(TEXTS, late_chunking=12)
    want = cli_embed(text_model_path, TEXTS, tmp_path, "--late-chunking", "tokens:12", name="late.npy")
    np.testing.assert_array_equal(rows, want)
    lines = [json.loads(line) for line in (tmp_path / "late.rows.jsonl").read_text().splitlines()]
    assert [[r["line"] - 1, *r["span"]] for r in lines] == index.tolist()
    # suffix mode
    document = " ".join(SENTENCES)
    (tmp_path / "doc.txt").write_text(document)
    got = embedder.encode(TEXTS, document=document)
    want = cli_embed(text_model_path, TEXTS, tmp_path, "--document", tmp_path / "doc.txt", name="suffix.npy")
    np.testing.assert_array_equal(got, want)
    # a template with a span, and a method
    got = embedder.encode(TEXTS, template="Text: {text} (end)", pool_span="text", prompt="Q: ")
    want = cli_embed(text_model_path, TEXTS, tmp_path, "--template", "Text: {text} (end)", "--pool-span", "text",
                     "--prompt", "Q: ", name="template.npy")
    np.testing.assert_array_equal(got, want)
    got = embedder.encode(TEXTS, method="echo")
    want = cli_embed(text_model_path, TEXTS, tmp_path, "--method", "echo", name="echo.npy")
    np.testing.assert_array_equal(got, want)
    assert not np.array_equal(got, embedder.encode(TEXTS))


def test_parquet_in_and_out_equal_the_cli(embedder, text_model_path, tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"id": [f"doc-{i}" for i in range(len(TEXTS))], "text": TEXTS}), tmp_path / "in.parquet")
    llmbed.embed_file(embedder, tmp_path / "in.parquet", tmp_path / "out.parquet", id_column="id")
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column("id").to_pylist() == [f"doc-{i}" for i in range(len(TEXTS))]
    got = np.stack(table.column("embedding").to_numpy(zero_copy_only=False))
    np.testing.assert_array_equal(got, cli_embed(text_model_path, TEXTS, tmp_path))
    llmbed.embed_file(embedder, tmp_path / "in.parquet", tmp_path / "plain.parquet", precision="float16")
    got = np.stack(pq.read_table(tmp_path / "plain.parquet").column("embedding").to_numpy(zero_copy_only=False))
    np.testing.assert_array_equal(got, cli_embed(text_model_path, TEXTS, tmp_path, "--dtype", "float16",
                                                 name="half.npy"))


# (CLI flags, embed_file keywords, the manifest key that names the change)
CHANGES = [
    (["--pooling", "mean"], {"pooling": "mean"}, "pooling"),
    (["--attention", "bidirectional"], {"attention": "bidirectional"}, "attention"),
    (["--no-normalize"], {"normalize_embeddings": False}, "normalize"),
    (["--dims", "16"], {"truncate_dim": 16}, "dims"),
    (["--layer", "2"], {"layer": 2}, "layer"),
    (["--dtype", "float16"], {"precision": "float16"}, "dtype"),
    (["--prompt", "Q: "], {"prompt": "Q: "}, "prompt"),
    (["--prompt", "Q: ", "--exclude-prompt"], {"prompt": "Q: ", "exclude_prompt": True}, "prompt"),
    (["--max-tokens", "5"], {"max_tokens": 5}, "max_tokens"),
    (["--chunk-tokens", "4"], {"chunk_tokens": 4}, "chunk_tokens"),
    (["--think-ratio", "0.5"], {"think_ratio": 0.5}, "think_ratio"),
    (["--attn-temperature", "2"], {"attn_temperature": 2.0}, "attention_temperature"),
    (["--mask-prefix-tokens", "1"], {"mask_prefix_tokens": 1}, "mask_prefix_tokens"),
    (["--template", "X {text}"], {"template": "X {text}"}, "template"),
    (["--method", "echo"], {"method": "echo"}, "pooling"),
    (["--pool-span", "text", "--template", "{text}"], {"pool_span": "text", "template": "{text}"}, "template"),
    (["--family", "gritlm"], {"family": "gritlm"}, "family"),
    (["--rope-scaling", "linear:2"], {"rope_scaling": "linear:2"}, "rope_scaling"),
]


@pytest.mark.parametrize("flags, kwargs, key", CHANGES, ids=[c[2] + ":" + c[0][0] for c in CHANGES])
def test_resume_refuses_every_row_changing_option(text_model_path, tmp_path, flags, kwargs, key):
    source = tmp_path / "in.txt"
    source.write_text("\n".join(TEXTS) + "\n")
    # the CLI
    base = ["embed", "--model", text_model_path, "--input", source, "--output", tmp_path / "cli.npy", "--threads", 1,
            "--quiet", "--shard-rows", 7]
    cli(*base)
    refused = cli(*base, "--resume", *flags, check=False)
    assert refused.returncode == 33, refused.stderr
    assert f'"{key}" was' in refused.stderr, refused.stderr
    assert cli(*base, "--resume").returncode == 0  # unchanged: it resumes (complete)
    # Python, the same check through llmbed_embed_file
    model_kwargs = {k: kwargs[k] for k in ("family", "rope_scaling") if k in kwargs}
    job_kwargs = {k: v for k, v in kwargs.items() if k not in model_kwargs}
    llmbed.embed_file(text_model_path, source, tmp_path / "py.npy", shard_rows=7, threads=1)
    with pytest.raises(llmbed.ResumeMismatchError, match=f'"{key}" was'):
        llmbed.embed_file(text_model_path, source, tmp_path / "py.npy", shard_rows=7, resume=True, threads=1,
                          **job_kwargs, **model_kwargs)


def spearman(x, y):
    def ranks(v):
        order = np.argsort(v, kind="stable")
        r = np.empty(len(v))
        r[order] = np.arange(len(v))
        for value in np.unique(v):  # ties: average ranks
            tied = v == value
            r[tied] = r[tied].mean()
        return r
    return float(np.corrcoef(ranks(np.asarray(x)), ranks(np.asarray(y)))[0, 1])


@pytest.mark.parametrize("family", FAMILIES)
def test_eval_sts_scores_equal_scores_of_embed_rows(family, tmp_path):
    folder = DATA / "models" / "families" / family
    pairs = [(float(i % 5), TEXTS[i], TEXTS[(3 * i + 5) % len(TEXTS)]) for i in range(20)]
    (tmp_path / "pairs.tsv").write_text("".join(f"{g}\t{a}\t{b}\n" for g, a, b in pairs))
    cli("eval", "sts", "--model", folder, "--data", tmp_path / "pairs.tsv", "--output", tmp_path / "sts.json",
        "--threads", 1, "--batch-tokens", 512, "--quiet")
    result = json.loads((tmp_path / "sts.json").read_text())
    sentences = list(dict.fromkeys(s for _, a, b in pairs for s in (a, b)))  # eval's order: first appearance
    rows = cli_embed(folder, sentences, tmp_path, "--batch-tokens", 512).astype(np.float64)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    at = {s: i for i, s in enumerate(sentences)}
    cosines = [rows[at[a]] @ rows[at[b]] for _, a, b in pairs]
    want = 100 * spearman([g for g, _, _ in pairs], cosines)
    assert result["files"]["pairs"]["spearman"] == pytest.approx(want, abs=1e-9)
