"""benchmarks/gpu_study.py: one study of the paper's synthetic part as the workflow's group jobs, without
Snakemake; the paper's values as config/config.yaml has them, and a tiny run on the CPU."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import yaml
from workflow_helpers import REPO

SCRIPT = REPO / "benchmarks" / "gpu_study.py"


def gpu_study():
    spec = importlib.util.spec_from_file_location("gpu_study", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_scripts_paper_values_are_the_configs():
    paper = gpu_study().PAPER
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert paper["architectures"] == config["models"]["architectures"]
    assert paper["activations"] == config["models"]["activations"]
    assert paper["seeds"] == {
        "main": config["models"]["num_seeds"],
        "init": config["init_study"]["num_seeds"],
        "penalty": config["angle_penalty_study"]["num_seeds"],
    }
    assert paper["settings"] == {
        "init": config["init_study"]["stddevs"],
        "penalty": config["angle_penalty_study"]["strengths"],
    }
    recipe = {key: config["training"][key] for key in paper["recipe"]}
    assert paper["recipe"] == recipe and set(config["training"]) - set(recipe) == {"engine", "threads"}
    for study in ("models", "init_study", "angle_penalty_study"):
        assert config[study]["cnn_deep_first_layer_kernel"] == paper["cnn_deep_first_layer_kernel"]
    for study in ("init_study", "angle_penalty_study"):
        assert config[study]["epochs"] is None  # training.epochs, as the script uses
        assert config[study]["architectures"] == paper["architectures"]
        assert config[study]["activations"] == paper["activations"]
    assert config["angle_penalty_study"]["angle_penalty_mode"] == paper["angle_penalty_mode"]
    attribution = config["attribution"]
    assert (attribution["methods"], attribution["num_seqs"]) == (paper["methods"], paper["num_seqs"])
    assert (attribution["batch_size"], attribution["seed"]) == (
        paper["attribution_batch_size"],
        paper["attribution_seed"],
    )
    assert (
        attribution["output"] == "probability"
        and config["figures"]["angle_thresholds"] == paper["thresholds"]
    )
    assert not set(attribution) - {"methods", "num_seqs", "batch_size", "seed", "output", "threads"}


def test_a_studys_settings_are_members_of_one_group():
    module = gpu_study()
    args = module.arguments(["--study", "penalty", "--data", "d.h5", "--results", "r", "--seeds", "2"])
    (train, train_command), (attribute, attribute_command) = module.group_commands(args, "cnn_deep", "relu")
    assert (train, attribute) == ("train", "attribute")
    strengths = ["0", "0.02", "0.01", "0.003", "0.001", "0.0001", "2e-05", "1e-05", "1e-06", "1e-07"]
    for command in (train_command, attribute_command):
        position = command.index("--angle-penalties")
        assert command[position + 1 : position + 11] == strengths
        assert "r/angle_penalty_study/lambda{angle_penalty}/models/cnn_deep_relu/seed{seed}" in command
    assert train_command[train_command.index("--angle-penalty-mode") + 1] == "training"
    assert train_command[train_command.index("--first-layer-kernel-size") + 1] == "19"
    assert attribute_command[attribute_command.index("--methods") + 1 :][:2] == ["saliency", "--seeds"]


@pytest.mark.slow
def test_a_tiny_main_study_writes_the_workflows_layout(tmp_path):
    pytest.importorskip("jax")
    from simplexgrad import cli

    data = tmp_path / "data.h5"
    assert cli.main(["synthetic", "--out", str(data), "--seed", "1", "--num-seqs", "900"]) == 0
    results = tmp_path / "results"
    command = [
        sys.executable, str(SCRIPT), "--study", "main", "--data", str(data), "--results", str(results),
        "--seeds", "2", "--architectures", "cnn_shallow", "--activations", "relu", "--epochs", "1",
        "--num-seqs", "12", "--options", "integrated_gradients.steps=2", "smoothgrad.num_samples=2",
        "expected_gradients.num_references=2", "expected_gradients.steps=2",
    ]  # fmt: skip
    environment = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    methods = gpu_study().PAPER["methods"]
    for experiment in ("synthetic", "null"):
        for seed in (0, 1):
            run = f"cnn_shallow_relu/seed{seed}"
            models = results / experiment / "models" / run
            assert {path.name for path in models.iterdir()} == {"model.keras", "history.tsv", "metrics.json"}
            metrics = json.loads((models / "metrics.json").read_text())
            assert metrics["seed"] == seed and metrics.get("untrained", False) == (experiment == "null")
            assert {path.name for path in (results / experiment / "attributions" / run).iterdir()} == {
                f"{method}.npz" for method in methods
            }
            assert {path.name for path in (results / experiment / "evaluation" / run).iterdir()} == {
                f"{method}.{table}.tsv" for method in methods for table in ("metrics", "angles", "model")
            }
    timings = (results / "gpu_study_main.tsv").read_text().splitlines()
    assert timings[0].split("\t") == ["model", "train", "untrained", "attribute null", "attribute"]
