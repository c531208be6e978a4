"""The Snakemake workflow end to end on a tiny configuration: every command of the README and the manual's
pages as printed, the outputs, the report and a moved project (planning without running:
test_workflow_plans.py)."""

import json
import re
import shutil
import subprocess

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import yaml
from manual import documented_commands
from workflow_helpers import REPO, merged, repository_copy

TINY = {
    "synthetic": {"num_seqs": 600, "seed": 1},
    "models": {"num_seeds": 1},
    "training": {"epochs": 1, "early_stopping_patience": 1, "lr_patience": 1, "threads": 1},
    "attribution": {
        "methods": ["saliency", "integrated_gradients"],
        "num_seqs": 8,
        "threads": 1,
        "integrated_gradients": {"steps": 4},
    },
    "encode": {"enabled": False},
    # the training studies: 1 setting x 1 model type x 1 seed (the penalty's λ = 0 is the main study's model)
    "init_study": {
        "enabled": True, "stddevs": [0.5], "architectures": ["cnn_shallow"], "activations": ["relu"],
        "num_seeds": 1,
    },
    "angle_penalty_study": {
        "enabled": True, "strengths": [1.0e-2], "architectures": ["cnn_shallow"], "activations": ["relu"],
        "num_seeds": 1,
    },
}  # fmt: skip

# Printed commands that this module does not run, and where they are run instead.
RUN_ELSEWHERE = {
    "make benchmark": "benchmarks are run by hand; performance is never a timed test",
    "bash benchmarks/gpu_ensemble.sh": "needs a GPU machine (see the script's header)",
    ".venv/bin/snakemake --cores all --resources gpu=1 --configfile=config/paper-gpu.yaml":
        "needs a GPU; tests/test_workflow_plans.py plans it, and tiny studies on the ensemble engine",
    "bash benchmarks/gpu_study.sh .gpu-wheels --study main --data .gpu-data/data.h5 --results results":
        "needs a GPU machine and Keras wheels; tests/test_gpu_study.py runs gpu_study.py tiny on the CPU",
    "pip install simplexgrad": "tests/test_packaging.py installs the built wheel into a fresh environment",
    "pip install 'simplexgrad[torch]'": "tests/test_packaging.py installs the built wheel with [torch]",
    "pip install .": "tests/test_packaging.py builds the wheel from the repository and installs it",
    "simplexgrad correct --in tangermeme_saliency.npy --layout NAL --out corrected.npy --report angles.tsv":
        "tests/test_interop.py, on maps written in tangermeme's layout",
    "simplexgrad correct --in maps.npy --layout NAL --out corrected.npy --report angles.tsv":
        "tests/test_interop.py, on (N, 4, L) maps, with the getting-started page's Python example",
    ".venv/bin/snakemake --cores all results/invivo/figures/fig3b_invivo_patch_CTCF.pdf "
    "results/invivo/CTCF/ensembles/cnn_deep_exponential/differences.tsv":
        "needs the ENCODE portal; tests/test_invivo.py builds the same targets from the loopback fixture",
    ".venv/bin/snakemake --workflow-profile profiles/slurm": "tests/test_slurm.py, with a site overlay",
    ".venv/bin/simplexgrad encode-manifest --table config/encode.tsv --out config/encode.tsv":
        "tests/test_encode.py, against the fake portal (the real one is not reachable from CI)",
    "simplexgrad report --model model.keras --sequences enhancers.fa --out report/":
        "tests/test_report.py, on a Keras model and synthetic sequences written as FASTA",
    "simplexgrad report --model model.keras --bed peaks.bed --genome genome.fa --out peaks/":
        "tests/test_report.py, on BED regions of a small indexed genome",
    "simplexgrad report --model mymodels:build --state-dict weights.pt --layout NAL "
    "--sequences enhancers.fa --out torch/":
        "tests/test_report.py, on the page's PyTorch module trained in the test",
}  # fmt: skip


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A copy of the repository whose configs are the tiny study, after every printed command."""
    folder = repository_copy(tmp_path_factory.mktemp("readme") / "simplexgrad")
    full = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    (folder / "config" / "config.yaml").write_text(yaml.safe_dump(merged(full, TINY), sort_keys=False))
    (folder / "config" / "quick.yaml").write_text(yaml.safe_dump(TINY, sort_keys=False))
    studies = {key: TINY[key] for key in ("init_study", "angle_penalty_study")}
    (folder / "config" / "studies-quick.yaml").write_text(yaml.safe_dump(studies, sort_keys=False))
    results = {}
    for command in documented_commands():
        if command in RUN_ELSEWHERE:
            continue
        result = in_study(folder, command, timeout=1200)
        assert result.returncode == 0, f"{command}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        results[command] = result
    return folder, results


@pytest.mark.slow
def test_every_printed_command_runs_as_printed(study):
    _, results = study
    commands = documented_commands()
    assert "make run" in results
    assert set(results) | set(RUN_ELSEWHERE) == set(commands)
    assert set(RUN_ELSEWHERE) <= set(commands), "a command listed as run elsewhere is printed nowhere"
    assert any("--forcerun" in command for command in results)


def in_study(folder, command, timeout=300):
    """A command in the study's folder, as a user types it there."""
    return subprocess.run(command, shell=True, cwd=folder, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_every_declared_output_exists(study):
    folder, _ = study
    summary = in_study(folder, ".venv/bin/snakemake --summary --cores 1 --configfile=config/quick.yaml")
    assert summary.returncode == 0, summary.stderr[-3000:]
    outputs = [line.split("\t")[0] for line in summary.stdout.splitlines()[1:] if line.strip()]
    assert len(outputs) > 30
    for output in outputs:
        path = folder / output
        if path.is_dir():  # modisco's HTML report
            assert (path / "motifs.html").is_file() or (path / "report.html").is_file(), output
            continue
        assert path.is_file() and path.stat().st_size > 0, output
    assert "missing" not in summary.stdout and "update pending" not in summary.stdout
    assert not list((folder / "results").rglob(".*.partial.*"))


@pytest.mark.slow
def test_metrics_table_has_one_row_per_run_method_and_correction(study):
    folder, _ = study
    metrics = pd.read_csv(folder / "results/synthetic/metrics.tsv", sep="\t")
    keys = ["architecture", "activation", "seed", "method", "corrected"]
    assert set(keys) | {"cosine", "auroc", "aupr", "classification_auroc"} <= set(metrics.columns)
    assert len(metrics) == 2 * 2 * 1 * 2 * 2
    assert not metrics[keys].duplicated().any()
    assert metrics[["cosine", "auroc", "aupr"]].notna().all().all()
    summary = pd.read_csv(folder / "results/synthetic/summary.tsv", sep="\t")
    assert len(summary) == 4 * 2 * 3  # models x methods x metrics
    angles = pd.read_csv(folder / "results/synthetic/angles.tsv", sep="\t")
    percents = angles.filter(like="percent")
    assert percents.columns.tolist() == [
        "percent_above_30", "percent_above_45", "percent_above_60", "zero_gradient_percent"
    ]  # fmt: skip
    assert percents.stack().between(0, 100).all()
    assert (angles["percent_above_30"] >= angles["percent_above_60"]).all()


def expected_figures(folder):
    figures = []
    for method in TINY["attribution"]["methods"]:
        figures += [f"fig2_interpretability_{method}", f"fig2_correction_{method}"]
    figures.append("modisco_recovery")
    for model in ("cnn_shallow_relu", "cnn_shallow_exponential", "cnn_deep_relu", "cnn_deep_exponential"):
        figures += [f"fig3a_patch_{model}", f"fig3c_motif_angles_{model}", f"fig3d_background_angles_{model}"]
    return [*figures, "fig4a_large_angles"]


@pytest.mark.slow
def test_figures_are_valid_images(study):
    folder, _ = study
    for name in expected_figures(folder):
        png = folder / f"results/synthetic/figures/{name}.png"
        image = matplotlib.image.imread(png)
        assert image.ndim == 3 and min(image.shape[:2]) > 100, name
        assert np.ptp(image[..., :3]) > 0, name  # not a blank canvas
        assert png.with_suffix(".pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.slow
def test_report_holds_every_figure_with_its_caption(study):
    folder, _ = study
    html = (folder / "results/report.html").read_text()
    script = re.search(r'<script id="results">\s*var results = (\{.*?\});?\s*</script>', html, re.S)
    results = json.loads(script[1])
    for name in expected_figures(folder):
        entry = results[f"results/synthetic/figures/{name}.png"]  # the figure, embedded
        assert entry["mime_type"] == "image/png" and len(entry["data_uri"]) > 1000, name
        figure = re.sub(r"_(saliency|integrated_gradients|cnn_\w+)$", "", name)
        assert entry["job_properties"]["rule"] == figure, name
        assert (REPO / "workflow/report" / f"{figure}.rst").exists(), name
        assert len(entry["caption"]) > 100, name
    assert "results/synthetic/summary.tsv" in results
    modisco = {"results/synthetic/modisco/motifs.tsv", "results/synthetic/figures/modisco_recovery.png"}
    assert modisco <= set(results)


@pytest.mark.slow
def test_the_scorecard_judges_each_claim_on_the_runs_null_baseline(study):
    folder, _ = study
    trained = pd.read_csv(folder / "results/synthetic/metrics.tsv", sep="\t")
    null = pd.read_csv(folder / "results/null/metrics.tsv", sep="\t")
    keys = ["architecture", "activation", "seed", "method", "corrected"]
    assert null[keys].equals(trained[keys])  # the same models and maps, untrained
    for metrics in (folder / "results/null/models").rglob("metrics.json"):
        assert json.loads(metrics.read_text())["untrained"] is True
    table = pd.read_csv(folder / "results/scorecard.tsv", sep="\t", keep_default_na=False)
    measured = table[(table["study"] == "synthetic") & (table["n"] > 0)]
    assert len(measured) and (measured["null"] != "").all()
    assert set(table["evidence"]) <= {"", "discriminates", "does not discriminate", "no null"}
    assert (table.loc[table["study"] == "init_study", "evidence"].isin(["", "no null"])).all()
    assert "reproduced that the untrained null fails" in (folder / "results/scorecard.md").read_text()


@pytest.mark.slow
def test_a_moved_project_plans_no_rerun(study, tmp_path):
    folder, _ = study
    moved = tmp_path / "elsewhere" / "simplexgrad"
    shutil.copytree(folder, moved, symlinks=True)
    result = in_study(moved, ".venv/bin/snakemake -n --cores 1 --configfile=config/quick.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Nothing to be done" in result.stdout + result.stderr, result.stdout[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, parameter, values",
    [("init_study", "init_stddev", [0.5]), ("angle_penalty_study", "angle_penalty", [0.0, 1e-2])],
)
def test_training_studies_have_their_tables_and_figures(study, name, parameter, values):
    folder, _ = study
    models = pd.read_csv(folder / f"results/{name}/summary.tsv", sep="\t")
    assert sorted(models[parameter].unique()) == pytest.approx(values)  # λ = 0: the main study's model
    expected = {
        "architecture", "activation", "seed", parameter, "classification_auroc", "angle_sd", "mean_abs_angle",
        "percent_above_30", "zero_gradient_percent", "cosine_raw", "cosine_corrected", "auroc_raw",
        "auroc_corrected", "aupr_raw", "aupr_corrected",
    }  # fmt: skip
    assert expected <= set(models.columns)
    assert models[sorted(expected - {"architecture", "activation"})].notna().all().all()
    settings = pd.read_csv(folder / f"results/{name}/settings.tsv", sep="\t")
    assert len(settings) == len(values) and (settings["seeds"] == 1).all()
    assert {"angle_sd_mean", "angle_sd_sd", "classification_auroc_mean", "cosine_corrected_mean"} <= set(
        settings
    )
    figures = {"init_study": ["fig4c_init_study", "appfig14_init_study"],
               "angle_penalty_study": ["fig4d_angle_penalty", "appfig15_angle_penalty"]}[name]  # fmt: skip
    for figure in figures:
        image = matplotlib.image.imread(folder / f"results/{name}/figures/{figure}.png")
        assert np.ptp(image[..., :3]) > 0, figure
