import gzip
import inspect
import os
import re
import signal
import subprocess
import sys
import time
import zipfile

import h5py
import numpy as np
import pytest
from conftest import FAST_OPTIONS, random_onehot, small_cnn
from simplexgrad import _atomic, cli, correct, large_angle_fraction
from simplexgrad._arguments import Output, check_outputs
from simplexgrad.attribution import METHODS, saliency
from simplexgrad.io import atomic_output, load_attributions, load_split


@pytest.fixture
def dataset(tmp_path, rng):
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as handle:
        for split, n in [("train", 6), ("valid", 4), ("test", 10)]:
            handle[f"x_{split}"] = random_onehot(rng, n, 30)
            handle[f"y_{split}"] = (np.arange(n) % 2).astype(np.float32)[:, None]
    return path


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.keras"
    small_cnn(seed=3).save(path)
    return path


def test_attribute_writes_raw_and_corrected_maps(tmp_path, dataset, model_file):
    out = tmp_path / "attr" / "saliency.npz"
    code = cli.main(
        [
            "attribute",
            "--model",
            str(model_file),
            "--data",
            str(dataset),
            "--out",
            str(out),
            "--method",
            "saliency",
            "--positives-only",
            "--num-seqs",
            "3",
        ]
    )
    assert code == 0
    result = load_attributions(out)
    split = load_split(dataset, "test")
    np.testing.assert_array_equal(result["indices"], [1, 3, 5])
    np.testing.assert_array_equal(result["x"], split.x[[1, 3, 5]])
    expected = saliency(small_cnn(seed=3), split.x[[1, 3, 5]])
    np.testing.assert_allclose(result["raw"], expected, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(result["corrected"], correct(result["raw"]), atol=1e-7)
    assert result["params"]["method"] == "saliency"
    assert result["params"]["output"] == "probability"


def test_attribute_failure_leaves_no_output(tmp_path, dataset):
    out = tmp_path / "saliency.npz"
    code = cli.main(
        [
            "attribute",
            "--model",
            str(tmp_path / "missing.keras"),
            "--data",
            str(dataset),
            "--out",
            str(out),
            "--method",
            "saliency",
        ]
    )
    assert code == 2
    assert list(tmp_path.glob("saliency*")) == []



def test_attribute_methods_writes_what_attribute_writes_per_method(tmp_path, dataset, model_file, run_cli):
    shared = ["--model", model_file, "--data", dataset, "--positives-only", "--num-seqs", 3]
    together = ["--out-dir", tmp_path / "all", "--methods", *METHODS, "--options", *FAST_OPTIONS]
    assert run_cli("attribute-methods", *shared, *together) == (0, "")
    assert sorted(path.name for path in (tmp_path / "all").iterdir()) == sorted(f"{m}.npz" for m in METHODS)
    for method in METHODS:
        own = [item.split(".", 1)[1].replace("_", "-") for item in FAST_OPTIONS if item.startswith(method)]
        alone = ["--out", tmp_path / method / "maps.npz", "--method", method, *(f"--{item}" for item in own)]
        assert run_cli("attribute", *shared, *alone) == (0, "")
        with (
            zipfile.ZipFile(tmp_path / method / "maps.npz") as expected,
            zipfile.ZipFile(tmp_path / "all" / f"{method}.npz") as written,
        ):
            assert written.namelist() == expected.namelist()
            for member in expected.namelist():  # the arrays and the params record, byte for byte
                assert written.read(member) == expected.read(member), (method, member)


@pytest.mark.parametrize(
    ("methods", "item", "message"),
    [
        (["saliency", "smoothgrad"], "smoothgrad.num_samples", "METHOD.NAME=VALUE"),
        (["saliency", "smoothgrad"], "smoothgrad=3", "METHOD.NAME=VALUE"),
        (["saliency", "smoothgrad"], "gradcam.steps=3", "gradcam is not among the methods"),
        (["saliency", "smoothgrad"], "expected_gradients.steps=3", "expected_gradients is not among"),
        (["saliency", "smoothgrad"], "smoothgrad.steps=3", "smoothgrad has no option 'steps'"),
        (["saliency", "smoothgrad"], "smoothgrad.num_samples=many", "'many' is not a valid int"),
        (["integrated_gradients"], "integrated_gradients.baseline=random", "choose one of"),
        (["smoothgrad"], "smoothgrad.seed=1 smoothgrad.seed=2", "given twice"),
        (["saliency", "gradcam"], "", "unknown attribution method 'gradcam'"),
        (["saliency", "saliency"], "", "named more than once"),
        (["saliency", "smoothgrad"], "smoothgrad.sigma=-1", "sigma must be >= 0"),  # after saliency's maps
    ],
)
def test_bad_method_options_are_one_line_and_write_nothing(tmp_path, dataset, model_file, run_cli, methods,
                                                           item, message):  # fmt: skip
    out = tmp_path / "maps"
    arguments = ["--model", model_file, "--data", dataset, "--out-dir", out, "--methods", *methods]
    code, error = run_cli("attribute-methods", *arguments, "--options", *item.split())
    assert code == 2 and message in error, error
    assert not out.exists()


def test_atomic_output_removes_partial_files(tmp_path):
    target = tmp_path / "table.tsv"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with atomic_output(target) as temporary:
        temporary.write_text("whole")
    assert target.read_text() == "whole"


def test_load_split_refuses_missing_keys_and_bad_layouts(tmp_path):
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as handle:
        handle["x_test"] = np.zeros((3, 4, 30), np.float32)
        handle["y_test"] = np.zeros((3, 1), np.float32)
    with pytest.raises(ValueError, match="x_train"):
        load_split(path, "train")
    with pytest.raises(ValueError, match=r"\(N, L, A\)"):
        load_split(path, "test", alphabet_size=4)


def simplexgrad(*arguments, timeout=300):
    """The command line in a subprocess, as Snakemake runs it."""
    return subprocess.run(
        [sys.executable, "-m", "simplexgrad", *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1, result.stderr[-3000:]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


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


def write_dataset(path, x, y):
    with h5py.File(path, "w") as handle:
        for split in ("train", "valid", "test"):
            handle[f"x_{split}"] = x
            handle[f"y_{split}"] = y
    return path


# Bad data files for `attribute` (NaN, not one-hot, short labels, no rows): the table of tests/test_errors.py.


@pytest.mark.slow
def test_a_single_class_dataset_is_refused_before_training(tmp_path, rng):
    data = write_dataset(tmp_path / "one_class.h5", random_onehot(rng, 20, 200), np.ones((20, 1), np.float32))
    # in a subprocess, as Snakemake runs it: no traceback reaches the log
    result = simplexgrad("train", "--data", data, "--out", tmp_path / "run", "--architecture", "cnn_shallow")
    assert_one_line_error(result, "one_class.h5:y_train", "both classes")
    assert not (tmp_path / "run").exists()


def test_files_that_are_not_what_they_claim_get_one_line(tmp_path, dataset, model_file, run_cli):
    not_hdf5 = tmp_path / "peaks.h5"
    not_hdf5.write_text("chrom\tstart\tend\n")
    attribute = ["attribute", "--method", "saliency", "--out", tmp_path / "a.npz"]
    code, error = run_cli(*attribute, "--model", model_file, "--data", not_hdf5)
    assert code == 2 and f"{not_hdf5}: not a readable HDF5 file" in error
    corrupt_model = tmp_path / "model_corrupt.keras"
    corrupt_model.write_bytes(b"PK\x03\x04 truncated")
    code, error = run_cli(*attribute, "--model", corrupt_model, "--data", dataset)
    assert code == 2 and f"{corrupt_model}: not a readable .keras model" in error
    maps = tmp_path / "maps.npz"
    assert (
        run_cli("attribute", "--model", model_file, "--data", dataset, "--out", maps, "--method", "saliency")[
            0
        ]
        == 0
    )
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(maps.read_bytes()[:300])
    metrics = tmp_path / "m.json"
    metrics.write_text('{"test_auroc": 0.5}')
    code, error = run_cli(
        "evaluate", "--attributions", truncated, "--data", dataset, "--classification", metrics,
        "--out-metrics", tmp_path / "m.tsv", "--out-angles", tmp_path / "a.tsv",
    )  # fmt: skip
    assert code == 2 and f"{truncated}: not a complete .npz" in error
    assert not (tmp_path / "m.tsv").exists() and not (tmp_path / "a.npz").exists()


def test_an_output_folder_that_cannot_be_written_is_one_line(tmp_path, dataset, model_file, run_cli):
    blocker = tmp_path / "results"
    blocker.write_text("a file where the output folder should be")
    attribute = ["attribute", "--model", model_file, "--data", dataset, "--method", "saliency"]
    code, error = run_cli(*attribute, "--out", blocker / "maps.npz")
    assert code == 2 and str(blocker) in error
    if os.geteuid() != 0:  # root may write anywhere: a read-only folder only stops other users
        folder = tmp_path / "read_only"
        folder.mkdir(mode=0o500)
        code, error = run_cli(*attribute, "--out", folder / "maps.npz")
        assert code == 2 and "Permission denied" in error


def test_library_refuses_empty_inputs_and_nan_thresholds(model32):
    with pytest.raises(ValueError, match="no sequences"):
        saliency(model32, np.zeros((0, 30, 4), np.float32))
    with pytest.raises(ValueError, match="thresholds"):
        large_angle_fraction(np.zeros((2, 5)), thresholds=[np.nan])


@pytest.mark.slow
def test_sigterm_removes_the_partial_output_and_a_rerun_removes_stale_ones(tmp_path):
    # decompressing 400 MB of gzip takes a few seconds: time to catch the partial file
    compressed = tmp_path / "genome.fa.gz"
    with gzip.open(compressed, "wb", compresslevel=1) as handle:
        block = b">chr1\n" + b"ACGT" * 2**18
        for _ in range(400):
            handle.write(block)
    out = tmp_path / "genome.fa"
    killed = subprocess.Popen([sys.executable, "-c", "pass"])  # a writer that is gone: its pid is free
    killed.wait()
    stale = tmp_path / f".genome.fa.partial.{_atomic._HOST}-{killed.pid}.left_by_kill.fa"
    stale.write_bytes(b"0" * 1000)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simplexgrad",
            "prepare-genome",
            "--fasta-gz",
            str(compressed),
            "--out",
            str(out),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    partial = []
    while not partial and process.poll() is None and time.monotonic() < deadline:
        partial = [path for path in tmp_path.glob(".genome.fa.partial.*") if path != stale]
        time.sleep(0.005)
    assert partial, "the write never started"
    assert not stale.exists()  # removed when the new write began
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    assert "stopped by signal" in stderr and "Traceback" not in stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["genome.fa.gz"]


def every_subcommand():
    from simplexgrad.figures import FIGURES

    return [[name] for name in cli.COMMANDS if name != "figure"] + [["figure", name] for name in FIGURES]


@pytest.mark.parametrize("command", every_subcommand(), ids=" ".join)
def test_help_shows_every_default_and_every_option_has_help(command, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main([*command, "--help"])
    assert stopped.value.code == 0
    text = capsys.readouterr().out
    options = re.findall(r"^  (--[a-z-]+)(.*?)(?=^  -|\Z)", text, re.S | re.M)
    assert options, text
    for option, description in options:
        if option in ("--help", "--debug"):
            continue
        body = " ".join(description.split())
        assert len(re.sub(r"\(default: .*?\)|[A-Z_]+|\{.*?\}|[\[\]., ]", "", body)) > 3, (option, body)
        optional = re.search(rf"\[{option}\b", text.split("options:")[0]) is not None
        if optional:
            assert "(default:" in body, (option, body)


# --- what each command writes: declared in its row of cli.COMMANDS, not read from its help ---------------


def test_declared_outputs_of_some_commands():
    folder = Output(folder=True)
    assert cli.COMMANDS["attribute"].outputs == {"out": Output(".npz")}
    assert cli.COMMANDS["attribute-methods"].outputs == {"out_dir": folder}
    assert cli.COMMANDS["train"].outputs == {"out": folder}
    assert cli.COMMANDS["train-ensemble"].outputs == {}  # --out-template is a pattern of folders
    assert cli.COMMANDS["synthetic"].outputs == {"out": Output(".h5")}
    assert cli.COMMANDS["evaluate"].outputs == {"out_metrics": Output(), "out_angles": Output(),
                                                "out_model": Output()}  # fmt: skip
    # a file: its help mentions numba's cache folder, which the old reading of the help took for a folder
    assert cli.COMMANDS["modisco-kernels"].outputs == {"out": Output(".tsv")}
    assert cli.COMMANDS["figure"].outputs == {"out_pdf": Output(".pdf"), "out_png": Output(".png")}
    assert cli.COMMANDS["angles"].outputs == {"out": Output(), **cli.COMMANDS["figure"].outputs}


def test_every_output_parameter_is_declared():
    """Each command declares exactly its function's ``out`` and ``out_*`` parameters (every figure's, for
    ``figure``), but ``out_template``, a pattern of member folders."""
    from simplexgrad.figures import FIGURES

    for name, command in cli.COMMANDS.items():
        functions = FIGURES.values() if name == "figure" else [cli._load(command.target)]
        for function in functions:
            parameters = inspect.signature(function).parameters
            wanted = {p for p in parameters if (p == "out" or p.startswith("out_")) and p != "out_template"}
            assert set(command.outputs) == wanted, (name, function.__name__)


def test_outputs_are_checked_as_declared(tmp_path):
    outputs = {"out": Output(".npz"), "out_dir": Output(folder=True), "out_table": Output(".h5")}
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "kernels.tsv").write_text("x")
    good = {"out": str(tmp_path / "m.npz"), "out_dir": str(tmp_path / "new"), "out_table": "t.hdf5"}
    check_outputs(outputs, {**good, "out_other": str(tmp_path / "a_folder"), "threads": 2})  # undeclared
    check_outputs(cli.COMMANDS["modisco-kernels"].outputs, {"out": str(tmp_path / "kernels.tsv")})  # again
    for bad, message in [
        ({"out": str(tmp_path / "m.tsv")}, "--out .*: writes a .npz file; name it with the suffix .npz"),
        ({"out": str(tmp_path / "a_folder")}, "--out .*: is a folder; name a file"),
        ({"out_dir": str(tmp_path / "a_file")}, "--out-dir .*: is a file, not a folder"),
        ({"out_dir": str(tmp_path / "m.npz")}, "--out-dir .*: is also --out"),
    ]:
        with pytest.raises(ValueError, match=message):
            check_outputs(outputs, {**good, **bad})
