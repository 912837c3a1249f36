"""Concurrency on the tiny model: a bounded load test (every row equal to
the single-request result), backpressure with a tiny queue, SIGTERM under
load, client disconnects and slow clients. Bounded in count and time; only
the loopback."""
import http.client
import json
import signal
import socket
import threading
import time

import numpy as np
import pytest

from conftest import assert_rows_equal, cli_embed

WORDS = "the cat sat on mat dog ran fast slow big small red blue green a of to and in".split()


def texts_for(seed, n):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 40)))) for _ in range(n)]


def run_clients(n_clients, fn):
    errors, threads = [], []

    def wrap(c):
        try:
            fn(c)
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(f"client {c}: {e!r}")

    for c in range(n_clients):
        t = threading.Thread(target=wrap, args=(c,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join(300)
    return errors


def test_32_clients_x_20_requests_rows_equal_cli(start_server, tiny_model, tmp_path):
    server = start_server(tiny_model, "--max-batch-tokens", 256)
    pool = texts_for(0, 60)
    # The reference: `llmbed embed` over the texts; each text alone in its own request gives the same rows.
    cli = cli_embed(tiny_model, [{"text": t} for t in pool], tmp_path)
    single = {t: cli[i] for i, t in enumerate(pool)}
    for t in pool[:8]:
        assert_rows_equal(server.embed({"input": t})[0], single[t][None])
    n_clients, n_requests = 32, 20

    def client(c):
        rng = np.random.default_rng(100 + c)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        for _ in range(n_requests):
            batch = [pool[i] for i in rng.integers(0, len(pool), size=int(rng.integers(1, 6)))]
            fmt = "base64" if rng.random() < 0.3 else "float"
            conn.request("POST", "/v1/embeddings", json.dumps({"input": batch, "encoding_format": fmt}))
            r = conn.getresponse()
            body = r.read()
            assert r.status == 200, (r.status, body[:300])
            data = json.loads(body)["data"]
            for text, d in zip(batch, data):
                if fmt == "base64":
                    import base64
                    row = np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4")
                else:
                    row = np.array(d["embedding"], dtype=np.float32)
                assert_rows_equal(row[None], single[text][None])
        conn.close()

    errors = run_clients(n_clients, client)
    assert not errors, errors[:3]
    assert server.metric("llmbed_queue_depth") == 0
    # Requests were merged: some batch held more than one request's inputs.
    status, _, body = server.request("GET", "/metrics")
    buckets = {line.split('"')[1]: float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines()
               if line.startswith("llmbed_batch_sequences_bucket")}
    assert buckets["+Inf"] > buckets["4"], buckets


def test_backpressure_429_then_healthy(start_server, tiny_model):
    server = start_server(tiny_model, "--max-queue", 2, "--max-batch-tokens", 64)
    big = {"input": texts_for(1, 200)}
    statuses, retry_after = [], []
    lock = threading.Lock()

    def client(c):
        status, headers, _ = server.request("POST", "/v1/embeddings", big)
        with lock:
            statuses.append(status)
            if status == 429:
                retry_after.append(headers.get("Retry-After"))

    errors = run_clients(8, client)
    assert not errors, errors
    assert 429 in statuses and 200 in statuses, statuses
    assert set(statuses) <= {200, 429}, statuses
    assert retry_after and all(r == "1" for r in retry_after)
    assert server.request("GET", "/health")[0] == 200
    server.embed({"input": "still fine"})
    assert server.metric('llmbed_http_requests_total{path="/v1/embeddings",code="429"}') == statuses.count(429)


def test_sigterm_under_load_loses_no_accepted_request(tiny_model):
    from conftest import Server
    server = Server(tiny_model, "--max-batch-tokens", 128, "--timeout", 60)
    pool = texts_for(2, 30)
    want = {t: server.embed({"input": t})[0][0] for t in pool}
    stop_sent = threading.Event()
    outcomes, lock = [], threading.Lock()

    def client(c):
        rng = np.random.default_rng(200 + c)
        for _ in range(500):
            batch = [pool[i] for i in rng.integers(0, len(pool), size=int(rng.integers(1, 8)))]
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
            try:
                conn.request("POST", "/v1/embeddings", json.dumps({"input": batch}))
                r = conn.getresponse()
                body = r.read()
            except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected,
                    BrokenPipeError) as e:
                # Only after SIGTERM, and only for a request the server never admitted
                # (the counts below prove no admitted one went missing).
                assert stop_sent.is_set(), f"connection error before SIGTERM: {e!r}"
                with lock:
                    outcomes.append("refused")
                return
            finally:
                conn.close()
            with lock:
                outcomes.append(r.status)
            if r.status == 503:
                assert stop_sent.is_set()
                return
            assert r.status == 200, (r.status, body[:300])
            for text, d in zip(batch, json.loads(body)["data"]):
                assert_rows_equal(np.array(d["embedding"], dtype=np.float32)[None], want[text][None])
        raise AssertionError("the server never stopped answering")

    threads_errors = []
    t = threading.Thread(target=lambda: threads_errors.extend(run_clients(16, client)))
    t.start()
    time.sleep(1.5)
    stop_sent.set()
    code = server.stop(signal.SIGTERM, timeout=60)
    t.join(120)
    assert not threads_errors, threads_errors[:3]
    assert code == 0, server.stderr
    ok = outcomes.count(200)
    assert ok > 0 and (503 in outcomes or "refused" in outcomes), outcomes[-20:]
    answered = [line for line in server.stderr.splitlines() if "every admitted request answered" in line]
    assert answered, server.stderr
    # The server's own count of embeddings answered 200 equals what the clients received.
    assert f"{ok + len(pool)} embeddings requests answered 200" in answered[0], (ok, answered[0])


def test_sigint_drains_and_exits_0(tiny_model):
    from conftest import Server
    server = Server(tiny_model)
    server.embed({"input": "one"})
    assert server.stop(signal.SIGINT) == 0, server.stderr


def test_client_disconnect_frees_its_work(start_server, tiny_model):
    server = start_server(tiny_model, "--max-batch-tokens", 32)
    body = json.dumps({"input": texts_for(3, 2000)}).encode()
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    time.sleep(0.3)
    s.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.metric("llmbed_client_disconnects_total") < 1:
        time.sleep(0.1)
    assert server.metric("llmbed_client_disconnects_total") == 1
    while time.monotonic() < deadline and server.metric("llmbed_queue_depth") > 0:
        time.sleep(0.1)
    assert server.metric("llmbed_queue_depth") == 0
    assert server.metric("llmbed_pending_sequences") == 0
    # Far fewer inputs embedded than were sent: the rest was dropped, never run.
    assert server.metric("llmbed_batch_sequences_sum") < 1000
    server.embed({"input": "after"})


def test_slow_clients_do_not_block_others(start_server, tiny_model):
    server = start_server(tiny_model, "--timeout", 2)
    slow = []
    for _ in range(4):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"inp")
        slow.append(s)
    trickle = socket.create_connection(("127.0.0.1", server.port))
    trickle.sendall(b"POST /v1/emb")
    start = time.monotonic()
    for _ in range(5):
        server.embed({"input": "quick"})
    assert time.monotonic() - start < 10
    # Idle past --timeout: the server closes them.
    time.sleep(3.5)
    for s in slow + [trickle]:
        s.settimeout(5)
        try:
            data = s.recv(100)
        except ConnectionResetError:
            data = b""
        except socket.timeout as e:
            raise AssertionError(f"slow connection still open after --timeout: {e!r}")
        assert data == b"", data
        s.close()
    assert server.metric("llmbed_queue_depth") == 0


def test_second_signal_stops_at_once_without_crashing(tiny_model):
    """A request still being embedded when the second SIGTERM comes: the
    server stops with status 31 (interrupted), its client gets 503 or a
    closed connection, and nothing crashes on the way out (ASan build)."""
    from conftest import Server
    server = Server(tiny_model, "--max-batch-tokens", 32)
    body = json.dumps({"input": texts_for(4, 2000)})
    outcome = []

    def client():
        try:
            outcome.append(server.request("POST", "/v1/embeddings", body)[0])
        except (ConnectionResetError, http.client.RemoteDisconnected) as e:
            outcome.append(repr(e))

    t = threading.Thread(target=client)
    t.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.metric("llmbed_pending_sequences") == 0:
        time.sleep(0.05)
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    code = server.stop(signal.SIGTERM)
    t.join(60)
    assert code == 31, server.stderr
    assert "second signal" in server.stderr
    assert outcome and outcome[0] != 200, outcome
