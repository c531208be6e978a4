"""The training studies carry a fair reference: λ = 0 trained in the angle-penalty study, or the main
study's models only when they were trained alike (the config check and the tables refuse otherwise), and
each model records whether it stopped at the epoch limit."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import random_onehot
from simplexgrad import cli
from simplexgrad._config import reference_problem
from simplexgrad.correction import correct
from simplexgrad.io import save_attributions, write_dataset_file
from simplexgrad.studies.training_study import summarize_study
from workflow_helpers import REPO

FULL = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def penalty_config(**study) -> dict:
    config = yaml.safe_load(yaml.safe_dump(FULL))
    config["angle_penalty_study"].update(study)
    return config


def test_the_default_penalty_study_trains_its_own_reference():
    assert 0 in FULL["angle_penalty_study"]["strengths"]
    assert reference_problem(FULL) is None


def test_a_reference_trained_alike_is_accepted_without_lambda_zero():
    assert reference_problem(penalty_config(strengths=[1e-3], epochs=None)) is None
    assert reference_problem(penalty_config(strengths=[1e-3], epochs=FULL["training"]["epochs"])) is None
    assert reference_problem(penalty_config(strengths=[1e-3], epochs=3, enabled=False)) is None


def test_a_reference_with_another_epoch_limit_is_refused_naming_the_file(tmp_path):
    override = tmp_path / "short.yaml"
    override.write_text("angle_penalty_study: {strengths: [1.0e-3], epochs: 3}\n")
    problem = reference_problem(penalty_config(strengths=[1e-3], epochs=3), [REPO / "config.yaml", override])
    assert problem.startswith(f"{override}: ") and "\n" not in problem
    assert "up to 3 epochs" in problem and "up to 100" in problem and "add 0 to" in problem
    # with λ = 0 in the study, its reference has the study's own epochs
    assert reference_problem(penalty_config(strengths=[0, 1e-3], epochs=3)) is None


def test_a_reference_with_another_cnn_deep_kernel_is_refused():
    problem = reference_problem(penalty_config(strengths=[1e-3], cnn_deep_first_layer_kernel=11))
    assert "first-layer kernel of 11" in problem and "of 19" in problem
    only_shallow = penalty_config(
        strengths=[1e-3], cnn_deep_first_layer_kernel=11, architectures=["cnn_shallow"]
    )
    assert reference_problem(only_shallow) is None


def model_rows(path, penalties, epoch_limit, epochs_run):
    rows = [
        {"architecture": "cnn_deep", "activation": "relu", "seed": seed, "angle_penalty": penalty,
         "classification_auroc": 0.9, "angle_sd": 20.0 + seed, "epoch_limit": epoch_limit,
         "epochs_run": run, "reached_epoch_limit": run >= epoch_limit}
        for penalty in penalties for seed, run in enumerate(epochs_run)
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return str(path)


def test_summarize_study_counts_models_stopped_at_the_limit(tmp_path):
    study = model_rows(tmp_path / "study.tsv", [0.0, 1e-3], epoch_limit=10, epochs_run=[10, 6, 10])
    summarize_study([study], "angle_penalty", str(tmp_path / "all.tsv"), str(tmp_path / "settings.tsv"))
    settings = pd.read_csv(tmp_path / "settings.tsv", sep="\t")
    assert settings["models_at_epoch_limit"].tolist() == [2, 2]
    assert settings["epoch_limit"].tolist() == [10, 10] and "epoch_limit_mean" not in settings
    assert settings["epochs_run_mean"].tolist() == pytest.approx([26 / 3, 26 / 3])


def test_summarize_study_refuses_a_reference_trained_for_another_epoch_limit(tmp_path):
    study = model_rows(tmp_path / "study.tsv", [1e-3], epoch_limit=10, epochs_run=[10, 8])
    main = model_rows(tmp_path / "main.tsv", [0.0], epoch_limit=30, epochs_run=[17, 30])
    out = [str(tmp_path / "all.tsv"), str(tmp_path / "settings.tsv")]
    with pytest.raises(ValueError, match=r"main\.tsv: the reference was trained for up to \[30\] epochs"):
        summarize_study([study], "angle_penalty", *out, reference=[main])
    alike = model_rows(tmp_path / "alike.tsv", [0.0], epoch_limit=10, epochs_run=[9, 10])
    summarize_study([study], "angle_penalty", *out, reference=[alike])
    assert sorted(pd.read_csv(out[0], sep="\t")["angle_penalty"].unique()) == [0.0, 1e-3]


def test_summarize_study_refuses_a_second_reference(tmp_path):
    study = model_rows(tmp_path / "study.tsv", [0.0, 1e-3], epoch_limit=10, epochs_run=[10, 8])
    main = model_rows(tmp_path / "main.tsv", [0.0], epoch_limit=10, epochs_run=[7, 10])
    out = [str(tmp_path / "all.tsv"), str(tmp_path / "settings.tsv")]
    with pytest.raises(ValueError, match="trains its own angle_penalty = 0 models"):
        summarize_study([study], "angle_penalty", *out, reference=[main])


@pytest.mark.parametrize("epochs_run, reached", [(5, True), (3, False)])
def test_the_model_row_records_whether_training_stopped_at_the_limit(tmp_path, epochs_run, reached):
    rng = np.random.default_rng(0)
    x = random_onehot(rng, 6, 30)
    truth = np.full(x.shape, 0.25, np.float32)
    truth[:, 5:11] = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (6, 6))]
    splits = {name: {"x": x, "y": np.ones((6, 1), np.float32), "model": truth} for name in ("valid", "test")}
    write_dataset_file(tmp_path / "data.h5", splits, {})
    metrics = {"test_auroc": 0.8, "init_stddev": 0.05, "epochs": 5, "epochs_run": epochs_run}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    raw = rng.normal(size=(6, 30, 4)).astype(np.float32)
    save_attributions(
        tmp_path / "maps.npz", raw, correct(raw), x, np.arange(6), {"method": "saliency", "split": "test"}
    )
    outputs = [f"--out-{kind}={tmp_path / kind}.tsv" for kind in ("metrics", "angles", "model")]
    arguments = ["evaluate", "--attributions", tmp_path / "maps.npz", "--data", tmp_path / "data.h5",
                 "--classification", tmp_path / "metrics.json", *outputs]  # fmt: skip
    assert cli.main([str(argument) for argument in arguments]) == 0
    row = pd.read_csv(tmp_path / "model.tsv", sep="\t").iloc[0]
    recorded = row["epoch_limit"], row["epochs_run"], bool(row["reached_epoch_limit"])
    assert recorded == (5, epochs_run, reached)
