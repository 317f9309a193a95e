"""Drive the class-major sweeps (:mod:`._planes_kernels`) for the spatial prior.

The numba route of :func:`._meanfield.potts_posteriors` and :func:`._hmrf_rounds.iter_hmrf_em`:
images of 1 to 3 spatial axes are viewed as (Z, Y, X) volumes; log-likelihoods and
posteriors are (K, N) float32 planes. Memory: the log-likelihood planes, two posterior
planes and a uint8 label map (12 K + 1 bytes per voxel), plus a float32 scale map and the
mask when some voxels are invalid. At the end the posteriors are written pixel-major
(N, K) into the log-likelihood buffer, so no further buffer is allocated.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .._nb_estep import kernel_params
from ._loglik_planes import BLOCK, loglik_planes
from ._planes_kernels import finish_planes, locked, plain_planes, sweep_planes
from ._stop_sample import count_axes, n_counted, volume_masks

#: Most classes the planes route handles (labels are uint8 inside the sweeps).
MAX_CLASSES = 254

_EMPTY_BOOL = np.zeros(0, dtype=bool)
_EMPTY_F32 = np.zeros(0, dtype=np.float32)


def volume_shape(spatial_shape) -> np.ndarray:
    """(3,) int64 (Z, Y, X) view of a spatial shape of 1 to 3 axes."""
    return np.array((1,) * (3 - len(spatial_shape)) + tuple(spatial_shape), dtype=np.int64)


def present_scale(ok, kernel, beta) -> np.ndarray:
    """``beta / (weight of the valid face neighbours)`` per voxel, float32 (0 if none).

    The same arithmetic as the numpy reference (:func:`._meanfield.iter_potts_posteriors`).
    """
    present = ndimage.correlate(ok.astype(np.float32), kernel, mode="constant")
    return np.divide(beta, present, out=np.zeros_like(present), where=present > 0)


class Planes:
    """Posterior planes of one image under a Potts prior, swept in place.

    Parameters
    ----------
    ok : bool array of the spatial shape, or None when every voxel is valid
    spatial_shape : tuple of int (1 to 3 axes)
    n_classes : int
    kernel : ndarray
        The :func:`._neighbours.neighbour_kernel` of the image.
    axis_weights : tuple of float
        Weight of the two face neighbours along each spatial axis.
    beta : float
        Potts coupling in nats.
    count : list of uint8 arrays, optional
        Per spatial axis, 1 where the early stop counts changed labels
        (:func:`._stop_sample.count_axes` of the shape by default).
    """

    def __init__(self, ok, spatial_shape, n_classes, kernel, axis_weights, beta, count=None):
        n = int(np.prod(spatial_shape))
        self.spatial_shape = tuple(spatial_shape)
        self.shape = volume_shape(spatial_shape)
        pad = 3 - len(spatial_shape)
        self.weights = np.array((0.0,) * pad + tuple(axis_weights), dtype=np.float32)
        self.beta = np.float32(beta)
        if ok is None or ok.all():
            self.valid, self.scale, self.n_valid = _EMPTY_BOOL, _EMPTY_F32, n
        else:
            self.valid = np.ascontiguousarray(ok, dtype=bool).reshape(-1)
            self.scale = present_scale(ok, kernel, beta).reshape(-1) if beta > 0 else _EMPTY_F32
            self.n_valid = int(self.valid.sum())
        count = count_axes(spatial_shape) if count is None else count
        self.count = volume_masks(count)
        #: Valid voxels the early stop counts; labels changed in the last sweep among them.
        self.n_counted = n_counted(count, None if ok is None or ok.all() else ok)
        self.last_changed = 0
        self.lp = np.empty((n_classes, n), dtype=np.float32)
        self.q = np.empty_like(self.lp)
        self.spare = None
        self.labels = np.zeros(n, dtype=np.uint8)
        self.log_likelihood = None

    def set_model(self, gmm, features, last=False) -> None:
        """Log-likelihood planes of mixture `gmm` from pixel features (N, C).

        With `last` (the final mixture), also its mean log-likelihood over the valid voxels
        (:attr:`log_likelihood`), from the same pass.
        """
        blocks = np.zeros(-(-self.lp.shape[1] // BLOCK) if last else 0)
        locked(loglik_planes, features, self.valid, *kernel_params(gmm), self.lp, blocks)
        if last:
            self.log_likelihood = float(blocks.sum()) / self.n_valid

    def set_log_prob(self, log_prob) -> None:
        """Log-likelihood planes from given log-probabilities (N, K) (finite where valid)."""
        lp = np.asarray(log_prob, dtype=np.float32)
        self.lp[...] = lp.T
        if self.valid.size:
            self.lp[:, ~self.valid] = 0.0
        self.lp -= self.lp.max(axis=0)

    def plain(self) -> None:
        """Posteriors and labels without the prior."""
        locked(plain_planes, self.lp, self.q, self.labels, self.valid)

    def start_from(self, q_rows) -> None:
        """Start from given posteriors (N, K) (e.g. a previous round)."""
        self.q[...] = np.asarray(q_rows, dtype=np.float32).T
        if self.valid.size:
            self.q[:, ~self.valid] = 0.0
        self.labels[...] = self.q.argmax(axis=0) + 1
        if self.valid.size:
            self.labels[~self.valid] = 0

    def iter_sweeps(self, n_iter, stop_changed=None):
        """Generator: up to `n_iter` sweeps; yields after each; returns the number run.

        With `stop_changed`, stops after the first sweep in which fewer than that fraction
        of the counted valid voxels (:attr:`n_counted`) changed label.
        """
        if self.spare is None:
            self.spare = np.empty_like(self.q)
        for sweep in range(int(n_iter)):
            changed = locked(
                sweep_planes, self.lp, self.q, self.spare, self.labels, self.scale,
                self.valid if self.scale.size else _EMPTY_BOOL, self.shape, self.weights,
                self.beta, *self.count,
            )
            self.last_changed = int(changed)
            self.q, self.spare = self.spare, self.q
            yield
            if stop_changed is not None and changed < stop_changed * self.n_counted:
                return sweep + 1
        return int(n_iter)

    def full_mstep(self, gmm, features) -> None:
        """M-step of `gmm` in place from every valid voxel (:mod:`._moments`)."""
        from ._moments import cpu_moments, update_from_moments

        shift = np.asarray(gmm.means_, dtype=np.float64)
        valid = self.valid if self.valid.size else None
        moments = cpu_moments(features, self.q, valid, shift)
        update_from_moments(gmm, moments, shift, self.n_valid)

    def posterior_block(self, box) -> np.ndarray:
        """The posteriors of the block `box` (slices of the spatial shape), pixel-major
        (*block, K): a view (the GPU twin copies only the block to the host)."""
        q = self.q.reshape(self.q.shape[0], *self.spatial_shape)[(slice(None), *box)]
        return np.moveaxis(q, 0, -1)

    def temper(self, temperature) -> None:
        """Temper the posteriors in place (``q^(1/T)`` renormalised; labels kept)."""
        if temperature != 1.0:
            from ._temper_kernel import temper_planes_kernel

            locked(temper_planes_kernel, self.q, 1.0 / float(temperature))

    def finish(self, order, label_dtype, posteriors=True):
        """Labels, max posterior and pixel-major posteriors (N, K) with columns in `order`
        (None without `posteriors`).

        The posteriors are written into the log-likelihood buffer, which is given up.
        """
        k, n = self.q.shape
        out = self.lp.reshape(n, k) if posteriors else np.zeros((0, k), np.float32)
        self.lp, self.spare = None, None
        labels = np.empty(n, dtype=label_dtype)
        prob = np.empty(n, dtype=np.float32)
        locked(finish_planes, self.q, np.ascontiguousarray(order, dtype=np.int64), out,
               labels, prob)
        self.q = None
        return labels, prob, (out if posteriors else None)


def iter_hmrf_planes(planes, gmm, features, counts, stop, sweeps, mstep=None):
    """HMRF-EM on planes (:class:`Planes` or the GPU's): yields after each sweep.

    `counts` is ``(n_rounds, n_sweeps)``. The M-step uses every valid voxel, or is
    ``mstep(gmm, planes)`` when given (e.g. on a subsample). `gmm` is updated in place;
    the sweeps run per round are appended to `sweeps` (a list or None).
    """
    n_rounds, n_iter = counts
    planes.set_model(gmm, features, last=n_rounds == 0)
    planes.plain()
    for r in range(n_rounds + 1):
        if r > 0:
            if mstep is None:
                planes.full_mstep(gmm, features)
            else:
                mstep(gmm, planes)
            planes.set_model(gmm, features, last=r == n_rounds)
            if planes.beta == 0:
                planes.plain()
        if planes.beta > 0 and n_iter > 0:
            run = yield from planes.iter_sweeps(n_iter, stop)
            if sweeps is not None:
                sweeps.append(run)
