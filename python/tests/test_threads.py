"""Four Python threads sharing one Embedder (module docstring of llmbed.embedder:
encode borrows one of the Embedder's contexts; the C API allows one thread
at a time per context)."""
import threading
import time

import numpy as np
import pytest

import llmbed
from conftest import SENTENCES

TEXTS = [f"{s} number {i}" for i in range(40) for s in SENTENCES]


@pytest.mark.parametrize("contexts", [1, 2])
def test_four_threads_share_one_embedder(text_model_path, contexts):
    with llmbed.Embedder(text_model_path, threads=1, contexts=contexts) as m:
        expected = m.encode(TEXTS)
        results, errors = {}, []
        start = threading.Barrier(4)

        def work(k):
            try:
                start.wait()
                for round_ in range(5):
                    # each thread's slice, also tokenize (lock-free) between encodes
                    part = TEXTS[k::4]
                    results[(k, round_)] = m.encode(part)
                    m.tokenize(part[:3])
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        assert len(results) == 20
        for (k, _), rows in results.items():
            # other batch compositions round differently in the last bits
            np.testing.assert_allclose(rows, expected[k::4], rtol=0, atol=1e-6)
        same = [np.array_equal(results[(k, 0)], results[(k, r)]) for k in range(4) for r in range(5)]
        assert all(same)  # the same call gives the same bits whichever context ran it


def test_gil_is_released_during_encode(text_model_path):
    """A Python thread keeps running while another thread is inside encode."""
    with llmbed.Embedder(text_model_path, threads=1) as m:
        texts = TEXTS * 4
        ticks = []
        done = threading.Event()

        def ticker():
            while not done.is_set():
                ticks.append(time.perf_counter())
                time.sleep(0.001)

        t = threading.Thread(target=ticker)
        t.start()
        began = time.perf_counter()
        m.encode(texts)
        ended = time.perf_counter()
        done.set()
        t.join()
        inside = [x for x in ticks if began < x < ended]
        assert ended - began > 0.01 and len(inside) >= 3, (ended - began, len(inside))


def test_close_waits_for_encode_in_flight(text_model_path):
    m = llmbed.Embedder(text_model_path, threads=1)
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("rows", m.encode(TEXTS * 4)))
    t.start()
    time.sleep(0.01)
    m.close()
    t.join()
    assert out["rows"].shape == (len(TEXTS) * 4, 48)
    with pytest.raises(llmbed.ClosedError):
        m.encode(TEXTS)
