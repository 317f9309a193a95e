"""Write one input's results (labels, probability, noisy image) and its summary row."""

from __future__ import annotations

from pathlib import Path

from ..io._formats import output_writer
from ._batch import Job, check_outputs
from ._prepare import Prepared


def output_paths(args, job: Job, explicit: dict | None = None, *, noisy: bool = False) -> dict:
    """Where this input's outputs go: `explicit` names by role (one input) or
    ``<stem>_<role><suffix>``; fails if one exists (without --overwrite)."""
    explicit = explicit or {}
    suffix = output_writer(args.output_format, job.path).suffix
    roles = ["labels", "probability"]
    if noisy:
        roles.append("noisy")
    if getattr(args, "bias_output", False):
        roles += ["corrected", "bias"]
    paths = {role: explicit.get(role) or job.output(role, suffix) for role in roles}
    for role in ("noisy", "corrected", "bias"):
        paths.setdefault(role, None)
    paths["model"] = explicit.get("model")
    check_outputs(job, paths.values(), args.overwrite)
    return paths


def write_outputs(args, paths: dict, seg, prep: Prepared, loaded, noisy=None) -> None:
    """Labels and probability with the input's remaining axes and pixel sizes."""
    write = output_writer(args.output_format, loaded.path).write
    if noisy is not None and paths["noisy"] is not None:
        write(paths["noisy"], noisy, prep.axes, loaded)
    write(paths["labels"], seg.labels, prep.label_axes, loaded)
    write(paths["probability"], seg.probability, prep.label_axes, loaded)
    if paths["corrected"] is not None and seg.corrected is not None:
        write(paths["corrected"], seg.corrected, prep.axes, loaded)
        write(paths["bias"], seg.bias_field, prep.label_axes, loaded)


def report(args, job: Job, seg, paths: dict, what: str = "") -> dict:
    """Print the one-line result (unless --quiet) and return the summary row."""
    if not args.quiet:
        frames = f" frames={len(seg.frames)} ({seg.frame_mode})" if seg.frames else ""
        bias = ""
        if seg.bias_field is not None:
            field = seg.bias_field[seg.labels > 0]
            bias = f" bias field {field.min():.3g}..{field.max():.3g}"
        extra = [paths[r] for r in ("corrected", "bias") if paths.get(r) is not None]
        print(
            f"{job.path}: {what}K={seg.n_components} converged={seg.converged} "
            f"iterations={seg.n_iter} log-likelihood={seg.log_likelihood:.4f} "
            f"BIC={seg.bic:.1f}{frames}{bias} ({seg.elapsed:.2f} s) -> "
            + ", ".join(str(p) for p in [paths["labels"], paths["probability"], *extra])
        )
    return {
        "K": seg.n_components,
        "converged": bool(seg.converged),
        "n_iter": seg.n_iter,
        "BIC": f"{seg.bic:.6g}",
        "labels": str(Path(paths["labels"])),
    }
