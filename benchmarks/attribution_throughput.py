"""Saliency throughput: simplexgrad.attribution.saliency vs a bare compiled gradient loop, and vs captum.

Keras part: both run the same CNN-deep (200 x 4 inputs, paper appendix A) on the same data and batch size,
in one process; compilation is excluded by a warm-up call. Torch part: our saliency of a PyTorch CNN-deep
(same layers, (N, 4, L) inputs, layout='NAL') vs captum's ``Saliency(abs=False)`` on the same module, data
and batch size, both returning NumPy maps. Each part prints maps per second for each side and their ratio
(simplexgrad / other; 1.0 means no overhead). Runs are interleaved so that drift in load hits both sides.

    KERAS_BACKEND=tensorflow python benchmarks/attribution_throughput.py --num-seqs 4000
    python benchmarks/attribution_throughput.py --part torch --torch-threads 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from simplexgrad.attribution import saliency  # noqa: E402


def bare_gradient_loop(model, batch_size: int):
    """The fastest plain loop we know per backend: one compiled gradient call per batch."""
    import keras

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


def interleaved_rates(first, second, x, repeats: int) -> tuple[float, float]:
    """Median maps per second of two functions on ``x``, run alternately."""
    first_rates, second_rates = [], []
    for _ in range(repeats):
        first_rates.append(best_rate(first, x, 1))
        second_rates.append(best_rate(second, x, 1))
    return statistics.median(first_rates), statistics.median(second_rates)


def keras_part(args, x: np.ndarray) -> None:
    import keras
    from simplexgrad.training.models import cnn_deep

    keras.utils.set_random_seed(args.seed)
    model = cnn_deep(activation="exponential")
    bare = bare_gradient_loop(model, args.batch_size)

    def ours(inputs):
        return saliency(model, inputs, batch_size=args.batch_size, progress=False)

    np.testing.assert_allclose(ours(x[:256]), bare(x[:256]), rtol=1e-4, atol=1e-8)  # same maps; warm-up
    bare_rate, our_rate = interleaved_rates(bare, ours, x, args.repeats)
    print(
        f"backend: {keras.backend.backend()}, model: {model.name}, "
        f"{len(x)} sequences of 200 nt, batch {args.batch_size}"
    )
    print(f"bare compiled gradient loop : {bare_rate:10.1f} maps/s")
    print(f"simplexgrad saliency        : {our_rate:10.1f} maps/s")
    print(f"ratio (simplexgrad / bare)  : {our_rate / bare_rate:10.3f}")


def torch_cnn_deep(seed: int):
    """CNN-deep in PyTorch, ``(N, 4, 200)`` inputs (exponential first layer, as in the Keras part)."""
    import torch
    from torch import nn

    class Exp(nn.Module):
        def forward(self, x):
            return torch.exp(x)

    def block(inputs, filters, kernel, activation, dropout, pool=None):
        layers = [nn.Conv1d(inputs, filters, kernel, padding="same"), nn.BatchNorm1d(filters, eps=1e-3)]
        layers += [activation, nn.Dropout(dropout)] + ([nn.MaxPool1d(pool)] if pool else [])
        return layers

    torch.manual_seed(seed)
    module = nn.Sequential(
        *block(4, 24, 19, Exp(), 0.1),
        *block(24, 32, 7, nn.ReLU(), 0.2, 4),
        *block(32, 48, 7, nn.ReLU(), 0.3, 4),
        *block(48, 64, 3, nn.ReLU(), 0.4, 3),
        nn.Flatten(),
        nn.Linear(64 * 4, 96),
        nn.BatchNorm1d(96, eps=1e-3),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(96, 1),
        nn.Sigmoid(),
    )
    with torch.no_grad():  # small first-layer weights keep exp() in range, as a trained model's would
        module[0].weight.mul_(0.1)
    return module.eval()


def torch_part(args, x: np.ndarray) -> None:
    import torch
    from captum.attr import Saliency

    warnings.filterwarnings("ignore", "Input Tensor 0 did not already require gradients")
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    module = torch_cnn_deep(args.seed)
    x = np.ascontiguousarray(x.transpose(0, 2, 1))  # (N, 4, L): the PyTorch convention
    captum_saliency = Saliency(module)

    def captum(inputs):
        data = torch.from_numpy(inputs)
        return np.concatenate(
            [
                captum_saliency.attribute(data[i : i + args.batch_size], target=0, abs=False).numpy()
                for i in range(0, len(inputs), args.batch_size)
            ]
        )

    def ours(inputs):
        return saliency(module, inputs, layout="NAL", batch_size=args.batch_size, progress=False)

    np.testing.assert_allclose(ours(x[:256]), captum(x[:256]), rtol=1e-5, atol=1e-9)  # same maps; warm-up
    captum_rate, our_rate = interleaved_rates(captum, ours, x, args.repeats)
    print(
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), model: CNN-deep (PyTorch), "
        f"{len(x)} sequences of 200 nt, batch {args.batch_size}"
    )
    print(f"captum Saliency(abs=False)  : {captum_rate:10.1f} maps/s")
    print(f"simplexgrad saliency        : {our_rate:10.1f} maps/s")
    print(f"ratio (simplexgrad / captum): {our_rate / captum_rate:10.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-seqs", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--part", choices=["all", "keras", "torch"], default="all")
    parser.add_argument("--torch-threads", type=int, default=None, help="torch's CPU threads")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    # A multiple of the batch size, so that neither side pays for a ragged last batch.
    n = args.num_seqs - args.num_seqs % args.batch_size
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(n, 200))]
    if args.part in ("all", "keras"):
        keras_part(args, x)
    if args.part in ("all", "torch"):
        torch_part(args, x)


if __name__ == "__main__":
    main()
