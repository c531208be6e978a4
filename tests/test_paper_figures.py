"""Figures drawn as the paper draws them (issue 26): Fig 4b's dots and dashed synthetic means, Fig 4c's linear
σ axis, Fig 4d's λ = 2e-2 of the exponential models, Fig 3e's 37 angle bins. Each test draws from small
hand-made tables and reads the matplotlib objects back (about 3 s in all)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from simplexgrad import figures  # noqa: E402
from simplexgrad.plots import common, invivo, training_study  # noqa: E402
from simplexgrad.studies.invivo import angle_bin_edges  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def study_models(parameter, values):
    """One row per (model type, setting, seed) with the columns the training-study figures read."""
    rows = []
    for architecture, activation in (("cnn_deep", "relu"), ("cnn_deep", "exponential")):
        for value in values:
            for seed in (0, 1):
                rows.append({"architecture": architecture, "activation": activation, parameter: value,
                             "seed": seed, "angle_sd": 10 * value + seed, "classification_auroc": 0.9,
                             "cosine_raw": 0.5, "cosine_corrected": 0.6})  # fmt: skip
    return pd.DataFrame(rows)


def line_x(axis, label):
    """x data of the line (or error-bar line) labelled ``label``."""
    lines = [c.lines[0] for c in axis.containers if c.get_label() == label] or [
        line for line in axis.get_lines() if line.get_label() == label
    ]
    (line,) = lines
    return list(np.asarray(line.get_xdata(), dtype=float))


def test_fig4c_has_sigma_on_a_linear_axis_and_labels_the_cosine_panel_ours():
    figure = training_study.fig4c_init_study(study_models("init_stddev", [0.005, 0.1, 0.5]))
    spread, auroc, cosine = figure.axes[:3]
    assert spread.get_xscale() == auroc.get_xscale() == cosine.get_xscale() == "linear"
    assert "our addition" in cosine.get_ylabel() and "our addition" not in spread.get_ylabel()


def test_fig4d_keeps_lambda_2e2_of_the_exponential_models_off_their_lines():
    strengths = [2e-2, 1e-3, 1e-5]
    figure = training_study.fig4d_angle_penalty(study_models("angle_penalty", strengths))
    spread = figure.axes[0]
    assert spread.get_xscale() == "log"
    assert line_x(spread, "CNN-deep-relu") == pytest.approx(sorted(strengths))
    assert line_x(spread, "CNN-deep-exp") == pytest.approx([1e-5, 1e-3])
    # ... and marked: an open circle at λ = 2e-2, at the exponential models' mean
    opened = [line for line in spread.get_lines() if line.get_markerfacecolor() == "none"]
    opened = [line for line in opened if len(line.get_xdata())]
    assert len(opened) == 1
    assert list(opened[0].get_xdata()) == pytest.approx([2e-2]) and list(opened[0].get_ydata()) == [0.7]


def test_fig4d_labels_its_lambda_zero_reference():
    figure = training_study.fig4d_angle_penalty(study_models("angle_penalty", [0.0, 1e-3, 1e-5]))
    spread = figure.axes[0]
    assert [text.get_text() for text in spread.texts] == ["λ = 0", "λ = 0"]  # one per model type
    legend = [text.get_text() for text in figure.axes[2].get_legend().get_texts()]
    assert legend[-1] == "λ = 0, trained alike"
    without = training_study.fig4d_angle_penalty(study_models("angle_penalty", [1e-3, 1e-5]))
    assert not without.axes[0].texts


def sequence_angles():
    rows = []
    for tf, level in (("CTCF", 10.0), ("MAX", 20.0)):
        for member in ("filters12_seed0", "filters14_seed1"):
            for sequence in range(3):
                rows.append({"tf": tf, "architecture": "cnn_deep", "activation": "relu", "member": member,
                             "sequence": sequence, "percent_above_30": level + sequence,
                             "percent_above_45": level / 2, "percent_above_60": level / 4})  # fmt: skip
    return pd.DataFrame(rows)


def test_fig4b_draws_one_dot_per_tf_and_threshold_and_the_synthetic_means_dashed():
    synthetic = pd.Series({"percent_above_30": 30.0, "percent_above_45": 12.0, "percent_above_60": 4.0})
    figure = invivo.fig4b_invivo_large_angles(sequence_angles(), synthetic, "CNN-deep-relu")
    axis = figure.axes[0]
    dots = {line.get_label(): list(line.get_ydata()) for line in axis.get_lines()}
    assert dots == {"CTCF": pytest.approx([11.0, 5.0, 2.5]), "MAX": pytest.approx([21.0, 10.0, 5.0])}
    dashed = [c for c in axis.collections if isinstance(c, LineCollection)]
    assert [segment[0][1] for c in dashed for segment in c.get_segments()] == [30.0, 12.0, 4.0]
    assert all(c.get_linestyle()[0][1] is not None for c in dashed)  # dashed, not solid
    assert [t.get_text() for t in axis.get_xticklabels()] == ["> 30°", "> 45°", "> 60°"]


def test_fig4b_takes_the_synthetic_means_of_the_same_model_type_from_angles_tsv(tmp_path, monkeypatch):
    paths = []
    for tf, rows in sequence_angles().groupby("tf"):
        paths.append(str(tmp_path / f"{tf}.tsv"))
        rows.to_csv(paths[-1], sep="\t", index=False)
    models = (("relu", "saliency", 40.0), ("exponential", "saliency", 1.0), ("relu", "smoothgrad", 1.0))
    synthetic = pd.DataFrame(
        [{"architecture": "cnn_deep", "activation": activation, "seed": seed, "method": method, "sequence": 0,
          **{f"percent_above_{t}": value for t in (30, 45, 60)}}
         for activation, method, value in models for seed in (0, 1)]
    )  # fmt: skip
    synthetic.to_csv(tmp_path / "angles.tsv", sep="\t", index=False)
    drawn = {}

    def draw(table, synthetic_means, title):
        drawn["means"] = synthetic_means
        return plt.figure()

    monkeypatch.setattr(invivo, "fig4b_invivo_large_angles", draw)
    for architecture in ("cnn_deep", "cnn_shallow"):
        out = [str(tmp_path / f"{architecture}.{ext}") for ext in ("pdf", "png")]
        reference = str(tmp_path / "angles.tsv")
        figures.fig4b_invivo_large_angles(paths, architecture, "relu", *out, synthetic_angles=reference)
        if architecture == "cnn_deep":  # the saliency rows of CNN-deep-relu only
            assert drawn["means"].to_dict() == {f"percent_above_{t}": 40.0 for t in (30, 45, 60)}
    assert drawn["means"] is None  # no synthetic CNN-shallow models: no dashed lines


def test_the_authors_angle_bins_are_37_of_180_over_37_degrees_drawn_every_5():
    edges, drawn = angle_bin_edges("authors")
    assert len(edges) == 38 and np.allclose(np.diff(edges), 180 / 37)
    np.testing.assert_allclose(drawn, np.arange(-90, 91, 5))
    edges, drawn = angle_bin_edges("5")
    assert len(edges) == 37 and np.allclose(drawn, np.arange(-87.5, 90, 5))
    with pytest.raises(ValueError, match="authors"):
        angle_bin_edges("10")


def test_fig3e_draws_each_bin_at_its_plot_angle_and_says_which_bins():
    edges, drawn = angle_bin_edges("authors")
    differences = pd.DataFrame({"tf": "CTCF", "bin_low": edges[:-1], "bin_high": edges[1:],
                                "plot_angle": drawn, "positions": 10,
                                "reduction_percent": np.abs(drawn) / 10})  # fmt: skip
    histogram = differences.assign(member="filters12_seed0", count=5)[
        ["tf", "member", "bin_low", "bin_high", "plot_angle", "count"]
    ]
    figure = invivo.fig3e_ensemble_difference(histogram, differences, "CNN-deep-exp")
    density, reduction = figure.axes
    np.testing.assert_allclose(line_x(reduction, "CTCF"), drawn)
    np.testing.assert_allclose(line_x(density, "CTCF"), drawn)
    assert "37 bins" in reduction.get_xlabel()
    five, centres = angle_bin_edges("5")
    plain = pd.DataFrame({"tf": "CTCF", "bin_low": five[:-1], "bin_high": five[1:], "positions": 10,
                          "reduction_percent": 1.0})  # fmt: skip
    figure = invivo.fig3e_ensemble_difference(histogram, plain, "CNN-deep-exp")
    np.testing.assert_allclose(line_x(figure.axes[1], "CTCF"), centres)
    assert "5° bins" in figure.axes[1].get_xlabel()


def test_logo_glyphs_stack_each_position_by_value_with_negatives_upside_down_below_zero():
    values = np.array([[1.0, -0.5, 0.25, 0.0], [-0.1, -0.3, 0.0, 0.2]])  # columns A, C, G, T
    assert common.logo_glyphs(values, start=10) == [
        ("C", 10, -0.5, 0.5, True), ("G", 10, 0.0, 0.25, False), ("A", 10, 0.25, 1.0, False),
        ("C", 11, -0.4, 0.3, True), ("A", 11, pytest.approx(-0.1), 0.1, True), ("T", 11, 0.0, 0.2, False),
    ]  # fmt: skip
    assert common.logo_glyphs(np.zeros((3, 4)), start=0) == []


def test_logo_track_fills_each_glyphs_box_in_its_letters_colour():
    figure, axis = plt.subplots()
    values = np.array([[1.0, -0.5, 0.25, 0.0], [-0.1, -0.3, 0.0, 0.2], [0.0, 0.0, 0.0, 0.0]])
    common.logo_track(axis, values, start=10, title="map")
    (collection,) = axis.collections
    glyphs = common.logo_glyphs(values, start=10)
    assert len(collection.get_paths()) == len(glyphs)
    for path, color, (letter, position, floor, height, _) in zip(
        collection.get_paths(), collection.get_facecolors(), glyphs
    ):
        box = path.get_extents()
        assert box.ymin == pytest.approx(floor) and box.height == pytest.approx(height)
        assert box.xmin >= position - 0.5 and box.xmax <= position + 0.5
        assert (box.xmin + box.xmax) / 2 == pytest.approx(position)
        np.testing.assert_allclose(color[:3], matplotlib.colors.to_rgb(common.LOGO_COLORS[letter]))
    widths = {letter: path.get_extents().width for path, (letter, *_) in zip(collection.get_paths(), glyphs)}
    assert widths["A"] == pytest.approx(common.LOGO_WIDTH) and widths["T"] <= widths["A"]
    assert axis.get_xlim() == (9.5, 12.5) and axis.get_ylim() == pytest.approx((-0.5, 1.25))
    assert axis.get_ylabel() == "map"


def test_fig3a_shows_grad_times_input_raw_and_corrected_on_one_scale():
    from simplexgrad.plots import synthetic

    rng = np.random.default_rng(0)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 40)]
    raw = rng.normal(size=(40, 4)).astype(np.float32)
    corrected = raw - raw.mean(axis=1, keepdims=True)
    truth = np.full((40, 4), 0.25, np.float32)
    figure = synthetic.fig3a_patch(x, truth, raw, corrected, rng.uniform(-90, 90, 40), 5, 20)
    labels = [axis.get_ylabel() for axis in figure.axes]
    assert labels[3:5] == ["grad × input\n(raw)", "grad × input\n(corrected)"]
    assert figure.axes[3].get_ylim() == figure.axes[4].get_ylim()


def test_fig4a_axis_ends_at_the_data():
    from simplexgrad.plots import synthetic

    rows = [{"architecture": "cnn_deep", "activation": "relu", "method": "saliency", "seed": 0,
             "percent_above_30": 45.0 + i % 5, "percent_above_45": 20.0, "percent_above_60": 5.0}
            for i in range(20)]  # fmt: skip
    figure = synthetic.fig4a_large_angles(pd.DataFrame(rows))
    assert figure.axes[0].get_xlim() == (0.0, 50.0)  # the largest value is 49 %
