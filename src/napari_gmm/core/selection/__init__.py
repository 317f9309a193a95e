"""Choosing the number of classes: the candidate fits and their deterministic starts.

The public entry points, :func:`~napari_gmm.core.select_n_components` and
:class:`~napari_gmm.core.Selection`, live in ``core/_selection.py``.
"""
