"""The core's layout: pipeline modules at the top, each concern in its own subpackage."""

import ast
import pathlib

from source_imports import module_imports

import napari_gmm
import napari_gmm.core

PACKAGE = pathlib.Path(napari_gmm.__file__).parent
CORE = PACKAGE / "core"
ADAPTERS = ("_napari", "cli", "io")
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


def _core_imports(path: pathlib.Path) -> list[tuple[str, str]]:
    """(module, name) for every import of the core in a file, relative imports resolved."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(a.name, "") for a in node.names if a.name.startswith("napari_gmm.core")]
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            if module == "napari_gmm":
                found += [(f"{module}.{a.name}", "") for a in node.names if a.name == "core"]
            elif module.startswith("napari_gmm.core"):
                found += [(module, a.name) for a in node.names]
    return found


def test_adapters_import_only_the_public_core_api():
    """_napari, cli and io import names from ``napari_gmm.core`` itself, never a submodule."""
    public = set(napari_gmm.core.__all__)
    checked = 0
    for layer in ADAPTERS:
        for path in (PACKAGE / layer).rglob("*.py"):
            for module, name in _core_imports(path):
                checked += 1
                where = f"{path.relative_to(PACKAGE)} imports {module}.{name}".rstrip(".")
                assert module == "napari_gmm.core", f"{where}: import it from napari_gmm.core"
                assert name in public, f"{where}: not in napari_gmm.core.__all__"
    assert checked, "no adapter imports the core: the check found nothing to check"


def test_core_public_names_resolve():
    missing = [n for n in napari_gmm.core.__all__ if not hasattr(napari_gmm.core, n)]
    assert not missing
    assert len(set(napari_gmm.core.__all__)) == len(napari_gmm.core.__all__)


def test_no_import_cycles_in_io():
    """Shared types live in ``io/_types``: no io module imports one that imports it back."""
    paths = {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts): p
             for p in (PACKAGE / "io").glob("_*.py")}
    graph = {name: (module_imports(path) & set(paths)) - {name} for name, path in paths.items()}
    assert graph["napari_gmm.io._formats"], "the check found no io-internal import"
    for name, deps in graph.items():
        for dep in deps:
            assert name not in graph[dep], f"import cycle: {name} <-> {dep}"


MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 80


def _checked_modules() -> list[pathlib.Path]:
    paths = sorted(PACKAGE.rglob("*.py"))
    assert len(paths) > 50, "the check found too few modules"
    return paths


def _code_lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function's body without its docstring (comments and blanks inside count)."""
    body = function.body
    first = body[0]
    if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        body = body[1:]
    return body[-1].end_lineno - body[0].lineno + 1 if body else 0


def test_code_lines_counts_the_body_without_the_docstring():
    tree = ast.parse('def f():\n    """Doc\n    string."""\n    a = 1\n\n    return a\n')
    assert _code_lines(tree.body[0]) == 3
    assert _code_lines(ast.parse("def g(): return 1").body[0]) == 1


def test_no_module_over_300_lines():
    long = {p.relative_to(PACKAGE).as_posix(): n for p in _checked_modules()
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, (
        f"modules over {MAX_MODULE_LINES} lines: {long}; split them by concern into smaller "
        "modules (see docs/architecture.md, 'Where new code goes')"
    )


def test_no_function_over_80_lines_of_code():
    long = {}
    for path in _checked_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            if function and (n := _code_lines(node)) > MAX_FUNCTION_LINES:
                long[f"{path.relative_to(PACKAGE).as_posix()}:{node.name}"] = n
    assert not long, (
        f"functions over {MAX_FUNCTION_LINES} lines of code (docstring excluded): {long}; "
        "split them into named helpers"
    )
