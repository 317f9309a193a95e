"""Imports point one way: the core, io and CLI never import napari, Qt or the adapters."""

import pathlib
import subprocess
import sys

from source_imports import module_imports

import napari_gmm

PACKAGE = pathlib.Path(napari_gmm.__file__).parent
BLOCKED = ("napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "magicgui", "vispy")


def test_core_runs_with_napari_and_qt_blocked():
    """Import every core/io/cli module and segment with napari and Qt made unimportable."""
    code = f"""
import importlib, pkgutil, sys
BLOCKED = {BLOCKED!r}

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in BLOCKED:
            raise ImportError(f'blocked import of {{name}}')

sys.meta_path.insert(0, Block())
import numpy as np
import napari_gmm as ng
for sub in ('core', 'io', 'cli'):
    pkg = importlib.import_module('napari_gmm.' + sub)
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):
        importlib.import_module(info.name)
ng.segment(np.arange(16.0).reshape(4, 4), 2, random_state=0)
assert not [m for m in BLOCKED if m in sys.modules]
"""
    subprocess.run([sys.executable, "-c", code], check=True)


def test_layers_point_one_way():
    """core imports only core; io imports core; nothing but _napari imports napari/Qt."""
    for path in PACKAGE.rglob("*.py"):
        layer = path.relative_to(PACKAGE).parts[0]
        found = module_imports(path)
        if layer in ("core", "io", "cli"):
            bad = {n for n in found if n.split(".")[0] in BLOCKED}
            bad |= {n for n in found if n.startswith("napari_gmm._napari")}
            assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"
        if layer == "core":
            bad = {n for n in found if n.startswith(("napari_gmm.io", "napari_gmm.cli"))}
            assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"


def test_sklearn_private_helpers_live_in_one_module():
    for path in PACKAGE.rglob("*.py"):
        if path.name == "_sklearn_private.py":
            continue
        text = path.read_text()
        privates = ("sklearn.mixture._", "._estimate_weighted_log_prob", "._set_parameters",
                    "_estimate_log_prob_resp")
        for private in (*privates, "._n_parameters"):
            assert private not in text, f"{path.relative_to(PACKAGE)} uses {private}"


def test_no_import_cycles_in_core():
    graph = {}
    paths = [p for p in (PACKAGE / "core").rglob("*.py") if p.name != "__init__.py"]
    modules = {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts) for p in paths}
    for path in paths:
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        graph[name] = (module_imports(path) & modules) - {name}
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in graph.get(node, ()):
            if state.get(nxt) == "open":
                raise AssertionError(f"import cycle: {' -> '.join([*stack, node, nxt])}")
            if nxt not in state:
                visit(nxt, [*stack, node])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [])
