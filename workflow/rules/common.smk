import csv
import os
import re
import shlex
import sys

from snakemake.utils import validate

from simplexgrad._config import config_problem
from simplexgrad.attribution import METHODS as ATTRIBUTION_METHODS, method_options

# One line naming the key and the file, not Snakemake's dump of the whole schema before the reason.
_CONFIG_PROBLEM = config_problem(
    config,
    os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml"),
    # in the order they were merged: the Snakefile's own file first, --configfile ones over it
    [
        path
        for path in workflow.configfiles
        if path not in workflow.overwrite_configfiles
    ]
    + list(workflow.overwrite_configfiles),
)
if _CONFIG_PROBLEM:
    print(f"config error: {_CONFIG_PROBLEM}", file=sys.stderr)
    sys.exit(2)
validate(config, schema="../schemas/config.schema.yaml")

# Jobs run `python -m simplexgrad`: the interpreter that runs Snakemake comes first on PATH (a conda env
# of envs/ goes before it when --sdm conda is used) and the library is found in workflow/. Both are set
# in the environment, not in the commands, so a moved or copied project plans no reruns.
os.environ.update(
    PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
    PYTHONPATH=os.pathsep.join(
        filter(
            None,
            [os.path.join(workflow.basedir, "workflow"), os.environ.get("PYTHONPATH")],
        )
    ),
)

RESULTS = config["results"]
SYNTHETIC = f"{RESULTS}/synthetic"
FIGURES = f"{SYNTHETIC}/figures"
LOGS = f"{RESULTS}/logs"
ARCHITECTURES = config["models"]["architectures"]
ACTIVATIONS = config["models"]["activations"]
SEEDS = list(
    range(
        config["models"]["first_seed"],
        config["models"]["first_seed"] + config["models"]["num_seeds"],
    )
)
METHODS = config["attribution"]["methods"]
RUN = "{architecture}_{activation}/seed{seed}"
EXPERIMENT = f"{RESULTS}/{{experiment}}"
MODEL_FILES = {
    "model": "model.keras",
    "history": "history.tsv",
    "metrics": "metrics.json",
}
RECIPE = {
    key: value
    for key, value in config["training"].items()
    if key not in ("threads", "engine")
}
# The training studies on the synthetic data: the option each varies, its values and the folder prefix
# of a setting (results/init_study/sigma0.05/...).
TRAINING_STUDIES = {
    "init_study": {"option": "init_stddev", "prefix": "sigma", "values": "stddevs"},
    "angle_penalty_study": {
        "option": "angle_penalty",
        "prefix": "lambda",
        "values": "strengths",
    },
}


def member_template(first_model, member):
    """The --out-template of an ensemble group: the folder beside the first member's, named `member`."""
    return os.path.join(os.path.dirname(os.path.dirname(first_model)), member)


def resolve_engine(engine):
    """training.engine: 'auto' is the JAX ensemble engine when JAX sees a GPU, else the single-model one
    (a vmapped step on CPU was measured slower than sequential ones)."""
    if engine != "auto":
        return engine
    try:
        import jax

        return (
            "ensemble"
            if any(device.platform == "gpu" for device in jax.devices())
            else "single"
        )
    except (
        Exception
    ):  # no JAX, or no usable device: the TensorFlow engine works everywhere
        return "single"


ENGINE = resolve_engine(config["training"]["engine"])


def experiment_setting(experiment):
    """The training options of an experiment: {} for the main study, e.g. {'init_stddev': 0.05} for
    init_study/sigma0.05 (and the study's own epoch limit, when it sets one)."""
    study, _, setting = experiment.partition("/")
    if study not in TRAINING_STUDIES:
        return {}
    spec = TRAINING_STUDIES[study]
    epochs = config[study]["epochs"]
    return {spec["option"]: float(setting.removeprefix(spec["prefix"]))} | (
        {"epochs": epochs} if epochs else {}
    )


def kernel_option(study, architecture):
    """CNN-deep's first-layer filter length as the config section `study` (models, invivo, init_study,
    angle_penalty_study) sets it; CNN-shallow keeps the library's 19 (the authors' in text, code and
    weights alike)."""
    if architecture != "cnn_deep":
        return {}
    return {"first_layer_kernel_size": config[study]["cnn_deep_first_layer_kernel"]}


def training_options(experiment, architecture):
    """The `simplexgrad train` options of a synthetic model: the recipe, the experiment's studied option,
    CNN-deep's first-layer kernel of its study and, in the angle-penalty study, the penalty's mode.
    """
    study = experiment.partition("/")[0]
    study = study if study in TRAINING_STUDIES else "models"
    options = (
        RECIPE | experiment_setting(experiment) | kernel_option(study, architecture)
    )
    if study == "angle_penalty_study":
        options["angle_penalty_mode"] = config[study]["angle_penalty_mode"]
    return options


EXPERIMENT_FAMILIES = {"synthetic": "synthetic"} | {
    study: f"{study}/{spec['prefix']}[^/]+" for study, spec in TRAINING_STUDIES.items()
}
# The seeds of each family of experiments (fixed per family, so that a group's outputs are known).
SEED_FAMILIES = {"synthetic": SEEDS} | {
    study: list(
        range(
            config["models"]["first_seed"],
            config["models"]["first_seed"] + config[study]["num_seeds"],
        )
    )
    for study in TRAINING_STUDIES
}


def study_settings(study):
    spec = TRAINING_STUDIES[study]
    return [
        f"{study}/{spec['prefix']}{value:g}" for value in config[study][spec["values"]]
    ]


def study_models(study, pattern):
    """`pattern` (with {experiment}) for every setting, model type and seed of a training study."""
    settings = config[study]
    return expand(
        pattern,
        experiment=study_settings(study),
        architecture=settings["architectures"],
        activation=settings["activations"],
        seed=SEED_FAMILIES[study],
    )


def training_study_tables(wildcards):
    return study_models(
        wildcards.study, f"{EXPERIMENT}/evaluation/{RUN}/saliency.model.tsv"
    )


def training_study_reference(wildcards):
    """The main study's models without the studied option (λ = 0), as the angle penalty's reference."""
    if wildcards.study != "angle_penalty_study":
        return []
    settings = config[wildcards.study]
    seeds = [
        seed
        for seed in SEEDS
        if seed < config["models"]["first_seed"] + settings["num_seeds"]
    ]
    return expand(
        f"{SYNTHETIC}/evaluation/{RUN}/saliency.model.tsv",
        architecture=[a for a in settings["architectures"] if a in ARCHITECTURES],
        activation=[a for a in settings["activations"] if a in ACTIVATIONS],
        seed=seeds,
    )


def check_attribution_config(settings):
    """Method names and option names of the config against the library's registry."""
    unknown = sorted(set(settings["methods"]) - set(ATTRIBUTION_METHODS))
    if unknown:
        raise ValueError(
            f"config attribution.methods names {unknown}; the library has {list(ATTRIBUTION_METHODS)}"
        )
    shared = {"methods", "num_seqs", "batch_size", "seed", "output", "threads"}
    for method, options in settings.items():
        if method in shared:
            continue
        if method not in ATTRIBUTION_METHODS:
            raise ValueError(f"config attribution.{method}: no such attribution method")
        wrong = sorted(set(options) - set(method_options(method)))
        if wrong:
            raise ValueError(
                f"config attribution.{method}: unknown option(s) {wrong}; "
                f"its options are {list(method_options(method))}"
            )


check_attribution_config(config["attribution"])


def cli_options(options):
    """`{'early_stopping_patience': 4}` as `--early-stopping-patience 4`, quoted for the shell; a bool
    is `--flag` or `--no-flag`, an empty list is left out (the library's default applies). Options are
    sorted: the key order of a config depends on which file set a key, and must not change a command.
    """
    arguments = []
    for name, value in sorted(options.items()):
        flag = name.replace("_", "-")
        if isinstance(value, bool):
            arguments.append(f"--{flag}" if value else f"--no-{flag}")
        elif value != []:
            arguments += [
                f"--{flag}",
                *map(str, value if isinstance(value, list) else [value]),
            ]
    return " ".join(shlex.quote(argument) for argument in arguments)


def workflow_file(path):
    """A file named in the config: relative to the working directory if it is there, else to the
    workflow's folder (so that a run from another folder finds config/ and resources/).
    """
    if os.path.isabs(path) or os.path.exists(path):
        return path
    return os.path.join(workflow.basedir, path)


def attribution_options(wildcards):
    """The method's own options: the config's seed (for seeded methods) and the config's overrides."""
    settings = config["attribution"]
    seeded = "seed" in method_options(wildcards.method)
    return cli_options(
        ({"seed": settings["seed"]} if seeded else {})
        | settings.get(wildcards.method, {})
    )


ENCODE = f"{RESULTS}/encode"
ENCODE_TABLE = workflow_file(config["encode"]["manifest"])


def read_encode_table(path):
    """(TF names, the DNase row's name) of the ENCODE table; the library checks the rest."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    tfs = [row["name"] for row in rows if row["assay"] == "TF ChIP-seq"]
    dnase = [row["name"] for row in rows if row["assay"] == "DNase-seq"]
    if len(dnase) != 1 or not tfs:
        raise ValueError(
            f"{path}: needs TF ChIP-seq rows and exactly one DNase-seq row"
        )
    chosen = config["encode"].get("tfs") or tfs
    unknown = sorted(set(chosen) - set(tfs))
    if unknown:
        raise ValueError(
            f"config encode.tfs names {unknown}, which {path} does not have"
        )
    return chosen, dnase[0]


ENCODE_TFS, ENCODE_DNASE = read_encode_table(ENCODE_TABLE)
unknown_tfs = sorted(set(config["invivo"]["tfs"]) - set(ENCODE_TFS))
if unknown_tfs:
    raise ValueError(
        f"config invivo.tfs names {unknown_tfs}, which are not among the ENCODE TFs {ENCODE_TFS}"
    )


wildcard_constraints:
    architecture="|".join(ARCHITECTURES),
    activation="|".join(ACTIVATIONS),
    seed=r"\d+",
    method="|".join(METHODS),
    experiment="|".join(EXPERIMENT_FAMILIES.values()),
    tf="|".join(re.escape(name) for name in ENCODE_TFS),
    encode_name=r"[A-Za-z0-9_.-]+",
    filters=r"\d+",
    repeat=r"\d+",
    maps="raw|corrected",


def synthetic_runs(pattern):
    """`pattern` filled in for every (architecture, activation, seed) of the study."""
    return expand(
        pattern,
        architecture=ARCHITECTURES,
        activation=ACTIVATIONS,
        seed=SEEDS,
        allow_missing=True,
    )


def synthetic_evaluations(wildcards):
    """Per-run evaluation tables of one kind (metrics or angles) for every method."""
    return expand(
        synthetic_runs(
            f"{SYNTHETIC}/evaluation/{RUN}/{{method}}.{wildcards.table}.tsv"
        ),
        method=METHODS,
    )


def seeds_of_model(wildcards):
    """Every seed's saliency file of one model (the angle figures pool them)."""
    return expand(
        f"{SYNTHETIC}/attributions/{RUN}/saliency.npz",
        architecture=wildcards.architecture,
        activation=wildcards.activation,
        seed=SEEDS,
    )


def figure_files(name):
    return [f"{FIGURES}/{name}.{ext}" for ext in ("pdf", "png")]


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


def synthetic_outputs():
    return [
        f"{SYNTHETIC}/metrics.tsv",
        f"{SYNTHETIC}/angles.tsv",
        f"{SYNTHETIC}/summary.tsv",
        *synthetic_figures(),
    ]


def encode_outputs():
    return [
        *expand(f"{ENCODE}/{{tf}}.h5", tf=ENCODE_TFS),
        f"{ENCODE}/summary.tsv",
    ]


INVIVO = f"{RESULTS}/invivo"
INVIVO_FIGURES = f"{INVIVO}/figures"
INVIVO_TFS = config["invivo"]["tfs"] or ENCODE_TFS
MEMBER = "{architecture}_{activation}/filters{filters}/repeat{repeat}"
INVIVO_MEMBERS = [
    (filters, repeat)
    for filters in config["invivo"]["first_layer_filters"]
    for repeat in range(config["invivo"]["repeats"])
]


def invivo_seed(filters, repeat):
    """Member k (filter sizes in config order, repeats within) has seed first_seed + k: its own seed."""
    index = config["invivo"]["first_layer_filters"].index(int(filters))
    return (
        config["invivo"]["first_seed"]
        + index * config["invivo"]["repeats"]
        + int(repeat)
    )


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
INVIVO_FIGURE_MODEL = {
    key: config["invivo"]["figures"][key] for key in ("architecture", "activation")
}


def invivo_members(pattern):
    """An input function: `pattern` for every member of the ensemble named by the wildcards."""

    def members(wildcards):
        return [
            pattern.format(
                tf=wildcards["tf"],
                architecture=wildcards["architecture"],
                activation=wildcards["activation"],
                filters=filters,
                repeat=repeat,
            )
            for filters, repeat in INVIVO_MEMBERS
        ]

    return members


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


def training_study_outputs(study):
    spec = TRAINING_STUDIES[study]
    figures = [STUDY_FIGURES[study], STUDY_APPENDIX_FIGURES[study]]
    return [f"{RESULTS}/{study}/{table}.tsv" for table in ("summary", "settings")] + [
        f"{RESULTS}/{study}/figures/{name}.{ext}"
        for name in figures
        for ext in ("pdf", "png")
    ]


STUDY_FIGURES = {
    "init_study": "fig4c_init_study",
    "angle_penalty_study": "fig4d_angle_penalty",
}
STUDY_APPENDIX_FIGURES = {
    "init_study": "appfig14_init_study",
    "angle_penalty_study": "appfig15_angle_penalty",
}


MODISCO = config["modisco"]
# The synthetic study's models and seeds that motif discovery searches.
MODISCO_MODELS = {
    "architecture": [a for a in MODISCO["architectures"] if a in ARCHITECTURES],
    "activation": [a for a in MODISCO["activations"] if a in ACTIVATIONS],
    "seed": [seed for seed in MODISCO["seeds"] if seed in SEEDS],
}
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


def all_outputs():
    outputs = synthetic_outputs()
    if MODISCO["enabled"] and "saliency" in METHODS and all(MODISCO_MODELS.values()):
        outputs += [
            f"{SYNTHETIC}/modisco/motifs.tsv",
            *figure_files("modisco_recovery"),
        ]
    for study in TRAINING_STUDIES:
        if config[study]["enabled"]:
            outputs += training_study_outputs(study)
    if config["encode"]["enabled"]:
        outputs += encode_outputs()
        if config["invivo"]["enabled"]:
            outputs += invivo_outputs()
            if MODISCO["enabled"] and MODISCO["invivo"]:
                outputs.append(f"{INVIVO}/modisco/motifs.tsv")
    outputs += [
        f"{RESULTS}/scorecard.tsv",
        f"{RESULTS}/scorecard.md",
    ]  # the paper's claims vs this run
    return outputs


# Figures drawn from the synthetic metrics table, one per method, and from every seed of one model.
METRIC_FIGURES = ("fig2_interpretability", "fig2_correction")
MODEL_FIGURES = ("fig3c_motif_angles", "fig3d_background_angles")


# The scorecard (scorecard.smk): the claims file, where the models trained, and the run's tables.
SCORECARD_CLAIMS = workflow_file("resources/paper_claims.tsv")
# The GPU epoch-time claim is scored only when the models trained on a GPU: the ensemble engine with a GPU
# that JAX sees (resolve_engine imports JAX only for the ensemble engine).
SCORECARD_ACCELERATOR = (
    "gpu" if ENGINE == "ensemble" and resolve_engine("auto") == "ensemble" else "cpu"
)


def scorecard_inputs(wildcards):
    """The run's tables, keyed by the `simplexgrad scorecard` option that reads each (those of the studies
    that are off are left out)."""
    inputs = {
        "claims": SCORECARD_CLAIMS,
        "metrics": f"{SYNTHETIC}/metrics.tsv",
        "angles": f"{SYNTHETIC}/angles.tsv",
        "models": synthetic_runs(f"{SYNTHETIC}/models/{RUN}/metrics.json"),
    }
    if "saliency" in METHODS:
        inputs["attributions"] = synthetic_runs(
            f"{SYNTHETIC}/attributions/{RUN}/saliency.npz"
        )
        inputs["data"] = f"{SYNTHETIC}/data.h5"
    for study in TRAINING_STUDIES:
        if config[study]["enabled"]:
            inputs[study] = f"{RESULTS}/{study}/summary.tsv"
    if config["encode"]["enabled"] and config["invivo"]["enabled"]:
        inputs["invivo_differences"] = f"{INVIVO}/ensemble_difference.tsv"
        inputs["invivo_angles"] = f"{INVIVO}/angles.tsv"
    return inputs


def scorecard_options(wildcards, input):
    """Every input but the claims file as `--option path...`."""
    return cli_options(
        {
            name: input[name] if isinstance(input[name], str) else list(input[name])
            for name in input.keys()
            if name != "claims"
        }
    )
