"""The core's layout: pipeline modules at the top, each concern in its own subpackage."""

import pathlib

import napari_gmm

CORE = pathlib.Path(napari_gmm.__file__).parent / "core"
MAX_TOP_LEVEL_MODULES = 16


def test_at_most_16_modules_directly_in_core():
    top = sorted(p.name for p in CORE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, (
        f"{len(top)} modules directly in core/ (at most {MAX_TOP_LEVEL_MODULES}): put new code "
        f"in a subpackage ({', '.join(sorted(p.parent.name for p in CORE.glob('*/__init__.py')))})"
    )


def test_every_core_subpackage_has_a_docstring():
    packages = sorted(CORE.glob("*/__init__.py"))
    assert packages, "core has no subpackages"
    for init in packages:
        text = init.read_text().strip()
        assert text.startswith('"""') and len(text) > 6, f"{init.parent.name}/__init__.py"
