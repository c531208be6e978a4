"""The README's examples for maps from other tools, run as printed: tangermeme-style ``(N, 4, L)`` arrays,
captum on a PyTorch model, and a CREsted-style folder of ``<class>_contrib.npz`` files (``arr_0``,
``(N, L, 4)``) corrected with ``simplexgrad correct``. The files are written in each tool's format here;
the tools themselves (but captum, a test dependency) are not installed."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from simplexgrad import angle_statistics, cli, correct, saliency
from simplexgrad.attribution.maps import read_array

REPO = Path(__file__).resolve().parents[1]


def readme_example(name: str) -> tuple[str, str]:
    """(language, code) of the README block after ``<!-- interop: name -->``."""
    text = (REPO / "README.md").read_text()
    found = re.search(rf"<!-- interop: {name} -->\n```(\w+)\n(.*?)```", text, re.S)
    assert found, f"the README has no interop example {name!r}"
    return found[1], found[2]


def maps_nal(rng: np.random.Generator, n: int = 5, length: int = 30) -> np.ndarray:
    """Attribution-like ``(N, 4, L)`` float32 maps with an off-simplex component."""
    return (rng.normal(size=(n, 4, length)) + rng.normal(size=(n, 1, length))).astype(np.float32)


def test_tangermeme_maps(tmp_path, monkeypatch):
    language, code = readme_example("tangermeme")
    assert language == "python"
    maps = maps_nal(np.random.default_rng(0))
    np.save(tmp_path / "tangermeme_saliency.npy", maps)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md:tangermeme", "exec"), namespace)
    np.testing.assert_allclose(namespace["corrected"], maps - maps.mean(axis=1, keepdims=True), atol=1e-6)
    assert namespace["report"]["removed_norm_fraction"].shape == (5,)
    assert (namespace["report"]["removed_norm_fraction"] > 0.05).all()  # the shared offset is removed
    # the same file from the command line, as the README says
    assert cli.main(["correct", "--in", "tangermeme_saliency.npy", "--layout", "NAL", "--out", "c.npy"]) == 0
    np.testing.assert_allclose(np.load("c.npy"), namespace["corrected"], atol=1e-6)


def test_captum_on_a_pytorch_model():
    torch = pytest.importorskip("torch")
    pytest.importorskip("captum")
    language, code = readme_example("captum")
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
    language, code = readme_example("crested")
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
