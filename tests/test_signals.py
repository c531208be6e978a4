"""A stop signal always stops a command: exit status 128 + signal, one line, nothing partial left.

The in-process tests pin the mechanism of :mod:`simplexgrad._process` (a signal that lands in a
garbage-collector callback, where Python drops exceptions; regions that stop only at safe points). The
repeated tests send SIGTERM to real ``python -m simplexgrad train`` processes, 20 per backend, at varied
moments: while TensorFlow or JAX is imported, while the model is built and compiled and trains its first
batches, and right after an epoch ends. Their training is endless (huge epoch and patience limits), so a
lost signal shows as a run that never ends. They are slow (each try imports a framework; 20 tries took
166-303 s under JAX and 209-333 s under TensorFlow on 2 shared cores, the ensemble's 3 tries 32-36 s),
so `make test` runs 6 tries per backend (two per moment) and `make test-stress` the full 20
(``SIMPLEXGRAD_STOP_TRIES``); the other tests here take seconds.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import random_onehot

TRIES = int(os.environ.get("SIMPLEXGRAD_STOP_TRIES", "6"))  # per backend; make test-stress: 20
CONCURRENT = 2  # the machine's cores: each process is mostly one busy thread
STOP_WITHIN = 60.0  # seconds after the signal; a lost signal trains on for hours
STOPPED_LINE = re.compile(r"stopped by signal 15 \(SIGTERM\); partial outputs removed$")
ENDLESS = ["--epochs", "100000", "--early-stopping-patience", "100000", "--lr-patience", "100000"]
# When the signal goes out: (what to wait for in the log, or "handlers" for the installed handler; the
# longest random delay after it in seconds).
MOMENTS = {
    "start-up": ("handlers", 0.3),  # importing the framework
    "first batches": (r"simplexgrad \S+ train", 1.5),  # loading, building, compiling, first batches
    "epoch end": (r"\bepoch 1: ", 0.0),
}


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """40 / 20 / 20 random sequences of length 100 (the shallow CNN's pools need 100), both labels."""
    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("signals") / "tiny.h5"
    with h5py.File(path, "w") as handle:
        for split, n in [("train", 40), ("valid", 20), ("test", 20)]:
            handle[f"x_{split}"] = random_onehot(rng, n, 100)
            handle[f"y_{split}"] = (np.arange(n) % 2).astype(np.float32)[:, None]
    return path


def _catches_sigterm(pid: int) -> bool:
    """Whether the process has installed a handler for SIGTERM (Linux: SigCgt in /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(re.search(r"^SigCgt:\s*([0-9a-f]+)", status, re.M).group(1), 16)
    return bool(caught >> (signal.SIGTERM - 1) & 1)


def _stop_once(arguments: list[str], backend: str, folder: Path, moment: str, delay: float) -> dict:
    """Start one command, send SIGTERM at ``moment`` (+ ``delay`` s), and report how it ended."""
    folder.mkdir()
    log = folder.parent / f"{folder.name}.log"
    environment = {**os.environ, "KERAS_BACKEND": backend, "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "simplexgrad", *arguments],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=environment,
        )
    wait_for, _ = MOMENTS[moment]
    while process.poll() is None and time.monotonic() - started < 300:
        if wait_for == "handlers" and _catches_sigterm(process.pid):
            break
        if wait_for != "handlers" and re.search(wait_for, log.read_text()):
            break
        time.sleep(0.01)
    time.sleep(delay)
    finished_early = process.poll() is not None
    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    try:
        status = process.wait(timeout=STOP_WITHIN)
    except subprocess.TimeoutExpired:
        process.kill()
        status = f"still running {STOP_WITHIN:.0f} s after SIGTERM"
        process.wait()
    text = log.read_text()
    return {
        "moment": f"{moment} +{delay:.2f} s",
        "status": status,
        "finished_early": finished_early,
        "stop_seconds": round(time.monotonic() - sent, 2),
        "seconds": round(time.monotonic() - started, 2),
        "left": sorted(path.name for path in folder.iterdir()),
        "errors": [line for line in text.splitlines() if " ERROR " in line],
        "text": text,
    }


def _problems(result: dict) -> list[str]:
    problems = []
    if result["finished_early"]:
        problems.append("the command ended before the signal was sent")
    if result["status"] != 128 + signal.SIGTERM:
        problems.append(f"exit status {result['status']}")
    if result["left"]:
        problems.append(f"left {result['left']}")
    if len(result["errors"]) != 1 or not STOPPED_LINE.search(result["errors"][0]):
        problems.append(f"error lines {result['errors']}")
    if "Traceback" in result["text"] or "Exception ignored" in result["text"]:
        problems.append("a traceback or an ignored exception in the log")
    return problems


def _repeat(command: list[str], backend: str, base: Path, tries: int, out_option: list[str]) -> list[dict]:
    """``tries`` stopped runs, CONCURRENT at a time, cycling through MOMENTS with seeded delays."""
    rng = np.random.default_rng(22)
    plans = []
    for index in range(tries):
        moment = list(MOMENTS)[index % len(MOMENTS)]
        delay = float(rng.uniform(0, MOMENTS[moment][1]))
        folder = base / f"try{index:02d}"
        out = [option.replace("{folder}", str(folder)) for option in out_option]
        plans.append((command + out, backend, folder, moment, delay))
    with ThreadPoolExecutor(CONCURRENT) as pool:
        return list(pool.map(lambda plan: _stop_once(*plan), plans))


def _report(results: list[dict]) -> str:
    failed = [(result, problems) for result in results if (problems := _problems(result))]
    lines = [f"{len(failed)} of {len(results)} tries misbehaved"]
    for result, problems in failed:
        lines.append(f"{result['moment']}: {'; '.join(problems)}\n{result['text'][-1500:]}")
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_sigterm_always_stops_training(backend, tiny_dataset, tmp_path):
    """``TRIES`` runs of ``simplexgrad train`` stopped at varied moments: each exits 143 within a minute of
    the signal, with one 'stopped by signal' line and nothing in its output folder."""
    command = ["train", "--data", str(tiny_dataset), "--architecture", "cnn_shallow", "--batch-size", "10"]
    command += [*ENDLESS, "--threads", "1"]
    results = _repeat(command, backend, tmp_path, TRIES, ["--out", "{folder}/run"])
    assert not [result for result in results if _problems(result)], _report(results)
    moments = {result["moment"].split(" +")[0] for result in results}
    assert moments == set(MOMENTS)


@pytest.mark.slow
def test_sigterm_stops_the_ensemble_engine(tiny_dataset, tmp_path):
    """The JAX ensemble engine stops between epochs of its step loop, and at start-up."""
    command = ["train-ensemble", "--data", str(tiny_dataset), "--architecture", "cnn_shallow"]
    command += ["--seeds", "0", "1", "--batch-size", "10", *ENDLESS, "--threads", "1"]
    results = _repeat(command, "jax", tmp_path, 3, ["--out-template", "{folder}/member{seed}"])
    assert not [result for result in results if _problems(result)], _report(results)


# --- the mechanism, in a plain interpreter (no framework; about a second) ---------------------------

MECHANISM = textwrap.dedent(
    """
    import gc, os, signal, sys
    from simplexgrad._process import Stopped, check_stop, stop_on_signals, stops_at_safe_points

    def in_gc_callback(phase, info):  # where JAX's callback runs; Python drops what is raised here
        if phase == "start" and not fired:
            fired.append(1)
            signal.raise_signal(signal.SIGTERM)  # the handler runs before raise_signal returns

    fired = []
    stop_on_signals()
    gc.callbacks.append(in_gc_callback)
    mode = sys.argv[1]
    try:
        if mode == "gc":
            for _ in range(200):
                gc.collect()
                [[] for _ in range(1000)]
        elif mode == "deferred":
            gc.callbacks.remove(in_gc_callback)
            with stops_at_safe_points():
                os.kill(os.getpid(), signal.SIGTERM)
                [sum(range(1000)) for _ in range(1000)]  # no raise here: only at a safe point
                print("still running", flush=True)
                check_stop()
            print("not stopped", flush=True)
    except Stopped as stopped:
        print("stopped", stopped.signum, flush=True)
        sys.exit(128 + stopped.signum)
    print("ran to the end", flush=True)
    """
)


@pytest.mark.parametrize(
    "mode, printed",
    [("gc", "stopped 15\n"), ("deferred", "still running\nstopped 15\n")],
)
def test_a_stop_dropped_by_python_or_deferred_still_stops(mode, printed):
    """A Stopped raised inside a GC callback (dropped by Python) is raised again in ordinary code;
    inside a region that stops at safe points, the signal raises only at the next check_stop."""
    done = subprocess.run(
        [sys.executable, "-c", MECHANISM, mode], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (128 + signal.SIGTERM, printed), done.stderr[-2000:]
    assert "Exception ignored" not in done.stderr


# --- output locations are checked before training (issue 22) ----------------------------------------


def _train_arguments(dataset: Path) -> list[str]:
    return ["--data", str(dataset), "--architecture", "cnn_shallow", "--epochs", "1", "--batch-size", "10"]


@pytest.mark.parametrize(
    "command, make_clash, option",
    [
        (["train"], lambda base: (base / "run").write_text("a file"), "--out"),
        (["train"], lambda base: (base / "run" / "model.keras").mkdir(parents=True), "--out"),
        (["train"], lambda base: (base / "parent").write_text("a file"), "--out"),
        (["train-ensemble", "--seeds", "0", "1"], lambda base: (base / "member1").touch(), "--out-template"),
    ],
    ids=["out-is-a-file", "model-file-is-a-folder", "parent-is-a-file", "member-folder-is-a-file"],
)
def test_unwritable_run_folders_are_refused_before_training(
    command, make_clash, option, tiny_dataset, tmp_path, caplog
):
    """One line naming the option, exit status 2, no training (no epoch line) and nothing written."""
    from simplexgrad import cli

    make_clash(tmp_path)
    before = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*"))
    out = str(tmp_path / ("parent/run" if (tmp_path / "parent").exists() else "run"))
    template = ["--out-template", str(tmp_path / "member{seed}")]
    outputs = template if option == "--out-template" else ["--out", out]
    with caplog.at_level("INFO"):
        status = cli.main([*command, *_train_arguments(tiny_dataset), *outputs])
    errors = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert status == 2 and len(errors) == 1 and errors[0].startswith(option), errors
    assert not [record for record in caplog.records if re.match(r"epoch \d+:", record.getMessage())]
    assert sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*")) == before
