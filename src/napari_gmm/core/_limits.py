"""Upper bounds of the options, so absurd values fail at once with a clear message.

Without them ``max_iter=10**12`` or ``n_init=10**9`` run for days, smoothing a 32-D array
builds a 3^32 neighbourhood (a bare MemoryError of 6.6 PiB), and a noise sweep over a
million levels never returns.
"""

from __future__ import annotations

#: Most EM iterations per run (a fit that has not converged in 100,000 never will).
MAX_ITER = 100_000
#: Most EM restarts.
MAX_N_INIT = 1_000
#: Most noise levels in one noise sweep (each is a full segmentation).
MAX_SWEEP_LEVELS = 1_000
#: Most spatial axes smoothing handles (a Potts neighbourhood in more dimensions is
#: rarely meaningful and its stencil work grows with the number of axes).
MAX_SMOOTH_NDIM = 8


def check_smoothing_ndim(smoothing, n_spatial: int) -> None:
    """ValueError when smoothing is asked for on more than :data:`MAX_SMOOTH_NDIM` axes."""
    if smoothing in (0, 0.0, None) or n_spatial <= MAX_SMOOTH_NDIM:
        return
    raise ValueError(
        f"smoothing needs at most {MAX_SMOOTH_NDIM} spatial axes, but the image has "
        f"{n_spatial}. Pass channel_axis / time_axis for axes that are not spatial, segment "
        "with smoothing=0, or reshape the array to its real spatial axes."
    )
