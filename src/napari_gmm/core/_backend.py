"""Which implementation runs the per-voxel work: compiled numba kernels or plain numpy.

The numpy implementation is the reference (the tests' oracle) and the fallback; the numba
kernels compute the same numbers in one fused, multithreaded pass with bounded memory.
The choice, in order of precedence:

1. :func:`use_backend` (a context manager) or :func:`set_backend`;
2. the environment variable ``NAPARI_GMM_BACKEND`` (``numba`` or ``numpy``), read once;
3. ``numba`` when it can be imported, else ``numpy``.

numba itself is imported only when a kernel first runs, so importing the package stays fast.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from contextlib import contextmanager

#: Known backends.
BACKENDS = ("numba", "numpy")
#: Environment variable naming the default backend.
ENV_VAR = "NAPARI_GMM_BACKEND"

_lock = threading.Lock()
_chosen: str | None = None  # set_backend / use_backend; None: environment or default


def numba_available() -> bool:
    """Whether numba can be imported (without importing it)."""
    return importlib.util.find_spec("numba") is not None


def _check(name) -> str:
    if not isinstance(name, str) or name.lower() not in BACKENDS:
        raise ValueError(
            f"backend must be one of {list(BACKENDS)}, got {name!r}. Use 'numpy' for the "
            "reference implementation, 'numba' for the compiled kernels."
        )
    name = name.lower()
    if name == "numba" and not numba_available():
        raise ValueError(
            "The 'numba' backend needs the numba package, which cannot be imported here. "
            "Install numba (pip install numba) or use backend 'numpy'."
        )
    return name


def _default() -> str:
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        try:
            return _check(env)
        except ValueError as err:
            raise ValueError(f"Environment variable {ENV_VAR}={env!r}: {err}") from None
    return "numba" if numba_available() else "numpy"


def get_backend() -> str:
    """The backend in use: ``'numba'`` or ``'numpy'``.

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
    name : {'numba', 'numpy'} or None

    Raises
    ------
    ValueError
        For an unknown name, or 'numba' when numba cannot be imported.
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
    """Whether the compiled kernels should run now."""
    return get_backend() == "numba"
