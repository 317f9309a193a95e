"""The command line, driven through main([...])."""

import numpy as np
import pytest
import tifffile
from skimage import data

import napari_gmm as ng
from napari_gmm.cli import main


@pytest.fixture
def gray_tiff(tmp_path):
    path = tmp_path / "camera.tif"
    tifffile.imwrite(path, data.camera()[::4, ::4])
    return path


def test_segment_gray_tiff(gray_tiff, tmp_path, capsys):
    out = tmp_path / "out" / "labels.tif"
    prob = tmp_path / "out" / "prob.tif"
    status = main(
        [
            "segment",
            str(gray_tiff),
            "--n-components",
            "3",
            "--seed",
            "0",
            "--labels",
            str(out),
            "--probability",
            str(prob),
        ]
    )
    assert status == 0
    labels, probability = tifffile.imread(out), tifffile.imread(prob)
    expected = ng.segment(data.camera()[::4, ::4], 3, random_state=0)
    assert np.array_equal(labels, expected.labels)
    assert probability.dtype == np.float32
    assert np.allclose(probability, expected.probability)
    assert "converged=True" in capsys.readouterr().out


def test_segment_rgb_png_auto_channels_with_noise(tmp_path):
    import imageio.v3 as iio

    png = tmp_path / "ihc.png"
    iio.imwrite(png, data.immunohistochemistry()[::4, ::4])
    status = main(
        [
            "segment",
            str(png),
            "-k",
            "3",
            "--noise",
            "5,10,15",
            "--seed",
            "1",
            "--noisy",
            str(tmp_path / "noisy.tif"),
            "--model",
            str(tmp_path / "m.json"),
            "-q",
        ]
    )
    assert status == 0
    labels = tifffile.imread(tmp_path / "ihc_labels.tif")
    assert labels.shape == (128, 128)
    noisy = tifffile.imread(tmp_path / "noisy.tif")
    assert noisy.shape == (128, 128, 3) and noisy.dtype == np.uint8
    model = ng.load_model(tmp_path / "m.json")
    X = ng.pixel_features(noisy, channel_axis=-1)
    assert np.array_equal(model.predict(X) + 1, labels.ravel())


def test_batch_with_out_dir(tmp_path):
    paths = []
    for i in range(2):
        p = tmp_path / f"img{i}.tif"
        tifffile.imwrite(p, data.camera()[::8, ::8] // (i + 1))
        paths.append(str(p))
    assert main(["segment", *paths, "-k", "2", "--out-dir", str(tmp_path / "res"), "-q"]) == 0
    assert sorted(f.name for f in (tmp_path / "res").iterdir()) == [
        "img0_labels.tif",
        "img0_probability.tif",
        "img1_labels.tif",
        "img1_probability.tif",
        "napari-gmm-summary.csv",
    ]


def _one_line_error(capsys, match):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert match in err
    return err


def test_missing_file(tmp_path, capsys):
    assert main(["segment", str(tmp_path / "nope.tif"), "-k", "2", "-q"]) == 1
    _one_line_error(capsys, "No such image file")


def test_unreadable_image(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is not a png")
    assert main(["segment", str(bad), "-k", "2", "-q"]) == 1
    _one_line_error(capsys, "Cannot read")


def test_too_many_components(gray_tiff, capsys):
    tifffile.imwrite(gray_tiff, np.zeros((4, 4), np.uint8))
    assert main(["segment", str(gray_tiff), "-k", "2", "-q"]) == 1
    _one_line_error(capsys, "only 1 distinct valid values")


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["segment", "x.tif"], "--n-components"),
        (["segment", "x.tif", "-k", "2", "--covariance-type", "round"], "invalid choice"),
        (["segment", "x.tif", "-k", "two"], "invalid int value"),
        (["segment", "x.tif", "-k", "2", "--noise", "lots"], "comma-separated"),
        (["segment", "x.tif", "-k", "2", "--channel-axis", "rgb"], "'auto' or 'none'"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_options(argv, match, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    _one_line_error(capsys, match)


def test_several_inputs_with_single_output_name(gray_tiff, capsys):
    assert main(["segment", str(gray_tiff), str(gray_tiff), "-k", "2", "--labels", "x.tif"]) == 2
    _one_line_error(capsys, "--out-dir")


def test_non_convergence_is_a_one_line_warning(gray_tiff, capsys):
    assert (
        main(
            [
                "segment",
                str(gray_tiff),
                "-k",
                "4",
                "--max-iter",
                "1",
                "--tol",
                "0",
                "--seed",
                "0",
                "-q",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert err.startswith(f"napari-gmm: warning: {gray_tiff}: EM did not converge")


def test_help_documents_everything(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["segment", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in (
        "--n-components",
        "--channel-axis",
        "--covariance-type",
        "--noise",
        "--seed",
        "--labels",
        "--probability",
        "--smoothing",
        "--out-dir",
    ):
        assert option in out


def test_smoothing_option(tmp_path):
    from napari_gmm.core.analysis._synthetic import make_class_image

    image, truth = make_class_image((96, 96), 3, gap=60, sigma=40, seed=11)
    path = tmp_path / "noisy.tif"
    tifffile.imwrite(path, image)
    assert main(["segment", str(path), "-k", "3", "--smoothing", "1", "--seed", "0", "-q"]) == 0
    labels = tifffile.imread(tmp_path / "noisy_labels.tif")
    assert np.mean(labels == truth) > 0.95
