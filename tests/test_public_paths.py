"""One public path per name: where each public name lives, who re-exports it, and that the stubs that
declare the re-exports are what the packages give at run time.

The rule, read from the source:

- A public name has one home: the public module (no ``_`` in its path) whose ``__all__`` lists it. The
  module defines it, or imports it from a private module (``attribution.methods`` is the home of
  ``shuffled_references``, drawn in ``attribution._points``). No other module lists it.
- A package re-exports names only through its stub (``__init__.pyi``, read at run time by
  :func:`simplexgrad._lazy.attach_stub`), only names of its own modules' ``__all__``, and no name is
  re-exported by two packages. ``data`` and ``studies`` re-export nothing.
- The top level imports its few names explicitly: the correction and its diagnostics, whose home is
  ``simplexgrad.correction``, and the four methods, which ``simplexgrad.attribution`` also re-exports (so
  ``simplexgrad.saliency`` and ``simplexgrad.attribution.saliency`` both work; nothing else has two).
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from simplexgrad._lazy import stub_exports

LIBRARY = Path(__file__).resolve().parents[1] / "workflow" / "simplexgrad"
STUB_PACKAGES = ("attribution", "training")
BARE_PACKAGES = ("data", "studies", "plots")
TOP_LEVEL = [
    "correct", "simplex_angle", "large_angle_fraction", "angle_statistics",
    "saliency", "integrated_gradients", "smoothgrad", "expected_gradients", "__version__",
]  # fmt: skip
# What users import from the packages (the list, and what the benchmarks and tests import).
REEXPORTED = {
    "attribution": {
        "saliency", "integrated_gradients", "smoothgrad", "expected_gradients", "METHODS",
        "method_options", "shuffled_references", "correct_file",
    },
    "training": {
        "build_model", "train", "train_to_directory", "TrainingConfig", "train_ensemble", "import_weights",
        "evaluate",
    },
}  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(LIBRARY.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


SOURCES = {module_name(path): path for path in sorted(LIBRARY.rglob("*.py"))}
TREES = {name: ast.parse(path.read_text(encoding="utf-8"), str(path)) for name, path in SOURCES.items()}
PACKAGES = sorted(name for name, path in SOURCES.items() if path.name == "__init__.py")


def is_public(module: str) -> bool:
    return not any(part.startswith("_") for part in module.split("."))


def listed(module: str) -> list[str]:
    """The module's ``__all__``, as written."""
    for node in TREES[module].body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__all__"]:
            return list(ast.literal_eval(node.value))
    return []


def top_level_statements(body: list[ast.stmt]):
    """The statements run at import, through ``with``, ``if`` and ``try`` blocks (not into functions)."""
    for node in body:
        yield node
        for block in ("body", "orelse", "finalbody", "handlers"):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                yield from top_level_statements(getattr(node, block, []))


def bindings(module: str) -> dict[str, str | None]:
    """Each name the module binds at import: the module it is imported from, or None when defined here."""
    bound: dict[str, str | None] = {}
    for node in top_level_statements(TREES[module].body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound[node.name] = None
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        bound[name.id] = None
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                bound[alias.asname or alias.name] = node.module
    return bound


def homes() -> dict[str, list[str]]:
    """Each public name and the public modules (packages aside) that list it in ``__all__``."""
    found: dict[str, list[str]] = {}
    for module in SOURCES:
        if is_public(module) and module not in PACKAGES:
            for name in listed(module):
                found.setdefault(name, []).append(module)
    return found


def stub(package: str) -> dict[str, str]:
    return stub_exports(LIBRARY / package / "__init__.pyi")


# --- the rule, on the source ------------------------------------------------------------------------------


def test_each_public_name_has_one_home():
    shared = {name: modules for name, modules in homes().items() if len(modules) > 1}
    assert shared == {}, "a name listed in two modules' __all__"


@pytest.mark.parametrize("module", [m for m in SOURCES if is_public(m) and m not in PACKAGES])
def test_a_module_lists_only_what_it_defines_or_draws_from_a_private_module(module):
    bound = bindings(module)
    for name in listed(module):
        assert name in bound, f"{module}.__all__ names {name!r}, which it does not bind"
        source = bound[name]
        assert source is None or not is_public(source), f"{module} lists {name!r}, imported from {source}"


def test_a_package_reexports_only_through_its_stub_and_only_its_own_modules_names():
    for package in PACKAGES:
        if package == "simplexgrad":
            continue
        short = package.split(".", 1)[1]
        tree = TREES[package]
        stubbed = (LIBRARY / short / "__init__.pyi").exists()
        assert stubbed == (short in STUB_PACKAGES), package
        assert ast.get_docstring(tree), package
        if not stubbed:  # a docstring and nothing else
            assert len(tree.body) == 1, f"{package} re-exports nothing: its __init__ is its docstring"
            continue
        for name, module in stub(short).items():
            assert f"{package}.{module}" in SOURCES, (package, module)
            home = f"{package}.{module}"
            assert name in listed(home) or (not is_public(home) and name in bindings(home)), (package, name)
        submodules = {m.rsplit(".", 1)[1] for m in SOURCES if m.startswith(f"{package}.")}
        assert not set(stub(short)) & submodules, f"{package}: a name that is also a module"


def test_no_name_is_reexported_by_two_packages():
    seen: dict[str, str] = {}
    for package in STUB_PACKAGES:
        for name, module in stub(package).items():
            key = f"simplexgrad.{package}.{module}:{name}"
            assert key not in seen, f"{key} is re-exported by {seen.get(key)} and {package}"
            seen[key] = package
            owners = homes().get(name, [])
            assert owners in ([], [f"simplexgrad.{package}.{module}"]), (name, owners)


def test_the_packages_reexport_what_users_import():
    for package, names in REEXPORTED.items():
        assert set(stub(package)) == names, package


def test_the_top_level_imports_its_names_explicitly():
    tree = TREES["simplexgrad"]
    assert listed("simplexgrad") == TOP_LEVEL
    calls = [
        node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and hasattr(node.func, "id")
    ]
    assert "globals" not in calls and "attach_stub" not in calls
    bound = bindings("simplexgrad")
    for name in TOP_LEVEL[:-1]:
        (home,) = homes()[name]
        assert bound[name] == home, f"simplexgrad.{name} comes from {bound[name]}, its home is {home}"
        if home.count(".") > 1:  # a subpackage's name: that package re-exports it too
            package, module = home.split(".")[1:]
            assert stub(package).get(name) == module, name


# --- the stubs against the packages at run time -----------------------------------------------------------


@pytest.mark.parametrize(
    "package",
    [pytest.param(p, marks=[pytest.mark.slow] if p == "training" else []) for p in STUB_PACKAGES],
)  # training's modules import TensorFlow and JAX: about 10 s
def test_the_stub_is_what_the_package_exports(package):
    imported = importlib.import_module(f"simplexgrad.{package}")
    declared = stub(package)
    assert imported.__all__ == list(declared)
    assert dir(imported) == sorted(declared)  # dir() sorts what __dir__ gives
    for name, module in declared.items():
        home = importlib.import_module(f"simplexgrad.{package}.{module}")
        assert getattr(imported, name) is getattr(home, name), name
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        imported.no_such_name  # noqa: B018


@pytest.mark.parametrize("package", BARE_PACKAGES)
def test_packages_without_a_stub_export_nothing(package):
    imported = importlib.import_module(f"simplexgrad.{package}")
    assert not hasattr(imported, "__all__") and not hasattr(imported, "__getattr__")


def test_the_top_level_names_are_their_homes_objects():
    import simplexgrad
    from simplexgrad.attribution.methods import METHODS

    assert simplexgrad.__all__ == TOP_LEVEL
    for name in TOP_LEVEL[:-1]:
        (home,) = homes()[name]
        assert getattr(simplexgrad, name) is getattr(importlib.import_module(home), name), name
    assert [name for name in TOP_LEVEL if name in METHODS] == list(METHODS)


def test_importing_the_packages_loads_no_optional_dependency():
    script = (
        "import sys, simplexgrad, simplexgrad.attribution, simplexgrad.attribution.methods, "
        "simplexgrad.attribution.commands, simplexgrad.training, simplexgrad.plots, simplexgrad.data, "
        "simplexgrad.studies, simplexgrad.cli; from simplexgrad.attribution import METHODS, method_options; "
        "heavy = ('keras', 'tensorflow', 'torch', 'jax', 'pandas', 'matplotlib', 'scipy'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["[]"]


# --- the stub reader --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("from .maps import correct_file\n", "write `correct_file as correct_file`"),
        ("from .maps import read_array as read\n", "write `read_array as read_array`"),
        ("from simplexgrad.io import load_split as load_split\n", "only `from .module import"),
        ("__all__ = ['x']\n", "only `from .module import"),
        ("from .a import x as x\nfrom .b import x as x\n", "'x' is exported twice"),
        ("from .a import b as b\nfrom .b import c as c\n", "['b'] would be both a module and a name"),
    ],
)
def test_a_stub_of_another_form_is_refused(tmp_path, text, message):
    path = tmp_path / "__init__.pyi"
    path.write_text('"""A package."""\n\n' + text)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        stub_exports(path)
