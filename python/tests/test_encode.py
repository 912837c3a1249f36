"""Embedder.encode: outputs, precisions, prompts, inputs and argument errors."""
import numpy as np
import pytest

import llmbed
from conftest import DATA, SENTENCES, agreement, make_text_model


def test_shapes_and_defaults(embedder):
    rows = embedder.encode(SENTENCES)
    assert rows.shape == (len(SENTENCES), embedder.info.hidden_size) and rows.dtype == np.float32
    assert rows.flags.owndata and rows.flags.c_contiguous  # numpy owns the memory the C library wrote
    assert embedder.info.default_normalize and np.allclose(np.linalg.norm(rows, axis=1), 1, atol=1e-6)
    one = embedder.encode(SENTENCES[0])
    assert one.shape == (embedder.info.hidden_size,)
    # a row depends only on its input: alone or packed, the same bits (batch-invariant GEMM)
    np.testing.assert_array_equal(one, rows[0])
    assert embedder.encode([]).shape == (0, embedder.info.hidden_size)
    assert embedder.resolved() == {"pooling": "last", "attention": "causal", "normalize_embeddings": True,
                                   "dims": 48, "layer": 3}


def test_text_equals_its_token_ids(embedder):
    ids = embedder.tokenize(SENTENCES)
    # HF tokenizers' ids (tests/cpu/test_cli_text.cpp)
    assert ids[0] == [1, 73, 83, 84, 79, 84, 3, 77, 73, 3, 16, 84]
    assert ids[1] == [1, 3, 37, 8, 15, 15, 18, 67, 3, 52, 82, 15, 7, 68]
    assert embedder.tokenize("Hello, World!", add_special_tokens=False) == ids[1][1:]
    for pooling in ("last", "mean", "first", "weighted-mean"):
        a = embedder.encode(SENTENCES, pooling=pooling)
        b = embedder.encode(ids, pooling=pooling)
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(embedder.encode(np.array(ids[:1] * 3, dtype=np.int64)), embedder.encode(ids[:1] * 3))
    assert embedder.detokenize(ids[0][1:]) == SENTENCES[0]


def test_options_change_rows(embedder):
    base = embedder.encode(SENTENCES, normalize_embeddings=False)
    assert not np.allclose(np.linalg.norm(base, axis=1), 1)
    mean = embedder.encode(SENTENCES, pooling="mean")
    bidir = embedder.encode(SENTENCES, attention="bidirectional")
    early = embedder.encode(SENTENCES, layer=1)
    for other in (mean, bidir, early):
        assert np.abs(other - embedder.encode(SENTENCES)).max() > 1e-3
    cut = embedder.encode(SENTENCES, truncate_dim=7)
    full = embedder.encode(SENTENCES, normalize_embeddings=False)[:, :7]
    np.testing.assert_allclose(cut, full / np.linalg.norm(full, axis=1, keepdims=True), atol=1e-6)


def test_every_precision(embedder):
    rows = embedder.encode(SENTENCES)
    f16 = embedder.encode(SENTENCES, precision="float16")
    assert f16.dtype == np.float16
    np.testing.assert_array_equal(f16, rows.astype(np.float16))
    q, scales = embedder.encode(SENTENCES, precision="int8", return_scales=True)
    assert q.dtype == np.int8 and scales.shape == (len(SENTENCES),)
    expected_scales = np.abs(rows).max(axis=1) / 127
    np.testing.assert_allclose(scales, expected_scales, rtol=1e-6)
    np.testing.assert_array_equal(q, np.clip(np.rint(rows / scales[:, None]), -127, 127).astype(np.int8))
    assert np.abs(q * scales[:, None] - rows).max() <= scales.max() / 2 + 1e-7
    bits = embedder.encode(SENTENCES, precision="ubinary")
    assert bits.dtype == np.uint8 and bits.shape == (len(SENTENCES), 6)
    np.testing.assert_array_equal(bits, np.packbits(rows > 0, axis=1))  # sentence-transformers' quantize_embeddings
    odd = embedder.encode(SENTENCES, precision="ubinary", truncate_dim=13)
    np.testing.assert_array_equal(odd, np.packbits(embedder.encode(SENTENCES, truncate_dim=13) > 0, axis=1))
    ids = embedder.tokenize(SENTENCES)  # the token-id path converts through llmbed_quantize_rows
    np.testing.assert_array_equal(embedder.encode(ids, precision="ubinary"), np.packbits(embedder.encode(ids) > 0, axis=1))
    q2, s2 = embedder.encode(ids, precision="int8", return_scales=True)
    assert np.abs(q2.astype(int) - q).max() <= 1 and np.allclose(s2, scales, rtol=1e-5)


def test_prompts(embedder, tmp_path):
    assert embedder.prompts == {"query": "Query: ", "document": ""}
    named = embedder.encode(SENTENCES, prompt_name="query")
    np.testing.assert_array_equal(named, embedder.encode(SENTENCES, prompt="Query: "))
    np.testing.assert_array_equal(embedder.encode_query(SENTENCES), named)
    np.testing.assert_array_equal(embedder.encode_document(SENTENCES), embedder.encode(SENTENCES))
    assert np.abs(named - embedder.encode(SENTENCES)).max() > 1e-3
    # the prompt is prepended to the text before tokenising (sentence-transformers)
    joined = embedder.encode(["Query: " + s for s in SENTENCES])
    np.testing.assert_array_equal(named, joined)
    # include_prompt false: the prompt's tokens leave the mean pool
    excluded = make_text_model(tmp_path / "excl", include_prompt=False)
    with llmbed.Embedder(excluded, threads=1) as m:
        by_default = m.encode(SENTENCES, prompt="Query: ", pooling="mean")
        np.testing.assert_array_equal(by_default, m.encode(SENTENCES, prompt="Query: ", pooling="mean", exclude_prompt=True))
        included = m.encode(SENTENCES, prompt="Query: ", pooling="mean", exclude_prompt=False)
        assert np.abs(by_default - included).max() > 1e-3
        np.testing.assert_array_equal(included, embedder.encode(SENTENCES, prompt="Query: ", pooling="mean"))
    with pytest.raises(llmbed.InvalidArgumentError, match="no such string.*query, document"):
        embedder.encode(SENTENCES, prompt_name="passage")


def test_truncation(embedder):
    long = ["the " * 400]
    assert len(embedder.tokenize(long[0])) > embedder.info.max_positions
    cut = embedder.encode(long)
    np.testing.assert_array_equal(cut, embedder.encode(long, max_tokens=embedder.info.max_positions))
    np.testing.assert_allclose(embedder.encode(["the " * 10], max_tokens=5),
                               embedder.encode(["the the the the"]), atol=1e-6)
    with pytest.raises(llmbed.SequenceTooLongError, match="text 0: .* more than max_tokens 256"):
        embedder.encode(long, truncate=False)
    assert embedder.encode(long, max_tokens=0).shape == (1, 48)  # no limit


@pytest.mark.parametrize("kwargs, error, match", [
    ({"pooling": "max"}, llmbed.InvalidArgumentError, "pooling 'max': expected one of last, mean"),
    ({"attention": "sideways"}, llmbed.InvalidArgumentError, "attention 'sideways'"),
    ({"truncate_dim": 49}, llmbed.InvalidArgumentError, r"dims 49 outside \[0, 48\]"),
    ({"truncate_dim": -1}, llmbed.InvalidArgumentError, r"dims -1 outside"),
    ({"layer": 4}, llmbed.LayerOutOfRangeError, r"layer 4 outside \[0, 3\]"),
    ({"precision": "int4"}, llmbed.InvalidArgumentError, "precision 'int4'"),
    ({"pooling": 3}, llmbed.ArgumentTypeError, "pooling: expected a str"),
    ({"truncate_dim": 2.5}, llmbed.ArgumentTypeError, "truncate_dim: expected an int"),
    ({"normalize_embeddings": "yes"}, llmbed.ArgumentTypeError, "normalize_embeddings"),
    ({"prompt": "a", "prompt_name": "query"}, llmbed.InvalidArgumentError, "exclude each other"),
    ({"convert_to": "list"}, llmbed.InvalidArgumentError, "convert_to"),
])
def test_bad_arguments_raise(embedder, kwargs, error, match):
    with pytest.raises(error, match=match) as info:
        embedder.encode(SENTENCES, **kwargs)
    assert info.value.status_name.startswith("LLMBED_ERR_")


def test_bad_inputs_raise(embedder):
    with pytest.raises(TypeError, match="sentences"):
        embedder.encode(42)
    with pytest.raises(llmbed.ArgumentTypeError, match=r"sentences\[1\]: expected a str"):
        embedder.encode(["ok", 3])
    with pytest.raises(llmbed.TokenOutOfRangeError, match="position 1: token id 999 outside the vocabulary"):
        embedder.encode([[1, 999]])
    with pytest.raises(llmbed.EmptySequenceError):
        embedder.encode([[1], []])
    with pytest.raises(llmbed.InvalidArgumentError, match="token ids bypass"):
        embedder.encode([[1, 2]], prompt="x")
    with pytest.raises(llmbed.ModelFileNotFoundError):
        llmbed.Embedder("/nonexistent/model")
    with pytest.raises(llmbed.InvalidArgumentError, match="device 'tpu'"):
        llmbed.Embedder("/nonexistent/model", device="tpu")
    with pytest.raises(llmbed.ArgumentTypeError):
        llmbed.Embedder(3)


def test_closed_model_raises(text_model_path):
    m = llmbed.Embedder(text_model_path, threads=1)
    m.encode(SENTENCES)
    m.close()
    m.close()
    for call in (lambda: m.encode(SENTENCES), lambda: m.tokenize("a"), lambda: m.prompts, lambda: m.encode_query("a")):
        with pytest.raises(llmbed.ClosedError, match="closed"):
            call()
    assert issubclass(llmbed.ClosedError, llmbed.Error) and m.closed


def test_similarity(embedder):
    rows = embedder.encode(SENTENCES)
    sim = embedder.similarity(rows, rows)
    assert sim.shape == (len(SENTENCES), len(SENTENCES))
    np.testing.assert_allclose(np.diag(sim), 1, atol=1e-6)
    np.testing.assert_allclose(sim, rows @ rows.T, atol=1e-6)
    with pytest.raises(llmbed.InvalidArgumentError):
        embedder.similarity(rows, rows[:, :3])


def test_help_is_useful():
    doc = llmbed.Embedder.encode.__doc__
    for word in ("prompt_name", "truncate_dim", "precision", "ubinary", "GIL"):
        assert word in doc


def test_weights_modes_on_a_gguf_of_every_block_type():
    """native keeps the GGUF blocks and gives the f32 rows bit for bit; bf16 stays within cosine 0.999."""
    path = DATA / "models" / "qwen3-gguf.gguf"
    ids = [[5, 17, 99, 3, 42], [7], [11, 12, 13, 14, 15, 16, 17, 18]]
    rows, held = {}, {}
    for weights in ("f32", "native", "bf16"):
        with llmbed.Embedder(path, weights=weights) as m:
            assert m.info.weights == weights
            rows[weights] = m.encode(ids, pooling="mean")
            held[weights] = m.info.weight_bytes
    assert held["native"] < held["bf16"] < held["f32"]
    assert np.array_equal(rows["native"], rows["f32"])
    cos, _ = agreement(rows["bf16"], rows["f32"])
    assert cos >= 0.999
    assert not np.array_equal(rows["bf16"], rows["f32"])
    with pytest.raises(llmbed.InvalidArgumentError, match="weights"):
        llmbed.Embedder(path, weights="fp8")
