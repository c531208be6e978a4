"""Shared test set-up: TensorFlow backend unless told otherwise, quiet logs, JAX's compilation cache, small
models."""

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# JAX's persistent compilation cache, in the virtualenv, for this process and every JAX script and workflow
# job it starts: a program that one test compiled is loaded, not compiled again, by the next process that
# builds it (XLA's CPU compiler is most of a short JAX job: the ensemble tests' CPU time falls from 147 s to
# 86 s with a warm cache). Every program counts, not only those over JAX's default of 1 s of compiling;
# a size limit turns on JAX's file lock, so the two workers never read an entry the other is writing.
# Only in a virtualenv (make's .venv), never under a system interpreter's prefix.
if sys.prefix != sys.base_prefix:
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(Path(sys.prefix) / "jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(2**31))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

# Options as `attribute-methods --options` (and `attribute-group --options`) take them; small values keep
# the four methods fast.
FAST_OPTIONS = [
    "integrated_gradients.steps=4",
    "smoothgrad.num_samples=3",
    "smoothgrad.sigma=0.2",
    "expected_gradients.num_references=2",
    "expected_gradients.steps=3",
]


def run_with_jax(
    script: Path, source: str, *args: object, timeout: int = 600, threads: int | None = 1
) -> str:
    """Write ``source`` to ``script`` and run it with ``args`` under the JAX backend on the CPU (this test
    process runs TensorFlow); its stdout. The test fails, with the end of stderr, on a non-zero exit.

    JAX computes on ``threads`` threads (None: JAX's default, every core): `make test` runs one pytest
    worker per core, so more threads would only compete with the other worker."""
    if threads is not None:
        source = f"from simplexgrad.backend import configure_threads\nconfigure_threads({threads})\n{source}"
    script.write_text(source)
    result = subprocess.run(
        [sys.executable, str(script), *map(str, args)],
        env={**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


def random_onehot(rng: np.random.Generator, n: int, length: int, alphabet: int = 4) -> np.ndarray:
    """(n, length, alphabet) float32 one-hot sequences."""
    return np.eye(alphabet, dtype=np.float32)[rng.integers(0, alphabet, size=(n, length))]


def small_cnn(length: int = 30, alphabet: int = 4, dtype: str = "float32", seed: int = 0, units: int = 1):
    """A small conv → pool → dense → sigmoid model with smooth activations (for finite differences) and
    ``units`` output units."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((length, alphabet), dtype=dtype)
    hidden = keras.layers.Conv1D(6, 5, padding="same", activation="softplus", dtype=dtype)(inputs)
    hidden = keras.layers.BatchNormalization(dtype=dtype)(hidden)
    hidden = keras.layers.Activation("tanh", dtype=dtype)(hidden)
    hidden = keras.layers.AveragePooling1D(3, dtype=dtype)(hidden)
    hidden = keras.layers.Flatten(dtype=dtype)(hidden)
    hidden = keras.layers.Dense(8, activation="tanh", dtype=dtype)(hidden)
    outputs = keras.layers.Dense(units, activation="sigmoid", dtype=dtype)(hidden)
    model = keras.Model(inputs, outputs)
    # Move batch-norm statistics off their defaults so that inference mode is actually exercised.
    bn = model.layers[2]
    rng = np.random.default_rng(seed)
    bn.moving_mean.assign(rng.normal(0, 0.1, 6).astype(dtype))
    bn.moving_variance.assign(rng.uniform(0.5, 1.5, 6).astype(dtype))
    return model


@pytest.fixture(scope="session")
def model32():
    return small_cnn()


@pytest.fixture(scope="session")
def model64():
    return small_cnn(dtype="float64")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# Modules whose tests share a long fixture (a workflow run, the Slurm cluster, trained ensembles, fresh
# environments) or take longer than 15 s together, longest first: `make test` runs them ahead of the rest
# (pytest-xdist with --no-loadscope-reorder keeps this order), so that no long module is left running
# alone at the end.
LONGEST_FIRST = (
    "test_workflow.py",
    "test_slurm.py",
    "test_invivo.py",
    "test_ensemble.py",
    "test_signals.py",
    "test_models_training.py",
    "test_workflow_plans.py",
    "test_packaging.py",
    "test_attribution.py",
    "test_torch.py",
    "test_encode.py",
    "test_modisco.py",
    "test_startup.py",
    "test_light_jobs.py",
    "test_docs.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
