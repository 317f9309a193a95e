"""The one progress protocol: generators of ``(fraction, stage)`` steps, driven by ``run``."""

from ._protocol import Cancelled, Step, as_step, recording_warnings, rescale, run

__all__ = ["Cancelled", "Step", "as_step", "recording_warnings", "rescale", "run"]
