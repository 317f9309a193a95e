"""The command line with --bias-field: uneven illumination corrected, outputs on request."""

import dask.array as da
import numpy as np
import pytest
import tifffile

import napari_gmm as ng
from napari_gmm.cli import main
from napari_gmm.core.analysis._synthetic import make_class_image, make_shading
from napari_gmm.io._zarr import write_ome_zarr


def shaded(seed=0, kind="vignette", shape=(96, 96)):
    image, truth = make_class_image(
        shape, 3, gap=100, base=100, sigma=15, dtype="float32", seed=seed, feature_size=4.8
    )
    field = make_shading(shape, kind=kind, seed=seed)
    return np.clip(image * field, 0, 65535).astype(np.uint16), truth, field


@pytest.fixture
def shaded_tiff(tmp_path):
    image, truth, field = shaded()
    path = tmp_path / "cells.tif"
    tifffile.imwrite(path, image)
    return path, image, truth, field


def test_segment_with_bias_field_writes_corrected_and_field(shaded_tiff, tmp_path, capsys):
    path, image, truth, _ = shaded_tiff
    out = tmp_path / "out"
    argv = ["segment", str(path), "-k", "3", "--seed", "0", "--bias-field", "polynomial",
            "--bias-output", "--out-dir", str(out)]
    assert main(argv) == 0
    labels = tifffile.imread(out / "cells_labels.tif")
    corrected = tifffile.imread(out / "cells_corrected.tif")
    bias = tifffile.imread(out / "cells_bias.tif")
    expected = ng.segment(image, 3, random_state=0, bias_field="polynomial")
    np.testing.assert_array_equal(labels, expected.labels)
    np.testing.assert_array_equal(bias, expected.bias_field)
    assert corrected.dtype == np.float32 and corrected.shape == image.shape
    np.testing.assert_allclose(corrected, image / bias, rtol=1e-6)
    assert ng.compare_labels(truth, labels).accuracy >= 0.95
    printed = capsys.readouterr().out
    assert "bias field" in printed and "cells_corrected.tif" in printed
    # the outputs are not inputs: a folder of them alone has no image
    assert main(["segment", str(out), "-k", "3"]) == 2
    assert "no image found" in capsys.readouterr().err


def test_segment_without_bias_output_writes_labels_only(shaded_tiff, tmp_path):
    path, image, _, _ = shaded_tiff
    out = tmp_path / "out"
    argv = ["segment", str(path), "-k", "3", "--seed", "0", "--bias-field", "polynomial",
            "--bias-order", "2", "--out-dir", str(out), "-q"]
    assert main(argv) == 0
    assert sorted(p.name for p in out.glob("*.tif")) == [
        "cells_labels.tif", "cells_probability.tif",
    ]
    labels = tifffile.imread(out / "cells_labels.tif")
    expected = ng.segment(image, 3, random_state=0, bias_field="polynomial", bias_order=2)
    np.testing.assert_array_equal(labels, expected.labels)


def test_apply_with_bias_field(tmp_path):
    reference, _, _ = shaded(seed=1, kind="ramp")
    model = ng.segment(reference, 3, random_state=0, bias_field="polynomial").model
    ng.save_model(model, tmp_path / "model.json")
    image, truth, _ = shaded(seed=2)
    tifffile.imwrite(tmp_path / "other.tif", image)
    argv = ["apply", str(tmp_path / "model.json"), str(tmp_path / "other.tif"), "--bias-field",
            "polynomial", "--bias-output", "--out-dir", str(tmp_path / "o")]
    assert main(argv) == 0
    labels = tifffile.imread(tmp_path / "o" / "other_labels.tif")
    expected = ng.apply_model(
        ng.load_model(tmp_path / "model.json"), image, bias_field="polynomial"
    )
    np.testing.assert_array_equal(labels, expected.labels)
    assert np.mean(labels == truth) >= 0.95  # the model's classes, no matching
    assert (tmp_path / "o" / "other_bias.tif").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--bias-output"], "--bias-output needs --bias-field"),
        (["--bias-field", "polynomial", "--bias-order", "9"], "bias_order must be an int in 1..6"),
    ],
)
def test_option_mistakes_exit_2(shaded_tiff, capsys, extra, message):
    path = shaded_tiff[0]
    assert main(["segment", str(path), "-k", "3", *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (path.parent / "cells_labels.tif").exists()


def test_unknown_bias_field_is_an_argparse_error(shaded_tiff, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["segment", str(shaded_tiff[0]), "-k", "3", "--bias-field", "spline"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'spline'" in capsys.readouterr().err


def test_zarr_input_with_bias_field_out_of_core(tmp_path):
    from napari_gmm.io._zarr import read_zarr

    image, _, _ = shaded(shape=(8, 64, 64))
    path = tmp_path / "vol.zarr"
    write_ome_zarr(path, da.from_array(image, chunks=(4, 32, 32)), scale=(2.0, 1.0, 1.0))
    argv = ["segment", str(path), "-k", "3", "--seed", "0", "-q", "--bias-field", "polynomial",
            "--bias-output"]
    assert main(argv) == 0
    ref = ng.segment(image, 3, random_state=0, bias_field="polynomial")
    labels = read_zarr(tmp_path / "vol_labels.zarr").data.compute()
    assert (labels == ref.labels).mean() >= 0.99
    field = read_zarr(tmp_path / "vol_bias.zarr")
    assert field.scales == [(2.0, 1.0, 1.0)]
    np.testing.assert_allclose(field.data.compute(), ref.bias_field, atol=0.03)
    corrected = read_zarr(tmp_path / "vol_corrected.zarr").data.compute()
    np.testing.assert_allclose(corrected, image / field.data.compute(), rtol=1e-5)
