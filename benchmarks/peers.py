"""Attribution speed against the peers: simplexgrad against captum (PyTorch) and CREsted (Keras).

Each part runs in one process: the same model, the same sequences and the same ``--batch-size`` for both
tools, their timed runs interleaved (the order swapped at every repeat) so that drift in the machine's
load hits both. Reported per model and method: maps per second of each tool (the median over the
repeats) and their ratio (ours / peer: the median of the repeats' ratios, each of two neighbouring runs,
which a burst of load hits alike); the agreement of the two maps (the
largest absolute difference divided by the largest absolute value of the peer's map, after the relation
between the two definitions); and the peak memory of one further, untimed run of each (resident memory
above the run's start, sampled every 5 ms after glibc has returned its free memory; on a GPU, torch's peak
allocation).

PyTorch part (captum, in this project's virtual environment), on ``(N, 4, L)`` inputs, ``layout='NAL'``.
Both tools get the same number of model inputs per gradient call: captum takes whole queries, so for
the averaged methods ``--batch-size`` is rounded down to whole queries' points (126 for 21 path points,
125 for 25 noisy copies) for both:

- saliency: captum's ``Saliency(abs=False)``: the same map.
- integrated gradients (zeros baseline, ``STEPS`` intervals): captum's ``IntegratedGradients`` with
  ``n_steps=STEPS + 1, method='riemann_trapezoid'`` equals ``(x - x') * ours * STEPS / (STEPS + 1)``.
- SmoothGrad: captum's ``NoiseTunnel(Saliency)`` (``nt_type='smoothgrad'``, the same number of samples and
  standard deviation). The two draw different noise, so the agreement is taken on the same noisy points:
  captum's ``Saliency`` averaged over the points our ``smoothgrad`` draws.
- expected gradients (``NUM_REFERENCES`` shuffles, ``STEPS`` intervals): captum's
  ``IntegratedGradients(multiply_by_inputs=False)`` from each of the same shuffled references (drawn as
  ours are), averaged, equals ``ours * STEPS / (STEPS + 1)``.

Keras part (CREsted's ``tl.contribution_scores`` end to end, in a second virtual environment,
``.venv-crested``, where pip installs CREsted with its own dependencies): saliency (``saliency_map``),
integrated gradients (``integrated_grad``: zeros baseline, 25 intervals) and expected integrated
gradients (``expected_integrated_grad``: 25 shuffles, 25 intervals), against ours with the same options.
The definitions are the same; CREsted draws its own shuffles, so the expected gradients' agreement is
taken against our integrated gradients averaged over CREsted's shuffles of the first sequence.

Models: a small CNN (PyTorch: three convolutions; Keras: the quick study's CNN-deep-exp), 200 nt, and a
BPNet-sized dilated residual CNN (about 100 k parameters), 1,000 nt, in both frameworks.

    python benchmarks/peers.py                      # PyTorch; Keras too where .venv-crested exists
    python benchmarks/peers.py --make-crested-venv  # makes .venv-crested first (pip from PyPI, ~3 GB)
    .venv-crested/bin/python benchmarks/peers.py --part keras
    python benchmarks/peers.py --part torch --device cuda --scale 8
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CRESTED_VENV = REPO / ".venv-crested"
# CREsted 1.11 with pip from PyPI, on the TensorFlow of requirements/constraints.txt, and this simplexgrad.
CRESTED_REQUIREMENTS = ["crested==1.11.0", "tensorflow==2.21.0"]
LENGTHS = {"small": 200, "dilated": 1000}
# Sequences per (model, method) at --scale 1: runs of about 0.5 to 2.5 s on 2 CPU cores, several batches
# each (a call of one or two batches would mostly measure what a call costs once).
TORCH_SIZES = {
    "small": {"saliency": 4096, "integrated_gradients": 256, "smoothgrad": 192, "expected_gradients": 24},
    "dilated": {"saliency": 256, "integrated_gradients": 16, "smoothgrad": 16, "expected_gradients": 4},
}
KERAS_SIZES = {
    "small": {"saliency": 4096, "integrated_gradients": 64, "expected_gradients": 4},
    "dilated": {"saliency": 128, "integrated_gradients": 8, "expected_gradients": 1},
}
STEPS, NUM_SAMPLES, SIGMA, NUM_REFERENCES, SEED = 20, 25, 0.1, 10, 0
CRESTED_STEPS, CRESTED_REFERENCES, CRESTED_SEED = 25, 25, 42  # what contribution_scores uses
CRESTED_METHODS = {
    "saliency": "saliency_map",
    "integrated_gradients": "integrated_grad",
    "expected_gradients": "expected_integrated_grad",
}
Maps = Callable[[np.ndarray], np.ndarray]


@dataclass
class Row:
    framework: str
    model: str
    method: str
    device: str
    peer: str
    sequences: int
    ours: float  # maps/s
    theirs: float  # maps/s
    ratio: float
    agreement: float
    ours_mib: float
    theirs_mib: float


# --- measuring -------------------------------------------------------------------------------------------


class PeakMemory:
    """Peak resident memory (MiB) above its value on entry, sampled every 5 ms by a thread, after glibc
    has returned its free memory (``malloc_trim``); on a CUDA device, torch's peak allocation instead."""

    def __init__(self, cuda: bool = False):
        self.cuda, self.peak = cuda, 0.0

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def __enter__(self) -> PeakMemory:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start = torch.cuda.memory_allocated()
            return self
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc: the start may include free memory
            pass
        self.start, self.high, self.done = self._rss(), 0, threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.done.wait(0.005):
            self.high = max(self.high, self._rss())

    def __exit__(self, *exc_info) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            self.peak = (torch.cuda.max_memory_allocated() - self.start) / 2**20
            return
        self.done.set()
        self.thread.join()
        self.peak = max(0, max(self.high, self._rss()) - self.start) / 2**20


def agreement(theirs: np.ndarray, ours_as_theirs: np.ndarray) -> float:
    """Largest absolute difference relative to the largest absolute value of the peer's map."""
    return float(np.abs(theirs - ours_as_theirs).max() / np.abs(theirs).max())


def compare(
    ours: Maps, theirs: Maps, x: np.ndarray, repeats: int, cuda: bool = False, verbose: bool = False
) -> tuple[float, ...]:
    """Maps/s of ``ours`` and ``theirs`` on ``x`` (medians over interleaved repeats, the order swapped at
    each repeat), their ratio (the median of the repeats' ratios: each compares two neighbouring runs),
    then the peak memory (MiB) of one more run of each."""
    rates: dict[str, list[float]] = {"ours": [], "theirs": []}
    functions = {"ours": ours, "theirs": theirs}
    for repeat in range(repeats):
        for name in ("ours", "theirs") if repeat % 2 == 0 else ("theirs", "ours"):
            start = time.perf_counter()
            functions[name](x)
            if cuda:
                import torch

                torch.cuda.synchronize()
            rates[name].append(len(x) / (time.perf_counter() - start))
    if verbose:
        print(
            "  maps/s of each repeat:",
            {name: [round(rate, 1) for rate in values] for name, values in rates.items()},
        )
    peaks = {}
    for name, function in functions.items():
        with PeakMemory(cuda) as memory:
            function(x)
        peaks[name] = memory.peak
    ratio = statistics.median(a / b for a, b in zip(rates["ours"], rates["theirs"]))
    ours_rate, theirs_rate = statistics.median(rates["ours"]), statistics.median(rates["theirs"])
    return ours_rate, theirs_rate, ratio, peaks["ours"], peaks["theirs"]


def measure(framework, model, method, device, peer, ours, theirs, relation, x, args, cuda=False) -> Row:
    """Warm both tools up (a full batch), check that their maps agree, time them and print the row.

    ``relation(inputs, our_map)`` returns ``(ours as the peer defines it, the peer's map)``.
    """
    warm = x[: min(len(x), args.batch_size if method == "saliency" else 8)]
    ours(warm), theirs(warm)
    check = x[: min(len(x), 8)]
    ours_as_theirs, their_map = relation(check, ours(check))
    measured = compare(ours, theirs, x, args.repeats, cuda, args.verbose)
    row = Row(
        framework,
        model,
        method,
        device,
        peer,
        len(x),
        *measured[:3],
        agreement(their_map, ours_as_theirs),
        *measured[3:],
    )
    print_row(row)
    return row


def random_onehot(rng: np.random.Generator, count: int, length: int) -> np.ndarray:
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(count, length))]


def our_block_draws(x_nla: np.ndarray, draw: Callable, seed: int = SEED) -> np.ndarray:
    """What our averaged methods draw for ``x`` (N, L, A): ``draw(block, rng)`` per block of queries
    with ``default_rng([seed, block])``, as documented in :mod:`simplexgrad.attribution.methods`."""
    from simplexgrad.attribution.methods import QUERY_BLOCK

    blocks = range(0, len(x_nla), QUERY_BLOCK)
    return np.concatenate(
        [
            draw(x_nla[start : start + QUERY_BLOCK], np.random.default_rng([seed, i]))
            for i, start in enumerate(blocks)
        ]
    )


def nal(x: np.ndarray) -> np.ndarray:
    """(..., L, A) as contiguous (..., A, L), and back."""
    return np.ascontiguousarray(np.swapaxes(x, -1, -2))


# --- PyTorch and captum ----------------------------------------------------------------------------------


def torch_model(name: str):
    """The PyTorch model ``name`` ('small' or 'dilated'), seeded, in eval mode; ``(N, 4, L) -> (N, 1)``."""
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    if name == "small":  # three convolutions, ReLU and max pooling, a dense sigmoid output
        return nn.Sequential(
            nn.Conv1d(4, 64, 19, padding=9),
            nn.ReLU(),
            nn.MaxPool1d(4),
            nn.Conv1d(64, 64, 7, padding=3),
            nn.ReLU(),
            nn.MaxPool1d(4),
            nn.Conv1d(64, 64, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Flatten(),
            nn.Linear(64 * (LENGTHS["small"] // 32), 1),
            nn.Sigmoid(),
        ).eval()

    class DilatedCNN(nn.Module):
        """BPNet-sized: a 21-wide convolution, 8 dilated residual convolutions (64 filters, dilations 2 to
        256), global average pooling and one linear output (a counts head)."""

        def __init__(self, filters: int = 64, layers: int = 8):
            super().__init__()
            self.first = nn.Conv1d(4, filters, 21, padding=10)
            self.dilated = nn.ModuleList(
                nn.Conv1d(filters, filters, 3, padding=2**i, dilation=2**i) for i in range(1, layers + 1)
            )
            self.head = nn.Linear(filters, 1)

        def forward(self, x):
            hidden = torch.relu(self.first(x))
            for conv in self.dilated:
                hidden = hidden + torch.relu(conv(hidden))
            return self.head(hidden.mean(dim=-1))

    return DilatedCNN().eval()


def torch_methods(module, device, batch: int):
    """For each method: ``(ours, theirs, relation)`` on ``(N, 4, L)`` NumPy inputs (see :func:`measure`)."""
    import torch
    from captum.attr import IntegratedGradients, NoiseTunnel, Saliency
    from simplexgrad.attribution import (
        expected_gradients,
        integrated_gradients,
        saliency,
        shuffled_references,
        smoothgrad,
    )

    per_path, per_noise = max(1, batch // (STEPS + 1)), max(1, batch // NUM_SAMPLES)
    # The same model inputs per call for both: captum takes whole queries, so ours takes as many points.
    options = {"layout": "NAL", "batch_size": batch, "progress": False}
    paths = {**options, "batch_size": per_path * (STEPS + 1)}
    noisy_copies = {**options, "batch_size": per_noise * NUM_SAMPLES}

    def captum(explainer, inputs: np.ndarray, per_call: int, **kwargs) -> np.ndarray:
        """``explainer.attribute`` over chunks of ``per_call`` inputs (and their ``baselines``)."""
        baselines = kwargs.pop("baselines", None)
        maps = []
        for start in range(0, len(inputs), per_call):
            chunk = torch.from_numpy(inputs[start : start + per_call]).to(device)
            if baselines is not None:
                kwargs["baselines"] = torch.from_numpy(baselines[start : start + per_call]).to(device)
            maps.append(explainer.attribute(chunk, target=0, **kwargs).cpu().numpy())
        return np.concatenate(maps)

    plain, path = Saliency(module), IntegratedGradients(module)
    noisy, local_path = NoiseTunnel(Saliency(module)), IntegratedGradients(module, multiply_by_inputs=False)
    trapezoid = {"n_steps": STEPS + 1, "method": "riemann_trapezoid"}

    def noisy_points(inputs: np.ndarray) -> np.ndarray:
        """The noisy copies our smoothgrad draws, (N * NUM_SAMPLES, 4, L)."""

        def draw(block, rng):
            noise = rng.standard_normal((len(block), NUM_SAMPLES) + block.shape[1:], dtype=np.float32)
            return block[:, None] + np.float32(SIGMA) * noise

        return nal(our_block_draws(nal(inputs), draw)).reshape((-1,) + inputs.shape[1:])

    def shuffles(inputs: np.ndarray) -> np.ndarray:
        """The references our expected_gradients draws, (N * NUM_REFERENCES, 4, L)."""
        draw = lambda block, rng: shuffled_references(block, NUM_REFERENCES, rng)  # noqa: E731
        return nal(our_block_draws(nal(inputs), draw)).reshape((-1,) + inputs.shape[1:])

    def expected_captum(inputs: np.ndarray) -> np.ndarray:
        queries = np.repeat(inputs, NUM_REFERENCES, axis=0)
        maps = captum(local_path, queries, per_path, baselines=shuffles(inputs), **trapezoid)
        return maps.reshape((len(inputs), NUM_REFERENCES) + inputs.shape[1:]).mean(axis=1)

    def saliency_captum(inputs: np.ndarray) -> np.ndarray:
        return captum(plain, inputs, batch, abs=False)

    def path_captum(inputs: np.ndarray) -> np.ndarray:
        return captum(path, inputs, per_path, baselines=np.zeros_like(inputs), **trapezoid)

    def smoothgrad_captum(inputs: np.ndarray) -> np.ndarray:
        return captum(
            noisy, inputs, per_noise, nt_type="smoothgrad", nt_samples=NUM_SAMPLES, stdevs=SIGMA, abs=False
        )

    def smoothgrad_same_noise(inputs: np.ndarray) -> np.ndarray:
        grads = captum(plain, noisy_points(inputs), batch, abs=False)
        return grads.reshape((len(inputs), NUM_SAMPLES) + inputs.shape[1:]).mean(axis=1)

    scale = STEPS / (STEPS + 1)
    return {
        "saliency": (
            lambda x: saliency(module, x, **options),
            saliency_captum,
            lambda x, ours: (ours, saliency_captum(x)),
        ),
        "integrated_gradients": (
            lambda x: integrated_gradients(module, x, baseline="zeros", steps=STEPS, **paths),
            path_captum,
            lambda x, ours: (x * ours * scale, path_captum(x)),
        ),
        "smoothgrad": (
            lambda x: smoothgrad(module, x, num_samples=NUM_SAMPLES, sigma=SIGMA, seed=SEED, **noisy_copies),
            smoothgrad_captum,
            lambda x, ours: (ours, smoothgrad_same_noise(x)),
        ),
        "expected_gradients": (
            lambda x: expected_gradients(
                module, x, num_references=NUM_REFERENCES, steps=STEPS, seed=SEED, **paths
            ),
            expected_captum,
            lambda x, ours: (ours * scale, expected_captum(x)),
        ),
    }


def torch_part(args) -> list[Row]:
    import captum
    import torch

    warnings.filterwarnings("ignore", "Input Tensor 0 did not already require gradients")
    warnings.filterwarnings("ignore", "Setting forward, backward hooks")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(
        f"# PyTorch {torch.__version__}, captum {captum.__version__}, {device}, "
        f"{torch.get_num_threads()} threads, batch {args.batch_size}",
        flush=True,
    )
    rows = []
    for model_name in args.models:
        module = torch_model(model_name).to(device)
        parameters = sum(p.numel() for p in module.parameters())
        print(f"# {model_name}: {parameters:,} parameters, {LENGTHS[model_name]} nt", flush=True)
        methods = torch_methods(module, device, args.batch_size)
        rng = np.random.default_rng(SEED)
        for method in args.methods:
            count = max(1, round(TORCH_SIZES[model_name][method] * args.scale))
            x = nal(random_onehot(rng, count, LENGTHS[model_name]))  # (N, 4, L)
            ours, theirs, relation = methods[method]
            cuda = device.type == "cuda"
            rows.append(
                measure(
                    "PyTorch",
                    model_name,
                    method,
                    device.type,
                    "captum",
                    ours,
                    theirs,
                    relation,
                    x,
                    args,
                    cuda,
                )
            )
    return rows


# --- Keras and CREsted -----------------------------------------------------------------------------------


def keras_model(name: str):
    """The Keras model ``name``: CNN-deep-exp ('small') or the dilated CNN; ``(N, L, 4) -> (N, 1)``."""
    import keras

    keras.utils.set_random_seed(SEED)
    if name == "small":
        from simplexgrad.training.models import cnn_deep

        return cnn_deep(activation="exponential")
    inputs = keras.Input((LENGTHS["dilated"], 4))
    hidden = keras.layers.Conv1D(64, 21, padding="same", activation="relu")(inputs)
    for i in range(1, 9):
        branch = keras.layers.Conv1D(64, 3, padding="same", dilation_rate=2**i, activation="relu")(hidden)
        hidden = keras.layers.Add()([hidden, branch])
    outputs = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(hidden))
    return keras.Model(inputs, outputs, name="dilated_cnn")


def keras_part(args) -> list[Row]:
    try:
        import crested
        from crested.tl import contribution_scores
        from crested.tl._explainer import random_shuffle  # CREsted's shuffles, for the agreement only
    except ImportError:
        raise SystemExit(
            f"the Keras part needs CREsted: run it with {CRESTED_VENV.name}/bin/python (make it with "
            "`python benchmarks/peers.py --make-crested-venv`)"
        ) from None
    import keras
    import tensorflow as tf
    from simplexgrad.attribution import expected_gradients, integrated_gradients, saliency
    from simplexgrad.backend import configure_threads

    configure_threads(args.threads)
    print(
        f"# Keras {keras.__version__} on {keras.backend.backend()} {tf.__version__}, CREsted "
        f"{crested.__version__}, {args.threads} threads, batch {args.batch_size}",
        flush=True,
    )
    options = {"batch_size": args.batch_size, "progress": False}
    rows = []
    for model_name in args.models:
        model = keras_model(model_name)
        print(f"# {model_name}: {model.name}, {model.count_params():,} parameters, {LENGTHS[model_name]} nt")
        rng = np.random.default_rng(SEED)
        ours_by_method = {
            "saliency": lambda x, model=model: saliency(model, x, **options),
            "integrated_gradients": lambda x, model=model: integrated_gradients(
                model, x, baseline="zeros", steps=CRESTED_STEPS, **options
            ),
            "expected_gradients": lambda x, model=model: expected_gradients(
                model, x, num_references=CRESTED_REFERENCES, steps=CRESTED_STEPS, seed=SEED, **options
            ),
        }
        for method in args.methods:
            if method not in CRESTED_METHODS:
                continue
            count = max(1, round(KERAS_SIZES[model_name][method] * args.scale))
            x = random_onehot(rng, count, LENGTHS[model_name])

            def theirs(inputs, model=model, name=CRESTED_METHODS[method]):
                scores, _ = contribution_scores(
                    inputs, target_idx=0, model=model, method=name, batch_size=args.batch_size, verbose=False
                )
                return scores[:, 0]

            def relation(inputs, ours, model=model, method=method, theirs=theirs):
                if method != "expected_gradients":
                    return ours, theirs(inputs)
                first = inputs[:1]  # ours from CREsted's shuffles of the first sequence
                references = random_shuffle(first, CRESTED_REFERENCES, CRESTED_SEED)[0]
                ours = np.mean(
                    [
                        integrated_gradients(model, first, baseline=reference, steps=CRESTED_STEPS, **options)
                        for reference in references
                    ],
                    axis=0,
                )
                return ours, theirs(first)

            rows.append(
                measure(
                    "Keras",
                    model_name,
                    method,
                    "cpu",
                    "CREsted",
                    ours_by_method[method],
                    theirs,
                    relation,
                    x,
                    args,
                )
            )
    return rows


# --- driver ----------------------------------------------------------------------------------------------


def print_row(row: Row) -> None:
    print(
        f"{row.framework:8} {row.model:8} {row.method:21} {row.device:4} {row.sequences:5} seqs  "
        f"ours {row.ours:9.1f} maps/s  {row.peer} {row.theirs:9.1f} maps/s  ratio {row.ratio:5.2f}  "
        f"agreement {row.agreement:.1e}  peak MiB {row.ours_mib:6.1f} / {row.theirs_mib:6.1f}",
        flush=True,
    )


def markdown(rows: list[Row]) -> str:
    """The rows as the benchmarks page shows them: framework, model, method, device, date, machine (``CPU``
    is the page's name for the build machine; a GPU row names its device), maps/s of each tool, ratio,
    agreement and peak MiB."""
    lines = []
    for row in rows:
        machine = "CPU" if row.device == "cpu" else row.device.upper()
        lines.append(
            f"| {row.framework} | {row.model} | {row.method.replace('_', ' ')} | {row.device.upper()} | "
            f"{time.strftime('%Y-%m-%d')} | {machine} | {row.ours:,.1f} | {row.peer} {row.theirs:,.1f} | "
            f"{row.ratio:.2f} | {row.agreement:.0e} | {row.ours_mib:,.0f} / {row.theirs_mib:,.0f} |"
        )
    return "\n".join(lines)


def make_crested_venv() -> None:
    """``.venv-crested``: CREsted 1.11 with pip from PyPI, on the pinned TensorFlow, and this simplexgrad."""
    python = CRESTED_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(CRESTED_VENV)], check=True)
    constraints = REPO / "requirements" / "constraints.txt"
    command = [str(python), "-m", "pip", "install", "--quiet", "--constraint", str(constraints)]
    subprocess.run([*command, *CRESTED_REQUIREMENTS, "-e", f"{REPO}[keras]"], check=True)


def keras_in_crested_venv(args) -> list[Row]:
    """The Keras part in ``.venv-crested`` (made first with ``--make-crested-venv``), or one line saying
    that it was skipped."""
    if args.make_crested_venv:
        make_crested_venv()
    python = CRESTED_VENV / "bin" / "python"
    if not python.exists():
        print(
            f"skipped the Keras part against CREsted: no {CRESTED_VENV.name} (make it with "
            "`python benchmarks/peers.py --make-crested-venv` or `make benchmark CRESTED=1`)",
            flush=True,
        )
        return []
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "keras.json"
        command = [str(python), __file__, "--part", "keras", "--json", str(output), "--no-table"]
        command += ["--models", *args.models, "--methods", *args.methods, "--scale", str(args.scale)]
        command += ["--repeats", str(args.repeats), "--batch-size", str(args.batch_size)]
        command += ["--verbose"] if args.verbose else []
        subprocess.run([*command, "--threads", str(args.threads)], check=True)
        return [Row(**row) for row in json.loads(output.read_text())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["all", "torch", "keras"], default="all")
    parser.add_argument("--models", nargs="+", choices=list(LENGTHS), default=list(LENGTHS))
    methods = list(TORCH_SIZES["small"])
    parser.add_argument("--methods", nargs="+", choices=methods, default=methods)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the numbers of sequences")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timed runs of each tool")
    parser.add_argument("--batch-size", type=int, default=128, help="model inputs per gradient call")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads of torch and TensorFlow")
    parser.add_argument("--device", default="cpu", help="torch device of the PyTorch part: cpu, cuda")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    parser.add_argument("--no-table", action="store_true", help="skip the closing Markdown table")
    parser.add_argument("--verbose", action="store_true", help="print the maps/s of every repeat")
    parser.add_argument("--make-crested-venv", action="store_true", help=f"make {CRESTED_VENV.name} first")
    args = parser.parse_args()

    start = time.perf_counter()
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"# {platform.node()}, {os.cpu_count()} CPUs, load average {load}", flush=True)
    rows: list[Row] = []
    if args.part in ("all", "torch"):
        rows += torch_part(args)
    if args.part == "keras":
        rows += keras_part(args)
    elif args.part == "all":
        rows += keras_in_crested_venv(args)
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"# done in {time.perf_counter() - start:.0f} s, load average {load}", flush=True)
    if args.json:
        args.json.write_text(json.dumps([asdict(row) for row in rows], indent=1))
    if rows and not args.no_table:
        print(markdown(rows))


if __name__ == "__main__":
    main()
