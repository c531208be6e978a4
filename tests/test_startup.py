"""The command line's shorter start: the optional imports it skips, and only those."""

import os
import subprocess
import sys

import pytest
from simplexgrad import _startup
from simplexgrad._startup import skipped_optional_imports


@pytest.fixture
def optional_module(tmp_path, monkeypatch):
    """A not yet imported module ``sg_optional_dep`` and a finder skipping it for importers ``lib.*``."""
    (tmp_path / "sg_optional_dep.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(_startup, "OPTIONAL_IMPORTS", {"sg_optional_dep": ("lib.",)})
    yield "sg_optional_dep"
    sys.modules.pop("sg_optional_dep", None)


GUARDED_IMPORT = "try:\n    import sg_optional_dep as found\nexcept ImportError:\n    found = None\n"


def import_from(module_name: str) -> object:
    """Run the guarded import as module ``module_name`` would; the module found or None."""
    namespace = {"__name__": module_name}
    exec(GUARDED_IMPORT, namespace)
    return namespace["found"]


LAZY_IMPORT = (
    "import importlib\ntry:\n    found = importlib.import_module('sg_optional_dep')\nexcept ImportError:\n"
    "    found = None\n"
)


def test_only_the_listed_importers_see_the_package_as_missing(optional_module):
    with skipped_optional_imports():
        lazy = {"__name__": "lib.lazy"}
        exec(LAZY_IMPORT, lazy)  # through importlib.import_module, as Keras's lazy modules import
        assert lazy["found"] is None
        assert import_from("lib.wrappers") is None
        assert import_from("library") is not None  # a prefix of the name, not of the dotted path
        assert import_from("lib.wrappers") is not None  # imported by now: nothing to skip
    assert optional_module in sys.modules


def test_the_finder_leaves_with_the_block(optional_module):
    finders = list(sys.meta_path)
    with skipped_optional_imports():
        assert len(sys.meta_path) == len(finders) + 1
    assert sys.meta_path == finders
    assert import_from("lib.wrappers") is not None


def test_jax_is_skipped_unless_keras_runs_on_it_and_tensorflow_when_it_does(monkeypatch):
    common = {"sklearn", "scipy", "matplotlib"}
    for backend, skipped in (("tensorflow", common | {"jax"}), ("jax", common | {"tensorflow"})):
        monkeypatch.setenv("KERAS_BACKEND", backend)
        with skipped_optional_imports():
            assert set(sys.meta_path[0].skipped) == skipped, backend


def run_in_block(block: list[str], after: str, backend: str) -> str:
    """A fresh interpreter with Keras on ``backend`` runs the lines of ``block`` inside
    ``skipped_optional_imports()``, then ``after``; its stdout."""
    script = "import sys\nfrom simplexgrad._startup import skipped_optional_imports\n"
    script += "with skipped_optional_imports():\n" + "".join(f"    {line}\n" for line in block) + after
    return run_script(script, backend)


def run_script(script: str, backend: str) -> str:
    """``script`` in a fresh interpreter with Keras on ``backend`` (JAX on the CPU); its stdout."""
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


MODEL = "model = keras.Sequential([keras.Input((8, 4)), keras.layers.Flatten(), keras.layers.Dense(1)])"


@pytest.mark.slow
def test_keras_and_seaborn_work_without_scikit_learn_jax_and_scipy_stats():
    stdout = run_in_block(
        [
            "import keras, numpy as np",
            "from simplexgrad.attribution import saliency",
            MODEL,
            "maps = saliency(model, np.eye(4, dtype='float32')[np.arange(8) % 4][None])",
            "assert maps.shape == (1, 8, 4)",
            "print(sorted(name for name in ('matplotlib', 'scipy') if name in sys.modules))",
            "import matplotlib; matplotlib.use('Agg'); import seaborn",
            "seaborn.histplot(np.arange(10.0), bins=np.arange(0, 11, 2), stat='density')",
            "print(sorted(name for name in ('sklearn', 'jax', 'scipy.stats') if name in sys.modules))",
        ],
        "import sklearn, jax, scipy.stats\n",  # later imports from elsewhere are unaffected
        backend="tensorflow",
    )
    assert stdout.split("\n")[:2] == ["[]", "[]"], stdout  # Keras started without matplotlib


@pytest.mark.slow
def test_keras_on_jax_seeds_and_trains_without_tensorflow():
    """Keras on JAX imports TensorFlow only to seed it; the command line's start leaves it out."""
    stdout = run_in_block(
        [
            "import keras, numpy as np",
            "from simplexgrad.attribution import saliency",
            "from simplexgrad.backend import seed_everything",
            "seed_everything(3)",
            MODEL,
            "model.compile(optimizer='adam', loss='mse')",
            "x = np.eye(4, dtype='float32')[np.arange(8) % 4][None].repeat(4, axis=0)",
            "model.fit(x, np.ones((4, 1)), epochs=1, shuffle=True, verbose=0)",
            "assert saliency(model, x).shape == (4, 8, 4)",
            "print('tensorflow' in sys.modules)",
        ],
        "import tensorflow\n",  # a later import from elsewhere is unaffected
        backend="jax",
    )
    assert stdout.strip() == "False"


SEEDED_ON_JAX = """
import sys
import keras, numpy as np
from simplexgrad.backend import seed_everything

def draws(seed):
    seed_everything(seed)
    generator = keras.random.SeedGenerator()  # seeded from the global seed
    return np.random.uniform(size=3), np.asarray(keras.random.uniform((3,), seed=generator))

first, again = draws(3), draws(3)
assert all(np.array_equal(a, b) for a, b in zip(first, again)), "not reproducible"
print("tensorflow" in sys.modules)
import tensorflow as tf  # imported before seeding: seeded, as Keras does

seed_everything(5)
a = tf.random.uniform((3,)).numpy()
seed_everything(5)
print(np.array_equal(a, tf.random.uniform((3,)).numpy()))
"""


@pytest.mark.slow
def test_seeding_on_jax_leaves_tensorflow_out_unless_it_is_imported():
    stdout = run_script(SEEDED_ON_JAX, backend="jax")
    assert stdout.split() == ["False", "True"], stdout
