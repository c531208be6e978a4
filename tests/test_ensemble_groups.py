"""The ensemble engine's groups: members with their own σ and λ, the compiled epoch loop, compaction of
stopped members, the convolution formulations, and ``train-ensemble``'s settings and folder names.

The JAX side runs once, in a subprocess with ``KERAS_BACKEND=jax`` (this process runs TensorFlow), on
tiny data (130 training sequences in batches of 50: two full batches and a smaller last one), and leaves
its results in a folder that the tests below read.
"""

import json
import logging
import textwrap

import h5py
import numpy as np
import pytest
from conftest import run_with_jax
from simplexgrad import cli
from simplexgrad.training._ensemble_forward import bucket_size
from simplexgrad.training._ensemble_members import member_directories, member_settings
from simplexgrad.training.ensemble import GROUP_FIELDS, train_ensemble

JAX_SIDE = textwrap.dedent(
    """
    import json, logging, sys
    from pathlib import Path
    import numpy as np
    from simplexgrad.io import load_split
    from simplexgrad.training.ensemble import train_ensemble, train_group
    from simplexgrad.training.recipe import TrainingConfig

    data, out = sys.argv[1], Path(sys.argv[2])
    train, valid = load_split(data, "train"), load_split(data, "valid")

    class Lines(logging.Handler):
        def __init__(self):
            super().__init__(logging.INFO)
            self.lines = []
        def emit(self, record):
            self.lines.append(record.getMessage())

    lines = Lines()
    logging.getLogger("simplexgrad.training.ensemble").addHandler(lines)
    logging.getLogger("simplexgrad.training.ensemble").setLevel(logging.INFO)

    def run(name, configs, **options):
        lines.lines.clear()
        members = train_group(configs, train.x, train.y, valid.x, valid.y, **options)
        arrays = {f"w{index}_{position}": weight
                  for index, (model, _) in enumerate(members)
                  for position, weight in enumerate(model.get_weights())}
        np.savez(out / f"{name}.npz", **arrays)
        histories = [history.to_dict(orient="list") for _, history in members]
        (out / f"{name}.json").write_text(json.dumps({"histories": histories, "log": lines.lines}))

    recipe = dict(architecture="cnn_shallow", epochs=2, batch_size=50)
    mixed = [
        TrainingConfig(seed=1, **recipe),
        TrainingConfig(seed=2, init_stddev=0.05, **recipe),
        TrainingConfig(seed=3, angle_penalty=1e-2, **recipe),
    ]
    run("mixed", mixed, epoch_loop="per_batch")
    for index, config in enumerate(mixed):
        run(f"alone{index}", [config], epoch_loop="per_batch")
    run("compiled", mixed, epoch_loop="compiled")
    run("im2col", mixed, epoch_loop="per_batch", convolution="im2col")

    # Compaction: the member with the huge learning rate diverges and stops after its second epoch; the
    # two others then train in a program of two.
    stopping = dict(architecture="cnn_shallow", epochs=4, batch_size=50, early_stopping_patience=1)
    stop = [TrainingConfig(seed=10, **stopping), TrainingConfig(seed=11, learning_rate=1e30, **stopping),
            TrainingConfig(seed=12, **stopping)]
    run("compact", stop, epoch_loop="per_batch", compact=True)
    run("full", stop, epoch_loop="per_batch", compact=False)

    # The command's entry point with per-member settings, folders named by the values' text.
    train_ensemble(data, str(out / "members" / "s{init_stddev}_l{angle_penalty}" / "seed{seed}"),
                   "cnn_shallow", seeds=[4], init_stddevs=["2.0e-2", "none"], angle_penalties=["0", "1e-3"],
                   epochs=1, batch_size=50)
    """
)


def tiny_dataset(path, rng) -> None:
    """130 / 100 / 60 one-hot sequences of 200 nt; positives carry a run of Gs in the middle."""
    with h5py.File(path, "w") as handle:
        for split, count in (("train", 130), ("valid", 100), ("test", 60)):
            tokens = rng.integers(0, 4, (count, 200))
            labels = np.arange(count) % 2 == 0
            tokens[labels, 90:100] = 2
            handle[f"x_{split}"] = np.eye(4, dtype="float32")[tokens]
            handle[f"y_{split}"] = labels.astype("float32")[:, None]


@pytest.fixture(scope="module")
def jax_groups(tmp_path_factory):
    out = tmp_path_factory.mktemp("groups")
    tiny_dataset(out / "tiny.h5", np.random.default_rng(5))
    run_with_jax(out / "jax_groups.py", JAX_SIDE, out / "tiny.h5", out, timeout=900)
    return out


def load(folder, name):
    return np.load(folder / f"{name}.npz"), json.loads((folder / f"{name}.json").read_text())


def weight_difference(first, second) -> float:
    assert sorted(first.files) == sorted(second.files)
    return max(float(np.abs(first[key] - second[key]).max()) for key in first.files)


# --- Settings, folders and the command line (no JAX) ------------------------------------------------


def test_settings_keep_the_text_given_and_refuse_repeats():
    settings = member_settings(None, ["2.0e-2", "none"], 0.0, ["0", "1e-3"])
    assert [(s.init_stddev, s.angle_penalty) for s in settings] == [
        (0.02, 0),
        (0.02, 1e-3),
        (None, 0),
        (None, 1e-3),
    ]
    directories = member_directories(
        "o/s{init_stddev}/l{angle_penalty}/{index}_{seed}", [7, 9], [24], settings
    )
    assert sorted(directories.values())[:2] == ["o/s2.0e-2/l0/0_7", "o/s2.0e-2/l0/1_9"]
    assert "o/snone/l1e-3/1_9" in directories.values() and len(directories) == 8
    single = member_settings(0.05, None, 1e-3, None)
    assert [(s.init_stddev, s.angle_penalty) for s in single] == [(0.05, 1e-3)]
    for arguments, message in (
        ((None, ["2e-2", "0.02"], 0.0, None), "repeats"),
        ((None, None, 0.0, ["1e-3", "0.001"]), "repeats"),
        ((0.1, ["0.2"], 0.0, None), "not both"),
        ((None, None, 1e-3, ["0"]), "not both"),
        ((None, ["-1"], 0.0, None), "> 0"),
        ((None, None, 0.0, ["x"]), "not a number"),
    ):
        with pytest.raises(ValueError, match=message):
            member_settings(*arguments)
    assert "init_stddev" not in GROUP_FIELDS and "angle_penalty" not in GROUP_FIELDS
    assert "angle_penalty_mode" in GROUP_FIELDS


def test_templates_need_the_fields_of_values_that_vary(tmp_path):
    data = str(tmp_path / "missing.h5")
    for template, options, message in (
        ("o/{seed}", {"init_stddevs": ["0.1", "0.2"]}, "{init_stddev}"),
        ("o/{seed}", {"angle_penalties": ["0", "1e-3"]}, "{angle_penalty}"),
        ("o/{seed}/{sigma}", {}, "no fields"),
    ):
        with pytest.raises(ValueError, match=message):
            train_ensemble(data, template, "cnn_shallow", seeds=[0], **options)
    with pytest.raises(FileNotFoundError):  # a template with the fields passes; then the data are missing
        train_ensemble(data, "o/{init_stddev}/{seed}", "cnn_shallow", seeds=[0], init_stddevs=["0.1", "0.2"])


def test_the_command_refuses_repeated_values_in_one_line(tmp_path, caplog):
    arguments = ["train-ensemble", "--data", str(tmp_path / "d.h5"), "--architecture", "cnn_shallow"]
    arguments += [
        "--seeds",
        "0",
        "--init-stddevs",
        "2.0e-2",
        "0.02",
        "--out-template",
        "o/{init_stddev}/{seed}",
    ]
    with caplog.at_level(logging.ERROR, logger="simplexgrad"):
        assert cli.main(arguments) == 2
    assert "repeats a value" in caplog.text and "Traceback" not in caplog.text


def test_buckets_are_few_and_never_exceed_the_group():
    assert [bucket_size(n, 500) for n in (1, 2, 3, 5, 8, 9, 17, 499)] == [1, 2, 4, 8, 8, 16, 24, 500]
    assert bucket_size(3, 3) == 3 and bucket_size(0, 5) == 0
    assert all(n <= bucket_size(n, 1000) <= max(8, n + 7) for n in range(1, 1000))


# --- The JAX side -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_members_with_their_own_stddev_and_penalty_train_as_alone(jax_groups):
    # About 2 min with the rest of the JAX side (compilations of the penalised programs, on a CPU).
    group, group_log = load(jax_groups, "mixed")
    for index in range(3):
        alone, alone_log = load(jax_groups, f"alone{index}")
        ours = {key.split("_", 1)[1]: group[key] for key in group.files if key.startswith(f"w{index}_")}
        theirs = {key.split("_", 1)[1]: alone[key] for key in alone.files}
        # As in test_ensemble: a group's and a lone member's convolutions round differently (1e-7), which
        # Adam amplifies on parameters whose gradient is rounding noise; measured up to 1e-4 after these
        # 6 steps. Another σ (0.05 against he_normal) or a missing penalty differs by 0.05 or more.
        for key in theirs:
            np.testing.assert_allclose(ours[key], theirs[key], rtol=0, atol=2e-3, err_msg=f"{index} {key}")
        mine, lone = group_log["histories"][index], alone_log["histories"][0]
        np.testing.assert_allclose(mine["loss"], lone["loss"], rtol=1e-5, err_msg=str(index))
        # Keras' bucketed AUROC on 100 sequences: one prediction across a bucket edge moves it by 4e-4
        # (measured: up to 2.6e-3); test_ensemble allows 1e-2 too.
        np.testing.assert_allclose(mine["val_auroc"], lone["val_auroc"], atol=1e-2)
    losses = [history["loss"][0] for history in group_log["histories"]]
    assert losses[2] > 2 * losses[0]  # the penalised member's loss carries λ · penalty (measured 5.5 vs 0.8)


@pytest.mark.slow
def test_the_compiled_epoch_is_the_per_batch_loop(jax_groups):
    per_batch, per_batch_log = load(jax_groups, "mixed")
    compiled, compiled_log = load(jax_groups, "compiled")
    # The same steps in the same order; XLA fuses a scan's body differently (measured: losses within
    # 2e-7 relative, weights within 1e-4, the rounding that Adam amplifies, as above).
    assert weight_difference(per_batch, compiled) < 1e-3
    for ours, theirs in zip(per_batch_log["histories"], compiled_log["histories"]):
        assert ours["epoch"] == theirs["epoch"]
        np.testing.assert_allclose(ours["loss"], theirs["loss"], rtol=1e-5)
        np.testing.assert_allclose(ours["val_auroc"], theirs["val_auroc"], atol=1e-2)


@pytest.mark.slow
def test_compaction_changes_no_member(jax_groups):
    compact, compact_log = load(jax_groups, "compact")
    full, full_log = load(jax_groups, "full")
    assert any("2 members still train, in a program of 2" in line for line in compact_log["log"])
    assert not any("in a program of" in line for line in full_log["log"])
    assert [len(history["epoch"]) for history in compact_log["histories"]] == [4, 2, 4]
    # Measured: weights and histories bitwise equal but for the validation loss (6e-11: the inference
    # program of 2 members sums its regularisation losses in another order than that of 3).
    assert weight_difference(compact, full) <= 1e-6
    for ours, theirs in zip(compact_log["histories"], full_log["histories"]):
        assert ours["epoch"] == theirs["epoch"] and ours["learning_rate"] == theirs["learning_rate"]
        for column in ("auroc", "loss", "val_auroc", "val_loss"):
            np.testing.assert_allclose(
                ours[column], theirs[column], rtol=1e-9, equal_nan=True, err_msg=column
            )


@pytest.mark.slow
def test_convolution_formulations_agree(jax_groups):
    vmapped, vmapped_log = load(jax_groups, "mixed")
    unfolded, unfolded_log = load(jax_groups, "im2col")
    assert 0 < weight_difference(vmapped, unfolded) < 1e-3  # not the same program, the same function
    for ours, theirs in zip(vmapped_log["histories"], unfolded_log["histories"]):
        np.testing.assert_allclose(ours["loss"], theirs["loss"], rtol=1e-5)


@pytest.mark.slow
def test_each_member_records_its_own_settings(jax_groups):
    expected = {("2.0e-2", "0"): (0.02, 0.0), ("2.0e-2", "1e-3"): (0.02, 1e-3), ("none", "0"): (None, 0.0)}
    expected[("none", "1e-3")] = (None, 1e-3)
    for (sigma, strength), (init_stddev, angle_penalty) in expected.items():
        metrics = json.loads(
            (jax_groups / "members" / f"s{sigma}_l{strength}" / "seed4" / "metrics.json").read_text()
        )
        assert (metrics["init_stddev"], metrics["angle_penalty"]) == (init_stddev, angle_penalty)
        assert metrics["precision"] == "float32" and metrics["convolution"] == "vmap"
        assert metrics["epoch_loop"] == "per_batch" and metrics["engine"] == "ensemble"
