"""Optional dependencies: which extra of ``simplexgrad`` provides what, and the one-line error without it.

A core install (``pip install simplexgrad``) has NumPy and h5py: the correction, the angles, the
map-file readers and writers and ``simplexgrad correct``. Everything else comes with an extra
(``pip install 'simplexgrad[keras]'``). Modules that need an extra import it through :func:`require`
(one module, inside a function) or :func:`needs` (a block of module-level imports), so that a missing
package is reported as one line naming the extra to install, e.g.
``simplexgrad.training.single needs Keras: pip install 'simplexgrad[keras]'``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
from collections.abc import Iterator
from types import ModuleType

__all__ = ["EXTRAS", "PROVIDES", "MissingExtra", "require", "needs", "check_extra", "install_hint"]

# extra -> what it brings, as named in the one-line errors
EXTRAS: dict[str, str] = {
    "keras": "Keras",
    "jax": "JAX",
    "torch": "PyTorch",
    "modisco": "tfmodisco-lite",
    "workflow": "the workflow packages",
}

# extra -> the modules (import names) it must provide, checked without importing them
PROVIDES: dict[str, tuple[str, ...]] = {
    "keras": ("keras", "tensorflow", "pandas", "scipy", "matplotlib", "seaborn"),
    "jax": ("jax", "keras", "pandas", "scipy"),
    "torch": ("torch",),
    "modisco": ("modiscolite", "memelite", "pyjaspar", "pandas", "scipy"),
    "workflow": (
        "pandas", "scipy", "matplotlib", "seaborn", "pyjaspar", "pyfaidx", "pybedtools",
        "yaml", "jsonschema",
    ),
}  # fmt: skip


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message names the extra that provides it.

    Attributes
    ----------
    extra : str
        The extra to install (a key of :data:`EXTRAS`).
    purpose : str
        What needed it (a module, a function or a command).
    missing : str or None
        The module that could not be imported.
    """

    def __init__(self, extra: str, purpose: str, missing: str | None = None) -> None:
        self.extra, self.purpose, self.missing = extra, purpose, missing
        super().__init__(install_hint(extra, purpose), name=missing)


def install_hint(extra: str, purpose: str) -> str:
    """The one-line message: ``"<purpose> needs <what>: pip install 'simplexgrad[<extra>]'"``."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; extras: {sorted(EXTRAS)}")
    return f"{purpose} needs {EXTRAS[extra]}: pip install 'simplexgrad[{extra}]'"


def _third_party(error: ImportError) -> bool:
    """Whether ``error`` is a missing package (not a broken module of this library)."""
    name = getattr(error, "name", None) or ""
    return isinstance(error, ModuleNotFoundError) and name.split(".")[0] != "simplexgrad"


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtra` naming ``extra``.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"keras"`` or ``"scipy.stats"``.
    extra : str
        The extra of ``simplexgrad`` that installs it (a key of :data:`EXTRAS`).
    purpose : str
        What needs it, for the message (a function, a module or a command).

    Returns
    -------
    types.ModuleType
        The imported module.

    Raises
    ------
    MissingExtra
        When ``module`` (or a package it imports) is not installed.
    """
    with needs(extra, purpose):
        return importlib.import_module(module)


@contextlib.contextmanager
def needs(extra: str, purpose: str) -> Iterator[None]:
    """Context for a block of imports: a missing package in it raises :class:`MissingExtra`.

    Blocks nest: when a module imported in the block raises :class:`MissingExtra` for its own extra, the
    error names this block's extra and purpose instead (each extra holds what its modules import), so
    ``import simplexgrad.training.single`` names the ``keras`` extra, not that of a module it imports.

    Parameters
    ----------
    extra : str
        The extra of ``simplexgrad`` that installs the block's packages.
    purpose : str
        What needs them, for the message.
    """
    install_hint(extra, purpose)  # an unknown extra is a bug here, not a missing package
    try:
        yield
    except MissingExtra as inner:  # a module imported here needs an extra: this block's extra has it
        raise MissingExtra(extra, purpose, inner.missing) from inner
    except ImportError as error:
        if not _third_party(error):
            raise
        raise MissingExtra(extra, purpose, error.name) from error


def check_extra(extra: str, purpose: str) -> None:
    """Raise :class:`MissingExtra` unless every module of :data:`PROVIDES` ``[extra]`` is installed.

    Nothing is imported (so nothing slow, such as TensorFlow, is loaded): only the installed packages are
    looked up.

    Parameters
    ----------
    extra : str
        A key of :data:`EXTRAS`.
    purpose : str
        What needs it, for the message.
    """
    install_hint(extra, purpose)
    for module in PROVIDES[extra]:
        if not _installed(module):
            raise MissingExtra(extra, purpose, module)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken install, or a module blocked with sys.modules[name] = None
        return False
