"""The headless demo writes its outputs and segments the synthetic sample correctly."""

import tifffile

from napari_gmm.cli import main


def test_demo_writes_outputs(tmp_path, capsys):
    assert main(["demo", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "synthetic_clean" in out and "immunohistochemistry_noisy" in out
    assert (tmp_path / "overview.png").stat().st_size > 10_000
    labels = tifffile.imread(tmp_path / "synthetic_clean_labels.tif")
    assert labels.shape == (256, 256) and set(labels.ravel()) == {1, 2, 3}
    # the clean synthetic image is segmented almost perfectly against its ground truth
    line = next(ln for ln in out.splitlines() if ln.startswith("synthetic_clean"))
    accuracy = float(line.split("accuracy=")[1].split()[0])
    assert accuracy > 0.99


def test_demo_never_replaces_files_it_did_not_write(tmp_path, capsys):
    import tifffile

    mine = tmp_path / "synthetic_clean_labels.tif"
    tifffile.imwrite(mine, [[1, 2], [3, 4]])
    before = mine.read_bytes()
    (tmp_path / "overview.png").write_bytes(b"my figure")
    assert main(["demo", "--out-dir", str(tmp_path)]) == 2
    assert "did not write" in capsys.readouterr().err
    assert mine.read_bytes() == before
    assert (tmp_path / "overview.png").read_bytes() == b"my figure"
