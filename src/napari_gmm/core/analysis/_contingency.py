"""Sparse contingency tables and the optimal label matching on them.

Label images of instance segmentations have tens of thousands of ids: a dense table of
50,000 x 40,000 ids would take 15 GiB while only a few hundred thousand cells are non-zero.
The table is kept sparse (scikit-learn's ``contingency_matrix(sparse=True)``) and the
Hungarian matching (scipy's ``linear_sum_assignment``, which needs a dense matrix) runs on
each connected block of the overlap graph separately: pairs that do not overlap have zero
weight, so they never improve a matching and the blocks are independent.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import bmat, csgraph, csr_matrix
from sklearn.metrics.cluster import contingency_matrix

from .._resources import check_memory

#: Tables of at most this many cells are matched densely in one go (as before: every
#: segmentation label gets a partner when there are enough reference labels).
DENSE_CELLS = 4_000_000


def sparse_table(ref: np.ndarray, lab: np.ndarray):
    """(lab_ids, ref_ids, table) with ``table[i, j]`` = pixels of lab_ids[i] and ref_ids[j]."""
    lab_ids, lab_inv = np.unique(lab, return_inverse=True)
    ref_ids, ref_inv = np.unique(ref, return_inverse=True)
    table = contingency_matrix(lab_inv, ref_inv, sparse=True).tocsr().astype(np.int64)
    return lab_ids, ref_ids, table


def _dense_match(dense: np.ndarray):
    return linear_sum_assignment(dense, maximize=True)


def optimal_matching(table) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a maximum-overlap one-to-one matching of a sparse table."""
    n_rows, n_cols = table.shape
    if n_rows * n_cols <= DENSE_CELLS:
        return _dense_match(table.toarray())
    graph = bmat([[None, table], [table.T, None]], format="csr")
    n_blocks, block = csgraph.connected_components(graph, directed=False)
    row_block, col_block = block[:n_rows], block[n_rows:]
    order_r, order_c = np.argsort(row_block, kind="stable"), np.argsort(col_block, kind="stable")
    starts_r = np.searchsorted(row_block[order_r], np.arange(n_blocks + 1))
    starts_c = np.searchsorted(col_block[order_c], np.arange(n_blocks + 1))
    out_r, out_c = [], []
    for b in range(n_blocks):
        rr = order_r[starts_r[b]:starts_r[b + 1]]
        cc = order_c[starts_c[b]:starts_c[b + 1]]
        if rr.size == 0 or cc.size == 0:
            continue  # a label overlapping nothing (only when the other side is absent)
        check_memory(8.0 * rr.size * cc.size,
                     f"matching a block of {rr.size} x {cc.size} overlapping labels")
        r, c = _dense_match(csr_matrix(table[rr][:, cc]).toarray())
        out_r.append(rr[r])
        out_c.append(cc[c])
    if not out_r:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    rows, cols = np.concatenate(out_r), np.concatenate(out_c)
    order = np.argsort(rows, kind="stable")
    return rows[order], cols[order]
