"""The core imports neither napari nor Qt."""

import subprocess
import sys


def test_core_import_is_free_of_napari_and_qt():
    code = (
        "import sys, numpy as np, napari_gmm as ng\n"
        "ng.segment(np.arange(16.0).reshape(4, 4), 2, random_state=0)\n"
        "import napari_gmm.cli\n"
        "bad = [m for m in ('napari', 'qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'magicgui')"
        " if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
