"""The CUDA kernels' source compiles, without a GPU: NVRTC (the compiler CuPy calls at run
time) turns it into PTX here, so a kernel that would not compile, or whose parameters do
not match what the Python side passes, fails on every machine, not only on one with a GPU.
Skipped where NVRTC is not installed (the ``test`` extra installs it on Linux x86-64)."""

import ctypes
import glob
import importlib.util
import os
import re

import pytest

from napari_gmm.core.potts._gpu_kernels import _TEMPLATES, _TYPES, SOURCE


def _nvrtc():
    spec = importlib.util.find_spec("nvidia.cuda_nvrtc") if importlib.util.find_spec(
        "nvidia") else None
    for folder in [] if spec is None else list(spec.submodule_search_locations):
        for path in sorted(glob.glob(os.path.join(folder, "lib", "libnvrtc.so*"))):
            try:
                return ctypes.CDLL(path)
            except OSError:
                continue
    return None


NVRTC = _nvrtc()
needs_nvrtc = pytest.mark.skipif(NVRTC is None, reason="needs NVRTC (nvidia-cuda-nvrtc-cu12)")


def _compile(source, names, arch="compute_90"):
    """(result code, log, PTX) of NVRTC on `source` with name expressions `names`."""
    prog = ctypes.c_void_p()
    assert NVRTC.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), b"kernels.cu", 0,
                                    None, None) == 0
    try:
        for name in names:
            assert NVRTC.nvrtcAddNameExpression(prog, name.encode()) == 0
        opts = (b"--std=c++14", f"--gpu-architecture={arch}".encode())
        rc = NVRTC.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts))
        size = ctypes.c_size_t()
        NVRTC.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        NVRTC.nvrtcGetProgramLog(prog, log)
        ptx = b""
        if rc == 0:
            NVRTC.nvrtcGetPTXSize(prog, ctypes.byref(size))
            buf = ctypes.create_string_buffer(size.value)
            NVRTC.nvrtcGetPTX(prog, buf)
            ptx = buf.value
        return rc, log.value.decode(errors="replace"), ptx.decode(errors="replace")
    finally:
        NVRTC.nvrtcDestroyProgram(ctypes.byref(prog))


def _entries(ptx):
    """{kernel name: [PTX parameter types]} of the compiled module."""
    found = {}
    for name, params in re.findall(r"\.entry\s+(\w+)\s*\(([^)]*)\)", ptx):
        found[name] = re.findall(r"\.param\s+\.(\w+)", params)
    return found


@needs_nvrtc
@pytest.mark.parametrize("arch", ["compute_80", "compute_90"])
def test_cuda_kernels_compile(arch):
    names = [f"{name}<{ctype}>" for name in _TEMPLATES for ctype in _TYPES.values()]
    rc, log, ptx = _compile(SOURCE, names, arch)
    assert rc == 0, log
    entries = _entries(ptx)
    for name in ("plain", "sweep", "finish", "temper"):  # the extern "C" kernels
        assert name in entries
    for name in _TEMPLATES:  # one instance per features dtype
        assert sum(entry.startswith(f"_Z{len(name)}{name}I") for entry in entries) == 2


#: What :class:`napari_gmm.core.potts._gpu.GpuPlanes` passes to each kernel, as PTX
#: parameter types: device arrays are pointers (u64), np.int64 u64, np.int32 u32,
#: np.float32 f32.
LAUNCHES = {
    # (x, valid, int32(masked), int64(n), int32(K), int32(C), means, prec, const, lp,
    #  ll_blocks, int32(last))
    "loglik": ["u64", "u64", "u32", "u64", "u32", "u32", "u64", "u64", "u64", "u64", "u64",
               "u32"],
    # (lp, q, labels, valid, int32(masked), int64(n), int32(K))
    "plain": ["u64", "u64", "u64", "u64", "u32", "u64", "u32"],
    # (lp, q, spare, labels, scale, valid, int32 masked, int32 nz, ny, nx, int32(K),
    #  *float32 weights (3), float32 beta, counted z, y, x masks, changed)
    "sweep": ["u64"] * 6 + ["u32"] * 5 + ["f32"] * 4 + ["u64"] * 4,
    # (x, q, valid, int32(masked), int64(n), int32(k), int32(c), shift, out)
    "moments": ["u64", "u64", "u64", "u32", "u64", "u32", "u32", "u64", "u64"],
    # (q, order, int64(n), int32(K), labels, prob, post, int32(want_post))
    "finish": ["u64", "u64", "u64", "u32", "u64", "u64", "u64", "u32"],
    # (q, int64(n), int32(K), float32(1 / T))
    "temper": ["u64", "u64", "u32", "f32"],
    # (x, int64(n), int32(c), valid)
    "finite": ["u64", "u64", "u32", "u64"],
}


@needs_nvrtc
def test_kernels_take_what_the_planes_pass():
    names = [f"{name}<{ctype}>" for name in _TEMPLATES for ctype in _TYPES.values()]
    _, _, ptx = _compile(SOURCE, names)
    entries = _entries(ptx)
    for name, params in LAUNCHES.items():
        found = [types for entry, types in entries.items()
                 if entry == name or entry.startswith(f"_Z{len(name)}{name}I")]
        assert found and all(types == params for types in found), (name, found)


@needs_nvrtc
def test_a_broken_kernel_does_not_compile():
    rc, log, _ = _compile(SOURCE + '\nextern "C" __global__ void bad(float* q) { q[0] = x; }\n',
                          [])
    assert rc != 0 and "identifier" in log
