"""Log-likelihood planes of a mixture (numba), and its log-likelihood from the same pass.

The planes ``lp`` (K, N) float32 hold each voxel's weighted log-probabilities relative to
its maximum (so that they cannot underflow and keep float32 precision where it matters);
:mod:`._planes_kernels` sweeps them. :mod:`._gpu_kernels` has the CUDA twin.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._nb_runs import RUN, ll_run, relative_run
from ._fast_exp import fast_exp64

#: Voxels per parallel task (fixed, so sums do not depend on the thread count).
BLOCK = 1 << 14


@njit(cache=True, parallel=True, fastmath=False)
def loglik_planes(features, valid, means, prec, const, lp, ll_blocks):
    """Weighted log-probabilities minus their per-voxel maximum, into `lp` (K, N) float32.

    `valid` (N,) bool or empty (all valid); invalid voxels get 0 in every plane. When
    `ll_blocks` has one slot per block of ``BLOCK`` voxels (else it is empty), each slot
    gets its block's log-likelihood sum ``sum_i max_k z_ik + log sum_k exp(z_ik - max)``
    in float64 (the value of :func:`.._nb_estep.estep_kernel`, whose pass over the image
    this saves). Work goes a run of voxels at a time: ``z - max`` (K, run) in float64
    (:func:`.._nb_runs.relative_run`, as the E-step :func:`.._nb_estep.estep_kernel`),
    then the float32 planes and the sum.
    """
    n = features.shape[0]
    n_comp, n_chan = means.shape
    want_ll = ll_blocks.shape[0] > 0
    for b in prange((n + BLOCK - 1) // BLOCK):
        z = np.empty(n_comp)
        d = np.empty(n_chan)
        rel = np.empty((n_comp, RUN))
        tops = np.empty(RUN)
        acc = 0.0
        hi = min(n, (b + 1) * BLOCK)
        for lo in range(b * BLOCK, hi, RUN):
            m = min(hi, lo + RUN) - lo
            relative_run(features, valid, lo, m, means, prec, const, rel, tops, z, d)
            _store_run(rel, valid, lo, m, lp)
            if want_ll:
                acc = _add_run(rel, tops, valid, lo, m, acc)
        if want_ll:
            ll_blocks[b] = acc


@njit(cache=True, fastmath=True)
def _store_run(rel, valid, lo, m, lp):
    """The float32 planes of a run from ``z - max`` (0 where not valid)."""
    check = valid.shape[0] > 0
    for k in range(rel.shape[0]):
        rk = rel[k]
        out = lp[k, lo : lo + m]
        for x in range(m):
            out[x] = rk[x] if not check or valid[lo + x] else 0.0


@njit(cache=True, fastmath=True)
def _add_run(rel, tops, valid, lo, m, acc):
    """`acc` plus ``tops_i + log sum_k exp(rel[k, i])`` over the valid voxels of a run
    (:func:`.._nb_runs.ll_run` of the sums of exponentials)."""
    n_comp = rel.shape[0]
    total = np.zeros(m)
    for k in range(n_comp):
        rk = rel[k]
        for x in range(m):
            total[x] += fast_exp64(rk[x])
    return acc + ll_run(tops, total, valid, lo, m)
