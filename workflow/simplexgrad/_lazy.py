"""Re-exports for the subpackages, imported on first use: a package names its modules' public names, and
importing it loads none of them (nor pandas, matplotlib, Keras, TensorFlow, JAX or torch)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, modules: Mapping[str, Sequence[str]]
) -> tuple[list[str], Callable[[str], object], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` for a package that re-exports its modules' names.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    modules : mapping of str to sequence of str
        Each module of the package (its name inside the package) and the public names it provides. A
        name may not be provided twice, nor be a module's name (``package.name`` is then the module).

    Returns
    -------
    tuple
        The package's ``__all__`` (the names, in order), and its ``__getattr__`` and ``__dir__``: a name
        is looked up in its module, imported then, at every access, so a patched module attribute shows
        through the package.
    """
    owners: dict[str, str] = {}
    for module, names in modules.items():
        for name in names:
            if name in owners or name in modules:
                raise ValueError(f"{package}: {name!r} is exported twice or is also a module")
            owners[name] = module

    def __getattr__(name: str) -> object:
        if name not in owners:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{owners[name]}"), name)

    def __dir__() -> list[str]:
        return sorted({*owners, *modules})

    return list(owners), __getattr__, __dir__
