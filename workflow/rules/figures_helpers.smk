# The helpers of figures.smk: the figures of the synthetic study and of the training studies.

# Figures drawn from the synthetic metrics table, one per method, and from every seed of one model.
METRIC_FIGURES = ("fig2_interpretability", "fig2_correction")
MODEL_FIGURES = ("fig3c_motif_angles", "fig3d_background_angles")
STUDY_FIGURES = {
    "init_study": "fig4c_init_study",
    "angle_penalty_study": "fig4d_angle_penalty",
}
STUDY_APPENDIX_FIGURES = {
    "init_study": "appfig14_init_study",
    "angle_penalty_study": "appfig15_angle_penalty",
}


def seeds_of_model(wildcards):
    """Every seed's saliency file of one model (the angle figures pool them)."""
    return expand(
        f"{SYNTHETIC}/attributions/{RUN}/saliency.npz",
        architecture=wildcards.architecture,
        activation=wildcards.activation,
        seed=SEEDS,
    )


def synthetic_figures():
    names = [f"{figure}_{method}" for figure in METRIC_FIGURES for method in METHODS]
    if "saliency" in METHODS:
        names += expand(
            "{figure}_{architecture}_{activation}",
            figure=["fig3a_patch", *MODEL_FIGURES],
            architecture=ARCHITECTURES,
            activation=ACTIVATIONS,
        )
        names.append("fig4a_large_angles")
    return [path for name in names for path in figure_files(name)]


def training_study_outputs(study):
    """A training study's tables (attribute.smk) and figures."""
    figures = [STUDY_FIGURES[study], STUDY_APPENDIX_FIGURES[study]]
    return [f"{RESULTS}/{study}/{table}.tsv" for table in ("summary", "settings")] + [
        f"{RESULTS}/{study}/figures/{name}.{ext}"
        for name in figures
        for ext in ("pdf", "png")
    ]
