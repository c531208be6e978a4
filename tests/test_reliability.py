"""Reliability cases of issue 43 that need their own fixture: a full disk (a small tmpfs, mounted where the
tests run as root), a report that cannot be written, concurrent writers of one output, the memory of
`correct`, in-place rewrites, and what the library takes from users (torch tensors, lists, state_dicts).
"""

import contextlib
import errno
import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import random_onehot
from simplexgrad import _atomic, cli, correct, io
from simplexgrad.attribution import maps as maps_module
from simplexgrad.attribution.maps import correct_file, read_array

ROOT = Path(__file__).resolve().parents[1]


def run(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "simplexgrad", *argv], capture_output=True, text=True, timeout=300, cwd=cwd
    )


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if " ERROR " in line or "error:" in line or "Error" in line]


@contextlib.contextmanager
def small_tmpfs(folder: Path, size: str) -> Path:
    """A tmpfs of ``size`` mounted at ``folder``; skips the test where it cannot be mounted."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs (a full disk) needs root and mount(8)")
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_synthetic_on_a_full_disk_is_one_line_exit_2_and_nothing_left(tmp_path):
    with small_tmpfs(tmp_path / "full", "128k") as full:
        out = full / "sub" / "data.h5"
        result = run("synthetic", "--out", str(out), "--seed", "0", "--num-seqs", "600", "--length", "200")
        assert result.returncode == 2, result.stderr[-3000:]  # not 139, a segmentation fault
        assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
        lines = errors(result.stderr)
        assert len(lines) == 1 and f"{out}: No space left on device" in lines[0], lines
        assert list(full.iterdir()) == []  # no partial file, no folder made for it


def test_correct_on_a_full_disk_names_the_output(tmp_path):
    maps = tmp_path / "maps.npy"
    np.save(maps, np.random.default_rng(0).normal(size=(400, 100, 4)).astype(np.float32))  # 640 kB
    with small_tmpfs(tmp_path / "full", "256k") as full:
        result = run("correct", "--in", str(maps), "--out", str(full / "c.npy"))
        assert result.returncode == 2, result.stderr[-3000:]
        lines = errors(result.stderr)
        assert len(lines) == 1 and f"{full / 'c.npy'}: No space left on device" in lines[0], lines
        assert list(full.iterdir()) == []


def test_a_report_that_cannot_be_written_keeps_no_maps(tmp_path, monkeypatch, caplog):
    """Two outputs are renamed into place together: a full disk at the report leaves neither."""
    maps = tmp_path / "maps.npy"
    np.save(maps, np.random.default_rng(0).normal(size=(5, 20, 4)).astype(np.float32))

    def full_disk(columns, path):
        Path(path).write_text("half a report")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(maps_module, "write_tsv", full_disk)
    out = tmp_path / "out"
    code = cli.main(
        ["correct", "--in", str(maps), "--out", str(out / "c.npy"), "--report", str(out / "r.tsv")]
    )
    assert code == 2
    messages = [record.getMessage() for record in caplog.records if record.levelno >= 40]
    assert messages == [f"{out / 'r.tsv'}: No space left on device; nothing written"], messages
    assert not out.exists()  # neither file, nor the folder made for them


def test_a_failed_run_leaves_no_empty_run_folder(tmp_path):
    pytest.importorskip("keras")
    import pandas as pd
    from simplexgrad.training.recipe import save_run

    class FullDisk:
        def save(self, path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))

    out = tmp_path / "runs" / "seed0"
    with pytest.raises(OSError, match="No space left on device") as raised:
        save_run(out, FullDisk(), pd.DataFrame({"loss": [1.0]}), {"test_auroc": 0.5})
    assert raised.value.filename == str(out / "model.keras")
    assert list(tmp_path.iterdir()) == []


def test_stale_partials_of_a_live_writer_are_kept(tmp_path):
    destination = tmp_path / "c.npy"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    live = tmp_path / f".c.npy.partial.{_atomic._HOST}-{os.getpid()}.abc.npy"
    dead = tmp_path / f".c.npy.partial.{_atomic._HOST}-{gone.pid}.abc.npy"
    elsewhere = tmp_path / f".c.npy.partial.other-host-{gone.pid}.abc.npy"
    for path in (live, dead, elsewhere):
        path.write_bytes(b"partial")
    assert io.remove_stale_partials(destination) == [dead]
    assert live.exists() and elsewhere.exists() and not dead.exists()
    with io.atomic_output(destination) as temporary:
        assert f"{_atomic._HOST}-{os.getpid()}." in temporary.name
        temporary.write_bytes(b"x")
    assert destination.read_bytes() == b"x" and live.exists()


@pytest.mark.slow
def test_concurrent_corrects_to_one_output_never_fail(tmp_path):
    """Two `correct` runs writing the same output at once, 20 pairs: each exits 0 and the output is the
    corrected input (the clean-up of stale partial files no longer deletes the other run's)."""
    maps = np.random.default_rng(1).normal(size=(2000, 200, 4)).astype(np.float32)  # 6.4 MB
    source = tmp_path / "maps.npy"
    np.save(source, maps)
    out = tmp_path / "out" / "c.npy"
    failures = []
    for pair in range(20):
        command = [sys.executable, "-m", "simplexgrad", "correct", "--in", str(source), "--out", str(out)]
        processes = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        for process in processes:
            _, stderr = process.communicate(timeout=300)
            if process.returncode != 0:
                failures.append((pair, process.returncode, errors(stderr)))
    assert failures == []
    np.testing.assert_allclose(np.load(out), correct(maps), atol=1e-6)
    assert sorted(path.name for path in out.parent.iterdir()) == ["c.npy"]


def test_correct_streams_its_file(tmp_path):
    """Peak memory of `correct` on a 64 MB .npy stays within the file's size plus the interpreter's (it
    was 9.5 times the file)."""
    source = tmp_path / "maps.npy"
    rows = 16_000
    np.save(source, np.random.default_rng(2).normal(size=(rows, 250, 4)).astype(np.float32))
    size = source.stat().st_size
    code = (
        "import sys; from simplexgrad.cli import main; code = main(sys.argv[1:]); "
        "print(next(int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmHWM:'))); "
        "sys.exit(code)"
    )
    tiny = tmp_path / "tiny.npy"
    np.save(tiny, np.zeros((1, 250, 4), np.float32))
    small = ["correct", "--in", str(tiny), "--out", str(tmp_path / "t.npy")]
    baseline = subprocess.run(
        [sys.executable, "-c", code, *small], capture_output=True, text=True, timeout=300
    )
    argv = [
        "correct",
        "--in",
        str(source),
        "--out",
        str(tmp_path / "c.npy"),
        "--report",
        str(tmp_path / "r.tsv"),
    ]
    result = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    peak = int(result.stdout.split()[-1])
    start = int(baseline.stdout.split()[-1])  # the interpreter with NumPy and h5py
    assert peak - start < size, (peak, start, size)  # NumPy alone needs 2.4 times the file
    np.testing.assert_allclose(read_array(tmp_path / "c.npy")[0][:3], correct(np.load(source)[:3]), atol=1e-6)


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".h5"])
def test_correct_in_place_rewrites_the_file_atomically(suffix, tmp_path):
    maps = np.random.default_rng(3).normal(size=(7, 12, 4)).astype(np.float32)
    path = tmp_path / f"maps{suffix}"
    if suffix == ".npy":
        np.save(path, maps)
    elif suffix == ".npz":
        np.savez_compressed(path, maps=maps, other=np.arange(4))
    else:
        with h5py.File(path, "w") as handle:
            handle.create_dataset("g/maps", data=maps, compression="gzip", chunks=(2, 12, 4))
            handle["g/maps"].attrs["tool"] = "captum"
    link = tmp_path / f"link{suffix}"
    link.symlink_to(path)
    key = {".npy": None, ".npz": "maps", ".h5": "g/maps"}[suffix]
    correct_file(str(path), str(link), key=key)  # through the link: the file itself is rewritten
    assert link.is_symlink()
    np.testing.assert_allclose(read_array(path, key)[0], correct(maps), atol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, link.name])
    if suffix == ".npz":
        np.testing.assert_array_equal(read_array(path, "other")[0], np.arange(4))
    if suffix == ".h5":
        with h5py.File(path) as handle:
            assert handle["g/maps"].compression == "gzip" and handle["g/maps"].attrs["tool"] == "captum"


def test_a_large_file_is_corrected_block_by_block_like_numpy(tmp_path, monkeypatch):
    monkeypatch.setattr("simplexgrad.attribution._streams.BLOCK_VALUES", 1000)  # many blocks
    maps = np.random.default_rng(4).normal(size=(37, 30, 4))
    for suffix in (".npy", ".npz", ".h5"):
        path = tmp_path / f"maps{suffix}"
        if suffix == ".npy":
            np.save(path, np.swapaxes(maps, 1, 2))
        elif suffix == ".npz":
            np.savez_compressed(path, maps=np.swapaxes(maps, 1, 2))
        else:
            with h5py.File(path, "w") as handle:
                handle["maps"] = np.swapaxes(maps, 1, 2)
        out = tmp_path / f"c{suffix}"
        table = correct_file(str(path), str(out), layout="NAL", report=str(tmp_path / f"r{suffix}.tsv"))
        np.testing.assert_allclose(read_array(out)[0], np.swapaxes(correct(maps), 1, 2), atol=1e-12)
        assert len(table["sequence"]) == 37 and (tmp_path / f"r{suffix}.tsv").read_text().count("\n") == 38


def test_ctrl_c_during_the_first_imports_prints_no_traceback(tmp_path):
    maps = tmp_path / "maps.npy"
    np.save(maps, np.zeros((3, 5, 4), np.float32))
    for delay in (0.05, 0.1, 0.15, 0.2):
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "simplexgrad",
                "correct",
                "--in",
                str(maps),
                "--out",
                str(tmp_path / "c.npy"),
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
        if "Traceback" in stderr:  # the signal came before Python reached simplexgrad (a loaded machine)
            assert "simplexgrad" not in stderr, (delay, stderr[-2000:])
            continue
        assert "KeyboardInterrupt" not in stderr, (delay, stderr[-2000:])
        # finished (0), stopped (130), or, when the command had finished and Python was exiting as the
        # signal came, ended by it (-SIGINT): never with a traceback
        assert process.returncode in (0, 130, -signal.SIGINT), (delay, process.returncode, stderr[-2000:])


def test_debug_before_the_command_is_the_commands(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="none.npy"):
        cli.main(["--debug", "correct", "--in", str(tmp_path / "none.npy"), "--out", str(tmp_path / "c.npy")])


def test_help_texts_are_plain_text(capsys):
    from simplexgrad.attribution import METHODS

    for command in ("attribute", "attribute-methods", "summarize", "import-weights", "prepare-genome",
                    "evaluate-methods"):  # fmt: skip
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "``" not in text and ":data:" not in text and ":func:" not in text, (command, text)
    with pytest.raises(SystemExit):
        cli.main(["attribute", "--help"])
    assert ", ".join(METHODS) in " ".join(capsys.readouterr().out.split())


def test_one_hot_windows_refuses_windows_outside_the_chromosome(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyfaidx")
    from simplexgrad.data.genome import one_hot_windows

    fasta = tmp_path / "genome.fa"
    fasta.write_text(">chr1\n" + "ACGT" * 10 + "\n")
    inside = pd.DataFrame({"chrom": ["chr1"], "start": [2], "end": [8]})
    assert one_hot_windows(inside, fasta).shape == (1, 6, 4)
    for start in (-3, 37):
        windows = pd.DataFrame({"chrom": ["chr1"], "start": [start], "end": [start + 6]})
        with pytest.raises(ValueError, match=rf"chr1:{start}-{start + 6} lies outside chr1"):
            one_hot_windows(windows, fasta)


def test_the_library_takes_torch_tensors_and_lists_and_refuses_a_state_dict():
    torch = pytest.importorskip("torch")
    from simplexgrad import saliency

    module = torch.nn.Sequential(torch.nn.Conv1d(4, 3, 5), torch.nn.Flatten(), torch.nn.LazyLinear(1))
    x = random_onehot(np.random.default_rng(5), 3, 20)
    nal = np.swapaxes(x, 1, 2).copy()
    module(torch.from_numpy(nal))  # materialise the lazy layer
    expected = saliency(module, nal, layout="NAL")
    grad = torch.tensor(nal, requires_grad=True)  # as captum's examples build inputs
    np.testing.assert_allclose(saliency(module, grad, layout="NAL"), expected, atol=1e-6)
    np.testing.assert_allclose(saliency(module, nal.tolist(), layout="NAL"), expected, atol=1e-6)
    np.testing.assert_allclose(saliency(module, torch.tensor(nal).double().float(), layout="NAL"), expected)
    with pytest.raises(TypeError, match=r"load_state_dict\(state_dict\)"):
        saliency(module.state_dict(), nal, layout="NAL")
    with pytest.raises(TypeError, match="one model"):
        saliency([module, module], nal, layout="NAL")
    np.testing.assert_allclose(correct(torch.tensor(x, requires_grad=True)), correct(x))


def test_correct_refuses_nan_in_the_library_as_on_the_command_line():
    grads = np.random.default_rng(6).normal(size=(2, 5, 4))
    grads[1, 3, 2] = np.nan
    with pytest.raises(ValueError, match=r"grads contains NaN or inf \(first at index \(1, 3, 2\)\)"):
        correct(grads)


def test_ground_truth_of_refuses_maps_of_other_sequences(tmp_path):
    x = random_onehot(np.random.default_rng(7), 4, 10)
    data = tmp_path / "data.h5"
    with h5py.File(data, "w") as handle:
        handle["x_test"], handle["y_test"] = x, np.zeros((4, 1), np.float32)
        handle["model_test"] = np.full(x.shape, 0.25, np.float32)
    contents = {"x": x[[2, 3]], "indices": np.array([2, 3]), "params": {"split": "test"}}
    assert io.ground_truth_of(contents, str(data), "maps.npz").shape == (2, 10, 4)
    with pytest.raises(ValueError, match=rf"maps.npz: its stored sequences differ from {data}:x_test"):
        io.ground_truth_of({**contents, "indices": np.array([1, 3])}, str(data), "maps.npz")


def test_correct_out_may_be_its_in_from_the_command_line(tmp_path):
    """The one documented in-place rewrite: `correct --out` naming its `--in` (any other input refused)."""
    maps = np.random.default_rng(8).normal(size=(3, 6, 4)).astype(np.float32)
    path = tmp_path / "maps.npy"
    np.save(path, maps)
    assert cli.main(["correct", "--in", str(path), "--out", str(path)]) == 0
    np.testing.assert_allclose(np.load(path), correct(maps), atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["maps.npy"]


def test_out_of_memory_is_one_line_exit_2(tmp_path, monkeypatch, caplog):
    @functools.wraps(correct_file)  # the command's options come from its signature and docstring
    def too_large(**arguments):
        raise MemoryError(
            "Unable to allocate 7.28 TiB for an array with shape (1000000000000, 2) and data type float32"
        )

    monkeypatch.setattr(maps_module, "correct_file", too_large)
    assert cli.main(["correct", "--in", str(tmp_path / "m.npy"), "--out", str(tmp_path / "c.npy")]) == 2
    messages = [record.getMessage() for record in caplog.records if record.levelno >= 40]
    assert len(messages) == 1 and messages[0].startswith("out of memory (Unable to allocate 7.28 TiB"), (
        messages
    )
