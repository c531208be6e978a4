"""Planning the workflow without running it: the full study's DAG, the ensemble engine's groups, options
reaching the commands, invalid configs refused, and what the profiles and configs may set."""

import re
import subprocess
from collections import Counter

import pytest
import yaml
from docutils.core import publish_parts
from jinja2 import Environment
from workflow_helpers import REPO, SNAKEMAKE, assert_only_overrides, merged, run_snakemake, write_config


def test_no_rule_sets_memory_run_time_or_gpu():
    for path in (REPO / "workflow" / "rules").glob("*.smk"):
        text = path.read_text()
        assert not re.search(r"\b(mem_mb|runtime|gpu)\s*=", text), path.name


def test_the_profiles_give_each_training_rule_and_group_one_gpu():
    for profile in ("default", "slurm"):
        rules = yaml.safe_load((REPO / "profiles" / profile / "config.yaml").read_text())["set-resources"]
        gpus = {rule: resources["gpu"] for rule, resources in rules.items() if "gpu" in resources}
        on_gpu = {rule for rule in rules if rule.startswith("train_") or rule.endswith("_group")}
        assert gpus == {rule: 1 for rule in on_gpu}, profile


def test_quick_config_only_overrides():
    assert_only_overrides("quick.yaml")


def test_the_gpu_config_only_overrides_and_runs_the_ensemble_engine_without_in_vivo_data():
    override = assert_only_overrides("paper-gpu.yaml")
    assert override == {"training": {"engine": "ensemble"}, "encode": {"enabled": False}}


def planned_jobs(folder, *configs):
    """Jobs per rule in the DAG that `snakemake --dag` draws with the given config files (in an empty
    folder every job is planned). A dry run (`-n`) gives the same counts in three times the time: it also
    evaluates and prints each job's resources and command, 8000 of them for the full study."""
    result = subprocess.run(
        [*SNAKEMAKE, "--directory", str(folder), "--dag", "--cores", "1", "--configfile", *map(str, configs)],
        cwd=folder, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("digraph"), result.stdout[:3000]
    return Counter(re.findall(r'^\s*\d+\[label = "(\w+)', result.stdout, re.M))


@pytest.mark.slow
def test_full_configuration_plans_the_whole_study(tmp_path):
    counts = planned_jobs(tmp_path, REPO / "config" / "config.yaml")
    # 4 model types x (50 seeds + 10 init scales x 10 seeds + (9 penalties and λ = 0) x 20 seeds)
    assert counts["train_synthetic"] == 200 + 400 + 800
    assert counts["untrained_synthetic"] == 200  # the null baseline: the main study's models, untrained
    # per model, every method, of the main study and its null
    assert counts["attribute_synthetic"] == counts["evaluate_synthetic"] == 200 + 200
    assert counts["collect_synthetic"] == 2 + 2
    assert counts["attribute_training_study"] == 400 + 800  # the studies' models: saliency only
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
    assert counts["modisco_kernels"] == 1  # compiles the numba kernels before any modisco job


@pytest.mark.slow
def test_the_ensemble_engine_plans_one_training_job_per_group(tmp_path):
    engine = tmp_path / "engine.yaml"
    engine.write_text("training: {engine: ensemble}\n")
    counts = planned_jobs(tmp_path, REPO / "config" / "config.yaml", engine)
    assert "train_synthetic" not in counts and "train_invivo" not in counts
    assert counts["train_synthetic_group"] == 4  # per model type: its 50 seeds
    assert counts["train_init_study_group"] == 4  # per model type: its 10 σ x 10 seeds
    assert counts["train_angle_penalty_study_group"] == 4  # 9 strengths and λ = 0, x 20 seeds
    assert counts["train_invivo_group"] == 10 * 4 * 10  # per TF, model type and first-layer width
    assert counts["untrained_synthetic"] == 200  # never trained: no group
    # explained and evaluated per group too: the main study and its null, each training study
    assert counts["attribute_synthetic_group"] == 4 + 4
    assert counts["attribute_init_study_group"] == counts["attribute_angle_penalty_study_group"] == 4
    assert not {"attribute_synthetic", "evaluate_synthetic", "attribute_training_study"} & set(counts)
    assert "evaluate_training_study" not in counts


@pytest.mark.slow
def test_the_gpu_configuration_plans_the_synthetic_paper_as_group_jobs(tmp_path):
    counts = planned_jobs(tmp_path, REPO / "config" / "config.yaml", REPO / "config" / "paper-gpu.yaml")
    # 12 training jobs for 1,320 models: per model type, the main study and each training study
    assert {rule: n for rule, n in counts.items() if rule.startswith("train_")} == {
        "train_synthetic_group": 4, "train_init_study_group": 4, "train_angle_penalty_study_group": 4,
    }  # fmt: skip
    assert counts["untrained_synthetic"] == 200
    assert {rule: n for rule, n in counts.items() if rule.startswith(("attribute_", "evaluate_"))} == {
        "attribute_synthetic_group": 4 + 4, "attribute_init_study_group": 4,
        "attribute_angle_penalty_study_group": 4,
    }  # fmt: skip
    assert not any(rule.startswith(("encode", "download", "invivo")) for rule in counts)


# A tiny study on the ensemble engine: two model types, 2 seeds, 2 σ and 3 λ (0 among them).
TINY_ENSEMBLE = {
    "training": {"engine": "ensemble"},
    "models": {"architectures": ["cnn_shallow", "cnn_deep"], "activations": ["relu"], "num_seeds": 2},
    "init_study": {"enabled": True, "stddevs": [0.05, 0.3], "architectures": ["cnn_shallow"],
                   "activations": ["relu"], "num_seeds": 2},
    "angle_penalty_study": {"enabled": True, "strengths": [0, 1.0e-3, 2.0e-5], "architectures": ["cnn_deep"],
                            "activations": ["relu"], "num_seeds": 2},
    "modisco": {"enabled": False},
}  # fmt: skip


@pytest.mark.slow
def test_a_tiny_ensemble_study_plans_one_job_per_group_and_stage(tmp_path):
    counts = planned_jobs(tmp_path, write_config(tmp_path, TINY_ENSEMBLE))
    assert counts["train_synthetic_group"] == 2 and counts["untrained_synthetic"] == 2 * 2
    assert counts["attribute_synthetic_group"] == 2 + 2  # the main study and its null, per model type
    for study in ("init_study", "angle_penalty_study"):
        assert counts[f"train_{study}_group"] == counts[f"attribute_{study}_group"] == 1, study
    assert counts["collect_synthetic"] == 2 + 2 and counts["summarize_training_study"] == 2
    assert not {"train_synthetic", "attribute_synthetic", "evaluate_synthetic"} & set(counts)
    assert not {"attribute_training_study", "evaluate_training_study"} & set(counts)


@pytest.mark.slow
@pytest.mark.parametrize(
    "target, rules",
    [
        ("angle_penalty_study/lambda2e-05/attributions/cnn_deep_relu/seed1/saliency.npz",
         {"attribute_angle_penalty_study_group", "train_angle_penalty_study_group"}),
        ("init_study/sigma0.3/evaluation/cnn_shallow_relu/seed0/saliency.model.tsv",
         {"attribute_init_study_group", "train_init_study_group"}),
        ("synthetic/evaluation/cnn_deep_relu/seed1/smoothgrad.angles.tsv",
         {"attribute_synthetic_group", "train_synthetic_group"}),
        ("null/attributions/cnn_deep_relu/seed0/expected_gradients.npz",
         {"attribute_synthetic_group", "untrained_synthetic"}),
    ],
)  # fmt: skip
def test_one_members_file_runs_its_groups_jobs(tmp_path, target, rules):
    config = write_config(tmp_path, TINY_ENSEMBLE)
    result = run_snakemake(tmp_path, config, "-n", "--cores", "1", f"results/{target}", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    planned = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout + result.stderr, re.M))
    planned.pop("total", None)
    # the data, the group's models (both untrained for the null: one job per model), and the group's maps
    expected = {rule: "1" for rule in rules} | {"synthetic_data": "1"}
    if "untrained_synthetic" in rules:
        expected["untrained_synthetic"] = "2"  # both seeds of the group
    assert planned == expected, result.stdout[-3000:]


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
        "angle_penalty_study": {**small, "enabled": True, "strengths": [0, 1e-3],
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
        # the penalty study compared with the main study's models, trained for another epoch limit
        ({"angle_penalty_study": {"enabled": True, "strengths": [1e-3], "epochs": 3}}, "add 0 to"),
    ],
)
def test_invalid_config_is_refused_before_anything_runs(tmp_path, override, message):
    config = write_config(tmp_path, override)
    result = run_snakemake(tmp_path, config, "-n", "--cores", "1", timeout=300)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert message in output and "config" in output.lower()


def report_description(override):
    """workflow/report/workflow.rst as `snakemake --report` renders it (Jinja with its options, then
    docutils, which here fails on any warning) for config/config.yaml with `override` over it."""
    config = merged(yaml.safe_load((REPO / "config" / "config.yaml").read_text()), override)
    template = (REPO / "workflow" / "report" / "workflow.rst").read_text()
    links = "\n.. _scorecard.md: results/scorecard.md\n.. _scorecard.tsv: results/scorecard.tsv\n"
    text = (
        Environment(trim_blocks=True, lstrip_blocks=True)
        .from_string(template + links)
        .render(snakemake=type("Snakemake", (), {"config": config}), categories={}, files={})
    )
    publish_parts(text, writer="html", settings_overrides={"halt_level": 2, "report_level": 5})
    return " ".join(text.split())


def test_the_report_describes_the_run_in_words():
    quick = report_description(yaml.safe_load((REPO / "config" / "quick.yaml").read_text()))
    assert (
        "The synthetic study of this run: CNN-shallow and CNN-deep, each with ReLU and exponential first "
        "layers, 2 seeds of each (8 models), trained for up to 12 epochs on 10,000 billboard sequences "
        "with motifs from JASPAR 2016. Attribution maps by saliency, integrated gradients, SmoothGrad and "
        "expected gradients are computed, and their interpretability measured, on the first 100 positive "
        "test sequences of each model."
    ) in quick
    left_out = "the initialisation study, the angle-penalty study and the in vivo study (ENCODE data)"
    assert f"Left out at this configuration: {left_out}." in quick
    full = report_description({})
    studies = [
        "the initialisation study (Fig 4c): 10 initialisation scales σ for 4 model types, 10 seeds each (400",
    ]
    for study in studies:
        assert f"- {study} models); -" in full
    penalty = "the angle-penalty study (Fig 4d): 10 penalty strengths λ for 4 model types, 20 seeds each (800"
    assert f"- {penalty} models; λ = 0 is the study's own reference); -" in full
    assert "per TF an ensemble of 50 members (10 first-layer widths x 5 repeats)" in full
    assert "Left out" not in full
    small = report_description({
        "models": {"architectures": ["cnn_deep"], "activations": ["exponential"], "num_seeds": 1},
        "attribution": {"methods": ["smoothgrad"]},
        "encode": {"tfs": ["CTCF", "MAX"]}, "invivo": {"enabled": False}, "modisco": {"enabled": False},
    })  # fmt: skip
    assert "CNN-deep with an exponential first layer, 1 seed (1 model)" in small
    assert "Attribution maps by SmoothGrad are computed" in small
    assert "the ENCODE GM12878 ChIP-seq datasets of CTCF and MAX." in small
    assert "Left out at this configuration: the in vivo models and motif discovery." in small
    for text in (quick, full, small):  # no config value printed as Python writes it
        assert not re.search(r"\[\'|cnn_|_study|JASPAR\d", text), text
