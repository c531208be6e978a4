"""Drawing the training studies (Fig 4c/d, App. Figs 14/15) from their per-model tables: the setting on the
x axis (σ linear and λ logarithmic, as in the paper), mean ± sd over seeds of angle spread, classification
AUROC and interpretability before and after correction (for σ an addition of ours: the paper's Fig 4c has
no interpretability panel). The exponential models' λ = 2e-2 is drawn as open circles off the lines: the
authors leave it out of Fig 4d as over-regularised."""

from __future__ import annotations

import numpy as np

from simplexgrad._optional import needs

with needs("workflow", "simplexgrad.plots.training_study"):
    import matplotlib.pyplot as plt
    import pandas as pd
    from matplotlib.lines import Line2D

    from simplexgrad.plots.common import model_label

__all__ = [
    "fig4c_init_study",
    "appfig14_init_study",
    "fig4d_angle_penalty",
    "appfig15_angle_penalty",
]

PANELS = (
    ("angle_sd", "angle spread (sd, °)"),
    ("classification_auroc", "classification AUROC"),
    ("cosine", "interpretability (cosine)"),
)
AXIS_LABELS = {"init_stddev": "initialisation σ", "angle_penalty": "angle penalty λ"}
SYMBOLS = {"init_stddev": "σ", "angle_penalty": "λ"}
LOG_AXES = {"angle_penalty"}  # the paper's Fig 4c has σ on a linear axis, Fig 4d λ on a log axis
# Settings the authors leave out for the exponential models (Fig 4d: "over-regularised").
OVER_REGULARISED = {"angle_penalty": 2e-2}
OUR_PANELS = {"init_stddev": {"cosine"}}  # panels the paper's figure does not have (Fig 4c: interpretability)


def _lines(
    axis, rows: pd.DataFrame, parameter: str, column: str, colour: str, label: str, dashed=False, marked=None
):
    """Mean ± sd over seeds of ``column`` against ``parameter`` (values > 0; a value of 0, the reference
    without the option, is drawn as a horizontal line). A ``marked`` value is left out of the line and
    drawn as an open circle."""
    stats = rows.groupby(parameter)[column].agg(["mean", "std"]).reset_index()
    hidden = np.isclose(stats[parameter], marked) if marked is not None else np.zeros(len(stats), bool)
    positive = stats[(stats[parameter] > 0) & ~hidden]
    style = "--" if dashed else "-"
    axis.errorbar(positive[parameter], positive["mean"], yerr=positive["std"].fillna(0), color=colour,
                  ls=style, marker="o", ms=3, capsize=2, label=label)  # fmt: skip
    axis.plot(stats.loc[hidden, parameter], stats.loc[hidden, "mean"], ls="none", marker="o", ms=5,
              mfc="none", color=colour)  # fmt: skip
    zero = stats[stats[parameter] == 0]
    if len(zero):
        level = float(zero["mean"].iloc[0])
        axis.axhline(level, color=colour, ls=":", lw=1)
        axis.annotate(f"{SYMBOLS[parameter]} = 0", (1.0, level), xycoords=("axes fraction", "data"),
                      xytext=(-2, 2), textcoords="offset points", ha="right", va="bottom", fontsize=6,
                      color=colour)  # fmt: skip


def _study(models: pd.DataFrame, parameter: str, per_model_type: bool, title: str) -> plt.Figure:
    models = models.assign(
        model=[model_label(a, b) for a, b in zip(models["architecture"], models["activation"])]
    )
    types = sorted(models["model"].unique())
    groups = [(name, models[models["model"] == name]) for name in types] if per_model_type else [("", models)]
    figure, axes = plt.subplots(
        len(groups), len(PANELS), figsize=(4.0 * len(PANELS), 3.0 * len(groups)), squeeze=False
    )
    for row, (name, rows) in zip(axes, groups):
        for axis, (column, label) in zip(row, PANELS):
            for model in sorted(rows["model"].unique()):
                subset = rows[rows["model"] == model]
                colour = f"C{types.index(model) % 10}"
                marked = OVER_REGULARISED.get(parameter) if model.endswith("-exp") else None
                if column == "cosine":
                    _lines(axis, subset, parameter, "cosine_raw", colour, f"{model} raw", True, marked)
                    corrected = f"{model} corrected"
                    _lines(axis, subset, parameter, "cosine_corrected", colour, corrected, False, marked)
                else:
                    _lines(axis, subset, parameter, column, colour, model, marked=marked)
            if parameter in LOG_AXES:
                axis.set_xscale("log")
            axis.set_xlabel(AXIS_LABELS[parameter])
            ours = column in OUR_PANELS.get(parameter, ())
            axis.set_ylabel(f"{label}\n(our addition)" if ours else label)
            if name:
                axis.set_title(name, fontsize=9)
        handles, labels = row[-1].get_legend_handles_labels()
        if (rows[parameter] == 0).any():  # the reference, drawn as a dotted line per model type
            handles.append(Line2D([], [], color="grey", ls=":", lw=1))
            labels.append(f"{SYMBOLS[parameter]} = 0, trained alike")
        row[-1].legend(handles, labels, fontsize=6)
    notes = ["dotted: λ = 0"] if parameter == "angle_penalty" else []
    over = OVER_REGULARISED.get(parameter)
    exponential = models["model"].str.endswith("-exp")
    if over is not None and (exponential & np.isclose(models[parameter], over)).any():
        notes.append(f"open: {SYMBOLS[parameter]} = {over:g} of exp models")
    figure.suptitle(f"{title} ({'; '.join(notes)})" if notes else title, fontsize=10)
    figure.tight_layout()
    return figure


def fig4c_init_study(models: pd.DataFrame) -> plt.Figure:
    """Fig 4c: initialisation scale σ against angle spread, AUROC and interpretability, per model type."""
    return _study(models, "init_stddev", False, "Initialisation scale")


def appfig14_init_study(models: pd.DataFrame) -> plt.Figure:
    """App. Fig 14: Fig 4c with one row of panels per model type."""
    return _study(models, "init_stddev", True, "Initialisation scale, per model type")


def fig4d_angle_penalty(models: pd.DataFrame) -> plt.Figure:
    """Fig 4d: angle penalty λ against angle spread, AUROC and interpretability (dotted and labelled: the
    λ = 0 reference, trained with the same epoch limit)."""
    return _study(models, "angle_penalty", False, "Angle regularisation")


def appfig15_angle_penalty(models: pd.DataFrame) -> plt.Figure:
    """App. Fig 15: Fig 4d with one row of panels per model type."""
    return _study(models, "angle_penalty", True, "Angle regularisation, per model type")
