"""Every error of the server over raw HTTP: OpenAI's error shape, the
status, the field and the index named. On the tiny test model."""
import json
import socket

import pytest


@pytest.fixture(scope="module")
def server(tiny_model):
    from conftest import Server
    s = Server(tiny_model, "--max-inputs", 4, "--max-request-bytes", 4096, "--max-tokens", 16, "--no-truncate")
    yield s
    assert s.stop() == 0, s.stderr


def error_of(status, body, want_status):
    assert status == want_status, (status, body)
    e = json.loads(body)["error"]
    assert set(e) == {"message", "type", "param", "code"}
    assert isinstance(e["message"], str) and e["message"]
    return e


@pytest.mark.parametrize("body, param, words", [
    ("{not json", None, "not valid JSON"),
    ("[1, 2]", None, "JSON object"),
    ({"model": "x"}, "input", "required"),
    ({"input": []}, "input", "empty array"),
    ({"input": 5}, "input", "must be a string"),
    ({"input": ["a", 5]}, "input", "input[1] is not a string"),
    ({"input": [1, "a"]}, "input", "input[1] is not a token id"),
    ({"input": [[1], [2, 1.5]]}, "input", "input[1][1]"),
    ({"input": [[1], 7]}, "input", "input[1] is not an array"),
    ({"input": [[1, 2], [3, 100000]]}, "input", "input[1]: position 1: token id 100000 outside the vocabulary"),
    ({"input": [[1, 2], [-1]]}, "input", "input[1]: position 0: token id -1"),
    ({"input": ["a", "b", "c", "d", "e"]}, "input", "more than this server's limit of 4"),
    ({"input": ["ok", "x " * 40]}, "input", "input[1]: "),
    ({"input": [[1], []]}, "input", "input[1]: empty sequence"),
    ({"input": "a", "encoding_format": "hex"}, "encoding_format", "float"),
    ({"input": "a", "dimensions": 0}, "dimensions", "positive"),
    ({"input": "a", "dimensions": 1000}, "dimensions", "more than this model's 48"),
    ({"input": "a", "dimensions": "8"}, "dimensions", "positive"),
    ({"input": "a", "model": 3}, "model", "string"),
    ({"input": "a", "user": 3}, "user", "string"),
    (b'{"input": "\xff\xfe"}', None, "not valid JSON"),
])
def test_bad_requests_are_400_naming_field_and_index(server, body, param, words):
    status, _, raw = server.request("POST", "/v1/embeddings", body)
    e = error_of(status, raw, 400)
    assert e["param"] == param
    assert e["type"] == "invalid_request_error"
    assert words in e["message"], e["message"]


def test_the_server_answers_after_every_bad_request(server):
    rows, answer = server.embed({"input": ["the cat", "sat"], "user": "u1", "model": "anything"})
    assert rows.shape == (2, 48)
    assert answer["object"] == "list" and answer["data"][1]["object"] == "embedding"


def test_unknown_path_404_and_wrong_method_405(server):
    status, _, body = server.request("GET", "/v2/nothing")
    assert error_of(status, body, 404)["code"] == "not_found"
    status, headers, body = server.request("GET", "/v1/embeddings")
    error_of(status, body, 405)
    assert headers["Allow"] == "POST"
    status, headers, body = server.request("POST", "/health", "{}")
    error_of(status, body, 405)
    assert "GET" in headers["Allow"]


def test_body_over_the_limit_413_from_content_length(server):
    status, _, body = server.request("POST", "/v1/embeddings", json.dumps({"input": "x" * 5000}))
    e = error_of(status, body, 413)
    assert "4096" in e["message"]


def test_body_over_the_limit_413_while_reading_chunked(server):
    """No Content-Length: the limit is checked as the chunks arrive."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    s.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b'{"input": "' + b"x" * 3000
    s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    try:
        s.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(chunk), b"y" * len(chunk)))
    except OSError:
        pass  # the server may close before reading it all; its answer is already there
    answer = b""
    while True:
        try:
            data = s.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        answer += data
    s.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"--max-request-bytes" in answer


def test_health_and_metrics(server):
    status, _, body = server.request("GET", "/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    server.embed({"input": "count me"})
    status, headers, body = server.request("GET", "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    text = body.decode()
    for name in ("llmbed_http_requests_total{path=\"/v1/embeddings\",code=\"200\"}",
                 "llmbed_http_requests_total{path=\"/v1/embeddings\",code=\"400\"}", "llmbed_tokens_total",
                 "llmbed_queue_depth 0", "llmbed_batch_sequences_bucket", "llmbed_batch_tokens_count",
                 "llmbed_request_duration_seconds_bucket{le=\"+Inf\"}"):
        assert name in text, name
    assert server.metric("llmbed_inputs_total") >= 1
