"""The installable library: a core of NumPy and h5py, one extra per framework, one-line errors naming the
extra, the wheel and sdist, and fresh virtual environments with the core only and with ``[torch]``.

The fast tests block the optional packages inside a subprocess (``sys.modules[name] = None``); the slow
ones build the distributions and install them into new virtual environments (one at a time, shared by the
tests of this module)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
import tomllib
from simplexgrad import cli
from simplexgrad._optional import EXTRAS, PROVIDES, MissingExtra, check_extra, needs, require

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
OPTIONAL = [
    "pandas", "scipy", "keras", "tensorflow", "torch", "jax", "tqdm", "matplotlib", "seaborn", "sklearn",
    "modiscolite", "memelite", "pyjaspar", "snakemake", "yaml", "jsonschema", "pyfaidx", "pybedtools",
    "captum",
]  # fmt: skip
# import name -> distribution name, where they differ
DISTRIBUTION = {"modiscolite": "modisco-lite", "yaml": "pyyaml", "sklearn": "scikit-learn"}
HEAVY_DISTRIBUTIONS = {"tensorflow", "keras", "pandas", "torch", "snakemake", "jax", "scipy", "matplotlib"}


def requirement_name(requirement: str) -> str:
    """``'jax[cpu]>=0.4'`` -> ``'jax'``."""
    return re.match(r"[A-Za-z0-9_.-]+", requirement)[0].lower()


# --- the registry of extras against pyproject.toml -------------------------------------------------------


def test_core_dependencies_are_numpy_and_h5py():
    assert {requirement_name(r) for r in PYPROJECT["project"]["dependencies"]} == {"numpy", "h5py"}


@pytest.mark.parametrize("extra", sorted(PROVIDES))
def test_each_extra_installs_what_its_commands_check_for(extra):
    declared = {requirement_name(r) for r in PYPROJECT["project"]["optional-dependencies"][extra]}
    wanted = {DISTRIBUTION.get(module, module) for module in PROVIDES[extra]}
    assert wanted <= declared, f"[{extra}] lacks {wanted - declared}"
    if extra in ("torch", "modisco"):
        assert not declared & {"tensorflow", "keras"}, f"[{extra}] must not pull TensorFlow or Keras"


def test_all_and_test_extras_pull_every_extra():
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert set(EXTRAS) <= set(extras)
    (everything,) = extras["all"]
    assert set(re.search(r"\[(.*)\]", everything)[1].split(",")) >= set(EXTRAS)
    assert "simplexgrad[all,docs]" in extras["test"]
    assert {"pytest", "hypothesis", "ruff", "snakefmt", "captum", "build", "twine"} <= {
        requirement_name(r) for r in extras["test"]
    }
    assert "torch==2.13.0" in extras["test"]
    assert "snakemake==9.27.1" in extras["workflow"]
    assert not any(requirement_name(r) == "snakemake" for name, rs in extras.items() if name != "workflow"
                   for r in rs)  # fmt: skip


def test_every_command_names_its_extra():
    assert {command.extra for command in cli.COMMANDS.values()} - {None} <= set(EXTRAS)
    core = [name for name, command in cli.COMMANDS.items() if command.extra is None]
    assert core == ["download", "correct"]


def test_version_is_the_packages():
    import simplexgrad

    assert simplexgrad.__version__ == PYPROJECT["project"]["version"]


# --- the helper ------------------------------------------------------------------------------------------


def test_require_names_the_extra_in_one_line():
    with pytest.raises(MissingExtra) as caught:
        require("simplexgrad_no_such_package", "keras", "`simplexgrad angles`")
    assert str(caught.value) == "`simplexgrad angles` needs Keras: pip install 'simplexgrad[keras]'"
    assert caught.value.extra == "keras" and caught.value.missing == "simplexgrad_no_such_package"
    assert require("json", "keras", "x") is json


def test_needs_leaves_other_errors_alone():
    with pytest.raises(ModuleNotFoundError) as caught, needs("workflow", "x"):
        import simplexgrad.no_such_module  # noqa: F401  (a bug of ours, not a missing extra)
    assert not isinstance(caught.value, MissingExtra)
    with pytest.raises(ValueError, match="unknown extra 'gpu'"), needs("gpu", "x"):
        pass
    with pytest.raises(MissingExtra, match=r"simplexgrad\[modisco\]"), needs("modisco", "x"):
        import simplexgrad_no_such_package  # noqa: F401


def test_check_extra_looks_packages_up_without_importing_them():
    check_extra("keras", "x")  # the test environment has every extra
    assert "simplexgrad_no_such_package" not in sys.modules
    with pytest.raises(MissingExtra, match=r"^x needs PyTorch: pip install 'simplexgrad\[torch\]'$"):
        original = PROVIDES["torch"]
        PROVIDES["torch"] = ("simplexgrad_no_such_package",)
        try:
            check_extra("torch", "x")
        finally:
            PROVIDES["torch"] = original


# --- the core install, simulated: every optional package blocked ----------------------------------------

CORE_SCRIPT = """
import sys
for name in {optional!r}:
    sys.modules[name] = None  # import fails as if it were not installed
import json
import h5py
import numpy as np
import simplexgrad
from simplexgrad import angle_statistics, correct, large_angle_fraction, simplex_angle
from simplexgrad import cli
from simplexgrad.attribution._points import progress_bar
from simplexgrad.attribution.maps import read_array

maps = np.random.default_rng(0).normal(size=(3, 10, 4)).astype(np.float32)
angles = simplex_angle(maps)
result = {{
    "sums": float(np.abs(correct(maps).sum(axis=-1)).max()),
    "angles": list(angles.shape),
    "fractions": list(large_angle_fraction(angles).shape),
    "statistics": sorted(angle_statistics(maps)),
}}
with progress_bar(10, True, "x") as bar:  # tqdm is optional
    bar.update(10)
np.save("m.npy", maps)
np.savez("m.npz", arr_0=maps)
with h5py.File("m.h5", "w") as handle:
    handle["g/maps"] = np.swapaxes(maps, 1, 2)
result["status"] = [
    cli.main(["correct", "--in", "m.npy", "--out", "c.npy", "--report", "r.tsv"]),
    cli.main(["correct", "--in", "m.npz", "--out", "c.npz"]),
    cli.main(["correct", "--in", "m.h5", "--key", "g/maps", "--layout", "NAL", "--out", "c.h5"]),
]
result["corrected"] = [
    float(np.abs(read_array(name, key)[0].sum(axis=axis)).max())
    for name, key, axis in [("c.npy", None, 2), ("c.npz", None, 2), ("c.h5", "g/maps", 1)]
]
gated = ["angles", "train", "modisco", "figure fig2"]
result["gated"] = {{command: cli.main([*command.split(), "--help"]) for command in gated}}
result["loaded"] = sorted(
    name for name in sys.modules if name.split(".")[0] in {optional!r} and sys.modules[name] is not None
)
print(json.dumps(result))
"""


def test_core_without_any_optional_package(tmp_path):
    """What `pip install simplexgrad` gives, with every optional package blocked in a subprocess."""
    script = CORE_SCRIPT.format(optional=OPTIONAL)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["sums"] < 1e-5 and result["angles"] == [3, 10] and result["fractions"] == [3, 3]
    assert "removed_norm_fraction" in result["statistics"]
    assert result["status"] == [0, 0, 0] and max(result["corrected"]) < 1e-5
    assert (tmp_path / "r.tsv").read_text().splitlines()[0].startswith("sequence\tmean_abs_angle")
    assert result["gated"] == {"angles": 2, "train": 2, "modisco": 2, "figure fig2": 2}
    assert result["loaded"] == []
    errors = [line for line in done.stderr.splitlines() if " ERROR " in line]
    assert [line.split(" ERROR ")[1] for line in errors] == [
        "`simplexgrad angles` needs Keras: pip install 'simplexgrad[keras]'",
        "`simplexgrad train` needs Keras: pip install 'simplexgrad[keras]'",
        "`simplexgrad modisco` needs tfmodisco-lite: pip install 'simplexgrad[modisco]'",
        "`simplexgrad figure` needs the workflow packages: pip install 'simplexgrad[workflow]'",
    ]
    assert "Traceback" not in done.stderr


def test_library_modules_name_their_extra(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        for name in {OPTIONAL!r}:
            sys.modules[name] = None
        import importlib
        packages = ["attribution", "data", "training", "studies", "plots"]  # import anywhere: lazy names
        modules = ["training.single", "training.models", "training.ensemble", "studies.evaluation",
                   "studies.modisco", "figures", "plots.synthetic"]
        for module in packages + modules:
            try:
                importlib.import_module("simplexgrad." + module)
            except ImportError as error:
                print(type(error).__name__, error)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    # each names its own extra, not that of a module it imports (training.single imports metrics, which
    # the workflow extra also has; training.ensemble imports training.recipe)
    workflow = "needs the workflow packages: pip install 'simplexgrad[workflow]'"
    assert done.stdout.splitlines() == [
        "MissingExtra simplexgrad.training.single needs Keras: pip install 'simplexgrad[keras]'",
        "MissingExtra simplexgrad.training.models needs Keras: pip install 'simplexgrad[keras]'",
        "MissingExtra simplexgrad.training.ensemble needs JAX: pip install 'simplexgrad[jax]'",
        f"MissingExtra simplexgrad.studies.evaluation {workflow}",
        "MissingExtra simplexgrad.studies.modisco needs tfmodisco-lite: pip install 'simplexgrad[modisco]'",
        f"MissingExtra simplexgrad.figures {workflow}",
        f"MissingExtra simplexgrad.plots.synthetic {workflow}",
    ]


# --- the distributions and fresh virtual environments (slow: builds and installs) ------------------------


def run(command: list[str], cwd: Path | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    environment = dict(os.environ)
    for key in ("PYTHONPATH", "VIRTUAL_ENV"):  # the new environment's python, nothing of ours
        environment.pop(key, None)
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=environment)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def distributions(tmp_path_factory) -> dict[str, Path]:
    """The wheel and sdist, built by ``python -m build`` from the repository's files."""
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)])
    (wheel,) = out.glob("simplexgrad-*.whl")
    (sdist,) = out.glob("simplexgrad-*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def fresh_venv(folder: Path, *requirements: str, compile_bytecode: bool = True) -> Path:
    """A new virtual environment at ``folder`` with ``requirements`` pip-installed; its bin folder.
    ``compile_bytecode=False`` passes ``--no-compile``: the same distributions and files, without pip's
    bytecode (for torch 21 s of the 31 s install, against 2 s more per ``import torch``)."""
    run([sys.executable, "-m", "venv", str(folder)])
    bin_ = folder / "bin"
    options = [] if compile_bytecode else ["--no-compile"]
    run([str(bin_ / "python"), "-m", "pip", "install", "--quiet", *options, *requirements])
    return bin_


def installed_distributions(bin_: Path) -> set[str]:
    listed = run([str(bin_ / "python"), "-m", "pip", "list", "--format=json"]).stdout
    return {entry["name"].lower().replace("_", "-") for entry in json.loads(listed)}


@pytest.fixture(scope="module")
def core_venv(distributions, tmp_path_factory) -> Path:
    """``pip install <wheel>``: the core install."""
    return fresh_venv(tmp_path_factory.mktemp("core") / "venv", str(distributions["wheel"]))


@pytest.fixture(scope="module")
def torch_venv(distributions, tmp_path_factory) -> Path:
    """``pip install '<wheel>[torch]'`` (torch pinned to the version the project's machines hold)."""
    return fresh_venv(tmp_path_factory.mktemp("torch") / "venv", f"{distributions['wheel']}[torch]",
                      "torch==2.13.0", compile_bytecode=False)  # fmt: skip


@pytest.mark.slow
def test_wheel_and_sdist_pass_twine_and_hold_the_package_data(distributions):
    run([sys.executable, "-m", "twine", "check", "--strict", *map(str, distributions.values())])
    names = zipfile.ZipFile(distributions["wheel"]).namelist()
    assert "simplexgrad/resources/published_background_motifs.tsv" in names
    assert {"simplexgrad/_optional.py", "simplexgrad/cli.py"} <= set(names)
    # the re-exports' stubs (read at run time too) and the marker that the package is typed
    stubs = {str(path.relative_to(REPO / "workflow")) for path in (REPO / "workflow").rglob("*.pyi")}
    assert stubs and stubs | {"simplexgrad/py.typed"} <= set(names)
    metadata = (
        zipfile.ZipFile(distributions["wheel"])
        .read(next(name for name in names if name.endswith(".dist-info/METADATA")))
        .decode()
    )
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    core = [line for line in requires if "extra ==" not in line]
    assert sorted(requirement_name(line.split(":", 1)[1].strip()) for line in core) == ["h5py", "numpy"]
    provided = [line for line in metadata.splitlines() if line.startswith("Provides-Extra:")]
    extras = {line.split(":", 1)[1].strip() for line in provided}
    assert set(EXTRAS) | {"all", "test"} <= extras


@pytest.mark.slow
def test_core_install_has_only_numpy_and_h5py(core_venv):
    installed = installed_distributions(core_venv)
    assert installed - {"pip", "setuptools", "wheel"} == {"simplexgrad", "numpy", "h5py"}, installed


@pytest.mark.slow
def test_core_install_corrects_maps(core_venv, tmp_path):
    script = textwrap.dedent("""
        import sys
        import numpy as np
        import simplexgrad
        from simplexgrad import angle_statistics, correct, large_angle_fraction, simplex_angle
        maps = np.random.default_rng(1).normal(size=(4, 12, 4)).astype(np.float32)
        assert np.abs(correct(maps).sum(axis=-1)).max() < 1e-5
        assert large_angle_fraction(simplex_angle(maps)).shape == (4, 3)
        assert angle_statistics(maps)["removed_norm_fraction"].shape == (4,)
        np.save("maps.npy", maps)
        print(simplexgrad.__version__, simplexgrad.__file__)
    """)
    python, program = str(core_venv / "python"), str(core_venv / "simplexgrad")
    version, location = run([python, "-c", script], cwd=tmp_path).stdout.split()
    assert version == PYPROJECT["project"]["version"] and str(core_venv.parent) in location
    arguments = ["--in", "maps.npy", "--out", "corrected.npy", "--report", "angles.tsv"]
    run([program, "correct", *arguments], cwd=tmp_path)
    check = "import numpy as np; print(np.abs(np.load('corrected.npy').sum(axis=-1)).max())"
    assert float(run([python, "-c", check], cwd=tmp_path).stdout) < 1e-5
    assert len((tmp_path / "angles.tsv").read_text().splitlines()) == 5
    listed = run([program, "--help"]).stdout
    assert all(re.search(rf"^\s+{re.escape(name)}\b", listed, re.M) for name in cli.COMMANDS)
    for command, extra in [("angles", "keras"), ("train-ensemble", "jax"), ("modisco", "modisco")]:
        done = subprocess.run([program, command, "--help"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        (line,) = done.stderr.splitlines()
        hint = f"pip install 'simplexgrad[{extra}]'"
        assert line.endswith(f"`simplexgrad {command}` needs {EXTRAS[extra]}: {hint}"), line


@pytest.mark.slow
def test_torch_install_attributes_a_module_without_tensorflow(torch_venv, tmp_path):
    installed = installed_distributions(torch_venv)
    assert "torch" in installed and not installed & (HEAVY_DISTRIBUTIONS - {"torch"}), installed
    assert not any(name.startswith("nvidia-") for name in installed), "the CPU wheel, not the CUDA build"
    script = textwrap.dedent("""
        import sys
        import numpy as np
        import torch
        from simplexgrad import correct, saliency, simplex_angle
        torch.manual_seed(0)
        nn = torch.nn
        module = nn.Sequential(nn.Conv1d(4, 6, 5, padding=2), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 20, 1))
        rng = np.random.default_rng(0)
        x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (3, 20))].transpose(0, 2, 1)  # (N, 4, L)
        raw, corrected = saliency(module, x, layout="NAL", return_corrected=True)
        inputs = torch.tensor(x, requires_grad=True)
        module(inputs)[:, 0].sum().backward()
        np.testing.assert_allclose(raw, inputs.grad.numpy(), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(corrected, correct(raw, axis=1), atol=1e-6)
        assert simplex_angle(raw, axis=1).shape == (3, 20)
        assert not {"tensorflow", "keras", "jax", "pandas"} & set(sys.modules)
        print("ok", raw.shape)
    """)
    assert run([str(torch_venv / "python"), "-c", script], cwd=tmp_path).stdout.split()[0] == "ok"


def test_citation_and_changelog_name_this_version():
    import yaml

    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0"
    assert str(citation["version"]) == PYPROJECT["project"]["version"]
    paper = citation["preferred-citation"]
    assert paper["title"] == "Correcting gradient-based interpretations of deep neural networks for genomics"
    assert [author["family-names"] for author in paper["authors"]] == ["Majdandzic", "Rajesh", "Koo"]
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert "## Unreleased" in changelog and f"## {PYPROJECT['project']['version']} - " in changelog
