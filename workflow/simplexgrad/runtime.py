"""Backend set-up shared by the command-line steps: CPU threads and model loading."""

from __future__ import annotations

import os

import keras

__all__ = ["configure_threads", "load_model"]


def configure_threads(threads: int | None) -> None:
    """Limit the backend to ``threads`` CPU threads (None leaves the backend's default).

    Call before the first model is built: TensorFlow fixes its thread pools on first use. XLA stays off
    on the TensorFlow CPU path, where it was measured to be far slower for these models.
    """
    if threads is None:
        return
    if threads < 1:
        raise ValueError(f"threads must be >= 1; got {threads}")
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
    elif backend == "jax":
        os.environ.setdefault(
            "XLA_FLAGS", f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}"
        )


def load_model(path: str | os.PathLike) -> keras.Model:
    """Load a ``.keras`` model for inference (no optimizer state, no custom training objects needed)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file not found: {path}")
    return keras.models.load_model(path, compile=False)
