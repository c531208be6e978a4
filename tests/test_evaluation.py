"""Tidy tables: hand-checked summaries and the Wilcoxon test against scipy's exact answer."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wilcoxon
from simplexgrad.evaluation import large_angle_table, summary_table


def metrics_frame(raw_cosines, corrected_cosines):
    rows = []
    for seed, (raw, corrected) in enumerate(zip(raw_cosines, corrected_cosines)):
        for is_corrected, value in ((False, raw), (True, corrected)):
            rows.append(
                {"model": "cnn_deep", "activation": "relu", "method": "saliency", "seed": seed,
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


def test_large_angle_table_counts_positions_per_sequence():
    # position gradients: on the simplex (0°), along the normal (90°), and 45° to it
    on = [1.0, -1.0, 0.0, 0.0]
    normal = [1.0, 1.0, 1.0, 1.0]
    tilted = np.add(on, np.multiply(normal, np.linalg.norm(on) / 2))  # |normal part| = |on-simplex part|
    raw = np.array([[on, normal, tilted, on]], dtype=np.float64)
    table = large_angle_table(raw, np.array([7]), {"model": "m"}, thresholds=(30, 60))
    assert table.columns.tolist() == ["model", "sequence", "threshold", "percent"]
    assert table["sequence"].tolist() == [7, 7]
    np.testing.assert_allclose(table["percent"], [50.0, 25.0])
