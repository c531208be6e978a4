"""Members × epochs per second: the ensemble engine (K members, one vmapped JAX program) vs K sequential
single-model runs.

For each K in ``--members``, one group of K CNN-deep members (exponential first layer, the recipe's batch
of 100, no early stopping) trains for ``--epochs`` epochs on ``--num-seqs`` training sequences of length
200 (plus a validation split of a seventh of that). An epoch's time is the gap between the engine's
end-of-epoch log lines (training, validation and the schedules' bookkeeping); the first epoch (tracing and
compilation) is reported apart, and the median of the others is the steady epoch. Sequential
single-model training is the same engine with K = 1, run K times: ``K × (its epoch time)``, which leaves
out the start, imports and compilation that each separate job pays (so it flatters the sequential side;
the projected members per hour below add them back). With ``--tensorflow`` (where TensorFlow is
installed) the single-model TensorFlow engine (``simplexgrad.training.train``) is timed too, in a
subprocess on the same data. Data are random sequences with a planted motif in the positives (NumPy only,
so that the script runs where pyjaspar is missing).

    KERAS_BACKEND=jax python benchmarks/ensemble_training.py --members 1 10 50 --epochs 3
    python benchmarks/ensemble_training.py --members 1 4 --num-seqs 2000 --tensorflow   # a small CPU run
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

EPOCHS_PER_MODEL = 40  # typical epochs to early stopping in the study, for members per hour

TENSORFLOW_EPOCHS = """
import json, statistics, sys, time
import numpy as np, keras
from simplexgrad.training import TrainingConfig, train
data = np.load(sys.argv[1])
epochs, architecture, activation = int(sys.argv[2]), sys.argv[3], sys.argv[4]
class Clock(keras.callbacks.Callback):
    def on_train_begin(self, logs=None): self.seconds = []
    def on_epoch_begin(self, epoch, logs=None): self.start = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None): self.seconds.append(time.perf_counter() - self.start)
clock = Clock()
config = TrainingConfig(architecture=architecture, activation=activation, epochs=epochs,
                        early_stopping_patience=epochs + 1, lr_patience=epochs + 1)
train(config, data["x_train"], data["y_train"], data["x_valid"], data["y_valid"], verbose=0,
      extra_callbacks=[clock])
print(json.dumps({"first": clock.seconds[0], "steady": statistics.median(clock.seconds[1:])}))
"""


def planted_dataset(num_train: int, length: int, seed: int) -> dict[str, np.ndarray]:
    """Balanced one-hot sequences ``(N, length, 4)``; positives carry one of three 12-mers somewhere."""
    rng = np.random.default_rng(seed)
    motifs = rng.integers(0, 4, size=(3, 12))
    arrays = {}
    for split, count in (("train", num_train), ("valid", max(num_train // 7, 100))):
        tokens = rng.integers(0, 4, size=(count, length))
        labels = rng.uniform(size=count) < 0.5
        for row in np.flatnonzero(labels):
            start = rng.integers(0, length - 12)
            tokens[row, start : start + 12] = motifs[rng.integers(0, 3)]
        arrays[f"x_{split}"] = np.eye(4, dtype=np.float32)[tokens]
        arrays[f"y_{split}"] = labels.astype(np.float32)[:, None]
    return arrays


class EpochClock(logging.Handler):
    """Wall-clock times of the ensemble engine's end-of-epoch log lines."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.times: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("epoch "):
            self.times.append(time.perf_counter())


class UtilisationSampler(threading.Thread):
    """GPU utilisation (%) every 0.1 s through NVML, or nvidia-smi where pynvml is missing."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float]] = []
        self.running = True
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            self.read = lambda: float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        except Exception:  # noqa: BLE001 - no NVML binding: ask nvidia-smi
            query = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-i", "0"]
            self.read = lambda: float(subprocess.run(query, capture_output=True, text=True).stdout.split()[0])

    def run(self) -> None:
        while self.running:
            try:
                self.samples.append((time.perf_counter(), self.read()))
            except Exception:  # noqa: BLE001 - a failed read leaves a gap, not a crash
                pass
            time.sleep(0.1)

    def mean_between(self, start: float, end: float) -> float:
        values = [value for moment, value in self.samples if start <= moment <= end]
        return float(np.mean(values)) if values else float("nan")


def time_group(members: int, data: dict, args, sampler: UtilisationSampler | None) -> dict:
    from simplexgrad.training import TrainingConfig
    from simplexgrad.training.ensemble import train_group

    configs = [
        TrainingConfig(
            architecture=args.architecture,
            activation=args.activation,
            seed=seed,
            epochs=args.epochs,
            early_stopping_patience=args.epochs + 1,
            lr_patience=args.epochs + 1,
        )
        for seed in range(members)
    ]
    clock = EpochClock()
    logger = logging.getLogger("simplexgrad.training.ensemble")
    logger.setLevel(logging.INFO)
    logger.addHandler(clock)
    start = time.perf_counter()
    train_group(configs, data["x_train"], data["y_train"], data["x_valid"], data["y_valid"])
    logger.removeHandler(clock)
    steady = statistics.median(np.diff(clock.times))
    result = {"members": members, "first": clock.times[0] - start, "steady": steady}
    if sampler is not None:
        result["gpu_utilisation"] = sampler.mean_between(clock.times[0], clock.times[-1])
    return result


def time_tensorflow(data: dict, args) -> dict | None:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "data.npz")
        np.savez(path, **data)
        env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
        command = [sys.executable, "-c", TENSORFLOW_EPOCHS, path, str(args.epochs), args.architecture]
        result = subprocess.run([*command, args.activation], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        print(f"TensorFlow engine not timed: {result.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def members_per_hour(first: float, steady: float, members: int) -> float:
    """Members finished per hour by one group: its first epoch (compilation) once, then steady epochs."""
    return 3600 * members / (first + (EPOCHS_PER_MODEL - 1) * steady)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per group (>= 2; the first compiles)")
    parser.add_argument("--num-seqs", type=int, default=14_000, help="training sequences")
    parser.add_argument("--architecture", default="cnn_deep")
    parser.add_argument("--activation", default="exponential")
    parser.add_argument("--tensorflow", action="store_true", help="also time the TF single-model engine")
    parser.add_argument("--gpu-utilisation", action="store_true", help="sample GPU utilisation (NVML)")
    parser.add_argument("--threads", type=int, default=None, help="XLA CPU threads")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be >= 2: the first epoch compiles")
    from simplexgrad.backend import configure_threads

    configure_threads(args.threads)
    import jax
    import keras

    if keras.backend.backend() != "jax":
        sys.exit("set KERAS_BACKEND=jax")
    device = jax.devices()[0]
    print(
        f"device: {device.platform} {device.device_kind} (jax {jax.__version__}, keras {keras.__version__})"
    )
    data = planted_dataset(args.num_seqs, 200, seed=0)
    print(
        f"{args.architecture}-{args.activation}, {args.num_seqs} x 200 training sequences, "
        f"{len(data['x_valid'])} validation, batch 100, {args.epochs} epochs per group"
    )
    sampler = UtilisationSampler() if args.gpu_utilisation else None
    if sampler is not None:
        sampler.start()
    results = {}
    single = None
    for members in sorted(set(args.members) | {1}):
        results[members] = result = time_group(members, data, args, sampler)
        single = results[1]
        sequential = members * single["steady"]
        hourly = members_per_hour(result["first"], result["steady"], members)
        hourly_sequential = members_per_hour(single["first"], single["steady"], 1)
        utilisation = f", GPU {result['gpu_utilisation']:.0f}%" if "gpu_utilisation" in result else ""
        print(
            f"K={members:3d}: first epoch {result['first']:7.2f} s, epoch {result['steady']:7.3f} s "
            f"({members / result['steady']:7.2f} member-epochs/s{utilisation}); K sequential members "
            f"{sequential:7.3f} s/epoch; speed-up {sequential / result['steady']:5.2f}x; members/hour "
            f"at {EPOCHS_PER_MODEL} epochs {hourly:7.1f} vs {hourly_sequential:6.1f} sequential "
            f"({hourly / hourly_sequential:5.2f}x)",
            flush=True,
        )
    if sampler is not None:
        sampler.running = False
    if args.tensorflow:
        tensorflow = time_tensorflow(data, args)
        if tensorflow is not None:
            largest = results[max(results)]
            print(
                f"TensorFlow single-model engine: epoch {tensorflow['steady']:.3f} s "
                f"(first {tensorflow['first']:.2f} s); ensemble K={largest['members']} is "
                f"{largest['members'] * tensorflow['steady'] / largest['steady']:.2f}x its member-epochs/s"
            )


if __name__ == "__main__":
    main()
