"""The Snakemake workflow end to end on a tiny configuration: every README command as printed, the
outputs, the report, a moved project, planning of the full study and config validation."""

import json
import re
import shutil
import subprocess

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_helpers import (
    REPO,
    SNAKEMAKE,
    assert_only_overrides,
    merged,
    repository_copy,
    run_snakemake,
    write_config,
)

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
    # the training studies: 2 settings x 1 model type x 1 seed
    "init_study": {
        "enabled": True, "stddevs": [0.01, 0.5], "architectures": ["cnn_shallow"], "activations": ["relu"],
        "num_seeds": 1,
    },
    "angle_penalty_study": {
        "enabled": True, "strengths": [1.0e-2, 1.0e-4], "architectures": ["cnn_shallow"],
        "activations": ["relu"], "num_seeds": 1,
    },
}  # fmt: skip

# README commands that this module does not run, and where they are run instead.
RUN_ELSEWHERE = {
    "make test": "CI's entry point (.ci/run); running it here would recurse",
    "make benchmark": "benchmarks are run by hand; performance is never a timed test",
    "bash benchmarks/gpu_ensemble.sh": "needs a GPU machine (see the script's header)",
    "pip install simplexgrad": "tests/test_packaging.py installs the built wheel into a fresh environment",
    "pip install 'simplexgrad[torch]'": "tests/test_packaging.py installs the built wheel with [torch]",
    "pip install .": "tests/test_packaging.py builds the wheel from the repository and installs it",
    ".venv/bin/snakemake --cores all results/invivo/figures/fig3b_invivo_patch_CTCF.pdf "
    "results/invivo/CTCF/ensembles/cnn_deep_exponential/differences.tsv":
        "needs the ENCODE portal; tests/test_invivo.py builds the same targets from the loopback fixture",
    ".venv/bin/snakemake --workflow-profile profiles/slurm": "tests/test_slurm.py, with a site overlay",
    ".venv/bin/simplexgrad encode-manifest --table config/encode.tsv --out config/encode.tsv":
        "tests/test_encode.py, against the fake portal (the real one is not reachable from CI)",
}  # fmt: skip


def readme_commands() -> list[str]:
    """Every command of the README's ```bash blocks (continuation lines joined)."""
    text = (REPO / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command and not command.startswith("#"):
                commands.append(re.sub(r"\s+", " ", command))
    return commands


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A copy of the repository whose configs are the tiny study, after every README command."""
    folder = repository_copy(tmp_path_factory.mktemp("readme") / "simplexgrad")
    full = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    (folder / "config" / "config.yaml").write_text(yaml.safe_dump(merged(full, TINY), sort_keys=False))
    (folder / "config" / "quick.yaml").write_text(yaml.safe_dump(TINY, sort_keys=False))
    studies = {key: TINY[key] for key in ("init_study", "angle_penalty_study")}
    (folder / "config" / "studies-quick.yaml").write_text(yaml.safe_dump(studies, sort_keys=False))
    results = {}
    for command in readme_commands():
        if command in RUN_ELSEWHERE:
            continue
        result = in_study(folder, command, timeout=1200)
        assert result.returncode == 0, f"{command}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        results[command] = result
    return folder, results


@pytest.mark.slow
def test_every_readme_command_runs_as_printed(study):
    _, results = study
    commands = readme_commands()
    assert "make run" in results
    assert set(results) | set(RUN_ELSEWHERE) == set(commands)
    assert set(RUN_ELSEWHERE) <= set(commands), "a command listed as run elsewhere left the README"
    assert any("--forcerun" in command for command in results)


@pytest.mark.slow
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
    [("init_study", "init_stddev", [0.01, 0.5]), ("angle_penalty_study", "angle_penalty", [0.0, 1e-4, 1e-2])],
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


def test_no_rule_sets_memory_run_time_or_gpu():
    for path in (REPO / "workflow" / "rules").glob("*.smk"):
        text = path.read_text()
        assert not re.search(r"\b(mem_mb|runtime|gpu)\s*=", text), path.name


def test_the_profiles_give_each_training_rule_one_gpu():
    for profile in ("default", "slurm"):
        rules = yaml.safe_load((REPO / "profiles" / profile / "config.yaml").read_text())["set-resources"]
        gpus = {rule: resources["gpu"] for rule, resources in rules.items() if "gpu" in resources}
        assert gpus == {rule: 1 for rule in rules if rule.startswith("train_")}, profile


def test_quick_config_only_overrides():
    assert_only_overrides("quick.yaml")


def planned_jobs(folder, *configs):
    """Job counts of a dry run (`snakemake -n`) with the given config files."""
    result = run_snakemake(folder, configs[0], "-n", "--cores", "1", timeout=300) if len(configs) == 1 else (
        subprocess.run([*SNAKEMAKE, "--directory", str(folder), "-n", "--cores", "1", "--configfile",
                        *map(str, configs)], cwd=folder, capture_output=True, text=True, timeout=300)
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    stats = result.stdout.split("Job stats:")[1].split("total")[0].splitlines()[3:]
    return {line.split()[0]: int(line.split()[1]) for line in stats if line.strip()}


@pytest.mark.slow
def test_full_configuration_plans_the_whole_study(tmp_path):
    counts = planned_jobs(tmp_path, REPO / "config" / "config.yaml")
    # 4 model types x (50 seeds + 10 init scales x 10 seeds + 9 penalties x 20 seeds)
    assert counts["train_synthetic"] == 200 + 400 + 720
    assert counts["attribute_synthetic"] == counts["evaluate_synthetic"] == 200  # per model, every method
    assert counts["attribute_training_study"] == 400 + 720  # the studies' models: saliency only
    assert counts["summarize_training_study"] == 2
    assert counts["fig4c_init_study"] == counts["fig4d_angle_penalty"] == 1
    assert counts["synthetic_data"] == 1
    assert counts["fig3a_patch"] == counts["fig3c_motif_angles"] == 4
    assert counts["encode_dataset"] == 10
    assert counts["download_encode"] == 11  # ten TFs and the DNase peaks
    assert counts["download_genome"] == 1
    # in vivo: 10 TFs x 4 model types x 50 members
    assert counts["train_invivo"] == counts["attribute_invivo"] == 2000
    assert counts["invivo_ensemble"] == 40 and counts["fig3b_invivo_patch"] == 10
    assert counts["fig3e_ensemble_difference"] == counts["fig4b_invivo_large_angles"] == 4
    assert counts["invivo_large_angle_histograms"] == 4
    assert counts["modisco_synthetic"] == 2 * 2 and counts["modisco_invivo"] == 10 * 2


@pytest.mark.slow
def test_the_ensemble_engine_plans_one_training_job_per_group(tmp_path):
    engine = tmp_path / "engine.yaml"
    engine.write_text("training: {engine: ensemble}\n")
    counts = planned_jobs(tmp_path, REPO / "config" / "config.yaml", engine)
    assert "train_synthetic" not in counts and "train_invivo" not in counts
    assert counts["train_synthetic_group"] == 4  # per model type: its 50 seeds
    assert counts["train_init_study_group"] == 10 * 4 and counts["train_angle_penalty_study_group"] == 9 * 4
    assert counts["train_invivo_group"] == 10 * 4 * 10  # per TF, model type and first-layer width
    assert counts["attribute_synthetic"] == 200 and counts["attribute_training_study"] == 400 + 720


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["single", "ensemble"])
def test_each_studys_kernel_and_the_penalty_mode_reach_the_training_commands(tmp_path, engine):
    # A dry run (about 5 s): CNN-deep's first-layer kernel of each study goes to that study's CNN-deep jobs
    # only (CNN-shallow keeps the library's 19), the penalty's mode to the penalty study's jobs only.
    small = {"architectures": ["cnn_shallow", "cnn_deep"], "activations": ["relu"], "num_seeds": 1}
    config = write_config(tmp_path, {
        "training": {"engine": engine},
        "models": {"architectures": ["cnn_shallow", "cnn_deep"], "cnn_deep_first_layer_kernel": 11},
        "init_study": {**small, "enabled": True, "stddevs": [0.1], "cnn_deep_first_layer_kernel": 13},
        "angle_penalty_study": {**small, "enabled": True, "strengths": [1e-3],
                                "cnn_deep_first_layer_kernel": 15, "angle_penalty_mode": "inference"},
        "encode": {"enabled": True, "tfs": ["CTCF"]},
        "invivo": {"enabled": True, "architectures": ["cnn_shallow", "cnn_deep"], "activations": ["relu"],
                   "first_layer_filters": [12], "repeats": 1, "cnn_deep_first_layer_kernel": 17},
        "modisco": {"enabled": False},
    })  # fmt: skip
    result = run_snakemake(tmp_path, config, "-n", "-p", "--cores", "1", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    training = re.compile(r"simplexgrad train(-ensemble)? ")
    commands = [line for line in result.stdout.splitlines() if training.search(line)]
    expected = {"synthetic/": "11", "init_study/": "13", "angle_penalty_study/": "15", "invivo/": "17"}
    seen = set()
    for command in commands:
        (study,) = [name for name in expected if f"results/{name}" in command.split("--out")[1]]
        kernel = re.findall(r"--first-layer-kernel-size (\d+)", command)
        assert kernel == ([] if "--architecture cnn_shallow" in command else [expected[study]]), command
        assert re.findall(r"--angle-penalty-mode (\w+)", command) == (
            ["inference"] if study == "angle_penalty_study/" else []
        ), command
        seen.add((study, "--architecture cnn_deep" in command))
    assert seen == {(study, deep) for study in expected for deep in (False, True)}


@pytest.mark.slow
@pytest.mark.parametrize(
    "override, message",
    [
        ({"models": {"architectures": ["cnn_wide"]}}, "cnn_wide"),
        ({"training": {"epochs": -3}}, "-3"),
        ({"attribution": {"methods": ["deeplift"]}}, "deeplift"),
        ({"attribution": {"smoothgrad": {"noise": 0.2}}}, "noise"),
        ({"attribution": {"gradcam": {}}}, "gradcam"),
    ],
)
def test_invalid_config_is_refused_before_anything_runs(tmp_path, override, message):
    config = write_config(tmp_path, override)
    result = run_snakemake(tmp_path, config, "-n", "--cores", "1", timeout=300)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert message in output and "config" in output.lower()
