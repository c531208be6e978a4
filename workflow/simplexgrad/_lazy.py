"""A package's re-exports, declared once in its stub file and imported on first use.

A package that re-exports names of its modules lists them in ``__init__.pyi`` beside its ``__init__.py``,
one ``from .module import name as name`` per name (the form that type checkers read as a re-export), and
its ``__init__.py`` hands that file to :func:`attach_stub`. Type checkers and IDEs read the stub; at run
time :func:`attach_stub` reads the same lines (with :mod:`ast`) and makes the package's ``__getattr__``,
``__dir__`` and ``__all__`` from them, so importing the package loads none of its modules, nor any
optional dependency (pandas, matplotlib, Keras, TensorFlow, JAX or torch).
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from pathlib import Path

__all__ = ["attach_stub", "stub_exports"]


def stub_exports(stub: str | Path) -> dict[str, str]:
    """The names a package's stub re-exports, each with the module of the package that provides it.

    Parameters
    ----------
    stub : str or pathlib.Path
        The package's ``__init__.pyi``. It holds a docstring and ``from .module import name as name``
        lines, nothing else.

    Returns
    -------
    dict of str to str
        Each name (in the stub's order) and the module, inside the package, that it is imported from.

    Raises
    ------
    ValueError
        For any other statement, an import without ``as`` its own name, a name imported twice, and a
        name that is also one of the modules named (``package.name`` would then be the module).
    """
    tree = ast.parse(Path(stub).read_text(encoding="utf-8"), str(stub))
    owners: dict[str, str] = {}
    for index, node in enumerate(tree.body):
        if index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if not (isinstance(node, ast.ImportFrom) and node.level == 1 and node.module):
            raise ValueError(f"{stub}:{node.lineno}: only `from .module import name as name` lines")
        for alias in node.names:
            if alias.asname != alias.name:
                raise ValueError(f"{stub}:{node.lineno}: write `{alias.name} as {alias.name}` (a re-export)")
            if alias.name in owners:
                raise ValueError(f"{stub}:{node.lineno}: {alias.name!r} is exported twice")
            owners[alias.name] = node.module
    clashes = sorted(set(owners) & {module.split(".")[0] for module in owners.values()})
    if clashes:
        raise ValueError(f"{stub}: {clashes} would be both a module and a name of the package")
    return owners


def attach_stub(
    package: str, init_file: str
) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` of a package, from the stub beside its ``__init__.py``.

    Use it as ``__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    init_file : str
        The package's ``__file__``; the stub is the ``.pyi`` file of the same name beside it.

    Returns
    -------
    tuple
        ``__getattr__``, which imports a name's module when the name is first asked for and looks the name
        up in it at every access (a patched module attribute shows through the package); ``__dir__``, the
        re-exported names; and ``__all__``, the same names in the stub's order.
    """
    owners = stub_exports(Path(init_file).with_suffix(".pyi"))

    def __getattr__(name: str) -> object:
        if name not in owners:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{owners[name]}"), name)

    def __dir__() -> list[str]:
        return list(owners)

    return __getattr__, __dir__, list(owners)
