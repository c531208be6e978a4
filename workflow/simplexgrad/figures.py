"""The study's figures from its files: each function reads its inputs, prepares them with the library
(the patch a figure frames included) and draws them with the :mod:`simplexgrad.plots` function of the
same name.

:data:`FIGURES` maps a figure's name to its function; the name is also the file stem, the figure of the
Snakemake rule that makes it and the ``simplexgrad figure NAME`` subcommand.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simplexgrad._optional import needs

with needs("workflow", "simplexgrad.figures"):
    from simplexgrad import io
    from simplexgrad.correction import simplex_angle
    from simplexgrad.io import ground_truth_of
    from simplexgrad.metrics import grad_times_input, information_content, motif_positions
    from simplexgrad.plots import common, invivo, synthetic, training_study
    from simplexgrad.studies.evaluation import pooled_positions
    from simplexgrad.studies.motif_matching import recovery_counts
    from simplexgrad.tables import read_table, read_tables

__all__ = ["FIGURES", "patch_start", "peak_start"]


def patch_start(information: np.ndarray, width: int, margin: int = 10) -> int:
    """Start of a ``width``-position patch that shows a sequence's first motif ``margin`` positions in.

    Parameters
    ----------
    information : numpy.ndarray
        ``(L,)`` information content of one sequence's ground truth (bits).
    width, margin : int
        Patch width and how far before the first motif position it starts (clipped to the sequence).

    Returns
    -------
    int
        ``start`` with ``0 <= start <= L - width`` (0 without motif positions).
    """
    length = len(information)
    if not 1 <= width <= length:
        raise ValueError(f"patch width must be in [1, {length}]; got {width}")
    motif = np.flatnonzero(motif_positions(information))
    first = motif[0] if len(motif) else margin
    return int(np.clip(first - margin, 0, length - width))


def peak_start(scores: np.ndarray, width: int) -> int:
    """Start of a ``width``-position patch centred on the largest ``|score|`` of a ``(L,)`` track,
    clipped to the sequence."""
    length = len(scores)
    if not 1 <= width <= length:
        raise ValueError(f"patch width must be in [1, {length}]; got {width}")
    return int(np.clip(int(np.argmax(np.abs(scores))) - width // 2, 0, length - width))


def fig2_interpretability(metrics: str, method: str, out_pdf: str, out_png: str) -> None:
    """Fig 2a-c (App. Fig 5): classification AUROC against interpretability of the raw maps.

    Parameters
    ----------
    metrics : str
        Tidy metrics TSV of the synthetic study.
    method : str
        Attribution method to show.
    out_pdf, out_png : str
        Figure files to write.
    """
    common.save_figure(synthetic.fig2_interpretability(read_table(metrics), method), out_pdf, out_png)


def fig2_correction(metrics: str, method: str, out_pdf: str, out_png: str) -> None:
    """Fig 2d-f (App. Fig 5): interpretability of each model before and after the correction.

    Parameters
    ----------
    metrics : str
        Tidy metrics TSV of the synthetic study.
    method : str
        Attribution method to show.
    out_pdf, out_png : str
        Figure files to write.
    """
    common.save_figure(synthetic.fig2_correction(read_table(metrics), method), out_pdf, out_png)


def fig3a_patch(
    attributions: str,
    data: str,
    architecture: str,
    activation: str,
    out_pdf: str,
    out_png: str,
    sequence: int = 0,
    width: int = 60,
) -> None:
    """Fig 3a (App. Fig 6): a patch of one positive test sequence, raw and corrected maps, angles.

    Parameters
    ----------
    attributions : str
        Attribution file (.npz) of one model (saliency in the paper); its recorded method labels the maps.
    data : str
        The synthetic dataset (.h5) with ground truth.
    architecture, activation : str
        The model, for the title.
    out_pdf, out_png : str
        Figure files to write.
    sequence : int
        Row of the attribution file to show.
    width : int
        Patch width (positions); the patch starts 10 positions before the first motif.
    """
    maps = io.load_attributions(attributions)
    if not 0 <= sequence < len(maps["raw"]):
        raise ValueError(f"{attributions}: sequence must be in [0, {len(maps['raw'])}); got {sequence}")
    truth = ground_truth_of(maps, data, attributions)[sequence]
    width = min(width, len(truth))
    start = patch_start(information_content(truth[None])[0], width)
    raw = maps["raw"][sequence]
    figure = synthetic.fig3a_patch(
        maps["x"][sequence],
        truth,
        raw,
        maps["corrected"][sequence],
        simplex_angle(raw, zero=np.nan),
        start,
        width,
        f"{common.model_label(architecture, activation)}, test sequence {maps['indices'][sequence]}",
        method=str(maps["params"].get("method", "saliency")),
    )
    common.save_figure(figure, out_pdf, out_png)


def fig3c_motif_angles(
    attributions: list[str], data: str, architecture: str, activation: str, out_pdf: str, out_png: str
) -> None:
    """Fig 3c (App. Fig 8): angles at motif positions and the improvement they bring, all seeds pooled.

    Parameters
    ----------
    attributions : list of str
        Saliency attribution files (.npz) of one model, one per seed.
    data : str
        The synthetic dataset (.h5) with ground truth.
    architecture, activation : str
        The model, for the title.
    out_pdf, out_png : str
        Figure files to write.
    """
    pooled = pooled_positions(attributions, data)
    figure = synthetic.fig3c_motif_angles(
        pooled.angle[pooled.motif],
        pooled.improvement[pooled.motif],
        common.model_label(architecture, activation),
        pooled.zero_gradients,
    )
    common.save_figure(figure, out_pdf, out_png)


def fig3d_background_angles(
    attributions: list[str], data: str, architecture: str, activation: str, out_pdf: str, out_png: str
) -> None:
    """Fig 3d (App. Fig 8): angles at background positions and grad×input before and after correction.

    Parameters
    ----------
    attributions : list of str
        Saliency attribution files (.npz) of one model, one per seed.
    data : str
        The synthetic dataset (.h5) with ground truth.
    architecture, activation : str
        The model, for the title.
    out_pdf, out_png : str
        Figure files to write.
    """
    pooled = pooled_positions(attributions, data)
    background = pooled.background
    figure = synthetic.fig3d_background_angles(
        pooled.angle[background],
        pooled.raw_score[background],
        pooled.corrected_score[background],
        common.model_label(architecture, activation),
        pooled.zero_gradients,
    )
    common.save_figure(figure, out_pdf, out_png)


def fig4a_large_angles(angles: str, out_pdf: str, out_png: str, method: str = "saliency") -> None:
    """Fig 4a (App. Fig 12): per-sequence % of positions with large angles, per model, seeds pooled.

    Parameters
    ----------
    angles : str
        Tidy per-sequence angle TSV of the synthetic study.
    out_pdf, out_png : str
        Figure files to write.
    method : str
        Attribution method to show.
    """
    common.save_figure(synthetic.fig4a_large_angles(read_table(angles), method), out_pdf, out_png)


def modisco_recovery(motifs: str, out_pdf: str, out_png: str, similarity_threshold: float = 0.8) -> None:
    """Motif discovery, raw vs corrected maps: planted motifs recovered (PPM-PWM r, TOMTOM), false hits.

    Per model, mean over seeds: a planted motif is recovered when some pattern's information-trimmed PPM
    correlates with its PWM at r >= ``similarity_threshold`` (best offset, at least 6 aligned positions,
    either strand), or, in the second panel, when it is among some pattern's significant TOMTOM matches
    (q < 0.05, any rank); then the patterns found, and those that match nothing planted by either
    definition. A run in which modisco found no pattern shows zeros.

    Parameters
    ----------
    motifs : str
        The synthetic study's modisco/motifs.tsv (one row per pattern).
    out_pdf, out_png : str
        Figure files to write.
    similarity_threshold : float
        Pearson r between a pattern's PPM and a planted PWM that counts the motif as recovered.
    """
    counts = recovery_counts(read_table(motifs), similarity_threshold=similarity_threshold)
    common.save_figure(synthetic.modisco_recovery(counts, similarity_threshold), out_pdf, out_png)


def fig3b_invivo_patch(
    member: str,
    ensemble: str,
    tf: str,
    architecture: str,
    activation: str,
    out_pdf: str,
    out_png: str,
    sequence: int = 0,
    width: int = 60,
) -> None:
    """Fig 3b (App. Fig 7): one member's raw and corrected saliency and the ensemble's on one sequence.

    Parameters
    ----------
    member : str
        Saliency attribution file (.npz) of one member.
    ensemble : str
        The ensemble's map file (ensemble.npz of ``invivo-ensemble``) on the same sequences.
    tf : str
        The TF, for the title.
    architecture, activation : str
        The model type, for the title.
    out_pdf, out_png : str
        Figure files to write.
    sequence : int
        Row of the attribution files to show.
    width : int
        Patch width, centred on the ensemble's strongest grad×input position.
    """
    maps, average = io.load_attributions(member), io.load_attributions(ensemble)
    if not np.array_equal(maps["indices"], average["indices"]):
        raise ValueError(f"{member} and {ensemble} explain different sequences")
    if not 0 <= sequence < len(maps["raw"]):
        raise ValueError(f"{member}: sequence must be in [0, {len(maps['raw'])}); got {sequence}")
    raw = maps["raw"][sequence]
    width = min(width, len(raw))
    scores = grad_times_input(average["raw"][sequence : sequence + 1], maps["x"][sequence : sequence + 1])[0]
    figure = invivo.fig3b_invivo_patch(
        raw,
        maps["corrected"][sequence],
        average["raw"][sequence],
        simplex_angle(raw, zero=np.nan),
        peak_start(scores, width),
        width,
        f"{tf}, {common.model_label(architecture, activation)}, test sequence {maps['indices'][sequence]}",
    )
    common.save_figure(figure, out_pdf, out_png)


def fig3e_ensemble_difference(
    histograms: list[str],
    differences: list[str],
    architecture: str,
    activation: str,
    out_pdf: str,
    out_png: str,
) -> None:
    """Fig 3e (App. Fig 9): angle densities and the ensemble-difference reduction by angle, per TF.

    Parameters
    ----------
    histograms : list of str
        angle_histogram.tsv of each TF's ensemble of one model type.
    differences : list of str
        differences.tsv of the same ensembles.
    architecture, activation : str
        The model type, for the title.
    out_pdf, out_png : str
        Figure files to write.
    """
    figure = invivo.fig3e_ensemble_difference(
        read_tables(histograms), read_tables(differences), common.model_label(architecture, activation)
    )
    common.save_figure(figure, out_pdf, out_png)


def appfig10_ensemble_angles(
    histograms: list[str], architecture: str, activation: str, out_pdf: str, out_png: str
) -> None:
    """App. Fig 10: angle densities of single members and of the ensemble-average map, per TF.

    Parameters
    ----------
    histograms : list of str
        angle_histogram.tsv of each TF's ensemble of one model type.
    architecture, activation : str
        The model type, for the title.
    out_pdf, out_png : str
        Figure files to write.
    """
    title = common.model_label(architecture, activation)
    common.save_figure(invivo.appfig10_ensemble_angles(read_tables(histograms), title), out_pdf, out_png)


def fig4b_invivo_large_angles(
    sequence_angles: list[str],
    architecture: str,
    activation: str,
    out_pdf: str,
    out_png: str,
    synthetic_angles: str | None = None,
) -> None:
    """Fig 4b (App. Fig 13): per TF and threshold the mean % of positions with large angles, and the
    synthetic study's means for the same model type (dashed).

    Parameters
    ----------
    sequence_angles : list of str
        sequence_angles.tsv of each TF's ensemble of one model type.
    architecture, activation : str
        The model type, for the title and the synthetic study's rows.
    out_pdf, out_png : str
        Figure files to write.
    synthetic_angles : str or None
        The synthetic study's angles.tsv; its saliency rows of the model type give the dashed lines.
    """
    table = read_tables(sequence_angles)
    synthetic_means = None
    if synthetic_angles:
        reference = read_table(synthetic_angles)
        columns = [column for column in table.columns if column.startswith("percent_above_")]
        missing = sorted(set(columns) - set(reference.columns))
        if missing:
            raise ValueError(f"{synthetic_angles}: no column {missing[0]} (the in vivo tables have it)")
        rows = reference[
            (reference["architecture"] == architecture)
            & (reference["activation"] == activation)
            & (reference["method"] == "saliency")
        ]
        synthetic_means = rows[columns].mean() if len(rows) else None
    title = common.model_label(architecture, activation)
    figure = invivo.fig4b_invivo_large_angles(table, synthetic_means, title)
    common.save_figure(figure, out_pdf, out_png)


def invivo_large_angle_histograms(
    sequence_angles: list[str], architecture: str, activation: str, out_pdf: str, out_png: str
) -> None:
    """Per TF, histograms of the per-sequence % of positions with large angles, members pooled (ours).

    Parameters
    ----------
    sequence_angles : list of str
        sequence_angles.tsv of each TF's ensemble of one model type.
    architecture, activation : str
        The model type, for the title.
    out_pdf, out_png : str
        Figure files to write.
    """
    title = common.model_label(architecture, activation)
    figure = invivo.invivo_large_angle_histograms(read_tables(sequence_angles), title)
    common.save_figure(figure, out_pdf, out_png)


def _training_study(name: str, title: str) -> Callable[..., None]:
    """The figure function of a training study: the per-model table in, the figure of ``name`` out."""

    def draw(summary: str, out_pdf: str, out_png: str) -> None:
        common.save_figure(getattr(training_study, name)(read_table(summary)), out_pdf, out_png)

    draw.__name__ = name
    draw.__doc__ = f"""{title}

    Parameters
    ----------
    summary : str
        The study's summary.tsv (one row per model).
    out_pdf, out_png : str
        Figure files to write.
    """
    return draw


fig4c_init_study = _training_study("fig4c_init_study", "Fig 4c: initialisation scale vs angles and AUROC.")
appfig14_init_study = _training_study("appfig14_init_study", "App. Fig 14: Fig 4c per model type.")
fig4d_angle_penalty = _training_study("fig4d_angle_penalty", "Fig 4d: angle penalty vs angles and AUROC.")
appfig15_angle_penalty = _training_study("appfig15_angle_penalty", "App. Fig 15: Fig 4d per model type.")


FIGURES: dict[str, Callable[..., None]] = {
    function.__name__: function
    for function in (
        fig2_interpretability,
        fig2_correction,
        fig3a_patch,
        fig3c_motif_angles,
        fig3d_background_angles,
        fig4a_large_angles,
        modisco_recovery,
        fig3b_invivo_patch,
        fig3e_ensemble_difference,
        appfig10_ensemble_angles,
        fig4b_invivo_large_angles,
        invivo_large_angle_histograms,
        fig4c_init_study,
        appfig14_init_study,
        fig4d_angle_penalty,
        appfig15_angle_penalty,
    )
}
