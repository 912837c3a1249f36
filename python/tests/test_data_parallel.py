"""Data parallel from Python (issue 21 item 1): ``Embedder(replicas=N)`` runs
N CPU engines per context over disjoint shares of ``threads``, fed by the
pipeline's worker pool; ``device="cuda:0,2"`` / ``"cuda:all"`` is the same on
GPUs. Rows equal one replica byte for byte, in input order (the CPU rows are
batch- and thread-count-invariant); bad counts and lists are refused with
their messages."""
import numpy as np
import pytest

import llmbed
from conftest import SENTENCES

# a skewed mix: one long document among many short texts
TEXTS = [f"{s} number {i}" for i in range(12) for s in SENTENCES]
TEXTS.insert(7, " ".join(SENTENCES * 12))


def test_replicas_give_the_rows_of_one_replica(text_model_path):
    with llmbed.Embedder(text_model_path, device="cpu", threads=1, batch_tokens=64) as one:
        want = one.encode(TEXTS)
        assert one.info.workers == 1
    assert np.isfinite(want).all()
    for replicas in (2, 3, 4):
        with llmbed.Embedder(text_model_path, device="cpu", threads=4, replicas=replicas, batch_tokens=64) as m:
            assert m.info.workers == replicas
            got = m.encode(TEXTS)
        assert got.tobytes() == want.tobytes(), f"{replicas} replicas"


def test_bad_replicas_and_device_lists_are_refused(text_model_path):
    with pytest.raises(llmbed.InvalidArgumentError,
                       match=r"replicas 3: more than the 2 CPU threads \(--threads\); each replica needs threads"):
        llmbed.Embedder(text_model_path, device="cpu", threads=2, replicas=3)
    with pytest.raises(llmbed.InvalidArgumentError, match="replicas: 0 is below 1"):
        llmbed.Embedder(text_model_path, device="cpu", replicas=0)
    with pytest.raises(llmbed.InvalidArgumentError, match=r"device 'cuda:1,1': expected auto, cpu, cuda, cuda:N"):
        llmbed.Embedder(text_model_path, device="cuda:1,1")


def test_cuda_all_without_a_gpu_fails_naming_it(text_model_path):
    try:
        m = llmbed.Embedder(text_model_path, device="cuda:all")
    except (llmbed.NoDeviceError, llmbed.UnsupportedError) as e:
        assert "device cuda:all: " in str(e)
    else:  # a machine with GPUs: one engine per GPU
        with m:
            assert m.info.device.startswith("cuda:") and m.info.workers >= 1
