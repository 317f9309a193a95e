"""The one progress protocol: run() drives a generator of steps, rescale() maps sub-steps."""

import pytest

from napari_gmm.core.progress import Cancelled, Step, as_step, rescale, run


def _work(n=4, result="done", stage="working"):
    for i in range(1, n + 1):
        yield i / n, stage
    return result


def _bare(n=2):
    for i in range(1, n + 1):
        yield i / n
    return "bare"


def test_run_returns_the_result_and_reports_every_step():
    seen = []
    assert run(_work(), lambda f, s: seen.append((f, s))) == "done"
    assert seen == [(0.25, "working"), (0.5, "working"), (0.75, "working"), (1.0, "working")]


def test_run_without_report_and_bare_fractions():
    assert run(_work()) == "done"
    seen = []
    assert run(_bare(), lambda f, s: seen.append((f, s))) == "bare"
    assert seen == [(0.5, None), (1.0, None)]


def test_run_cancelled_stops_and_closes_the_generator():
    closed = []

    def work():
        try:
            yield from _work(10)
        finally:
            closed.append(True)

    seen = []
    with pytest.raises(Cancelled):
        run(work(), lambda f, s: seen.append(f), cancelled=lambda: len(seen) >= 3)
    assert seen == pytest.approx([0.1, 0.2, 0.3])
    assert closed == [True]


def test_run_report_exception_propagates():
    class Stop(Exception):
        pass

    def report(fraction, stage):
        raise Stop

    with pytest.raises(Stop):
        run(_work(), report)


def test_rescale_maps_fractions_and_stages():
    def outer(stage):
        result = yield from rescale(_work(2), 0.5, 0.25, stage)
        return result

    steps = list(rescale(_work(2), 0.5, 0.25))
    assert steps == [(0.625, "working"), (0.75, "working")]
    seen = []
    assert run(outer("fixed"), lambda f, s: seen.append((f, s))) == "done"
    assert seen == [(0.625, "fixed"), (0.75, "fixed")]
    seen.clear()
    run(outer(lambda s: f"frame 1/2: {s}"), lambda f, s: seen.append(s))
    assert seen == ["frame 1/2: working"] * 2
    assert list(rescale(_bare(), 0.0, 0.5)) == [Step(0.25, None), Step(0.5, None)]


def test_step_shape():
    assert as_step(0.5) == (0.5, None)
    assert as_step((0.5, "x")) == Step(0.5, "x")
    fraction, stage = Step(1.0, "done")
    assert (fraction, stage) == (1.0, "done")
