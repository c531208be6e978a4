"""Tidy tables: hand-checked summaries and the Wilcoxon test against scipy's exact answer."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wilcoxon
from simplexgrad.figures import patch_start
from simplexgrad.studies.evaluation import angle_table, summary_table


def metrics_frame(raw_cosines, corrected_cosines):
    rows = []
    for seed, (raw, corrected) in enumerate(zip(raw_cosines, corrected_cosines)):
        for is_corrected, value in ((False, raw), (True, corrected)):
            rows.append(
                {"architecture": "cnn_deep", "activation": "relu", "method": "saliency", "seed": seed,
                 "corrected": is_corrected, "cosine": value, "auroc": 0.5, "aupr": 0.5}
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_summary_pairs_raw_and_corrected_by_seed():
    raw = [0.10, 0.20, 0.30, 0.40, 0.50, 0.60]
    corrected = [0.15, 0.22, 0.29, 0.48, 0.58, 0.70]
    table = summary_table(metrics_frame(raw, corrected))
    cosine = table[table["metric"] == "cosine"].iloc[0]
    assert cosine["raw_mean"] == pytest.approx(0.35)
    assert cosine["corrected_mean"] == pytest.approx(np.mean(corrected))
    assert cosine["raw_sd"] == pytest.approx(np.std(raw, ddof=1))
    assert cosine["difference_mean"] == pytest.approx(np.mean(np.subtract(corrected, raw)))
    assert cosine["improved_fraction"] == pytest.approx(5 / 6)
    assert cosine["wilcoxon_p"] == pytest.approx(wilcoxon(np.subtract(corrected, raw)).pvalue)
    assert cosine["num_pairs"] == 6
    # identical raw and corrected values: no test is possible
    auroc = table[table["metric"] == "auroc"].iloc[0]
    assert np.isnan(auroc["wilcoxon_p"]) and auroc["difference_mean"] == 0


def test_summary_of_one_seed_has_no_sd_or_p_value():
    table = summary_table(metrics_frame([0.1], [0.2]))
    row = table[table["metric"] == "cosine"].iloc[0]
    assert np.isnan(row["raw_sd"]) and np.isnan(row["wilcoxon_p"]) and row["num_pairs"] == 1


def test_summary_names_missing_columns():
    with pytest.raises(ValueError, match="seed"):
        summary_table(metrics_frame([0.1], [0.2]).drop(columns="seed"))


def test_angle_table_counts_positions_per_sequence():
    # position gradients: on the simplex (0°), along the normal (90°), 45° to it, and zero (no angle)
    on = [1.0, -1.0, 0.0, 0.0]
    normal = [1.0, 1.0, 1.0, 1.0]
    tilted = np.add(on, np.multiply(normal, np.linalg.norm(on) / 2))  # |normal part| = |on-simplex part|
    raw = np.array([[on, normal, tilted, on, [0.0] * 4]], dtype=np.float64)
    table = angle_table(raw, np.array([7]), {"architecture": "m"}, thresholds=(30, 60))
    assert table.columns.tolist() == [
        "architecture", "sequence", "mean_abs_angle", "percent_above_30", "percent_above_60",
        "zero_gradient_percent", "removed_norm_fraction",
    ]  # fmt: skip
    row = table.iloc[0]
    assert row["sequence"] == 7
    assert row["percent_above_30"] == pytest.approx(40.0) and row["percent_above_60"] == pytest.approx(20.0)
    assert row["mean_abs_angle"] == pytest.approx((0 + 90 + 45 + 0) / 4)  # the zero gradient is left out
    assert row["zero_gradient_percent"] == pytest.approx(20.0)
    # squared norms: on 2 + 2, normal 4, tilted 2 + 2; removed: the normal parts, 4 + 2
    assert row["removed_norm_fraction"] == pytest.approx(6 / 12)


@pytest.mark.parametrize(
    "information, width, expected",
    [
        ([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.05, 1.5, 1.9, 0, 0, 0, 0, 0], 5, 3),  # 13 - 10
        ([0, 0, 1.2, 0, 0, 0, 0, 0], 4, 0),  # clipped at the start
        ([0] * 18 + [2.0, 2.0], 6, 8),  # 18 - 10
        ([0.0] * 30, 10, 0),  # no motif: from the start
        ([0.0] * 30 + [1.0], 5, 20),  # 30 - 10, within L - width = 26
    ],
)
def test_patch_start_shows_the_first_motif_position(information, width, expected):
    assert patch_start(np.array(information), width) == expected


def test_patch_width_must_fit():
    with pytest.raises(ValueError, match="width"):
        patch_start(np.zeros(10), 11)


def max_pooled_model(length=40):
    """conv -> ReLU -> max-pool 10 -> dense: every position outside each window's maximum (and every
    position of a dead filter) gets a gradient of exactly zero, as in CNN-shallow's pool of 50."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((length, 4))
    hidden = keras.layers.Conv1D(2, 1, activation="relu")(inputs)
    hidden = keras.layers.MaxPooling1D(10)(hidden)
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(hidden))
    return keras.Model(inputs, outputs)


def test_zero_gradient_positions_are_left_out_of_every_angle_density(tmp_path, rng):
    from conftest import random_onehot
    from simplexgrad.attribution import saliency
    from simplexgrad.correction import correct, simplex_angle
    from simplexgrad.io import save_attributions, write_dataset_file
    from simplexgrad.studies.evaluation import pooled_positions

    x = random_onehot(rng, 6, 40)
    raw = saliency(max_pooled_model(), x)
    zero = ~np.any(raw != 0, axis=-1)
    assert 0.5 < zero.mean() < 1.0  # max-pooling: most positions have exactly zero gradient
    assert np.isnan(simplex_angle(raw, zero=np.nan)[zero]).all()
    assert (simplex_angle(raw)[zero] == 0).all()  # the documented default

    truth = np.full((6, 40, 4), 0.25, np.float32)
    truth[:, 10:16] = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (6, 6))]
    y = np.ones((6, 1), np.float32)
    splits = {name: {"x": x, "y": y, "model": truth} for name in ("train", "valid", "test")}
    write_dataset_file(tmp_path / "data.h5", splits, {})
    save_attributions(tmp_path / "maps.npz", raw, correct(raw), x, np.arange(6), {"split": "test"})
    pooled = pooled_positions([tmp_path / "maps.npz"] * 2, tmp_path / "data.h5")
    assert pooled.zero_gradients == 2 * zero.sum()
    assert len(pooled.angle) == 2 * (~zero).sum() and not np.isnan(pooled.angle).any()
    assert pooled.motif.sum() + pooled.background.sum() == len(pooled.angle)

    table = angle_table(raw, np.arange(6), {})
    np.testing.assert_allclose(table["zero_gradient_percent"], 100 * zero.mean(axis=1))
    expected = [np.abs(simplex_angle(row[~z])).mean() for row, z in zip(raw, zero)]
    np.testing.assert_allclose(table["mean_abs_angle"], expected, rtol=1e-5)


def test_evaluate_methods_writes_what_evaluate_writes_for_each_file_or_nothing(tmp_path, rng):
    from conftest import random_onehot
    from simplexgrad import cli
    from simplexgrad.correction import correct
    from simplexgrad.io import save_attributions, write_dataset_file

    x = random_onehot(rng, 8, 30)
    truth = np.full(x.shape, 0.25, np.float32)
    truth[:, 5:11] = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (8, 6))]
    splits = {name: {"x": x, "y": np.ones((8, 1), np.float32), "model": truth} for name in ("valid", "test")}
    write_dataset_file(tmp_path / "data.h5", splits, {})
    (tmp_path / "metrics.json").write_text('{"test_auroc": 0.8, "init_stddev": 0.05}')
    methods = ["saliency", "smoothgrad"]
    for method, rows in zip(methods, ([1, 3, 4], [0, 2, 5, 7])):
        raw = rng.normal(size=(len(rows), 30, 4)).astype(np.float32)
        save_attributions(tmp_path / "maps" / f"{method}.npz", raw, correct(raw), x[rows], np.array(rows),
                          {"method": method, "split": "test"})  # fmt: skip
    shared = ["--data", tmp_path / "data.h5", "--classification", tmp_path / "metrics.json",
              "--labels", "architecture=cnn_deep", "seed=3", "--thresholds", "20", "40"]  # fmt: skip
    command = ["evaluate-methods", "--attributions-dir", tmp_path / "maps", "--methods", *methods]
    assert cli.main([str(argument) for argument in [*command, *shared, "--out-dir", tmp_path / "all"]]) == 0
    kinds = ("metrics", "angles", "model")
    written = sorted(path.name for path in (tmp_path / "all").iterdir())
    assert written == sorted(f"{method}.{kind}.tsv" for method in methods for kind in kinds)
    for method in methods:
        alone = [f"--out-{kind}={tmp_path / method / kind}.tsv" for kind in kinds]
        command = ["evaluate", "--attributions", tmp_path / "maps" / f"{method}.npz", *alone]
        assert cli.main([str(argument) for argument in [*command, *shared]]) == 0
        for kind in kinds:
            expected = (tmp_path / method / f"{kind}.tsv").read_bytes()
            assert (tmp_path / "all" / f"{method}.{kind}.tsv").read_bytes() == expected, (method, kind)
    missing = ["--methods", "saliency", "expected_gradients", "--out-dir", tmp_path / "none"]
    command = ["evaluate-methods", "--attributions-dir", tmp_path / "maps", *missing, *shared]
    assert cli.main([str(argument) for argument in command]) == 2
    assert not (tmp_path / "none").exists()  # no tables of saliency without those of expected gradients
