"""NIfTI in and out (nibabel): voxel order, voxel size, affine and units; the CLI on .nii.gz."""

import numpy as np
import pytest

import napari_gmm as ng
from napari_gmm.cli import main
from napari_gmm.core.analysis._synthetic import make_class_image
from napari_gmm.io import load_image
from napari_gmm.io._nifti import read_nifti, write_nifti_like

nib = pytest.importorskip("nibabel")

#: A rotated, shifted affine with anisotropic voxels (2 x 0.5 x 0.5 mm).
AFFINE = np.array(
    [[0.0, 0.5, 0.0, -10.0], [-2.0, 0.0, 0.0, 20.0], [0.0, 0.0, 0.5, 5.0], [0, 0, 0, 1.0]]
)


def _save(path, data, *, unit="mm", affine=AFFINE, code=1):
    img = nib.Nifti1Image(data, affine)
    img.header.set_xyzt_units(xyz=unit, t="sec")
    img.set_qform(affine, code=code)
    img.set_sform(affine, code=code)
    nib.save(img, str(path))
    return path


@pytest.fixture(scope="module")
def volume():
    return make_class_image((12, 30, 28), n_classes=3, sigma=30, seed=5, dtype="uint8")[0]


def test_read_axes_spacing_unit_affine(tmp_path, volume):
    path = _save(tmp_path / "head.nii.gz", volume)
    loaded = load_image(path)
    assert loaded.kind == "nifti" and loaded.axes == "XYZ" and loaded.unit == "mm"
    np.testing.assert_array_equal(loaded.data, volume)
    assert loaded.spacing == pytest.approx({"X": 2.0, "Y": 0.5, "Z": 0.5})
    np.testing.assert_allclose(loaded.extra["affine"], AFFINE)


def test_read_4d_time_and_micron_units(tmp_path, volume):
    data = np.stack([volume, volume[::-1]], axis=-1)
    img = nib.Nifti1Image(data, np.diag([0.3, 0.3, 1.2, 1.0]))
    img.header.set_xyzt_units(xyz="micron", t="sec")
    img.header["pixdim"][4] = 2.5
    nib.save(img, str(tmp_path / "t.nii"))
    loaded = read_nifti(tmp_path / "t.nii")
    assert loaded.axes == "XYZT" and loaded.unit == "µm"
    assert loaded.spacing == pytest.approx({"X": 0.3, "Y": 0.3, "Z": 1.2, "T": 2.5})


def test_write_keeps_affine_units_and_values(tmp_path, volume):
    like = load_image(_save(tmp_path / "in.nii.gz", volume, code=2))
    labels = (volume > 100).astype(np.uint16) + 1
    out = write_nifti_like(tmp_path / "out.nii.gz", labels, "XYZ", like)
    img = nib.load(str(out))
    np.testing.assert_allclose(img.affine, AFFINE)
    assert img.header.get_xyzt_units() == ("mm", "sec")
    assert int(img.header["sform_code"]) == 2 and int(img.header["qform_code"]) == 2
    assert img.get_data_dtype() == np.uint16 and int(img.header["intent_code"]) == 1002
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), labels)
    prob = np.linspace(0, 1, volume.size, dtype=np.float32).reshape(volume.shape)
    img = nib.load(str(write_nifti_like(tmp_path / "p.nii", prob, "XYZ", like)))
    assert img.get_data_dtype() == np.float32
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), prob)


def test_write_from_a_tiff_like_input_uses_its_pixel_size(tmp_path):
    from napari_gmm.io._formats import LoadedImage

    like = LoadedImage(np.zeros((3, 4, 5)), "ZYX", {"Z": 2.0, "Y": 0.5, "X": 0.25}, "µm")
    out = write_nifti_like(tmp_path / "o.nii.gz", np.ones((3, 4, 5), bool), "ZYX", like)
    img = nib.load(str(out))
    np.testing.assert_allclose(np.diag(img.affine)[:3], [2.0, 0.5, 0.25])
    assert img.header.get_xyzt_units()[0] == "micron"
    assert img.get_data_dtype() == np.uint8


def test_cli_nifti_in_nifti_out_with_the_header_voxel_size(tmp_path, volume):
    path = _save(tmp_path / "brain.nii.gz", volume)
    argv = ["segment", str(path), "-k", "3", "--seed", "0", "--smoothing", "1", "-q"]
    assert main(argv) == 0
    out = nib.load(str(tmp_path / "brain_labels.nii.gz"))
    expected = ng.segment(volume, 3, smoothing=1.0, scale=(2.0, 0.5, 0.5), random_state=0)
    isotropic = ng.segment(volume, 3, smoothing=1.0, random_state=0)
    assert not np.array_equal(expected.labels, isotropic.labels)  # the voxel size matters
    np.testing.assert_array_equal(np.asanyarray(out.dataobj), expected.labels)
    np.testing.assert_allclose(out.affine, AFFINE)
    prob = nib.load(str(tmp_path / "brain_probability.nii.gz"))
    np.testing.assert_array_equal(np.asanyarray(prob.dataobj), expected.probability)
    # a rerun on the folder does not pick up the outputs as inputs
    assert main(["segment", str(tmp_path), "-k", "3", "--seed", "0", "-q", "--overwrite"]) == 0
    assert not (tmp_path / "brain_labels_labels.nii.gz").exists()


def test_cli_nifti_to_tiff_on_request(tmp_path, volume):
    import tifffile

    path = _save(tmp_path / "b.nii", volume)
    argv = ["segment", str(path), "-k", "3", "--seed", "0", "-q", "--output-format", "tiff"]
    assert main(argv) == 0
    np.testing.assert_array_equal(
        tifffile.imread(tmp_path / "b_labels.tif"), ng.segment(volume, 3, random_state=0).labels
    )


def test_damaged_nifti_is_one_line_in_the_summary(tmp_path, capsys):
    (tmp_path / "bad.nii.gz").write_bytes(b"not a nifti file at all")
    assert main(["segment", str(tmp_path / "bad.nii.gz"), "-k", "2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Cannot read" in err[0] and "bad.nii.gz" in err[0]


def test_without_nibabel_the_error_names_the_extra(tmp_path, volume, monkeypatch):
    import sys

    path = _save(tmp_path / "x.nii.gz", volume)
    monkeypatch.setitem(sys.modules, "nibabel", None)  # as if not installed
    with pytest.raises(ValueError, match=r"napari-gmm\[formats\]"):
        load_image(path)
