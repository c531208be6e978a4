"""A shorter start for the command line: optional imports of its libraries that no command uses.

Importing Keras on TensorFlow takes about 6 s of CPU, and each training or attribution job of the workflow is
a process that pays it. Almost half of it goes to optional imports that only matter to code the command line
never runs: Keras's scikit-learn wrappers import scikit-learn (about 1 s); when JAX is installed, TensorFlow
Lite's JAX converter and a Keras compatibility patch for JAX's monitoring import JAX (about 0.5 s); Keras's
image-gallery plots import matplotlib and TensorFlow's legacy Keras imports SciPy's sparse matrices (about 1.1
s together, with matplotlib's own dependencies), though training and attribution jobs draw nothing and the
figure commands import matplotlib themselves. Likewise seaborn imports SciPy's statistics and clustering
(about 0.8 s of each figure job's 3 s) for kernel density estimates and clustered heat maps, which no figure
draws (seaborn falls back to its own copy of ``gaussian_kde``). Keras on JAX imports TensorFlow, when
installed, only to seed it (about 3 s; a JAX training command starts 4 to 7 s sooner without it, with the same
weights). Each site guards the import with ``try: ... except ImportError``. While
:func:`skipped_optional_imports` is active, exactly these sites see the package as missing; the same package
imported from anywhere else, or already imported, is unaffected.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import os
import sys
from collections.abc import Iterator, Mapping, Sequence

__all__ = ["skipped_imports", "skipped_optional_imports"]

# package -> the modules whose optional import of it is skipped (prefixes of the importing module's name)
OPTIONAL_IMPORTS: Mapping[str, Sequence[str]] = {
    "sklearn": ("keras.src.wrappers.",),
    "jax": ("tensorflow.lite.", "keras.src.callbacks.orbax_checkpoint"),
    "scipy": ("seaborn.", "tensorflow.python.keras."),
    "matplotlib": ("keras.src.visualization.",),
}
# Keras on JAX (or torch) still imports TensorFlow when it is installed, through its lazy module, only to
# seed it in keras.utils.set_random_seed (about 2.9 s of CPU); no command uses TensorFlow on those backends.
KERAS_LAZY_TENSORFLOW: Sequence[str] = ("keras.src.utils.module_utils",)


class _SkippingFinder(importlib.abc.MetaPathFinder):
    """First on ``sys.meta_path``: raises ModuleNotFoundError for ``package`` (or a submodule) when the
    module running the import statement is one of ``importers``; otherwise leaves the search to the
    other finders."""

    def __init__(self, skipped: Mapping[str, Sequence[str]]) -> None:
        self.skipped = {package: tuple(importers) for package, importers in skipped.items()}

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        importers = self.skipped.get(name.partition(".")[0])
        if importers is None:
            return None
        # Past the import machinery and importlib.import_module, to the module that asked for the import.
        frame = sys._getframe(1)
        while frame is not None and (
            frame.f_code.co_filename.startswith("<frozen importlib")
            or frame.f_globals.get("__name__") == "importlib"
        ):
            frame = frame.f_back
        importer = frame.f_globals.get("__name__", "") if frame is not None else ""
        if importer.startswith(importers):
            raise ModuleNotFoundError(f"No module named {name!r} (skipped for {importer})", name=name)
        return None


@contextlib.contextmanager
def skipped_optional_imports() -> Iterator[None]:
    """Within the block, the optional imports of :data:`OPTIONAL_IMPORTS` fail as if the package were
    missing: scikit-learn for Keras's wrappers, matplotlib for Keras's image plots, SciPy for seaborn and
    TensorFlow's legacy Keras, and JAX for TensorFlow Lite and Keras's Orbax callback unless Keras runs on
    JAX (``KERAS_BACKEND=jax``); TensorFlow for Keras's lazy module when Keras runs on another backend."""
    skipped = dict(OPTIONAL_IMPORTS)
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend == "jax":
        del skipped["jax"]
    if backend != "tensorflow":
        skipped["tensorflow"] = KERAS_LAZY_TENSORFLOW
    with skipped_imports(skipped):
        yield


@contextlib.contextmanager
def skipped_imports(skipped: Mapping[str, Sequence[str]]) -> Iterator[None]:
    """Within the block, importing a package of ``skipped`` (or a submodule) from a module whose name
    starts with one of its importers raises ModuleNotFoundError; every other import is untouched."""
    finder = _SkippingFinder(skipped)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(finder)
