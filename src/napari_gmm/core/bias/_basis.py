"""A smooth basis for bias fields: Legendre polynomials of bounded total degree.

Every spatial axis is mapped to ``[-1, 1]`` (first pixel to last) and the basis holds the
products ``P_a(x_0) P_b(x_1) ...`` of Legendre polynomials with ``a + b + ... <= order``.
This spans exactly the polynomials of total degree `order` in the pixel coordinates (or in
physical coordinates: mapping each axis affinely does not change that space, so a pixel
size never changes the fitted field), and Legendre polynomials keep the least-squares
problems well conditioned where monomials would not.

The basis is evaluated on a seeded sample of pixels (the field fit) and, once, on the full
grid: axis by axis, so the grid costs one pass over the output and a few small
temporaries, never one array per basis function.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.polynomial import legendre

#: Pixels of the full grid filled per step of :meth:`PolynomialBasis.evaluate`.
GRID_ROWS = 1 << 20


def axis_coordinates(n: int) -> np.ndarray:
    """The coordinates of `n` pixels along one axis, from -1 to 1 (0 for a single pixel)."""
    return np.linspace(-1.0, 1.0, n) if n > 1 else np.zeros(1)


class PolynomialBasis:
    """Tensor-product Legendre basis of total degree <= `order` on a spatial grid.

    Parameters
    ----------
    spatial_shape : tuple of int
        The image's spatial shape (no channel axis).
    order : int
        Largest total degree.

    Examples
    --------
    >>> basis = PolynomialBasis((4, 5), order=2)
    >>> basis.terms
    ((0, 0), (0, 1), (1, 0), (0, 2), (1, 1), (2, 0))
    >>> basis.evaluate(np.eye(1, basis.n_terms)[0]).shape   # the constant 1
    (4, 5)
    """

    def __init__(self, spatial_shape, order: int):
        self.spatial_shape = tuple(int(n) for n in spatial_shape)
        self.order = int(order)
        ndim = len(self.spatial_shape)
        terms = [t for t in itertools.product(range(self.order + 1), repeat=ndim)
                 if sum(t) <= self.order]
        # constant first, then by total degree: a lower order is a prefix of a higher one
        self.terms = tuple(sorted(terms, key=lambda t: (sum(t), t)))
        self._vander = [
            legendre.legvander(axis_coordinates(n), self.order) for n in self.spatial_shape
        ]

    @property
    def n_terms(self) -> int:
        return len(self.terms)

    def design(self, flat_index: np.ndarray) -> np.ndarray:
        """The basis at the pixels of C-order flat indices: (n, n_terms) float64."""
        coords = np.unravel_index(np.asarray(flat_index), self.spatial_shape)
        rows = [v[c] for v, c in zip(self._vander, coords, strict=True)]  # (n, order + 1)
        out = np.empty((len(flat_index), self.n_terms))
        for j, term in enumerate(self.terms):
            col = rows[0][:, term[0]].copy()
            for axis in range(1, len(term)):
                col *= rows[axis][:, term[axis]]
            out[:, j] = col
        return out

    def evaluate(self, coef, dtype=np.float64) -> np.ndarray:
        """``sum_j coef[j] * basis_j`` on every pixel of the grid, shape `spatial_shape`."""
        coef = np.asarray(coef, dtype=np.float64)
        if coef.shape != (self.n_terms,):
            raise ValueError(f"coef must have {self.n_terms} values, got shape {coef.shape}.")
        ndim = len(self.spatial_shape)
        tensor = np.zeros((self.order + 1,) * ndim)
        for c, term in zip(coef, self.terms, strict=True):
            tensor[term] = c
        # contract the trailing axes once: (order + 1, n_1, ..., n_{d-1})
        rest = tensor
        for axis in range(ndim - 1, 0, -1):
            rest = np.tensordot(rest, self._vander[axis], axes=([axis], [1]))
            rest = np.moveaxis(rest, -1, axis)
        first = self._vander[0]
        out = np.empty(self.spatial_shape, dtype=dtype)
        plane = max(1, int(np.prod(self.spatial_shape[1:])))
        step = max(1, GRID_ROWS // plane)
        for start in range(0, self.spatial_shape[0], step):
            stop = min(start + step, self.spatial_shape[0])
            out[start:stop] = np.tensordot(first[start:stop], rest, axes=([1], [0]))
        return out
