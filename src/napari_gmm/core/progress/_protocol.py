"""One progress protocol for the long computations of the core.

A long computation is a generator of *steps*. A step is a ``(fraction, stage)`` pair
(:class:`Step` names its two fields; a plain tuple is a step too): ``fraction`` is the
share done in [0, 1], ``stage`` says what is being done (a str, or None for "no new
text"). Work between two steps is bounded, so a consumer can report progress and stop at
every step. The generator returns its result (``StopIteration.value``).

- :func:`run` drives such a generator to its end, calling ``report(fraction, stage)`` on
  every step and stopping when ``cancelled()`` says so; it returns the result. The
  ``progress=`` callbacks of the public functions are such a `report`.
- :func:`rescale` re-yields the steps of a sub-computation mapped into
  ``[start, start + span]`` of its caller's range, with the stage kept, replaced or
  rewritten; it returns the sub-computation's result (use it with ``yield from``).

The numeric sweep generators (mean-field and HMRF kernels, chunked prediction) yield a bare
fraction to stay minimal; :func:`rescale` and :func:`run` read a bare number as
``(fraction, None)``, so what leaves them always has the one shape.

Examples
--------
>>> def work():
...     yield 0.5, "half way"
...     yield 1.0, "done"
...     return 42
>>> seen = []
>>> run(work(), lambda fraction, stage: seen.append((fraction, stage)))
42
>>> seen
[(0.5, 'half way'), (1.0, 'done')]
>>> def outer():
...     result = yield from rescale(work(), 0.2, 0.5, lambda stage: f"part: {stage}")
...     return result + 1
>>> run(outer(), lambda fraction, stage: print(fraction, stage))
0.45 part: half way
0.7 part: done
43
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Generator
from typing import Any, NamedTuple


class Step(NamedTuple):
    """One progress step: the share done in [0, 1] and what is being done (or None)."""

    fraction: float
    stage: str | None = None


class Cancelled(Exception):
    """Raised by :func:`run` when ``cancelled()`` became true; the work stopped at a step."""


def as_step(step) -> Step:
    """A step as a :class:`Step`: a ``(fraction, stage)`` pair, or a bare fraction."""
    if isinstance(step, tuple):
        fraction, stage = step
        return Step(fraction, stage)
    return Step(step, None)


def run(
    steps: Generator[Any, None, Any],
    report: Callable[[float, str | None], object] | None = None,
    cancelled: Callable[[], bool] | None = None,
):
    """Drive a generator of steps to its end and return its result.

    Parameters
    ----------
    steps : generator
        Yields steps (``(fraction, stage)`` pairs, or bare fractions) and returns a result.
    report : callable or None, default=None
        Called as ``report(fraction, stage)`` after every step; an exception it raises
        (e.g. a cancellation) stops the work and propagates.
    cancelled : callable or None, default=None
        Called with no argument after every step; when it returns True the generator is
        closed and :class:`Cancelled` is raised.

    Returns
    -------
    object
        The generator's return value.

    Raises
    ------
    Cancelled
        When `cancelled` returned True.
    """
    while True:
        try:
            step = next(steps)
        except StopIteration as stop:
            return stop.value
        if report is not None:
            report(*as_step(step))
        if cancelled is not None and cancelled():
            steps.close()
            raise Cancelled("The computation was cancelled.")


def recording_warnings(steps: Generator[Any, None, Any], caught: list):
    """Re-yield the steps of a generator, adding the warnings of each step to `caught`.

    The warnings are caught around each step only (``warnings.catch_warnings`` changes
    process-wide state: it must not stay on while the consumer, e.g. a GUI's main thread,
    runs between two steps). Returns the generator's value.
    """
    while True:
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            try:
                step = next(steps)
            except StopIteration as stop:
                return stop.value
            finally:
                caught.extend(record)
        yield step


def rescale(
    steps: Generator[Any, None, Any],
    start: float = 0.0,
    span: float = 1.0,
    stage: str | Callable[[str | None], str | None] | None = None,
):
    """Re-yield the steps of a sub-computation as ``(start + span * fraction, stage)``.

    Parameters
    ----------
    steps : generator
        Yields steps (pairs or bare fractions) and returns a result.
    start, span : float
        Where the sub-computation's [0, 1] goes in the caller's range.
    stage : str, callable or None, default=None
        None keeps each step's stage; a str replaces it; a callable maps it (e.g.
        ``lambda s: f"frame 2/5: {s}"``).

    Returns
    -------
    object
        The sub-computation's return value (``result = yield from rescale(...)``).
    """
    while True:
        try:
            step = next(steps)
        except StopIteration as stop:
            return stop.value
        fraction, inner = as_step(step)
        if stage is None:
            label = inner
        elif callable(stage):
            label = stage(inner)
        else:
            label = stage
        yield Step(start + span * fraction, label)
