"""Class-major float32 mean-field Potts sweeps (numba), the CPU twin of the CUDA kernels.

Layout: log-likelihood planes ``lp`` (K, N) and posterior planes ``q`` (K, N), float32, N =
Z * Y * X voxels in C order (2D images have Z = 1). The log-likelihoods are computed once
per mixture (:func:`loglik_planes`, stored relative to each voxel's maximum so that they
cannot underflow and keep float32 precision where it matters) and reused by every sweep.

One sweep (:func:`sweep_planes`) updates every voxel from the previous sweep's planes
(Jacobi order, so the result does not depend on the thread count)::

    q_k  <-  softmax_k( lp_k + s * (w_z (q_k[z-1] + q_k[z+1]) + w_y (...) + w_x (...)) )

with ``s = beta / (weight of the neighbours that exist and are valid)``, exactly the
numpy reference :func:`._meanfield.iter_potts_posteriors`. Work is a row (z, y) at a time:
the neighbour rows are chosen once per row (a zero row outside the volume), the x loop is
branch-free and the first and last voxels of a row are fixed up after it, so numba/LLVM
vectorise it. ``exp`` is :func:`fast_exp` (float32, relative error < 5e-6 at -80, less
nearer 0: the float32 rounding of the argument dominates), which
vectorises where the C library's ``expf`` does not. The sweep also writes the labels
(argmax + 1) and returns how many changed, for the early stop.

:mod:`._gpu_kernels` runs the same arithmetic in CUDA; the tests compare the two.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._nb_estep import KERNEL_LOCK
from ._fast_exp import fast_exp
from ._loglik_planes import BLOCK

#: A parallel task sweeps up to ``ROWS`` rows (y) of up to ``Z_RUN`` consecutive planes
#: (z), plane after plane, so that the rows of the planes above and below are still in
#: cache when they are next needed: each posterior row is read from memory about once per
#: sweep instead of three times (the sweep is bound by memory traffic). The volume is split
#: into tasks of nearly equal size. Jacobi order: the result does not depend on the tasks.
ROWS = 8
Z_RUN = 16

@njit(cache=True, fastmath=True, inline="always")
def _row_neighbours(q, k, base, nx, plane, zi, yi, nz, ny, zero):
    """The four rows next to row (zi, yi) of plane k (a zero row where outside)."""
    zm = q[k, base - plane : base - plane + nx] if zi > 0 else zero
    zp = q[k, base + plane : base + plane + nx] if zi < nz - 1 else zero
    ym = q[k, base - nx : base] if yi > 0 else zero
    yp = q[k, base + nx : base + 2 * nx] if yi < ny - 1 else zero
    return zm, zp, ym, yp


@njit(cache=True, fastmath=True, inline="always")
def _softmax_run(acc, m, top, best, total, valid, base, masked, q_out):
    """Softmax over classes of the logits `acc` (K, >= m) of voxels ``base .. base + m``
    into ``q_out[:, base : base + m]`` (0 where `masked` and not `valid`).

    Leaves the argmax in `best`, ``1 / sum of exponentials`` (0 where not valid) in `total`
    and the exponentials in `acc`; class outer, voxel inner loops on contiguous rows, so
    that they vectorise (reading the logits from a wider array in place kept them from it).
    """
    n_comp = acc.shape[0]
    for x in range(m):
        top[x] = acc[0, x]
        best[x] = 0
        total[x] = 0.0
    for k in range(1, n_comp):
        for x in range(m):
            better = acc[k, x] > top[x]
            top[x] = acc[k, x] if better else top[x]
            best[x] = k if better else best[x]
    for k in range(n_comp):
        for x in range(m):
            e = fast_exp(acc[k, x] - top[x])
            acc[k, x] = e
            total[x] += e
    for x in range(m):
        total[x] = 1.0 / total[x]
        if masked and not valid[base + x]:
            total[x] = 0.0
    for k in range(n_comp):
        out = q_out[k, base : base + m]
        for x in range(m):
            out[x] = acc[k, x] * total[x]


@njit(cache=True, parallel=True, fastmath=True)
def sweep_planes(lp, q_in, q_out, labels, scale, valid, shape, weights, beta, cz, cy, cx):
    """One Jacobi mean-field sweep from `q_in` to `q_out` (K, N); returns how many labels
    changed among the counted voxels: those whose z, y and x have 1 in the uint8 masks
    `cz` (Z,), `cy` (Y,), `cx` (X,) (:mod:`._stop_sample`).

    `labels` (N,) uint8 holds argmax + 1 of the previous sweep (0: invalid) and is updated.
    `scale` (N,) float32 is ``beta / present`` per voxel when some voxels are invalid (then
    `valid` (N,) bool is given too), else both are empty and the scale follows from the
    position (borders only). `shape` (Z, Y, X) int64, `weights` (w_z, w_y, w_x) float32.
    """
    n_comp = lp.shape[0]
    nz, ny, nx = shape[0], shape[1], shape[2]
    plane = ny * nx
    wz, wy, wx = weights[0], weights[1], weights[2]
    masked = scale.shape[0] > 0
    y_blocks = (ny + ROWS - 1) // ROWS
    z_runs = (nz + Z_RUN - 1) // Z_RUN
    n_tasks = y_blocks * z_runs
    changed = np.zeros(n_tasks, dtype=np.int64)
    zero = np.zeros(nx, dtype=np.float32)
    for t in prange(n_tasks):
        z_run = t // y_blocks
        y_block = t - z_run * y_blocks
        acc = np.empty((n_comp, nx), dtype=np.float32)
        top = np.empty(nx, dtype=np.float32)
        best = np.empty(nx, dtype=np.uint8)
        s = np.empty(nx, dtype=np.float32)
        count = 0
        # tasks of (nearly) equal size: prange hands each thread a fixed share of the
        # tasks, so a short last run of planes or rows would leave threads waiting
        y0, y1 = y_block * ny // y_blocks, (y_block + 1) * ny // y_blocks
        z0 = z_run * nz // z_runs
        for r in range(((z_run + 1) * nz // z_runs - z0) * (y1 - y0)):
            zi = z0 + r // (y1 - y0)
            yi = y0 + r % (y1 - y0)
            base = (zi * ny + yi) * nx
            if masked:
                for x in range(nx):
                    s[x] = scale[base + x]
            else:
                row = wz * ((zi > 0) + (zi < nz - 1)) + wy * ((yi > 0) + (yi < ny - 1))
                inner = row + 2 * wx
                for x in range(nx):
                    s[x] = beta / inner
                edge = row + wx
                s[0] = beta / edge if edge > 0 else 0.0
                s[nx - 1] = s[0]
                if nx == 1:
                    s[0] = beta / row if row > 0 else 0.0
            for k in range(n_comp):
                zm, zp, ym, yp = _row_neighbours(q_in, k, base, nx, plane, zi, yi, nz, ny, zero)
                c = q_in[k, base : base + nx]
                a = acc[k]
                for x in range(nx):
                    a[x] = wz * (zm[x] + zp[x]) + wy * (ym[x] + yp[x])
                for x in range(1, nx - 1):
                    a[x] += wx * (c[x - 1] + c[x + 1])
                if nx > 1:
                    a[0] += wx * c[1]
                    a[nx - 1] += wx * c[nx - 2]
                lk = lp[k, base : base + nx]
                for x in range(nx):
                    a[x] = lk[x] + s[x] * a[x]
            _softmax_run(acc, nx, top, best, s, valid, base, masked, q_out)  # s: reused
            counted = np.int64(cz[zi] & cy[yi])
            for x in range(nx):
                lab = np.uint8(best[x] + 1) if s[x] > 0 else np.uint8(0)
                count += np.int64(lab != labels[base + x]) * (counted & cx[x])
                labels[base + x] = lab
        changed[t] = count
    return changed.sum()


@njit(cache=True, parallel=True, fastmath=True)
def plain_planes(lp, q_out, labels, valid):
    """Unregularised posteriors: softmax of `lp` over classes, labels; 0 where not valid.

    Runs over contiguous runs of voxels with the softmax of :func:`sweep_planes`
    (:func:`_softmax_run`).
    """
    n_comp, n = lp.shape
    check = valid.shape[0] > 0
    run = 4096
    for b in prange((n + run - 1) // run):
        lo = b * run
        m = min(n, lo + run) - lo
        acc = np.empty((n_comp, m), dtype=np.float32)
        top = np.empty(m, dtype=np.float32)
        best = np.empty(m, dtype=np.uint8)
        total = np.empty(m, dtype=np.float32)
        for k in range(n_comp):
            acc[k] = lp[k, lo : lo + m]
        _softmax_run(acc, m, top, best, total, valid, lo, check, q_out)
        for x in range(m):
            labels[lo + x] = np.uint8(best[x] + 1) if total[x] > 0 else np.uint8(0)


@njit(cache=True, parallel=True, fastmath=False)
def finish_planes(q, order, out, labels, prob):
    """Pixel-major posteriors `out` (N, K) with columns in `order`, labels and max posterior.

    `out` with no rows: labels and probability only. Voxels whose posteriors are all 0
    (invalid) get label 0 and probability 0; the first maximum wins ties.
    """
    n_comp, n = q.shape
    write = out.shape[0] > 0
    for b in prange((n + BLOCK - 1) // BLOCK):
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            best = 0
            top = q[order[0], i]
            if write:
                out[i, 0] = top
            for k in range(1, n_comp):
                v = q[order[k], i]
                if write:
                    out[i, k] = v
                if v > top:
                    best = k
                    top = v
            labels[i] = best + 1 if top > 0 else 0
            prob[i] = top


def locked(kernel, *args):
    """Run a parallel kernel under the module-wide kernel lock."""
    with KERNEL_LOCK:
        return kernel(*args)
