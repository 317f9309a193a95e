"""The npe2 manifest is found and valid from the editable install and inside the wheel."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from npe2 import PluginManifest

ROOT = Path(__file__).parents[2]


def test_npe2_validates_the_installed_plugin():
    npe2 = shutil.which("npe2", path=str(Path(sys.executable).parent)) or shutil.which("npe2")
    if npe2 is None:
        pytest.skip("npe2 command line not on PATH")
    done = subprocess.run([npe2, "validate", "napari-gmm"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid" in done.stdout


def test_wheel_carries_the_manifest_and_its_entry_point(tmp_path):
    pytest.importorskip("hatchling")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("napari_gmm-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        manifest = zf.read("napari_gmm/napari.yaml").decode()
        entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        entry_points = zf.read(entry).decode()
    # the real file, not a symlink target path
    assert yaml.safe_load(manifest) == yaml.safe_load((ROOT / "napari.yaml").read_text())
    assert "napari-gmm = napari_gmm:napari.yaml" in entry_points
    path = tmp_path / "napari.yaml"
    path.write_text(manifest)
    pm = PluginManifest.from_file(path)
    assert pm.name == "napari-gmm"
    for command in pm.contributions.commands:
        module = command.python_name.split(":")[0]
        assert f"{module.replace('.', '/')}.py" in names, command.python_name
