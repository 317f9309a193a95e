"""An emulated CUDA GPU for the tests of the GPU backend on machines without one.

:func:`install` puts an emulated ``cupy`` (and ``cupyx.scipy.ndimage``) in
``sys.modules``: CuPy's array API on host memory (:mod:`._cupy`) and the backend's CUDA
kernels compiled from their unchanged source by the host C++ compiler
(:mod:`._kernels`). napari-gmm then finds "a GPU" and runs its whole GPU route: the
uploads and downloads, every kernel launch with the arguments the code passes, the
device-side reductions. What it cannot show is what only hardware has: the kernels'
speed, races between threads, device memory limits, and differences between this
emulation of CuPy and CuPy itself.
"""

from __future__ import annotations

import functools
import sys

from ._cupy import MEMORY, TRANSFERS, modules
from ._kernels import compiler

__all__ = ["available", "install", "memory", "transfers"]


def available() -> bool:
    """Whether the emulator can run here (it needs a C++ compiler)."""
    return compiler() is not None


def install(monkeypatch) -> None:
    """Emulate a CUDA GPU until `monkeypatch` is undone: an emulated CuPy in
    ``sys.modules``, and napari-gmm's backend choice and compiled kernels reset so that
    they see it (and see the real state again afterwards)."""
    from napari_gmm.core import _backend
    from napari_gmm.core.potts import _gpu_kernels

    for direction in TRANSFERS:
        TRANSFERS[direction] = 0
    monkeypatch.setitem(MEMORY, "total", 16 << 30)
    MEMORY["peak"] = MEMORY["live"]
    for name, module in modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(_backend, "_gpu", None)
    _gpu_kernels.module.cache_clear()  # kernels of the real CuPy, if any, built again after
    monkeypatch.setattr(_gpu_kernels, "module",
                        functools.lru_cache(maxsize=1)(_gpu_kernels.module.__wrapped__))


def transfers() -> dict:
    """Bytes copied ``"to_device"`` and ``"to_host"`` since :func:`install` (explicit
    copies: ``asarray`` of host data, ``set``, ``get``, and scalars read back)."""
    return dict(TRANSFERS)


def memory() -> dict:
    """The emulated device's memory: ``"total"`` bytes (set it to emulate a smaller GPU),
    ``"live"`` (held by device arrays now) and ``"peak"`` (most held since :func:`install`
    or since ``memory()["peak"]`` was last reset, e.g. ``MEMORY["peak"] = MEMORY["live"]``)."""
    return MEMORY
