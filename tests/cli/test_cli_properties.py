"""Property tests of the command line (hypothesis): for any image file and options, the
exit status is 0 (done), 1 (some inputs failed) or 2 (option mistake), errors are one line
each on stderr without a traceback, inputs are never modified, and what is written is a
valid segmentation of what was read.
"""

import csv

import numpy as np
import pytest
import tifffile
from hypothesis import event, given
from hypothesis import strategies as st
from property_strategies import shapes, values

from napari_gmm.cli import main
from napari_gmm.io import read_image

DTYPES = ("bool", "uint8", "uint16", "int16", "int32", "float32", "float64", ">u2", ">f4")

OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "-k": st.sampled_from(("1", "2", "3", "auto", "0", "x", "-1")),
        "--smoothing": st.sampled_from(("0", "1", "auto", "-1", "nan")),
        "--covariance-type": st.sampled_from(("full", "diag", "round")),
        "--noise": st.sampled_from(("0", "5", "1,2", "-3")),
        "--seed": st.sampled_from(("0", "7", "s")),
        "--channel-axis": st.sampled_from(("auto", "none", "0", "-1", "9")),
        "--max-iter": st.sampled_from(("1", "50", "0")),
        "--scale": st.sampled_from(("1,1", "2,0.5,0.5", "0,1", "a")),
    },
)


def _args(options: dict) -> list[str]:
    args = []
    for key, value in options.items():
        args += [key, value]
    if "-k" not in options:
        args += ["-k", "2"]
    return args


@given(
    dtype=st.sampled_from(DTYPES),
    shape=shapes(min_dims=2, max_dims=4, max_side=9, max_size=400),
    options=OPTIONS,
    data=st.data(),
)
def test_segment_any_file_any_options(tmp_path_factory, dtype, shape, options, data):
    folder = tmp_path_factory.mktemp("cli")
    image = data.draw(values(dtype, shape))
    path = folder / "in.tif"
    tifffile.imwrite(path, image, photometric="minisblack")
    before = path.read_bytes()
    out = folder / "out"
    status, err = _run(["segment", str(path), "--out-dir", str(out), "-q", *_args(options)])
    assert path.read_bytes() == before
    assert status in (0, 1, 2), err
    event(f"exit status {status}")
    assert "Traceback" not in err
    if status == 2:  # option mistakes: one line, nothing written
        assert len(err.strip().splitlines()) == 1, err
        assert not list(out.glob("*_labels.tif")) if out.exists() else True
        return
    with open(out / "napari-gmm-summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1
    if status == 1:
        assert rows[0]["error"] and err.strip()
        assert not (out / "in_labels.tif").exists()
        return
    assert not rows[0]["error"]
    labels = tifffile.imread(out / "in_labels.tif")
    prob = tifffile.imread(out / "in_probability.tif")
    assert labels.dtype.kind == "u" and prob.dtype == np.float32
    assert labels.shape == prob.shape
    k = int(rows[0]["K"])
    assert labels.max() <= k and np.isfinite(prob).all()
    assert ((prob >= 0) & (prob <= 1)).all()
    read = read_image(path)
    arr = np.asarray(read.data if hasattr(read, "data") else read)
    if arr.dtype.kind == "f" and labels.shape == arr.shape:
        np.testing.assert_array_equal(labels == 0, ~np.isfinite(arr))


def _run(argv):
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = main(argv)
        except SystemExit as exc:  # argparse errors
            status = exc.code
    return status, err.getvalue()


@pytest.mark.parametrize("content", [b"", b"not an image", b"II*\x00garbage"])
def test_batch_with_broken_files_reports_and_continues(tmp_path, content):
    good = tmp_path / "a.tif"
    tifffile.imwrite(good, np.repeat(np.arange(4, dtype=np.uint8) * 60, 16).reshape(8, 8))
    (tmp_path / "b.tif").write_bytes(content)
    status, err = _run(["segment", str(tmp_path), "-k", "2", "-q"])
    assert status == 1
    assert "b.tif" in err and "Traceback" not in err
    assert (tmp_path / "a_labels.tif").exists()
