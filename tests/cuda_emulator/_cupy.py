"""The part of CuPy's API the GPU backend uses, on host memory.

Device arrays (:class:`ndarray`) wrap NumPy arrays but, as CuPy's, refuse an implicit
conversion to NumPy (``np.asarray(device_array)`` raises ``TypeError``): host and device
data must be moved explicitly (``get``, ``set``, ``asarray``), so code that would mix them
on a GPU fails here too. Kernels come from :class:`RawModule`, compiled for the CPU by
:mod:`._kernels`. Streams, events and pinned memory keep CuPy's interface; transfers are
synchronous.
"""

from __future__ import annotations

import operator
import types
import weakref

import numpy as np

from . import _kernels

uint8, int32, int64, uint64 = np.uint8, np.int32, np.int64, np.uint64
float32, float64, bool_ = np.float32, np.float64, np.bool_
#: Streaming multiprocessors the emulated device reports.
MULTIPROCESSORS = 2
#: Bytes copied host -> device and device -> host since the emulator was installed.
TRANSFERS = {"to_device": 0, "to_host": 0}
#: Device memory: its size, and the bytes held by live device arrays and at most so far.
MEMORY = {"total": 16 << 30, "live": 0, "peak": 0}


def _moved(direction, nbytes):
    TRANSFERS[direction] += int(nbytes)


def _release(nbytes):
    MEMORY["live"] -= nbytes


def _host(value):
    """The NumPy data of a device array; scalars and NumPy arrays as they are."""
    return value._a if isinstance(value, ndarray) else value


class ndarray:
    """A device array: a NumPy array that is not converted to NumPy implicitly."""

    __array_ufunc__ = None  # NumPy's operators give way to this class's reflected ones

    def __init__(self, data: np.ndarray):
        self._a = data
        if data.base is None and data.nbytes:  # owns its memory: a device allocation
            MEMORY["live"] += data.nbytes
            MEMORY["peak"] = max(MEMORY["peak"], MEMORY["live"])
            weakref.finalize(data, _release, data.nbytes)  # when the buffer is freed

    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    size = property(lambda self: self._a.size)
    ndim = property(lambda self: self._a.ndim)
    nbytes = property(lambda self: self._a.nbytes)
    itemsize = property(lambda self: self._a.itemsize)
    flags = property(lambda self: self._a.flags)

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use "
                        "`.get()` to construct a NumPy array explicitly.")

    def __len__(self):
        return len(self._a)

    def __repr__(self):
        return f"emulated device array({self._a!r})"

    def get(self, stream=None, order="C", out=None, blocking=True):
        _moved("to_host", self.nbytes)
        if out is None:
            return np.array(self._a, order=order)
        if not isinstance(out, np.ndarray) or out.shape != self.shape:
            raise ValueError("Shape mismatch: out must be a NumPy array of the same shape")
        if out.dtype != self.dtype:
            raise TypeError(f"{self.dtype} array cannot be copied to a {out.dtype} array")
        out[...] = self._a
        return out

    def set(self, arr, stream=None):
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray, got {type(arr)}")
        if arr.shape != self.shape:
            raise ValueError(f"Shape mismatch. Old shape: {self.shape}, new shape: {arr.shape}")
        if arr.dtype != self.dtype:
            raise TypeError(f"{arr.dtype} array cannot be set to {self.dtype} array")
        if not self._a.flags.c_contiguous:
            raise RuntimeError("Cannot set to non-contiguous array")
        self._a[...] = arr
        _moved("to_device", arr.nbytes)

    def reshape(self, *shape):
        return ndarray(self._a.reshape(*shape))

    def astype(self, dtype, copy=True):
        return ndarray(self._a.astype(dtype, copy=copy))

    def copy(self):
        return ndarray(self._a.copy())

    def sum(self, axis=None, dtype=None, keepdims=False):
        return ndarray(np.asarray(self._a.sum(axis=axis, dtype=dtype, keepdims=keepdims)))

    def __getitem__(self, key):
        key = tuple(map(_host, key)) if isinstance(key, tuple) else _host(key)
        return ndarray(np.asarray(self._a[key]) if np.ndim(self._a[key]) == 0 else self._a[key])

    def __setitem__(self, key, value):
        key = tuple(map(_host, key)) if isinstance(key, tuple) else _host(key)
        if isinstance(value, np.ndarray):
            _moved("to_device", value.nbytes)
        self._a[key] = _host(value)

    def __int__(self):
        _moved("to_host", self.nbytes)
        return int(self._a)

    def __float__(self):
        _moved("to_host", self.nbytes)
        return float(self._a)

    def __bool__(self):
        _moved("to_host", self.nbytes)
        return bool(self._a)


def _binary(op, reflected=False):
    if reflected:
        return lambda self, other: ndarray(np.asarray(op(_host(other), self._a)))
    return lambda self, other: ndarray(np.asarray(op(self._a, _host(other))))


for _name, _op in {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
                   "truediv": operator.truediv, "and": operator.and_, "or": operator.or_}.items():
    setattr(ndarray, f"__{_name}__", _binary(_op))
    setattr(ndarray, f"__r{_name}__", _binary(_op, reflected=True))
for _name, _op in {"gt": operator.gt, "ge": operator.ge, "lt": operator.lt,
                   "le": operator.le, "eq": operator.eq, "ne": operator.ne}.items():
    setattr(ndarray, f"__{_name}__", _binary(_op))
ndarray.__neg__ = lambda self: ndarray(-self._a)
ndarray.__invert__ = lambda self: ndarray(~self._a)


def asarray(a, dtype=None):
    if isinstance(a, ndarray):
        return a if dtype is None or a.dtype == dtype else a.astype(dtype)
    out = ndarray(np.array(a, dtype=dtype, order="C"))
    _moved("to_device", out.nbytes)
    return out


array = asarray


def empty(shape, dtype=np.float64):
    return ndarray(np.full(shape, np.nan if np.dtype(dtype).kind == "f" else 0xAB, dtype))


def zeros(shape, dtype=np.float64):
    return ndarray(np.zeros(shape, dtype))


def ones(shape, dtype=np.float64):
    return ndarray(np.ones(shape, dtype))


def empty_like(a, dtype=None):
    return empty(a.shape, a.dtype if dtype is None else dtype)


def zeros_like(a, dtype=None):
    return zeros(a.shape, a.dtype if dtype is None else dtype)


def where(condition, x, y):
    return ndarray(np.where(_host(condition), _host(x), _host(y)))


class Event:
    def synchronize(self):
        return None


class Stream:
    def __init__(self, null=False, non_blocking=False, ptds=False):
        self.non_blocking = non_blocking

    def record(self, event=None):
        return Event() if event is None else event

    def synchronize(self):
        return None


class Device:
    def __init__(self, device=None):
        self.id = 0 if device is None else int(device)
        self.attributes = {"MultiProcessorCount": MULTIPROCESSORS}

    @property
    def mem_info(self):
        """(free, total) bytes: the emulated device's size less its live arrays."""
        return max(0, MEMORY["total"] - MEMORY["live"]), MEMORY["total"]

    def synchronize(self):
        return None


class RawModule:
    """Kernels of CUDA C++ source, compiled for the CPU (:mod:`._kernels`)."""

    def __init__(self, code="", options=(), name_expressions=None, **kwargs):
        names = list(name_expressions or ())
        instances = {}
        for expr in names:
            if "<" in expr:
                base, ctype = expr[:-1].split("<", 1)
                instances.setdefault(base, []).append(ctype)
        self._names = set(names)
        self._dll, self._table = _kernels.build(code, instances)

    def get_function(self, name):
        if "<" in name and name not in self._names:
            raise RuntimeError(f"{name} is not among the name expressions of the module")
        if name not in self._table:
            raise RuntimeError(f"no kernel {name} in the module")
        return RawKernel(name, *self._table[name])


def _pointer(arg):
    if isinstance(arg, ndarray):
        return arg._a.ctypes.data, arg.dtype, arg._a.flags.c_contiguous
    return None


class RawKernel:
    def __init__(self, name, entry, params):
        self.name, self._entry, self._params = name, entry, params

    def __call__(self, grid, block, args, *, shared_mem=0, stream=None):
        _kernels.launch(self.name, self._entry, self._params, grid, block, tuple(args),
                        _pointer)


def _correlate(input, weights, output=None, mode="reflect", cval=0.0, origin=0):
    from scipy import ndimage

    if not isinstance(input, ndarray) or not isinstance(weights, ndarray):
        raise TypeError("cupyx.scipy.ndimage.correlate takes device arrays")
    return ndarray(ndimage.correlate(input._a, weights._a, mode=mode, cval=cval, origin=origin))


def modules() -> dict:
    """{module name: module} of an emulated ``cupy`` and ``cupyx.scipy.ndimage``."""
    import importlib.machinery
    import sys

    this = sys.modules[__name__]
    made = {}
    for name in ("cupy", "cupy.cuda", "cupy.cuda.runtime", "cupyx", "cupyx.scipy",
                 "cupyx.scipy.ndimage"):
        module = types.ModuleType(name, "Emulated on the CPU (tests/cuda_emulator).")
        module.__spec__ = importlib.machinery.ModuleSpec(name, None)
        made[name] = module
    for name in ("ndarray", "asarray", "array", "empty", "zeros", "ones", "empty_like",
                 "zeros_like", "where", "RawModule", "RawKernel", "uint8", "int32", "int64",
                 "uint64", "float32", "float64", "bool_"):
        setattr(made["cupy"], name, getattr(this, name))
    cuda, runtime = made["cupy.cuda"], made["cupy.cuda.runtime"]
    cuda.Stream, cuda.Event, cuda.Device = Stream, Event, Device
    cuda.alloc_pinned_memory = bytearray
    cuda.get_current_stream = Stream
    cuda.runtime = runtime
    pool = types.SimpleNamespace(free_bytes=lambda: 0, free_all_blocks=lambda: None)
    made["cupy"].get_default_memory_pool = lambda: pool
    runtime.getDeviceCount = lambda: 1
    runtime.getDeviceProperties = lambda device: {"name": b"emulated CUDA device (CPU)"}
    made["cupy"].cuda = cuda
    made["cupyx"].scipy = made["cupyx.scipy"]
    made["cupyx.scipy"].ndimage = made["cupyx.scipy.ndimage"]
    made["cupyx.scipy.ndimage"].correlate = _correlate
    return made
