"""The ensemble engine against the chip: achieved FLOP/s of K members' training epochs, per formulation.

For each K in ``--members``, each convolution formulation (``vmap``, ``im2col``) and each precision
(``float32``, ``tf32``), one group of K members (CNN-deep, exponential first layer, the recipe's batch of
100) trains for ``--epochs`` epochs on ``--num-seqs`` planted sequences of length 200, through the engine's
own training epoch (:meth:`GroupProgram.run_epoch`, every member active, no validation pass). Reported:
the first epoch (compilation included), the steady epoch (median of the others), member-epochs/s, the
FLOPs of one compiled group step from XLA's cost analysis × the epoch's steps (the last, smaller batch
counted by its share of a full one) / the steady epoch, and that as a fraction of the device's FP32 peak
(a table of data-sheet peaks below; on a CPU the peak is estimated from a measured large float32 matrix
product, and the report says so). tf32 rows are also compared with the FP32 peak.

    KERAS_BACKEND=jax python benchmarks/ensemble_chip.py    # a GPU: K = 1, 50, 200, 500; 4,000 sequences
    python benchmarks/ensemble_chip.py --threads 2          # a CPU: K = 1, 4; 300 sequences; float32
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from ensemble_training import planted_dataset  # noqa: E402

# Dense FP32 (not TF32) peaks from the vendors' data sheets, in FLOP/s, by a substring of device_kind.
FP32_PEAKS = {
    "H200": 67e12,
    "H100 PCIe": 51e12,
    "H100": 67e12,  # SXM
    "A100": 19.5e12,
    "L40S": 91.6e12,
    "L4": 30.3e12,
    "V100": 15.7e12,
}


def device_peak(device) -> tuple[float, str]:
    """(FP32 FLOP/s, where the figure comes from) for a JAX device."""
    for name, peak in FP32_PEAKS.items():
        if name in device.device_kind:
            return peak, f"data sheet, {name}"
    if device.platform == "cpu":
        return measured_matmul_peak(), "measured: best of 5 float32 2048 x 2048 matrix products"
    return float("nan"), "unknown device"


def measured_matmul_peak(size: int = 2048) -> float:
    """FLOP/s of the best of 5 float32 ``size × size`` matrix products (an estimate of a CPU's peak)."""
    import jax
    import jax.numpy as jnp

    a = jnp.asarray(np.random.default_rng(0).normal(size=(size, size)), dtype=jnp.float32)
    product = jax.jit(lambda left, right: jnp.dot(left, right, precision="highest"))
    product(a, a).block_until_ready()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        product(a, a).block_until_ready()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def time_group(members: int, convolution: str, precision: str, data: dict, args) -> dict:
    """Epoch times and the step's cost analysis of one group of ``members``."""
    import jax
    from simplexgrad.training._ensemble_forward import resolve_epoch_loop
    from simplexgrad.training._ensemble_program import program_for
    from simplexgrad.training.recipe import TrainingConfig, seeded_model

    configs = [
        TrainingConfig(architecture=args.architecture, activation=args.activation, seed=seed)
        for seed in range(members)
    ]
    models = [seeded_model(config, (200, 4)) for config in configs]
    program = program_for(models[0], convolution, precision)
    state = program.initial_state(models, np.full(members, 1e-3, dtype=np.float32))
    x = jax.device_put(data["x_train"])
    y = jax.device_put(data["y_train"])
    keys = jax.device_put(np.stack([np.asarray(jax.random.PRNGKey(seed)) for seed in range(members)]))
    active = jax.device_put(np.ones(members, dtype=bool))
    loop = resolve_epoch_loop(args.epoch_loop)
    seconds = []
    for epoch in range(args.epochs):
        start = time.perf_counter()
        state, _, loss, _ = program.run_epoch(
            state, x, y, keys, epoch, active, batch_size=args.batch_size, strength=0.0, loop=loop
        )  # returns host arrays: the epoch has finished
        seconds.append(time.perf_counter() - start)
    cost = program.step_cost(state, x, y, keys, args.batch_size, 0.0)
    steady = statistics.median(seconds[1:])
    steps = len(x) / args.batch_size
    flops = float(cost.get("flops", float("nan"))) * steps
    return {
        "members": members,
        "convolution": convolution,
        "precision": precision,
        "epoch_loop": loop,
        "first_s": seconds[0],
        "steady_s": steady,
        "member_epochs_per_s": members / steady,
        "step_gflop": float(cost.get("flops", float("nan"))) / 1e9,
        "flop_per_s": flops / steady,
        "finite_loss": bool(np.isfinite(loss).all()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="+", default=None, help="default 1 50 200 500 (GPU)")
    parser.add_argument("--convolutions", nargs="+", default=["vmap", "im2col"])
    parser.add_argument("--precisions", nargs="+", default=None, help="default float32 tf32 (CPU: float32)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per group (>= 2; the first compiles)")
    parser.add_argument("--num-seqs", type=int, default=None, help="training sequences (4000; CPU: 300)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--architecture", default="cnn_deep")
    parser.add_argument("--activation", default="exponential")
    parser.add_argument("--epoch-loop", default="auto", choices=["auto", "compiled", "per_batch"])
    parser.add_argument("--budget", type=float, default=None, help="seconds; later groups are skipped")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
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
    cpu = device.platform == "cpu"  # tiny defaults there; tf32 is float32 on a CPU
    members = args.members or ([1, 4] if cpu else [1, 50, 200, 500])
    args.precisions = args.precisions or (["float32"] if cpu else ["float32", "tf32"])
    args.num_seqs = args.num_seqs or (300 if cpu else 4000)
    peak, source = device_peak(device)
    print(
        f"device: {device.platform} {device.device_kind} (jax {jax.__version__}, keras {keras.__version__})"
    )
    print(f"FP32 peak {peak / 1e12:.3g} TFLOP/s ({source})")
    data = planted_dataset(args.num_seqs, 200, seed=0)
    print(
        f"{args.architecture}-{args.activation}, {args.num_seqs} x 200 training sequences, batch "
        f"{args.batch_size}, {args.epochs} epochs per group (training steps only)"
    )
    header = "K  convolution precision loop      first_s steady_s member-epochs/s GFLOP/step TFLOP/s  % peak"
    print(header, flush=True)
    started, rows = time.perf_counter(), []
    for count in members:
        for convolution in args.convolutions:
            for precision in args.precisions:
                label = f"{count:<3}{convolution:<12}{precision:<10}"
                if args.budget is not None and time.perf_counter() - started > args.budget:
                    print(f"{label}skipped: over the {args.budget:g} s budget", flush=True)
                    continue
                try:
                    row = time_group(count, convolution, precision, data, args)
                except Exception as error:  # noqa: BLE001 - e.g. out of device memory: report, go on
                    print(f"{label}failed: {str(error).splitlines()[0][:200]}", flush=True)
                    continue
                row["fraction_of_fp32_peak"] = row["flop_per_s"] / peak
                rows.append(row)
                print(
                    f"{label}{row['epoch_loop']:<10}"
                    f"{row['first_s']:7.2f} {row['steady_s']:8.3f} {row['member_epochs_per_s']:15.2f} "
                    f"{row['step_gflop']:10.2f} {row['flop_per_s'] / 1e12:7.3f} "
                    f"{100 * row['fraction_of_fp32_peak']:6.1f}",
                    flush=True,
                )
    if args.json:
        with open(args.json, "w") as handle:
            summary = {"device": device.device_kind, "peak": peak, "peak_source": source, "rows": rows}
            json.dump(summary, handle, indent=1)


if __name__ == "__main__":
    main()
