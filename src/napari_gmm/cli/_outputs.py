"""Write one input's results (labels, probability, noisy image) and its summary row."""

from __future__ import annotations

from pathlib import Path

from ..io._formats import output_writer
from ._batch import Job, check_outputs
from ._prepare import Prepared
from ._safe_write import write_file, writer_for


def output_paths(args, job: Job, explicit: dict | None = None, *, noisy: bool = False,
                 check: bool = True) -> dict:
    """Where this input's outputs go: `explicit` names by role (one input) or
    ``<stem>_<role><suffix>``; fails if one exists (without --overwrite) when `check`."""
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
    if check:
        check_outputs(job, paths.values(), args.overwrite)
    return paths


def planned_outputs(args, job: Job, explicit: dict | None = None, *, noisy: bool = False):
    """``(what, path)`` of every output this input will have (for ``check_plan``).

    Raises ValueError for an explicit output name in a format that is not written.
    """
    from ._objects import objects_paths
    from ._zarr import is_zarr_path

    explicit = {k: v for k, v in (explicit or {}).items() if v is not None}
    if is_zarr_path(job.path):
        paths = {
            "labels": explicit.get("labels") or job.output("labels", ".zarr"),
            "probability": explicit.get("probability") or job.output("probability", ".zarr"),
            "model": explicit.get("model"),
        }
        from ._zarr import bias_paths

        paths.update(zip(("corrected", "bias"), bias_paths(args, job), strict=False))
        paths.update(objects_paths(args, job, check=False))
    else:
        paths = output_paths(args, job, explicit, noisy=noisy, check=False)
        paths.update(objects_paths(args, job, check=False))
    for role, path in explicit.items():
        if role != "model":
            writer_for(path, args.output_format)
    return [
        (f"--{role}" if role in explicit else f"the {role} output", path)
        for role, path in paths.items()
        if path is not None
    ]


def write_array(args, path, array, axes, loaded) -> None:
    """Write one output atomically, in the format its suffix names (else --output-format)."""
    writer = output_writer(writer_for(path, args.output_format), loaded.path)
    extra = {}
    if writer.name == "nifti":  # gzip or not by the final name, not the temporary one
        extra["compressed"] = not str(path).lower().endswith(".nii")
    write_file(path, lambda tmp: writer.write(tmp, array, axes, loaded, **extra),
               overwrite=args.overwrite)


def write_outputs(args, paths: dict, seg, prep: Prepared, loaded, noisy=None) -> None:
    """Labels and probability with the input's remaining axes and pixel sizes."""
    if noisy is not None and paths["noisy"] is not None:
        write_array(args, paths["noisy"], noisy, prep.axes, loaded)
    write_array(args, paths["labels"], seg.labels, prep.label_axes, loaded)
    write_array(args, paths["probability"], seg.probability, prep.label_axes, loaded)
    if paths["corrected"] is not None and seg.corrected is not None:
        write_array(args, paths["corrected"], seg.corrected, prep.axes, loaded)
        write_array(args, paths["bias"], seg.bias_field, prep.label_axes, loaded)


def report(args, job: Job, seg, paths: dict, what: str = "") -> dict:
    """Print the one-line result (unless --quiet) and return the summary row."""
    applied = what.startswith("applied")
    if not args.quiet:
        frames = f" frames={len(seg.frames)} ({seg.frame_mode})" if seg.frames else ""
        bias = ""
        if seg.bias_field is not None:
            field = seg.bias_field[seg.labels > 0]
            bias = f" bias field {field.min():.3g}..{field.max():.3g}"
        extra = [paths[r] for r in ("corrected", "bias") if paths.get(r) is not None]
        # applying a model fits nothing: its convergence is the training fit's, not news
        fit = "" if applied else f"converged={seg.converged} iterations={seg.n_iter} "
        print(
            f"{job.path}: {what}K={seg.n_components} {fit}"
            f"log-likelihood={seg.log_likelihood:.4f} "
            f"BIC={seg.bic:.1f}{frames}{bias} ({seg.elapsed:.2f} s) -> "
            + ", ".join(str(p) for p in [paths["labels"], paths["probability"], *extra])
        )
    return {
        "K": seg.n_components,
        "converged": "" if applied else bool(seg.converged),
        "n_iter": "" if applied else seg.n_iter,
        "BIC": f"{seg.bic:.6g}",
        "labels": str(Path(paths["labels"])),
    }
