"""Fixtures of the core's tests."""

import pytest


@pytest.fixture
def halo_blocks(monkeypatch):
    """Lazy smoothing by halo blocks whatever the image's size: the route of images beyond
    the in-core budget (``core/lazy/_incore.py``), which small test images would not take."""
    from napari_gmm.core.lazy import _incore

    monkeypatch.setattr(_incore, "MAX_INCORE_BYTES", 0)


@pytest.fixture(params=["device", "emulated"])
def gpu(request, monkeypatch):
    """A CUDA GPU for the tests of the GPU backend: this machine's own (``"device"``,
    skipped without CuPy and a GPU), or one emulated on the CPU (``"emulated"``,
    ``tests/cuda_emulator``: CuPy's API on host memory and the unchanged CUDA kernels
    compiled by the host C++ compiler; skipped without one). The emulated GPU runs the
    backend's whole route, not its speed or anything else only hardware shows."""
    from napari_gmm.core._backend import gpu_available

    if request.param == "device":
        if not gpu_available():
            pytest.skip("needs CuPy and a CUDA GPU")
        return request.param
    import cuda_emulator

    if not cuda_emulator.available():
        pytest.skip("needs a C++ compiler for the emulated GPU")
    cuda_emulator.install(monkeypatch)
    return request.param
