"""The examples of the README and the manual's pages, run as printed: the library on a model, a map file
corrected from Python and the command line, tangermeme-style ``(N, 4, L)`` arrays, captum on a PyTorch
model, and a CREsted-style folder of ``<class>_contrib.npz`` files (``arr_0``, ``(N, L, 4)``) corrected with
``simplexgrad correct``. The files are written in each tool's format here; the tools themselves (but captum,
a test dependency) are not installed."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from manual import documented_commands, example
from simplexgrad import angle_statistics, correct, large_angle_fraction, saliency, simplex_angle
from simplexgrad.attribution.maps import read_array


def maps_nal(rng: np.random.Generator, n: int = 5, length: int = 30) -> np.ndarray:
    """Attribution-like ``(N, 4, L)`` float32 maps with an off-simplex component."""
    return (rng.normal(size=(n, 4, length)) + rng.normal(size=(n, 1, length))).astype(np.float32)


def test_tangermeme_maps(tmp_path, monkeypatch):
    language, code = example("tangermeme")
    assert language == "python"
    maps = maps_nal(np.random.default_rng(0))
    np.save(tmp_path / "tangermeme_saliency.npy", maps)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md:tangermeme", "exec"), namespace)
    np.testing.assert_allclose(namespace["corrected"], maps - maps.mean(axis=1, keepdims=True), atol=1e-6)
    assert namespace["report"]["removed_norm_fraction"].shape == (5,)
    assert (namespace["report"]["removed_norm_fraction"] > 0.05).all()  # the shared offset is removed
    # the same file from the command line, as the README and the usage page print it
    done = printed_command("simplexgrad correct --in tangermeme_saliency.npy", tmp_path)
    np.testing.assert_allclose(np.load("corrected.npy"), namespace["corrected"], atol=1e-6)
    assert "removed_norm_fraction" in done.stdout + (tmp_path / "angles.tsv").read_text()


def test_captum_on_a_pytorch_model():
    torch = pytest.importorskip("torch")
    pytest.importorskip("captum")
    language, code = example("captum")
    assert language == "python"
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Conv1d(4, 8, 7, padding=3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 25, 2))
    rng = np.random.default_rng(1)
    one_hot = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (6, 25))].transpose(0, 2, 1).copy()
    namespace = {"model": model, "one_hot": one_hot}
    exec(compile(code, "README.md:captum", "exec"), namespace)
    ours = saliency(model, one_hot, layout="NAL", class_index=0)
    np.testing.assert_allclose(namespace["maps"], ours, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(namespace["corrected"], correct(ours, axis=1), atol=1e-6)
    assert namespace["angles"].shape == (6, 25)
    assert np.abs(namespace["corrected"].sum(axis=1)).max() < 1e-5


def test_crested_contribution_folder(tmp_path):
    language, code = example("crested")
    assert language == "text"
    folder = tmp_path / "contributions"
    folder.mkdir()
    rng = np.random.default_rng(2)
    written = {}
    for name in ("Astro", "L5ET"):
        written[name] = np.swapaxes(maps_nal(rng, n=4, length=50), 1, 2)  # (N, L, 4), as CREsted writes
        np.savez(folder / f"{name}_contrib.npz", written[name])  # the one array: arr_0
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", code], cwd=tmp_path, env=environment, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(path.name for path in folder.iterdir()) == [
        "Astro_angles.tsv", "Astro_contrib.npz", "Astro_contrib_corrected.npz",
        "L5ET_angles.tsv", "L5ET_contrib.npz", "L5ET_contrib_corrected.npz",
    ]  # fmt: skip
    for name, maps in written.items():
        corrected, key = read_array(folder / f"{name}_contrib_corrected.npz")
        assert key == "arr_0" and corrected.shape == (4, 50, 4)
        np.testing.assert_allclose(corrected, correct(maps), atol=1e-6)
        rows = (folder / f"{name}_angles.tsv").read_text().splitlines()
        assert len(rows) == 5 and rows[0].split("\t")[-1] == "removed_norm_fraction"
        removed = [float(row.split("\t")[-1]) for row in rows[1:]]
        np.testing.assert_allclose(removed, angle_statistics(maps)["removed_norm_fraction"], rtol=1e-5)


def printed_command(start: str, folder: Path) -> subprocess.CompletedProcess:
    """Run, in ``folder``, the printed command that begins with ``start``, as a user's shell would, with
    the test's environment's ``simplexgrad`` first on the PATH."""
    (command,) = [command for command in documented_commands() if command.startswith(start)]
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-c", command], cwd=folder, env=environment, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
    return done


def test_getting_started_corrects_a_file(tmp_path, monkeypatch):
    maps = maps_nal(np.random.default_rng(3), n=6, length=40)
    np.save(tmp_path / "maps.npy", maps)
    printed_command("simplexgrad correct --in maps.npy", tmp_path)
    expected = maps - maps.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(np.load(tmp_path / "corrected.npy"), expected, atol=1e-6)
    rows = (tmp_path / "angles.tsv").read_text().splitlines()
    assert len(rows) == 7 and "mean_abs_angle" in rows[0]
    language, code = example("getting-started")
    assert language == "python"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "getting-started.md", "exec"), namespace)
    np.testing.assert_allclose(namespace["corrected"], expected, atol=1e-6)
    np.testing.assert_allclose(namespace["angles"], simplex_angle(maps, axis=1))
    assert namespace["report"]["mean_abs_angle"].shape == (6,)


def test_the_readme_library_example_on_a_keras_model():
    keras = pytest.importorskip("keras")
    language, code = example("library")
    assert language == "python"
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((30, 4)), keras.layers.Conv1D(6, 5, activation="relu"), keras.layers.Flatten(),
         keras.layers.Dense(1, activation="sigmoid")]
    )  # fmt: skip
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(4).integers(0, 4, (5, 30))]
    namespace = {"model": model, "x": x}
    exec(compile(code, "README.md:library", "exec"), namespace)
    raw = saliency(model, x)
    np.testing.assert_allclose(namespace["raw"], raw, rtol=1e-6)
    np.testing.assert_allclose(namespace["corrected"], raw - raw.mean(axis=-1, keepdims=True), atol=1e-7)
    assert namespace["angles"].shape == (5, 30)
    np.testing.assert_allclose(namespace["large"], large_angle_fraction(simplex_angle(raw), (30, 45, 60)))
