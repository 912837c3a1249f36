"""The official `openai` client against `llmbed serve` on SmolLM2: rows equal
`llmbed embed`'s for strings, token arrays, base64 and dimensions; usage
equals `llmbed tokenize`'s counts."""
import base64
import json

import numpy as np
import openai
import pytest

from conftest import assert_rows_equal, cli_embed, cli_token_counts

TEXTS = [
    "The cat sat on the mat.",
    "Stocks rose sharply after the announcement.",
    "a",
    "Ein kurzer deutscher Satz mit Umlauten: äöü.",
    "emoji 🙂 and \u0000 a NUL byte",
    "the quick brown fox jumps over the lazy dog " * 8,
]


@pytest.fixture(scope="module")
def smol_server(smollm2):
    from conftest import Server
    s = Server(smollm2, "--api-key", "sk-test")
    yield s
    assert s.stop() == 0, s.stderr


def client(server, key="sk-test"):
    return openai.OpenAI(base_url=f"http://127.0.0.1:{server.port}/v1", api_key=key, max_retries=0, timeout=120)


def test_strings_equal_cli_and_usage_equals_tokenize(smol_server, smollm2, tmp_path):
    answer = client(smol_server).embeddings.create(model="smollm2", input=TEXTS, encoding_format="float")
    rows = np.array([d.embedding for d in answer.data], dtype=np.float32)
    assert [d.index for d in answer.data] == list(range(len(TEXTS)))
    want = cli_embed(smollm2, [{"text": t} for t in TEXTS], tmp_path)
    assert_rows_equal(rows, want)
    counts = cli_token_counts(smollm2, TEXTS, tmp_path)
    assert answer.usage.prompt_tokens == sum(counts)
    assert answer.usage.total_tokens == sum(counts)
    assert answer.model == smollm2.name


def test_single_string_and_default_base64_decoding(smol_server, smollm2, tmp_path):
    # Without encoding_format the client asks for base64 and decodes it.
    answer = client(smol_server).embeddings.create(model="smollm2", input=TEXTS[0])
    assert len(answer.data) == 1
    want = cli_embed(smollm2, [{"text": TEXTS[0]}], tmp_path)
    assert_rows_equal(np.array([answer.data[0].embedding], dtype=np.float32), want)


def test_token_arrays_equal_cli(smol_server, smollm2, tmp_path):
    ids = [[504, 2365, 3287, 335, 260, 8304, 30], [2, 17, 99, 1000], [42]]
    c = client(smol_server)
    many = c.embeddings.create(model="smollm2", input=ids, encoding_format="float")
    one = c.embeddings.create(model="smollm2", input=ids[0], encoding_format="float")
    want = cli_embed(smollm2, [{"input_ids": x} for x in ids], tmp_path)
    assert_rows_equal(np.array([d.embedding for d in many.data], dtype=np.float32), want)
    assert_rows_equal(np.array([one.data[0].embedding], dtype=np.float32), want[:1])
    assert many.usage.prompt_tokens == sum(map(len, ids))


def test_base64_is_the_float_rows_bit_for_bit(smol_server):
    """The float text round-trips: its float32 values equal the base64 bytes."""
    headers = {"Authorization": "Bearer sk-test"}
    _, as_float = smol_server.embed({"input": TEXTS[:2], "encoding_format": "float"}, headers)
    status, _, body = smol_server.request("POST", "/v1/embeddings",
                                          {"input": TEXTS[:2], "encoding_format": "base64"}, headers)
    assert status == 200
    b64 = json.loads(body)
    for f, b in zip(as_float["data"], b64["data"]):
        decoded = np.frombuffer(base64.b64decode(b["embedding"]), dtype="<f4")
        assert np.array_equal(decoded, np.array(f["embedding"], dtype=np.float32))


def test_dimensions_equal_cli_dims(smol_server, smollm2, tmp_path):
    answer = client(smol_server).embeddings.create(model="smollm2", input=TEXTS[:3], dimensions=64,
                                                   encoding_format="float")
    rows = np.array([d.embedding for d in answer.data], dtype=np.float32)
    assert rows.shape == (3, 64)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1, atol=1e-6)
    want = cli_embed(smollm2, [{"text": t} for t in TEXTS[:3]], tmp_path, "--dims", 64)
    assert_rows_equal(rows, want)


def test_the_row_check_fails_on_one_ulp():
    """assert_rows_equal can fail: one value one ulp off is caught."""
    rows = np.linspace(-1, 1, 96, dtype=np.float32).reshape(2, 48)
    off = rows.copy()
    off[1, 7] = np.nextafter(off[1, 7], np.float32(2))
    assert_rows_equal(rows, rows.copy())
    with pytest.raises(AssertionError, match="max"):
        assert_rows_equal(off, rows)


def test_wrong_key_is_refused_by_the_client(smol_server):
    with pytest.raises(openai.AuthenticationError):
        client(smol_server, key="sk-wrong").embeddings.create(model="smollm2", input="x")


def test_models_endpoint(smol_server, smollm2):
    models = client(smol_server).models.list()
    assert [m.id for m in models.data] == [smollm2.name]


def test_bad_input_raises_bad_request_naming_the_index(smol_server):
    with pytest.raises(openai.BadRequestError) as err:
        client(smol_server).embeddings.create(model="smollm2", input=[[1, 2], [3, 10**9]], encoding_format="float")
    assert "input[1]: position 1: token id 1000000000 outside the vocabulary" in str(err.value)
