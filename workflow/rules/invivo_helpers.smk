# The helpers of invivo.smk: the files of an ensemble analysis, the tables and figures drawn from them.
INVIVO_FIGURES = f"{INVIVO}/figures"
ENSEMBLE_OUTPUTS = {
    "differences": "tsv",
    "angles": "tsv",
    "angle_histogram": "tsv",
    "sequence_angles": "tsv",
    "classification": "tsv",
    "ensemble": "npz",
}
INVIVO_TABLES = {  # collected table -> the per-ensemble file it concatenates
    "ensemble_difference": "differences",
    "angles": "angles",
    "classification": "classification",
}
INVIVO_MODEL_FIGURES = {  # figure -> {option of its subcommand: per-ensemble table}
    "fig3e_ensemble_difference": {
        "histograms": "angle_histogram",
        "differences": "differences",
    },
    "appfig10_ensemble_angles": {"histograms": "angle_histogram"},
    "fig4b_invivo_large_angles": {"sequence_angles": "sequence_angles"},
    "invivo_large_angle_histograms": {"sequence_angles": "sequence_angles"},
}


def synthetic_reference(wildcards):
    """Fig 4b's dashed lines: the synthetic study's angles.tsv, when it has saliency maps of the
    wildcards' model type (else none, and the figure says so)."""
    same_type = (
        wildcards.architecture in ARCHITECTURES and wildcards.activation in ACTIVATIONS
    )
    return [f"{SYNTHETIC}/angles.tsv"] if same_type and "saliency" in METHODS else []


INVIVO_FIGURE_REFERENCES = {  # figure -> {option of its subcommand: input function}
    "fig4b_invivo_large_angles": {"synthetic_angles": synthetic_reference},
}


def invivo_ensembles(filename, per_model_type=False):
    """An input function: an ensemble file of every TF and model type, or of every TF of the wildcards'
    model type."""

    def ensembles(wildcards):
        folder = f"{INVIVO}/{{tf}}/ensembles/{{architecture}}_{{activation}}/{filename}"
        if per_model_type:
            return expand(
                folder,
                tf=INVIVO_TFS,
                **{k: wildcards[k] for k in ("architecture", "activation")},
            )
        return expand(
            folder,
            tf=INVIVO_TFS,
            architecture=config["invivo"]["architectures"],
            activation=config["invivo"]["activations"],
        )

    return ensembles


def invivo_outputs():
    figures = [f"fig3b_invivo_patch_{tf}" for tf in INVIVO_TFS]
    figures += expand(
        "{figure}_{architecture}_{activation}",
        figure=INVIVO_MODEL_FIGURES,
        architecture=config["invivo"]["architectures"],
        activation=config["invivo"]["activations"],
    )
    return [f"{INVIVO}/{table}.tsv" for table in INVIVO_TABLES] + [
        f"{INVIVO_FIGURES}/{name}.{ext}" for name in figures for ext in ("pdf", "png")
    ]
