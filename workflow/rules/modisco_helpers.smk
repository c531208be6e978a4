# The helpers of modisco.smk: the models and maps motif discovery searches, its options and outputs.
MODISCO = config["modisco"]
# The synthetic study's models and seeds that motif discovery searches.
MODISCO_MODELS = {
    "architecture": [a for a in MODISCO["architectures"] if a in ARCHITECTURES],
    "activation": [a for a in MODISCO["activations"] if a in ACTIVATIONS],
    "seed": [seed for seed in MODISCO["seeds"] if seed in SEEDS],
}
# Every modisco job waits for the one job that compiles the numba kernels into the environment's cache.
MODISCO_KERNELS = f"{RESULTS}/environment/modisco_kernels.tsv"
MODISCO_OPTIONS = cli_options(
    {key: MODISCO[key] for key in ("max_seqlets", "window", "report")}
    | {"jaspar_release": config["synthetic"]["jaspar_release"]}
)


def modisco_report(folder):
    """The folder of one modisco run's HTML report (none with modisco.report: none). Snakemake's single-file
    HTML report cannot embed folders: it links the collected tables, and the reports stay beside them.
    """
    return [] if MODISCO["report"] == "none" else directory(folder)


def modisco_tables(study):
    if study == "synthetic":
        return expand(
            f"{SYNTHETIC}/modisco/{RUN}/{{maps}}/motifs.tsv",
            **MODISCO_MODELS,
            maps=["raw", "corrected"],
        )
    return expand(
        f"{INVIVO}/modisco/{{tf}}/{{source}}/motifs.tsv",
        tf=INVIVO_TFS,
        source=["ensemble_corrected", "member_raw"],
    )


def invivo_modisco_input(wildcards):
    """A TF's ensemble map (ensemble_corrected) or its first member's map (member_raw), of the model type
    of the in vivo figures."""
    model = {**INVIVO_FIGURE_MODEL, "tf": wildcards.tf}
    if wildcards.source == "ensemble_corrected":
        return f"{INVIVO}/{wildcards.tf}/ensembles/{model['architecture']}_{model['activation']}/ensemble.npz"
    return invivo_members(f"{INVIVO}/{{tf}}/saliency/{MEMBER}.npz")(model)[0]


def modisco_outputs(study):
    """The motifs collected in `study` (synthetic: with the recovery figure), when modisco searches it."""
    if not MODISCO["enabled"]:
        return []
    if study == "synthetic":
        searched = "saliency" in METHODS and all(MODISCO_MODELS.values())
        return (
            [f"{SYNTHETIC}/modisco/motifs.tsv", *figure_files("modisco_recovery")]
            if searched
            else []
        )
    return [f"{INVIVO}/modisco/motifs.tsv"] if MODISCO["invivo"] else []
