"""Which implementation runs the per-voxel work: compiled numba kernels or plain numpy.

The numpy implementation is the reference (the tests' oracle) and the fallback; the numba
kernels compute the same numbers in one fused, multithreaded pass with bounded memory.
The choice, in order of precedence:

1. :func:`use_backend` (a context manager) or :func:`set_backend`;
2. the environment variable ``NAPARI_GMM_BACKEND`` (``cupy``, ``numba`` or ``numpy``);
3. ``cupy`` when CuPy imports and finds a CUDA GPU, else ``numba`` when it can be
   imported, else ``numpy``.

``cupy`` runs the spatial model (log-likelihoods, mean-field sweeps, full-data M-steps,
labels, probability, posteriors) on the GPU (:mod:`._gpu`) and everything else on the
numba kernels (or numpy without numba). numba and CuPy are imported only when first
needed, so importing the package stays fast; without CuPy nothing changes.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from contextlib import contextmanager

#: Known backends.
BACKENDS = ("cupy", "numba", "numpy")
#: Environment variable naming the default backend.
ENV_VAR = "NAPARI_GMM_BACKEND"

_lock = threading.Lock()
_chosen: str | None = None  # set_backend / use_backend; None: environment or default
_gpu: bool | None = None  # whether CuPy imports and finds a GPU (checked once)


def numba_available() -> bool:
    """Whether numba can be imported (without importing it)."""
    return importlib.util.find_spec("numba") is not None


def gpu_available() -> bool:
    """Whether CuPy can be imported and sees at least one CUDA device (checked once)."""
    global _gpu
    if _gpu is None:
        _gpu = False
        if importlib.util.find_spec("cupy") is not None:
            try:
                import cupy

                _gpu = cupy.cuda.runtime.getDeviceCount() > 0
            except Exception:  # noqa: BLE001  (no driver, no device, broken install: no GPU)
                _gpu = False
    return _gpu


def _check(name) -> str:
    if not isinstance(name, str) or name.lower() not in BACKENDS:
        raise ValueError(
            f"backend must be one of {list(BACKENDS)}, got {name!r}. Use 'numpy' for the "
            "reference implementation, 'numba' for the compiled kernels, 'cupy' for a GPU."
        )
    name = name.lower()
    if name == "numba" and not numba_available():
        raise ValueError(
            "The 'numba' backend needs the numba package, which cannot be imported here. "
            "Install numba (pip install numba) or use backend 'numpy'."
        )
    if name == "cupy" and not gpu_available():
        raise ValueError(
            "The 'cupy' backend needs CuPy and a CUDA GPU, which are not available here. "
            'Install the GPU extra (pip install "napari-gmm[gpu]") on a machine with an '
            "NVIDIA GPU, or use backend 'numba'."
        )
    return name


def _default() -> str:
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        try:
            return _check(env)
        except ValueError as err:
            raise ValueError(f"Environment variable {ENV_VAR}={env!r}: {err}") from None
    if gpu_available():
        return "cupy"
    return "numba" if numba_available() else "numpy"


def get_backend() -> str:
    """The backend in use: ``'cupy'``, ``'numba'`` or ``'numpy'``.

    Examples
    --------
    >>> with use_backend("numpy"):
    ...     get_backend()
    'numpy'
    """
    return _chosen if _chosen is not None else _default()


def set_backend(name: str | None) -> None:
    """Choose the backend for the whole process (None: back to the environment/default).

    Parameters
    ----------
    name : {'cupy', 'numba', 'numpy'} or None

    Raises
    ------
    ValueError
        For an unknown name, 'numba' when numba cannot be imported, or 'cupy' without
        CuPy and a GPU.
    """
    global _chosen
    value = None if name is None else _check(name)
    with _lock:
        _chosen = value


@contextmanager
def use_backend(name: str):
    """Context manager running the enclosed code with backend `name`, then restoring.

    The choice is process-wide (not per thread): do not switch backends while another
    thread segments.
    """
    global _chosen
    value = _check(name)
    with _lock:
        previous = _chosen
        _chosen = value
    try:
        yield
    finally:
        with _lock:
            _chosen = previous


def use_numba() -> bool:
    """Whether the compiled CPU kernels should run now (also under 'cupy', for the work
    that does not run on the GPU)."""
    backend = get_backend()
    return backend == "numba" or (backend == "cupy" and numba_available())


def cpu_backend() -> str:
    """The backend of the work that runs on the CPU: ``'numba'`` (also under ``'cupy'``
    when numba imports) or ``'numpy'``."""
    return "numba" if use_numba() else "numpy"


def use_cupy() -> bool:
    """Whether the spatial model should run on the GPU now."""
    return get_backend() == "cupy"
