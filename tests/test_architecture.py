"""The library's architecture, read from its source (nothing is imported): imports point down the layers
and never in a cycle, every piece of vocabulary is defined once, no library module is over 500 lines, and
each subcommand calls the function named after it (that every subcommand's ``--help`` works is
tests/test_cli.py's; where each public name lives and who re-exports it is tests/test_public_paths.py's)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[1] / "workflow" / "simplexgrad"

# Lowest layer first. A module may import from its own layer or a lower one, never a higher one.
LAYERS = [
    {
        "_arrays",
        "_atomic",
        "_config",
        "_docs",
        "_lazy",
        "_model_files",
        "_optional",
        "_process",
        "_startup",
        "_torch_backend",
    },
    {"angle_null", "backend", "correction", "io"},
    {"data", "metrics", "tables"},
    {"attribution", "plots", "training"},
    {"studies"},
    {"figures"},
    {"", "__main__", "cli", "_arguments"},  # "": the package's own __init__; _arguments is cli's
]
VOCABULARY = ("ALPHABET", "ALPHABET_AXIS", "Layout", "OutputKind", "GradientFunction", "Target")
MAX_LINES = 500  # a library module; the command line's module at most 250


def module_name(path: Path) -> str:
    parts = path.relative_to(LIBRARY.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


PATHS = {module_name(path): path for path in sorted(LIBRARY.rglob("*.py"))}
MODULES: dict[str, ast.Module] = {
    name: ast.parse(path.read_text(encoding="utf-8"), str(path)) for name, path in PATHS.items()
}


def imported_modules(tree: ast.Module) -> set[str]:
    """The library modules that ``tree`` imports, at any depth (function-level imports included);
    ``from simplexgrad.x import y`` imports the module ``simplexgrad.x.y`` if there is one, else
    ``simplexgrad.x``."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "simplexgrad"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "simplexgrad":
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    return found


def import_graph() -> dict[str, set[str]]:
    return {name: imported_modules(tree) - {name} for name, tree in MODULES.items()}


def layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    (index,) = [index for index, members in enumerate(LAYERS) if top in members]
    return index


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while (member := stack.pop()) != node:
                group.append(member)
            group.append(node)
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_every_module_has_one_layer():
    for module in MODULES:
        layer(module)  # exactly one layer names the module's package, or the module itself if flat


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_imports_point_down_the_layers():
    upward = [
        f"{module} (layer {layer(module)}) imports {target} (layer {layer(target)})"
        for module, targets in import_graph().items()
        for target in sorted(targets)
        if layer(target) > layer(module)
    ]
    assert upward == []


def test_the_check_finds_a_cycle_and_an_upward_import():
    graph = import_graph()
    graph["simplexgrad.io"] = graph["simplexgrad.io"] | {"simplexgrad.attribution.maps"}
    assert ["simplexgrad.attribution.maps", "simplexgrad.io"] in cycles(graph)
    assert layer("simplexgrad.attribution.maps") > layer("simplexgrad.io")


def assigned_names(tree: ast.Module) -> set[str]:
    """Names bound at the top level of a module by assignment (imports do not count)."""
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names |= {target.id for target in targets if isinstance(target, ast.Name)}
    return names


@pytest.mark.parametrize("name", VOCABULARY)
def test_each_piece_of_vocabulary_is_defined_once(name):
    assert [module for module, tree in MODULES.items() if name in assigned_names(tree)] == [
        "simplexgrad._arrays"
    ]


def test_the_alphabet_is_spelled_once():
    spelled = [
        module
        for module, tree in MODULES.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value == "ACGT"
    ]
    assert spelled == ["simplexgrad._arrays"]


def test_no_library_module_is_over_500_lines():
    lengths = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in PATHS.items()}
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}
    assert lengths["simplexgrad.cli"] <= 250


def test_each_subcommand_calls_the_function_named_after_it():
    (table,) = [
        node.value
        for node in MODULES["simplexgrad.cli"].body
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "COMMANDS"
    ]
    for key, row in zip(table.keys, table.values, strict=True):
        command = ast.literal_eval(key)
        assert isinstance(row, ast.Call) and row.func.id == "Command", command
        module, _, function = ast.literal_eval(row.args[0]).partition(":")
        assert module in MODULES, (command, module)
        if command == "figure":  # the figures are named after themselves (simplexgrad.figures.FIGURES)
            assert function == "FIGURES" and function in assigned_names(MODULES[module])
            continue
        assert re.search(rf"^def {function}\(", ast.unparse(MODULES[module]), re.M), (command, function)
        name = command.replace("-", "_")
        assert function == name or function.startswith(f"{name}_"), (command, function)
