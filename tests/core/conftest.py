"""Fixtures of the core's tests."""

import pytest


@pytest.fixture
def halo_blocks(monkeypatch):
    """Lazy smoothing by halo blocks whatever the image's size: the route of images beyond
    the in-core budget (``core/lazy/_incore.py``), which small test images would not take."""
    from napari_gmm.core.lazy import _incore

    monkeypatch.setattr(_incore, "MAX_INCORE_BYTES", 0)
