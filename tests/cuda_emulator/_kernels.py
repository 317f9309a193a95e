"""CUDA kernels run on the CPU: the kernels' CUDA C++ source, compiled by the host's C++
compiler, with one emulated thread per CUDA thread.

The source is compiled unchanged behind a prelude that defines what CUDA adds to C++
(``__global__``, ``__shared__``, ``threadIdx``/``blockIdx``/``blockDim``/``gridDim``,
``__syncthreads``, ``__syncthreads_count``, ``__shfl_down_sync``, ``atomicAdd``). The
blocks of a launch run one after another. Kernels with no block-level collective run
their threads in a loop; the others run each thread of a block as a fiber (``ucontext``)
that yields at every barrier, so shared memory, barrier counts and warp shuffles see every
thread of the block as on a GPU. Atomics are plain additions (one thread runs at a time).

A launch checks its arguments as a GPU would need them: a pointer parameter takes a
C-contiguous device array of the pointer's element type, a scalar parameter a NumPy scalar
of exactly its type (CuPy passes a scalar's bytes as they are, so an ``int64`` given to an
``int`` parameter would be misread on a GPU). The emulator raises ``TypeError`` instead.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading

import numpy as np

PRELUDE = r"""
#include <setjmp.h>
#include <ucontext.h>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>
using std::isfinite;
#define __global__
#define __device__
#define __shared__ static
struct EmuDim { unsigned x, y, z; };
namespace emu {
// Fibers: entered once through ucontext (their own stacks), then switched with
// _setjmp/_longjmp, which do not save the signal mask (no system call per switch).
const size_t STACK = 64 * 1024;
struct Jump { jmp_buf at; };
struct Block {
    EmuDim block{0, 0, 0}, dim{1, 1, 1}, grid{1, 1, 1};
    int n = 0, current = 0;
    std::vector<EmuDim> tid;
    std::vector<ucontext_t> ctx;
    std::vector<Jump> jump;
    std::vector<char> stacks, started;
    std::vector<int> state;  // 0 ready, 1 at a barrier, 2 done with the block
    std::vector<unsigned long long> slots;  // one shuffle value per thread
    long long count_in = 0, count_out = 0;
    ucontext_t entry;
    jmp_buf main;
    const std::function<void()>* body = nullptr;
};
static Block B;
static void yield_to_main(int state) {
    int t = B.current;
    B.state[t] = state;
    if (!_setjmp(B.jump[t].at)) _longjmp(B.main, 1);
}
static void barrier() { yield_to_main(1); }
static void fiber() {
    for (;;) {  // one block per turn; the fiber lives until the launch ends
        (*B.body)();
        yield_to_main(2);
    }
}
static void resume(int t) {
    B.current = t;
    if (_setjmp(B.main)) return;
    if (B.started[t]) _longjmp(B.jump[t].at, 1);
    B.started[t] = 1;
    swapcontext(&B.entry, &B.ctx[t]);
}
static void run_block() {
    for (int t = 0; t < B.n; ++t) B.state[t] = 0;
    B.count_in = 0;
    for (;;) {
        for (int t = 0; t < B.n; ++t) if (B.state[t] == 0) resume(t);
        int waiting = 0;
        for (int t = 0; t < B.n; ++t) waiting += B.state[t] == 1;
        if (!waiting) return;
        B.count_out = B.count_in;  // every live thread is at the barrier: release it
        B.count_in = 0;
        for (int t = 0; t < B.n; ++t) if (B.state[t] == 1) B.state[t] = 0;
    }
}
static int run_grid(long long gx, int bx, bool fibers, const std::function<void()>& body) {
    B.n = bx;
    B.dim = {(unsigned)bx, 1, 1};
    B.grid = {(unsigned)gx, 1, 1};
    B.body = &body;
    B.tid.resize(bx);
    for (int t = 0; t < bx; ++t) B.tid[t] = {(unsigned)t, 0, 0};
    if (fibers) {
        B.ctx.resize(bx);
        B.jump.resize(bx);
        B.stacks.resize((size_t)bx * STACK);
        B.started.assign(bx, 0);
        B.state.resize(bx);
        B.slots.resize(bx);
        for (int t = 0; t < bx; ++t) {
            getcontext(&B.ctx[t]);
            B.ctx[t].uc_stack.ss_sp = &B.stacks[t * STACK];
            B.ctx[t].uc_stack.ss_size = STACK;
            B.ctx[t].uc_link = nullptr;  // fibers never return
            makecontext(&B.ctx[t], fiber, 0);
        }
    }
    for (long long b = 0; b < gx; ++b) {
        B.block = {(unsigned)b, 0, 0};
        if (fibers) {
            run_block();
        } else {
            for (int t = 0; t < bx; ++t) { B.current = t; body(); }
        }
    }
    return 0;
}
}  // namespace emu
#define threadIdx (emu::B.tid[emu::B.current])
#define blockIdx (emu::B.block)
#define blockDim (emu::B.dim)
#define gridDim (emu::B.grid)
static inline void __syncthreads() { emu::barrier(); }
static inline int __syncthreads_count(int predicate) {
    emu::B.count_in += predicate != 0;
    emu::barrier();
    return (int)emu::B.count_out;
}
template <typename T>
static inline T __shfl_down_sync(unsigned, T value, unsigned offset) {
    static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
    int t = emu::B.current;
    std::memcpy(&emu::B.slots[t], &value, sizeof(T));
    emu::barrier();
    T out = value;
    if ((t & 31) + (int)offset < 32 && t + (int)offset < emu::B.n)
        std::memcpy(&out, &emu::B.slots[t + offset], sizeof(T));
    emu::barrier();
    return out;
}
template <typename T>
static inline T atomicAdd(T* address, T value) {
    T old = *address;
    *address = old + value;
    return old;
}
"""

#: C types of kernel parameters -> NumPy dtypes.
C_TYPES = {
    "float": np.float32, "double": np.float64, "int": np.int32, "unsigned int": np.uint32,
    "long long": np.int64, "unsigned long long": np.uint64, "unsigned char": np.uint8,
}
_CTYPES = {
    np.float32: ctypes.c_float, np.float64: ctypes.c_double, np.int32: ctypes.c_int32,
    np.uint32: ctypes.c_uint32, np.int64: ctypes.c_int64, np.uint64: ctypes.c_uint64,
    np.uint8: ctypes.c_uint8,
}
_KERNEL = re.compile(r'(template\s*<typename T>\s*)?(?:extern "C"\s+)?__global__\s+void\s+'
                     r"(\w+)\s*\(([^)]*)\)\s*\{")
_LOCK = threading.Lock()  # one launch at a time: the emulated block state is global


class Param:
    """One kernel parameter: its declared C type, pointer or not, and its NumPy dtype."""

    def __init__(self, text: str, ctype: str):
        decl = text.replace("__restrict__", " ").replace("const", " ")
        self.pointer = "*" in decl
        words = decl.replace("*", " ").split()[:-1]  # drop the parameter's name
        base = " ".join(words).replace("T", ctype) if words == ["T"] else " ".join(words)
        self.ctype = base
        self.dtype = np.dtype(C_TYPES[base])
        self.cast = text.rsplit(None, 1)[0].replace("__restrict__", "").replace(
            "T*", f"{ctype}*").strip()
        self.name = text.split()[-1].lstrip("*")


def _body(source: str, start: int) -> str:
    """The text of the function body whose opening brace ends at `start`."""
    depth, i = 1, start
    while depth:
        depth += {"{": 1, "}": -1}.get(source[i], 0)
        i += 1
    return source[start:i]


def kernels(source: str, instances):
    """{launch name: (symbol, params, collective)} of `source`'s kernels; templated kernels
    once per C type of `instances` ({kernel name: [C types]})."""
    found = {}
    for match in _KERNEL.finditer(source):
        template, name, params = match.group(1), match.group(2), match.group(3)
        collective = bool(re.search(r"__syncthreads|__shfl", _body(source, match.end())))
        for ctype in instances.get(name, ["float"]) if template else [None]:
            items = [Param(p.strip(), ctype or "") for p in params.split(",")]
            key = f"{name}<{ctype}>" if template else name
            call = f"{name}<{ctype}>" if template else name
            found[key] = (call, items, collective)
    return found


def wrappers(found) -> str:
    """C entry points ``emu_<n>(grid, block, args)`` launching each kernel."""
    out = []
    for i, (call, params, collective) in enumerate(found.values()):
        args = ", ".join(f"*({p.cast}*)a[{j}]" for j, p in enumerate(params))
        out.append(
            f'extern "C" int emu_{i}(long long gx, int bx, void** a) {{\n'
            f"    std::function<void()> body = [&]() {{ {call}({args}); }};\n"
            f"    return emu::run_grid(gx, bx, {str(collective).lower()}, body);\n}}\n"
        )
    return "\n".join(out)


def compiler() -> str | None:
    """The host C++ compiler, or None."""
    return os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")


def build(source: str, instances) -> tuple[ctypes.CDLL, dict]:
    """Compile `source` for the CPU (cached by content); returns the library and
    {launch name: (entry point, params)}."""
    found = kernels(source, instances)
    text = PRELUDE + source + "\n" + wrappers(found)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    folder = os.path.join(tempfile.gettempdir(), "cuda-emulator")
    os.makedirs(folder, exist_ok=True)
    lib = os.path.join(folder, f"{digest}.so")
    if not os.path.exists(lib):
        src = os.path.join(folder, f"{digest}.cpp")
        with open(src, "w") as handle:
            handle.write(text)
        tmp = f"{lib}.{os.getpid()}.tmp"
        # no _FORTIFY_SOURCE: its longjmp check refuses the jumps between fiber stacks
        flags = ["-O2", "-std=c++14", "-U_FORTIFY_SOURCE", "-shared", "-fPIC", "-w"]
        done = subprocess.run([compiler(), *flags, "-o", tmp, src], capture_output=True,
                              text=True)
        if done.returncode:
            raise RuntimeError(f"the kernels do not compile for the CPU:\n{done.stderr}")
        os.replace(tmp, lib)
    dll = ctypes.CDLL(lib)
    table = {}
    for i, (key, (_, params, _)) in enumerate(found.items()):
        entry = getattr(dll, f"emu_{i}")
        entry.argtypes = [ctypes.c_longlong, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p)]
        table[key] = (entry, params)
    return dll, table


def launch(name, entry, params, grid, block, args, pointer_of) -> None:
    """Run kernel `name` over `grid` x `block` threads with `args`, checked against
    `params`; `pointer_of(arg)` gives a device array's (address, dtype, contiguous) or
    None for anything else."""
    if len(args) != len(params):
        raise TypeError(f"kernel {name} takes {len(params)} arguments, got {len(args)}")
    keep = []
    for j, (arg, param) in enumerate(zip(args, params, strict=True)):
        where = f"kernel {name}, parameter {j} ({param.ctype}{'*' if param.pointer else ''} "
        where += f"{param.name})"
        device = pointer_of(arg)
        if param.pointer:
            if device is None:
                raise TypeError(f"{where}: needs a device array, got {type(arg).__name__}")
            address, dtype, contiguous = device
            if dtype != param.dtype or not contiguous:
                raise TypeError(f"{where}: needs a C-contiguous {param.dtype} device array, "
                                f"got {dtype}{'' if contiguous else ' (not contiguous)'}")
            keep.append(ctypes.c_void_p(address))
            continue
        if isinstance(arg, bool) or device is not None:
            raise TypeError(f"{where}: got {type(arg).__name__}")
        value = np.int64(arg) if isinstance(arg, int) else (
            np.float64(arg) if isinstance(arg, float) else arg)  # as CuPy converts them
        if not isinstance(value, np.generic) or value.dtype != param.dtype:
            got = value.dtype if isinstance(value, np.generic) else type(arg).__name__
            raise TypeError(f"{where}: needs a {param.dtype} scalar, got {got} (a GPU would "
                            "read its bytes as the parameter's type)")
        keep.append(_CTYPES[param.dtype.type](value.item()))
    pointers = (ctypes.c_void_p * max(1, len(keep)))(*[ctypes.addressof(k) for k in keep])
    n_blocks, n_threads = int(np.prod(grid)), int(np.prod(block))
    with _LOCK:
        entry(n_blocks, n_threads, pointers)
