"""`simplexgrad attribute-group`: a group's members explained in one JAX job write what the per-model
commands (`attribute-methods`, then `evaluate-methods`) write for each member."""

import os

import numpy as np
import pandas as pd
import pytest
from conftest import FAST_OPTIONS, run_with_jax
from simplexgrad import io

pytest.importorskip("jax")
pytest.importorskip("keras")

METHODS = ["saliency", "integrated_gradients", "smoothgrad", "expected_gradients"]
SIGMAS, SEEDS = ["0.05", "0.3"], [0, 1]
SHARED = ["--positives-only", "--num-seqs", "70", "--batch-size", "48"]  # 2 query blocks, padded batches
# Each sequence's map, relative to its largest |value|: the same model's float32 gradients under JAX, one
# model's program and the group's vmapped one; and under TensorFlow, whose float32 sigmoid near saturation
# rounds otherwise (2e-3 seen on SmoothGrad's and saliency's most saturated sequences).
SAME_BACKEND, OTHER_BACKEND = 1e-6, 1e-2


def sequence_error(ours: np.ndarray, theirs: np.ndarray) -> float:
    """The largest difference of two ``(N, L, A)`` map arrays relative to each sequence's largest |value|."""
    scale = np.abs(theirs).max(axis=(1, 2), keepdims=True)
    return float((np.abs(ours - theirs) / np.where(scale > 0, scale, 1)).max())


# The per-model commands under JAX, then the group, in one JAX process (this one runs TensorFlow).
JAX_SIDE = """
import sys
from simplexgrad import cli


def main():
    root, arguments = sys.argv[1], sys.argv[2:]
    for sigma in {sigmas}:
        for seed in {seeds}:
            run = f"{{root}}/sigma{{sigma}}/{{{{}}}}/cnn_shallow_relu/seed{{seed}}"
            models, alone = run.format("models"), run.format("attributions").replace(root, root + "/alone")
            assert cli.main([
                "attribute-methods", "--model", models + "/model.keras", "--data", root + "/data.h5",
                "--out-dir", alone, "--methods", *{methods}, *{shared}, "--options", *{options},
            ]) == 0
            assert cli.main([
                "evaluate-methods", "--attributions-dir", alone, "--methods", *{methods},
                "--data", root + "/data.h5", "--classification", models + "/metrics.json",
                "--out-dir", alone.replace("attributions", "evaluation"), "--labels",
                "architecture=cnn_shallow", "activation=relu", f"seed={{seed}}",
            ]) == 0
    assert cli.main(["attribute-group", *arguments]) == 0


if __name__ == "__main__":  # the evaluation workers are spawned: they import this file
    main()
""".format(sigmas=SIGMAS, seeds=SEEDS, methods=METHODS, shared=SHARED, options=FAST_OPTIONS)  # noqa: UP032


@pytest.fixture(scope="module")
def group_run(tmp_path_factory):
    """Four untrained CNN-shallow members (2 σ × 2 seeds) in the workflow's folder layout, explained and
    evaluated per model (``alone/``) and as one group, both under JAX; the first member also per model
    under TensorFlow (``tensorflow/``)."""
    from simplexgrad import cli

    root = tmp_path_factory.mktemp("group")
    data = root / "data.h5"
    assert cli.main(["synthetic", "--out", str(data), "--seed", "3", "--num-seqs", "900"]) == 0
    for sigma in SIGMAS:
        for seed in SEEDS:
            models = root / f"sigma{sigma}/models/cnn_shallow_relu/seed{seed}"
            assert cli.main([
                "untrained", "--data", str(data), "--out", str(models), "--architecture", "cnn_shallow",
                "--seed", str(seed), "--init-stddev", sigma,
            ]) == 0  # fmt: skip
    first = root / f"sigma{SIGMAS[0]}/models/cnn_shallow_relu/seed{SEEDS[0]}/model.keras"
    assert cli.main([
        "attribute-methods", "--model", str(first), "--data", str(data),
        "--out-dir", str(root / "tensorflow"), "--methods", *METHODS, *SHARED, "--options", *FAST_OPTIONS,
    ]) == 0  # fmt: skip
    template = str(root / "sigma{init_stddev}/KIND/cnn_shallow_relu/seed{seed}")
    arguments = [
        "--data", str(data), "--models-template", template.replace("KIND", "models"),
        "--attributions-template", template.replace("KIND", "attributions"),
        "--evaluation-template", template.replace("KIND", "evaluation"),
        "--methods", *METHODS, "--seeds", *map(str, SEEDS), "--init-stddevs", *SIGMAS, *SHARED,
        "--options", *FAST_OPTIONS, "--members-per-call", "3", "--evaluation-workers", "2",
        "--labels", "architecture=cnn_shallow", "activation=relu", "seed={seed}",
    ]  # fmt: skip
    run_with_jax(root / "jax_side.py", JAX_SIDE, root, *arguments)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_group_maps_equal_each_members_own(group_run, method):
    for sigma in SIGMAS:
        for seed in SEEDS:
            run = f"sigma{sigma}/attributions/cnn_shallow_relu/seed{seed}/{method}.npz"
            group, alone = (
                io.load_attributions(group_run / run),
                io.load_attributions(group_run / "alone" / run),
            )
            assert group["params"] == alone["params"]
            np.testing.assert_array_equal(group["x"], alone["x"])
            np.testing.assert_array_equal(group["indices"], alone["indices"])
            for key in ("raw", "corrected"):
                assert sequence_error(group[key], alone[key]) < SAME_BACKEND, (run, key)
    first = io.load_attributions(
        group_run / f"sigma{SIGMAS[0]}/attributions/cnn_shallow_relu/seed0/{method}.npz"
    )
    tensorflow = io.load_attributions(group_run / "tensorflow" / f"{method}.npz")
    assert sequence_error(first["raw"], tensorflow["raw"]) < OTHER_BACKEND


@pytest.mark.slow
def test_group_tables_equal_each_members_own(group_run):
    for sigma in SIGMAS:
        for seed in SEEDS:
            folder = f"sigma{sigma}/evaluation/cnn_shallow_relu/seed{seed}"
            names = sorted(os.listdir(group_run / "alone" / folder))
            assert sorted(os.listdir(group_run / folder)) == names
            assert len(names) == 3 * len(METHODS)
            for name in names:
                group = pd.read_csv(group_run / folder / name, sep="\t")
                alone = pd.read_csv(group_run / "alone" / folder / name, sep="\t")
                assert list(group.columns) == list(alone.columns)
                numbers = alone.select_dtypes("number").columns
                pd.testing.assert_frame_equal(group.drop(columns=numbers), alone.drop(columns=numbers))
                # A percentage of positions above a threshold may move by one position (0.5 % of 200)
                # where an angle sits on the threshold to float32 rounding.
                counted = [c for c in numbers if c.startswith(("percent_above", "zero_gradient"))]
                other = [c for c in numbers if c not in counted]
                np.testing.assert_allclose(group[counted], alone[counted], atol=0.51, err_msg=name)
                np.testing.assert_allclose(group[other], alone[other], rtol=1e-4, atol=1e-9, err_msg=name)


def test_group_refuses_templates_whose_fields_have_no_values():
    from simplexgrad.attribution.group import group_members, member_path

    member = group_members([4], None, ["0.01"])[0]
    assert member_path("lambda{angle_penalty}/seed{seed}", member, "--x") == "lambda0.01/seed4"
    with pytest.raises(ValueError, match="init_stddev"):
        member_path("sigma{init_stddev}/seed{seed}", member, "--x")
    with pytest.raises(ValueError, match="filters"):
        member_path("seed{seed}/filters{filters}", member, "--x")
