"""Saliency throughput: simplexgrad.attribution.saliency vs a bare compiled gradient loop.

Both run the same CNN-deep (200 x 4 inputs, DESIGN §6) on the same data and batch size, in one process;
compilation is excluded by a warm-up call. Prints maps per second for each and their ratio
(simplexgrad / bare; 1.0 means no overhead).

    KERAS_BACKEND=tensorflow python benchmarks/attribution_throughput.py --num-seqs 4000
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from simplexgrad.attribution import saliency  # noqa: E402
from simplexgrad.models import cnn_deep  # noqa: E402


def bare_gradient_loop(model: keras.Model, batch_size: int):
    """The fastest plain loop we know per backend: one compiled gradient call per batch."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=False)
        def gradient(batch):
            with tf.GradientTape() as tape:
                tape.watch(batch)
                prediction = model(batch, training=False)[:, 0]
            return tape.gradient(prediction, batch)

        def run(x):
            data = tf.constant(x)
            return np.concatenate(
                [gradient(data[i : i + batch_size]).numpy() for i in range(0, len(x), batch_size)]
            )

        return run
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]

        def total(batch, tv, ntv):
            prediction, _ = model.stateless_call(tv, ntv, batch, training=False)
            return jnp.sum(prediction[:, 0])

        gradient = jax.jit(jax.grad(total))

        def run(x):
            return np.concatenate(
                [
                    np.asarray(gradient(jnp.asarray(x[i : i + batch_size]), trainable, non_trainable))
                    for i in range(0, len(x), batch_size)
                ]
            )

        return run
    raise SystemExit(f"no bare loop for backend {backend}")


def best_rate(function, x, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(x)
        times.append(time.perf_counter() - start)
    return len(x) / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-seqs", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    keras.utils.set_random_seed(args.seed)
    model = cnn_deep(activation="exponential")
    rng = np.random.default_rng(args.seed)
    # A multiple of the batch size, so that neither side pays for a ragged last batch.
    n = args.num_seqs - args.num_seqs % args.batch_size
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(n, 200))]

    bare = bare_gradient_loop(model, args.batch_size)

    def ours(inputs):
        return saliency(model, inputs, batch_size=args.batch_size, progress=False)

    np.testing.assert_allclose(ours(x[:256]), bare(x[:256]), rtol=1e-4, atol=1e-8)  # same maps; warm-up
    # Interleave the two so that drift in machine load affects both alike.
    bare_rates, our_rates = [], []
    for _ in range(args.repeats):
        bare_rates.append(best_rate(bare, x, 1))
        our_rates.append(best_rate(ours, x, 1))
    bare_rate, our_rate = statistics.median(bare_rates), statistics.median(our_rates)
    print(
        f"backend: {keras.backend.backend()}, model: {model.name}, "
        f"{n} sequences of 200 nt, batch {args.batch_size}"
    )
    print(f"bare compiled gradient loop : {bare_rate:10.1f} maps/s")
    print(f"simplexgrad saliency        : {our_rate:10.1f} maps/s")
    print(f"ratio (simplexgrad / bare)  : {our_rate / bare_rate:10.3f}")


if __name__ == "__main__":
    main()
