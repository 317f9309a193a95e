"""The modules a source file of napari_gmm imports, read with ``ast`` (layout and import tests)."""

import ast
import pathlib

import napari_gmm

PACKAGE = pathlib.Path(napari_gmm.__file__).parent


def module_imports(path: pathlib.Path) -> set[str]:
    """Absolute module names a file imports anywhere in it (function-level imports too;
    relative imports resolved)."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names
