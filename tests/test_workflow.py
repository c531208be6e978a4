"""The Snakemake workflow end to end on a tiny configuration, plus planning and validation checks."""

import numpy as np
import pandas as pd
import pytest
from workflow_helpers import REPO, run_snakemake, write_config

TINY = {
    "results": "results",
    "synthetic": {"num_seqs": 600, "seed": 1},
    "models": {"num_seeds": 1},
    "training": {"epochs": 1, "patience": 1, "lr_patience": 1, "threads": 1},
    "attribution": {
        "methods": ["saliency", "integrated_gradients"],
        "num_seqs": 8,
        "threads": 1,
        "integrated_gradients": {"steps": 4, "baseline": "shuffle"},
    },
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("workflow")
    config = write_config(folder, TINY)
    result = run_snakemake(folder, config, "--cores", "2")
    assert result.returncode == 0, result.stderr[-5000:]
    return folder, config


@pytest.mark.slow
def test_every_declared_output_exists(tiny_run):
    folder, config = tiny_run
    summary = run_snakemake(folder, config, "--summary", "--cores", "1")
    assert summary.returncode == 0, summary.stderr[-3000:]
    outputs = [line.split("\t")[0] for line in summary.stdout.splitlines()[1:] if line.strip()]
    assert len(outputs) > 30
    for output in outputs:
        path = folder / output
        assert path.is_file() and path.stat().st_size > 0, output
    assert "missing" not in summary.stdout and "update pending" not in summary.stdout


@pytest.mark.slow
def test_metrics_table_has_one_row_per_run_method_and_correction(tiny_run):
    folder, _ = tiny_run
    metrics = pd.read_csv(folder / "results/synthetic/metrics.tsv", sep="\t")
    expected = {
        "model",
        "activation",
        "seed",
        "method",
        "corrected",
        "cosine",
        "auroc",
        "aupr",
        "classification_auroc",
    }
    assert expected <= set(metrics.columns)
    assert len(metrics) == 2 * 2 * 1 * 2 * 2
    keys = metrics[["model", "activation", "seed", "method", "corrected"]]
    assert not keys.duplicated().any()
    assert metrics[["cosine", "auroc", "aupr"]].notna().all().all()
    summary = pd.read_csv(folder / "results/synthetic/summary.tsv", sep="\t")
    assert len(summary) == 4 * 2 * 3  # models x methods x metrics
    angles = pd.read_csv(folder / "results/synthetic/angles.tsv", sep="\t")
    assert angles["percent"].between(0, 100).all()


@pytest.mark.slow
def test_figures_are_valid_images(tiny_run):
    import matplotlib.image

    folder, _ = tiny_run
    figures = sorted((folder / "results/synthetic/figures").iterdir())
    names = {path.stem for path in figures}
    assert {
        "fig2_interpretability_saliency",
        "fig2_correction_integrated_gradients",
        "fig3a_patch",
        "fig3c_motif_angles",
        "fig3d_background_angles",
        "fig4a_large_angles",
    } <= names
    for path in figures:
        if path.suffix == ".png":
            image = matplotlib.image.imread(path)
            assert image.ndim == 3 and min(image.shape[:2]) > 100
            assert np.ptp(image[..., :3]) > 0  # not a blank canvas
        else:
            assert path.read_bytes().startswith(b"%PDF")


@pytest.mark.slow
def test_html_report(tiny_run):
    folder, config = tiny_run
    result = run_snakemake(folder, config, "--cores", "1", "--report", "results/report.html")
    assert result.returncode == 0, result.stderr[-3000:]
    report = folder / "results/report.html"
    assert report.stat().st_size > 10_000


def test_full_configuration_plans_the_200_model_study(tmp_path):
    result = run_snakemake(tmp_path, REPO / "config" / "config.yaml", "-n", "--cores", "1", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    counts = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    assert counts["train_synthetic"] == 200
    assert counts["attribute_synthetic"] == 800
    assert counts["synthetic_data"] == 1
    assert counts["encode_dataset"] == 10
    assert counts["download_encode"] == 11  # ten TFs and the DNase peaks
    assert counts["download_genome"] == 1


@pytest.mark.parametrize(
    "override, message",
    [
        ({"models": {"architectures": ["cnn_wide"]}}, "cnn_wide"),
        ({"training": {"epochs": -3}}, "-3"),
        ({"attribution": {"methods": ["deeplift"]}}, "deeplift"),
    ],
)
def test_invalid_config_fails_validation(tmp_path, override, message):
    config = write_config(tmp_path, override)
    result = run_snakemake(tmp_path, config, "-n", "--cores", "1", timeout=300)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "validating config" in output.lower() and message in output
