"""``simplexgrad report`` and the commands that take a user's own sequences and model: the page's three
lines run as printed (FASTA, BED and genome, a PyTorch factory with its state_dict) on sequences of the
synthetic generator, their maps equal to ``attribute``'s; multi-output, multi-head and channels-first
models from the command line; the isotropic null against a simulation; and the HTML page in headless
Chromium."""

import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import small_cnn
from manual import documented_commands, example
from simplexgrad import cli, saliency
from simplexgrad.angle_null import null_angle_density, null_angle_sd, null_percent_above
from simplexgrad.correction import simplex_angle
from simplexgrad.data.sequences import fasta_one_hot, write_fasta
from simplexgrad.data.synthetic import plant_motifs, sample_onehot

LENGTH = 60
AP1 = "TGACTCA"


def test_the_isotropic_null_is_what_a_simulation_draws():
    gradients = np.random.default_rng(0).normal(size=(100_000, 1, 4))
    angles = simplex_angle(gradients).ravel()
    assert null_angle_sd() == pytest.approx(np.degrees(np.sqrt(np.pi**2 / 12 - 0.5)), abs=1e-6)
    assert null_angle_sd() == pytest.approx(angles.std(), abs=0.3)
    expected = null_percent_above([30, 45, 60])
    np.testing.assert_allclose(expected, [39.1, 18.2, 5.8], atol=0.05)
    simulated = [100 * np.mean(np.abs(angles) > t) for t in (30, 45, 60)]
    np.testing.assert_allclose(expected, simulated, atol=0.5)
    grid = np.linspace(-90, 90, 10_001)
    assert np.trapezoid(null_angle_density(grid), grid) == pytest.approx(1.0, abs=1e-6)
    histogram, edges = np.histogram(angles, bins=np.arange(-90, 91, 10), density=True)
    np.testing.assert_allclose(histogram, null_angle_density((edges[1:] + edges[:-1]) / 2), atol=1.5e-3)


def synthetic_sequences(rng, n):
    """``n`` one-hot ``(n, LENGTH, 4)`` sequences of the synthetic generator, half with an AP-1 motif
    planted, and their labels."""
    pwm = np.full((len(AP1), 4), 0.02)
    pwm[np.arange(len(AP1)), ["ACGT".index(base) for base in AP1]] = 0.94
    planted = plant_motifs([pwm], n // 2, LENGTH, rng, counts=(1,), count_probabilities=(1.0,))
    probabilities = np.concatenate([planted.ground_truth_probs, np.full((n - n // 2, LENGTH, 4), 0.25)])
    x = sample_onehot(probabilities, rng).astype(np.float32)
    return x, np.r_[np.ones(n // 2), np.zeros(n - n // 2)].astype(np.float32)


@pytest.fixture
def run_cli(caplog):
    """The command line in this process: (exit status, the one ERROR line it logged)."""

    def run(*arguments):
        caplog.clear()
        code = cli.main([str(argument) for argument in arguments])
        errors = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
        assert len(errors) <= 1 and all("\n" not in error for error in errors), errors
        return code, (errors or [""])[0]

    return run


def run(command: str, folder: Path) -> subprocess.CompletedProcess:
    """A printed command, run in ``folder`` as a user's shell runs it."""
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-c", command], cwd=folder, env=environment, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The page's inputs (enhancers.fa, peaks.bed, genome.fa, model.keras with two output units, the
    page's mymodels.py trained on the sequences, weights.pt) and its three lines run as printed."""
    torch = pytest.importorskip("torch")
    pyfaidx = pytest.importorskip("pyfaidx")
    folder = tmp_path_factory.mktemp("your_sequences")
    rng = np.random.default_rng(0)
    x, y = synthetic_sequences(rng, 60)
    names = [f"enhancer_{index}" for index in range(len(x))]
    write_fasta(folder / "enhancers.fa", names, x)
    # A genome holding the sequences between spacers, and a BED file of their regions.
    spacer = 30
    chromosome = np.concatenate(
        [np.eye(4)[rng.integers(0, 4, spacer)]]
        + [np.r_[seq, np.eye(4)[rng.integers(0, 4, spacer)]] for seq in x]
    )
    write_fasta(folder / "genome.fa", ["chr1"], chromosome[None])
    pyfaidx.Faidx(str(folder / "genome.fa")).close()
    starts = spacer + np.arange(len(x)) * (LENGTH + spacer)
    (folder / "peaks.bed").write_text(
        "".join(f"chr1\t{s}\t{s + LENGTH}\tpeak_{i}\n" for i, s in enumerate(starts))
    )
    small_cnn(length=LENGTH, units=2).save(folder / "model.keras")
    # The page's PyTorch module, trained here on the sequences (NAL), its weights saved.
    language, code = example("your-torch-model")
    assert language == "python"
    (folder / "mymodels.py").write_text(code)
    namespace: dict = {}
    exec(compile(code, "your-sequences.md", "exec"), namespace)
    torch.manual_seed(0)
    module = namespace["build"]()
    optimizer = torch.optim.Adam(module.parameters(), lr=0.02)
    inputs, labels = torch.from_numpy(x.transpose(0, 2, 1).copy()), torch.from_numpy(y)[:, None]
    for _ in range(60):
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy(module(inputs), labels)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.5  # it learned the motif
    torch.save(module.state_dict(), folder / "weights.pt")
    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; users still hold such files
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(module).save(folder / "model.pt")  # the same model as TorchScript
    commands = [command for command in documented_commands() if command.startswith("simplexgrad report")]
    assert len(commands) == 3
    for command in commands:
        run(command, folder)
    return folder, x, names


@pytest.mark.slow
def test_the_pages_three_lines_write_maps_angles_and_the_page(study, run_cli, monkeypatch):
    folder, x, names = study
    for out in ("report", "peaks", "torch"):
        written = sorted(path.name for path in (folder / out).iterdir())
        assert written in (
            ["angles.tsv", "index.html", "maps"],
            ["angles.tsv", "index.html", "maps", "motifs"],
        )
        maps = np.load(folder / out / "maps" / "saliency_unit0.npz")
        assert maps["raw"].shape == x.shape and np.abs(maps["corrected"].sum(axis=-1)).max() < 1e-5
        with h5py.File(folder / out / "maps" / "saliency_unit0.h5") as handle:
            np.testing.assert_array_equal(handle["raw"][()], maps["raw"].transpose(0, 2, 1))
            np.testing.assert_array_equal(handle["one_hot"][()], x.transpose(0, 2, 1))
            assert [name.decode() for name in handle["names"][()]][:2] == list(maps["names"][:2])
        rows = (folder / out / "angles.tsv").read_text().splitlines()
        assert len(rows) == len(x) + 1 and rows[0].split("\t")[:3] == ["method", "class_index", "name"]
    report = np.load(folder / "report" / "maps" / "saliency_unit0.npz")
    assert list(report["names"]) == names
    np.testing.assert_array_equal(report["x"], x)
    peaks = np.load(folder / "peaks" / "maps" / "saliency_unit0.npz")
    assert list(peaks["names"]) == [f"peak_{index}" for index in range(len(x))]
    np.testing.assert_array_equal(peaks["raw"], report["raw"])  # the same windows, cut from the genome
    page = (folder / "report" / "index.html").read_text()
    assert "simplexgrad report --model model.keras --sequences enhancers.fa --out report/" in page
    assert "enhancer_" in page and "32.5°" in page and "Output unit 0" in page
    assert "PyTorch" in (folder / "torch" / "index.html").read_text()
    # attribute's maps on the same sequences are the report's: Keras, and the page's PyTorch model
    code, error = run_cli("attribute", "--model", folder / "model.keras", "--method", "saliency",
                          "--sequences", folder / "enhancers.fa", "--out", folder / "keras.npz")  # fmt: skip
    assert code == 0, error
    np.testing.assert_array_equal(np.load(folder / "keras.npz")["raw"], report["raw"])
    assert list(np.load(folder / "keras.npz")["names"]) == names
    monkeypatch.chdir(folder)  # the factory's module is imported from the current folder
    code, error = run_cli("attribute", "--model", "mymodels:build", "--state-dict", "weights.pt",
                          "--layout", "NAL", "--sequences", "enhancers.fa", "--method", "saliency",
                          "--out", "torch.npz")  # fmt: skip
    assert code == 0, error
    torch_maps = np.load(folder / "torch" / "maps" / "saliency_unit0.npz")["raw"]
    np.testing.assert_array_equal(np.load("torch.npz")["raw"], torch_maps)
    assert np.abs(torch_maps).max() > 0
    code, error = run_cli("attribute", "--model", "model.pt", "--layout", "NAL", "--method", "saliency",
                          "--sequences", "enhancers.fa", "--out", "script.npz")  # fmt: skip
    assert code == 0, error
    np.testing.assert_allclose(np.load("script.npz")["raw"], torch_maps, rtol=1e-5, atol=1e-7)
    code, error = run_cli("attribute", "--model", "weights.pt", "--sequences", "enhancers.fa",
                          "--method", "saliency", "--out", "weights.npz")  # fmt: skip
    assert code == 2 and "weights.pt: holds weights (a state_dict), not a TorchScript model" in error
    # the library takes a model as a path
    np.testing.assert_allclose(saliency(str(folder / "model.keras"), x), report["raw"], rtol=1e-6, atol=1e-8)


@pytest.mark.slow
def test_a_multi_task_model_gets_a_section_and_a_file_per_unit(study, run_cli, tmp_path):
    folder, x, names = study
    model, sequences = folder / "model.keras", folder / "enhancers.fa"
    out = tmp_path / "report"
    code, error = run_cli("report", "--model", model, "--sequences", sequences, "--class-index", "all",
                          "--no-motifs", "--top", "1", "--out", out)  # fmt: skip
    assert code == 0, error
    assert sorted(path.name for path in (out / "maps").iterdir()) == [
        "saliency_unit0.h5", "saliency_unit0.npz", "saliency_unit1.h5", "saliency_unit1.npz",
    ]  # fmt: skip
    page = (out / "index.html").read_text()
    assert "Output unit 0" in page and "Output unit 1" in page and "--no-motifs" in page
    classes = [row.split("\t")[1] for row in (out / "angles.tsv").read_text().splitlines()[1:]]
    assert classes == ["0"] * len(x) + ["1"] * len(x)
    # attribute --class-index 1 is checked against the model's two units, not the data's labels
    code, error = run_cli("attribute", "--model", model, "--sequences", sequences, "--class-index", "1",
                          "--method", "saliency", "--out", tmp_path / "unit1.npz")  # fmt: skip
    assert code == 0, error
    unit1 = np.load(out / "maps" / "saliency_unit1.npz")["raw"]
    np.testing.assert_array_equal(np.load(tmp_path / "unit1.npz")["raw"], unit1)
    code, error = run_cli("attribute", "--model", model, "--sequences", sequences, "--class-index", "all",
                          "--method", "saliency", "--out", tmp_path / "every.npz")  # fmt: skip
    assert code == 0, error
    np.testing.assert_array_equal(np.load(tmp_path / "every_unit1.npz")["raw"], unit1)
    assert np.load(tmp_path / "every_unit0.npz")["params"] != np.load(tmp_path / "every_unit1.npz")["params"]
    code, error = run_cli("attribute", "--model", model, "--sequences", sequences, "--class-index", "2",
                          "--method", "saliency", "--out", tmp_path / "unit2.npz")  # fmt: skip
    assert code == 2 and f"{model}: --class-index [2] is out of range: the model has 2 output units" in error
    figure = ("--out-pdf", tmp_path / "a.pdf", "--out-png", tmp_path / "a.png")
    code, error = run_cli("angles", "--model", model, "--sequences", sequences, "--class-index", "1",
                          "--out", tmp_path / "a.tsv", *figure)  # fmt: skip
    assert code == 0, error
    rows = (tmp_path / "a.tsv").read_text().splitlines()
    assert len(rows) == len(x) + 1 and rows[1].split("\t")[:2] == ["1", "enhancer_0"]


def test_channels_first_and_multi_head_keras_models_from_the_command_line(tmp_path, run_cli, rng):
    keras = pytest.importorskip("keras")
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (8, 24))]
    write_fasta(tmp_path / "s.fa", [f"s{i}" for i in range(8)], x)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4, 24))
    hidden = keras.layers.Flatten()(
        keras.layers.Conv1D(4, 5, data_format="channels_first", activation="tanh")(inputs)
    )
    first, second = keras.layers.Dense(1, name="first")(hidden), keras.layers.Dense(3, name="second")(hidden)
    keras.Model(inputs, first).save(tmp_path / "nal.keras")
    two_heads = keras.Model(inputs, [first, second])
    two_heads.save(tmp_path / "heads.keras")
    arguments = ("--sequences", tmp_path / "s.fa", "--method", "saliency", "--out", tmp_path / "m.npz")
    code, error = run_cli("attribute", "--model", tmp_path / "nal.keras", *arguments)
    assert (
        code == 2 and "nal.keras: the model's input is (N, 4, 24)" in error and "pass --layout NAL" in error
    )
    assert not (tmp_path / "m.npz").exists()
    code, error = run_cli("attribute", "--model", tmp_path / "nal.keras", "--layout", "NAL", *arguments)
    assert code == 0, error
    expected = saliency(keras.models.load_model(tmp_path / "nal.keras"), x.transpose(0, 2, 1), layout="NAL")
    np.testing.assert_allclose(np.load(tmp_path / "m.npz")["raw"], expected.transpose(0, 2, 1), rtol=1e-6)
    code, error = run_cli("attribute", "--model", tmp_path / "heads.keras", "--layout", "NAL", *arguments)
    assert code == 2 and "has 2 output heads ['first', 'second']; choose one with --output-head" in error
    code, error = run_cli("attribute", "--model", tmp_path / "heads.keras", "--layout", "NAL",
                          "--output-head", "second", "--class-index", "2", *arguments)  # fmt: skip
    assert code == 0, error
    head = keras.Model(two_heads.inputs, two_heads.outputs[1])
    expected = saliency(head, x.transpose(0, 2, 1), layout="NAL", class_index=2)
    np.testing.assert_allclose(np.load(tmp_path / "m.npz")["raw"], expected.transpose(0, 2, 1), rtol=1e-6)


def test_refusals_are_one_line_and_leave_nothing(tmp_path, run_cli, model32):
    model32.save(tmp_path / "model.keras")  # input length 30
    (tmp_path / "short.fa").write_text(">fine\n" + "ACGT" * 8 + "\n>tiny\nACGTN\n")
    base = ("report", "--model", tmp_path / "model.keras", "--no-motifs")
    code, error = run_cli(*base, "--sequences", tmp_path / "short.fa", "--out", tmp_path / "r")
    assert code == 2 and "short.fa: sequence 'tiny' has 5 nt, shorter than the model's input of 30" in error
    code, error = run_cli(*base, "--out", tmp_path / "r")
    assert code == 2 and "give the sequences as --sequences FASTA" in error
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    code, error = run_cli(*base, "--sequences", tmp_path / "short.fa", "--pad", "--out", tmp_path / "mine")
    assert code == 2 and "a folder that holds files but no report" in error
    (tmp_path / "w.pt").write_bytes(b"not a model")
    code, error = run_cli(*base, "--sequences", tmp_path / "short.fa", "--model", "nowhere.module:build",
                          "--state-dict", tmp_path / "w.pt", "--out", tmp_path / "r")  # fmt: skip
    assert code == 2 and "--model nowhere.module:build: cannot import it" in error
    assert sorted(path.name for path in tmp_path.iterdir()) == ["mine", "model.keras", "short.fa", "w.pt"]


def test_a_report_that_fails_or_finds_motifs(tmp_path, model32, monkeypatch, rng):
    from simplexgrad.plots import report as figures
    from simplexgrad.studies import modisco
    from simplexgrad.studies.report import report

    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (6, 30))]
    write_fasta(tmp_path / "s.fa", [f"s{i}" for i in range(6)], x)
    model32.save(tmp_path / "model.keras")
    arguments = {"model": str(tmp_path / "model.keras"), "top": 1}
    from simplexgrad.data.sequences import SequenceInput

    inputs = SequenceInput(sequences=str(tmp_path / "s.fa"))

    def broken(*args, **kwargs):
        raise RuntimeError("drawing failed")

    with monkeypatch.context() as patched:
        patched.setattr(figures, "sequence_maps", broken)
        with pytest.raises(RuntimeError, match="drawing failed"):
            report(out=str(tmp_path / "r"), inputs=inputs, motifs=False, **arguments)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model.keras", "s.fa"]  # nothing partial

    class Run:
        def patterns(self):
            return [
                modisco.Pattern(
                    "pos_patterns.pattern_0", 12, np.full((5, 4), 0.25), np.eye(4)[[0, 1, 2, 3, 0]]
                )
            ]

    table = modisco.pd.DataFrame({"pattern": ["pos_patterns.pattern_0"], "seqlets": [12],
                                  "best_match_name": ["FOS::JUN"], "tomtom_qvalue": [0.001]})  # fmt: skip
    monkeypatch.setattr(modisco, "find_motifs", lambda one_hot, maps: (Run(), table))
    page = report(out=str(tmp_path / "r"), inputs=inputs, **arguments).read_text()
    assert "Motifs (tfmodisco-lite" in page and "FOS::JUN" in page and page.count("<img") == 4
    assert sorted(path.name for path in (tmp_path / "r" / "motifs").iterdir()) == [
        "saliency_unit0_corrected.tsv", "saliency_unit0_raw.tsv",
    ]  # fmt: skip
    # partial folders: a gone writer's is removed, a live one's kept
    gone = subprocess.Popen(["true"])
    gone.wait()
    host = socket.gethostname()
    (tmp_path / f".r.partial.{host}-{gone.pid}.abc").mkdir()
    (tmp_path / f".r.partial.{host}-{os.getpid()}.def").mkdir()
    again = report(out=str(tmp_path / "r"), inputs=inputs, motifs=False, **arguments)  # replaces the report
    assert not (tmp_path / "r" / "motifs").exists() and again.exists()
    kept = [f".r.partial.{host}-{os.getpid()}.def", "model.keras", "r", "s.fa"]
    assert sorted(path.name for path in tmp_path.iterdir()) == kept


def chromium() -> str:
    """Debian's chromium, installed with apt-get when the test runs as root and it is missing."""
    found = shutil.which("chromium")
    if found is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=environment, capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=environment, capture_output=True,
                       timeout=900)  # fmt: skip
        found = shutil.which("chromium")
    if found is None:
        pytest.skip(
            "needs Debian's chromium (apt-get install chromium, run as root to have the test install it)"
        )
    return found


# Put first in the page's <head>: records console errors and resources that fail to load, and once the
# page has loaded writes them and how many of its images loaded into <body>'s data attributes.
WATCH = (
    "<script>window.__errors=[];console.error=(...a)=>{window.__errors.push(a.join(' '))};"
    "window.addEventListener('error',e=>{window.__errors.push("
    "e.message||('not loaded: '+(e.target.src||e.target.href)))},true);"
    "window.addEventListener('load',()=>{const i=[...document.images];"
    "document.body.dataset.images=i.length+':'+i.filter(m=>m.complete&&m.naturalWidth>0).length;"
    "document.body.dataset.errors=JSON.stringify(window.__errors)})</script>"
)


@pytest.mark.slow
def test_the_page_in_headless_chromium(study, tmp_path):
    browser = chromium()
    folder, _, _ = study
    page = folder / "report" / "index.html"
    watched = page.parent / "watched.html"  # beside the page: the same folder, the same (no) resources
    watched.write_text(page.read_text().replace("<head>", "<head>" + WATCH, 1))
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000"]
    try:
        dom = subprocess.run(
            [*flags, "--dump-dom", watched.as_uri()], capture_output=True, text=True, timeout=120
        )
    finally:
        watched.unlink()
    assert dom.returncode == 0, dom.stderr[-2000:]
    attributes = dict(re.findall(r'data-(images|errors)="([^"]*)"', dom.stdout))
    assert json.loads(html.unescape(attributes["errors"])) == []
    shown, loaded = map(int, attributes["images"].split(":"))
    assert shown == page.read_text().count("<img") and shown >= 2 and loaded == shown
    screenshot = tmp_path / "report.png"
    shot = subprocess.run([*flags, "--window-size=1200,2400", f"--screenshot={screenshot}", page.as_uri()],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert shot.returncode == 0 and screenshot.stat().st_size > 10_000, shot.stderr[-2000:]
    assert fasta_one_hot(folder / "enhancers.fa").x.shape[0] == 60
