"""Fitting and prediction on one BLAS thread: same results, thread counts restored."""

import threading
from contextlib import contextmanager

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import napari_gmm as ng
from napari_gmm.core import _predict
from napari_gmm.core._features import pixel_data
from napari_gmm.core.fit import _fit
from napari_gmm.core.fit._fit import single_threaded_blas


def blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.fixture
def two_blas_threads():
    """Run the test with two BLAS threads, so that a limit to one is visible."""
    if not blas_threads():
        pytest.skip("no BLAS library found by threadpoolctl")
    with threadpool_limits(limits=2, user_api="blas"):
        yield blas_threads()


class FakeController:
    """Records the limits set by `single_threaded_blas` (no BLAS library involved)."""

    def __init__(self):
        self.events = []

    @contextmanager
    def limit(self, limits):
        self.events.append(("set", limits, threading.current_thread().name))
        try:
            yield
        finally:
            self.events.append(("restore", threading.current_thread().name))


def test_limit_is_one_inside_and_restored_after(two_blas_threads):
    with single_threaded_blas():
        assert set(blas_threads()) == {1}
        with single_threaded_blas():  # nested: unchanged
            assert set(blas_threads()) == {1}
        assert set(blas_threads()) == {1}
    assert blas_threads() == two_blas_threads


def test_limit_restored_after_an_exception(two_blas_threads):
    with pytest.raises(RuntimeError), single_threaded_blas():
        raise RuntimeError("boom")
    assert blas_threads() == two_blas_threads


def test_only_the_first_thread_sets_and_restores(monkeypatch):
    # A enters, B enters while A holds the limit, A leaves, B leaves: only A sets and
    # restores (B never captures A's limit as an "original" value to restore later).
    fake = FakeController()
    monkeypatch.setattr(_fit, "_blas_controller", lambda: fake)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a():
        with single_threaded_blas():
            a_in.set()
            assert b_in.wait(5)
        a_out.set()

    def b():
        assert a_in.wait(5)
        with single_threaded_blas():
            b_in.set()
            assert a_out.wait(5)

    threads = [threading.Thread(target=a, name="A"), threading.Thread(target=b, name="B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert fake.events == [("set", 1, "A"), ("restore", "A")]
    with single_threaded_blas():  # free again afterwards
        pass
    assert fake.events[2:] == [("set", 1, "MainThread"), ("restore", "MainThread")]


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_segment_restores_blas_threads(two_blas_threads, dtype):
    image = np.random.default_rng(0).integers(0, 200, (64, 64)).astype(dtype)
    ng.segment(image, 2, random_state=0)
    assert blas_threads() == two_blas_threads


def test_chunked_prediction_does_not_hold_the_limit_between_chunks(two_blas_threads, monkeypatch):
    monkeypatch.setattr(_predict, "CHUNK_ROWS", 100)
    monkeypatch.setattr(_predict, "KERNEL_ROWS", 100)
    image = np.random.default_rng(1).normal(size=(30, 20)).astype(np.float32)
    seg = ng.segment(image, 2, random_state=0)
    data = pixel_data(image)
    steps = _predict.iter_predict_chunked(seg.model, data)
    n_chunks = 0
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            pred = stop.value
            break
        n_chunks += 1
        assert blas_threads() == two_blas_threads  # the caller's threads between chunks
    assert n_chunks == 6
    X = data.features.astype(np.float64)
    assert np.array_equal(pred.labels, seg.model.predict(X) + 1)
    assert np.allclose(pred.probability, seg.model.predict_proba(X).max(axis=1), atol=1e-6)
    assert np.isclose(pred.log_likelihood, seg.model.score(X), rtol=1e-12)


def test_labels_equal_predict_with_the_callers_threads(two_blas_threads):
    rgb = np.random.default_rng(2).normal(100, 30, (80, 60, 3)).astype(np.float32)
    seg = ng.segment(rgb, 3, channel_axis=-1, random_state=0, max_samples=1000)
    X = rgb.reshape(-1, 3).astype(np.float64)
    assert seg.n_fit_samples == 1000
    assert np.array_equal(seg.labels.ravel(), seg.model.predict(X) + 1)  # 2 BLAS threads


@pytest.mark.parametrize("n_channels", [1, 3])
def test_has_distinct(n_channels):
    rows = np.zeros((5000, n_channels))
    assert _fit.has_distinct(rows, 1)
    assert not _fit.has_distinct(rows, 2)
    rows[-1] = 1.0  # the second distinct row lies beyond the prefix that is checked first
    assert _fit.has_distinct(rows, 2)
    assert not _fit.has_distinct(rows, 3)
    assert not _fit.has_distinct(rows[:2], 3)  # fewer rows than asked for
    assert _fit.has_distinct(np.arange(3000.0).reshape(-1, 1).repeat(n_channels, 1), 3000)


@pytest.mark.parametrize("k", [1, 2, 3, 7, 8, 12])
def test_summarize_matches_numpy_reductions_bitwise(k):
    wlp = np.random.default_rng(k).normal(size=(5000, k)) * 30
    wlp[0] = 0.0  # ties: argmax takes the first
    arg, prob, lse, post = _predict.summarize(wlp, True)
    top = wlp.max(axis=1)
    shifted = np.exp(wlp - top[:, None])
    total = shifted.sum(axis=1)
    assert np.array_equal(arg, wlp.argmax(axis=1))
    assert arg[0] == 0
    assert np.array_equal(prob, (1.0 / total).astype(np.float32))
    assert np.array_equal(lse, top + np.log(total))
    assert np.array_equal(post, (shifted / total[:, None]).astype(np.float32))
