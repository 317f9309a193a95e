"""The stages of the top-level pipeline modules (``core/_segment.py``, ``core/_apply.py``).

The segmentation of one in-memory image (fit, bias, smoothing, prediction), the choice of
the number of classes for ``n_components='auto'``, and the outputs of an applied model. The
public entry points stay in the top-level modules; nothing here is imported by the adapters.
"""
