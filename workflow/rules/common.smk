# The validated config, the jobs' environment, the study's paths and names, cli_options, the wildcard
# constraints and all_outputs: what two or more rule files share; then every rule file's functions, by
# stage (Snakemake's linter keeps functions out of rule files). A stage's constants are in its rule file,
# above its rules; the functions read them when called, after every rule file was read.
import os
import re
import shlex
import sys

from snakemake.utils import validate

from simplexgrad._config import config_problem, reference_problem
from simplexgrad.data.manifest import DNASE_ASSAY, TF_ASSAY, read_manifest
from simplexgrad.attribution import METHODS as ATTRIBUTION_METHODS, method_options

# The config files in the order they were merged: the Snakefile's own first, --configfile ones over it.
_CONFIG_FILES = [
    path for path in workflow.configfiles if path not in workflow.overwrite_configfiles
] + list(workflow.overwrite_configfiles)
# One line naming the key and the file, not Snakemake's dump of the whole schema before the reason; then
# a training study compared with a reference trained otherwise (another epoch limit) is refused.
_CONFIG_PROBLEM = config_problem(
    config,
    os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml"),
    _CONFIG_FILES,
)
if not _CONFIG_PROBLEM:
    validate(config, schema="../schemas/config.schema.yaml")
    _CONFIG_PROBLEM = reference_problem(config, _CONFIG_FILES)
if _CONFIG_PROBLEM:
    print(f"config error: {_CONFIG_PROBLEM}", file=sys.stderr)
    sys.exit(2)


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

# Jobs run `python -m simplexgrad`: the interpreter that runs Snakemake comes first on PATH (a conda env
# of envs/ goes before it when --sdm conda is used) and the library is found in workflow/. Both are set
# in the environment, not in the commands, so a moved or copied project plans no reruns.
_LIBRARY = os.path.join(workflow.basedir, "workflow")
os.environ.update(
    PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
    PYTHONPATH=os.pathsep.join(filter(None, [_LIBRARY, os.environ.get("PYTHONPATH")])),
)


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


def jax_gpu_plugin_installed():
    """Whether a JAX GPU plugin is installed: JAX finds CUDA and ROCm only through plugins (the
    jax_plugins namespace package or entry points). Without one, 'auto' is decided without importing
    JAX, a second saved at every Snakemake start, and every Slurm job starts one."""
    import importlib.metadata
    import importlib.util

    return importlib.util.find_spec("jax_plugins") is not None or bool(
        importlib.metadata.entry_points(group="jax_plugins")
    )


def resolve_engine(engine):
    """training.engine: 'auto' is the JAX ensemble engine when JAX sees a GPU, else the single-model one
    (a vmapped step on CPU was measured slower than sequential ones)."""
    if engine != "auto":
        return engine
    if not jax_gpu_plugin_installed():
        return "single"
    try:
        import jax

        return (
            "ensemble"
            if any(device.platform == "gpu" for device in jax.devices())
            else "single"
        )
    except Exception:  # no JAX, or no device it can use: TensorFlow runs anywhere
        return "single"


ENGINE = resolve_engine(config["training"]["engine"])


def seed_range(count):
    """`count` seeds from models.first_seed on."""
    first = config["models"]["first_seed"]
    return list(range(first, first + count))


# The synthetic study: its folders, model types, seeds and attribution methods.
RESULTS = config["results"]
SYNTHETIC = f"{RESULTS}/synthetic"
FIGURES = f"{SYNTHETIC}/figures"
# The null baseline: the synthetic study's models untrained, attributed and evaluated alike.
NULL = f"{RESULTS}/null"
NULL_BASELINE = config["models"]["null_baseline"]
LOGS = f"{RESULTS}/logs"
ARCHITECTURES = config["models"]["architectures"]
ACTIVATIONS = config["models"]["activations"]
SEEDS = seed_range(config["models"]["num_seeds"])
METHODS = config["attribution"]["methods"]
RUN = "{architecture}_{activation}/seed{seed}"
EXPERIMENT = f"{RESULTS}/{{experiment}}"
# The training studies on the synthetic data: the option each varies, its values and the folder prefix
# of a setting (results/init_study/sigma0.05/...); `group` is the option giving an ensemble group's settings.
TRAINING_STUDIES = {
    "init_study": {
        "option": "init_stddev",
        "prefix": "sigma",
        "values": "stddevs",
        "group": "init_stddevs",
    },
    "angle_penalty_study": {
        "option": "angle_penalty",
        "prefix": "lambda",
        "values": "strengths",
        "group": "angle_penalties",
    },
}
EXPERIMENT_FAMILIES = {"synthetic": "synthetic"} | {
    study: f"{study}/{spec['prefix']}[^/]+" for study, spec in TRAINING_STUDIES.items()
}
# The seeds of each family of experiments (fixed per family, so that a group's outputs are known).
SEED_FAMILIES = {"synthetic": SEEDS} | {
    study: seed_range(config[study]["num_seeds"]) for study in TRAINING_STUDIES
}


def study_setting_texts(study):
    """A training study's settings as its folder names write them (0.05 of init_study/sigma0.05): the
    text an ensemble group's commands get, which fill their member templates with it."""
    return [f"{value:g}" for value in config[study][TRAINING_STUDIES[study]["values"]]]


def study_settings(study):
    """The experiments of a training study, one per setting (e.g. init_study/sigma0.05)."""
    prefix = TRAINING_STUDIES[study]["prefix"]
    return [f"{study}/{prefix}{text}" for text in study_setting_texts(study)]


def member_files(family, pattern):
    """`pattern` (one or a list, with {experiment}, {architecture}, {activation}, {seed}) for every member
    of one ensemble group of `family`: a training study's settings × its seeds, or the main study's seeds
    (for synthetic and null, {experiment} stays a wildcard); {architecture} and {activation} stay too.
    """
    if family in TRAINING_STUDIES:
        return expand(
            pattern,
            experiment=study_settings(family),
            seed=SEED_FAMILIES[family],
            allow_missing=True,
        )
    return expand(pattern, seed=SEED_FAMILIES[family], allow_missing=True)


def group_template(family, stage):
    """A params function: the member folder of the group named by the wildcards under `stage` (models,
    attributions, evaluation), with the fields `train-ensemble` and `attribute-group` fill in: {seed}
    and a training study's setting ({init_stddev} or {angle_penalty})."""

    def template(wildcards):
        run = f"{wildcards.architecture}_{wildcards.activation}/seed{{seed}}"
        if family not in TRAINING_STUDIES:
            return f"{RESULTS}/{wildcards.experiment}/{stage}/{run}"
        spec = TRAINING_STUDIES[family]
        return f"{RESULTS}/{family}/{spec['prefix']}{{{spec['option']}}}/{stage}/{run}"

    return template


def group_folder(family):
    """What names an ensemble group of `family` in its log's path: the training study, or the
    {experiment} wildcard (synthetic or null)."""
    return family if family in TRAINING_STUDIES else "{experiment}"


def group_settings(family):
    """A training study's settings as `--init-stddevs ...` or `--angle-penalties ...` ('' otherwise)."""
    if family not in TRAINING_STUDIES:
        return ""
    spec = TRAINING_STUDIES[family]
    return cli_options({spec["group"]: study_setting_texts(family)})


def synthetic_runs(pattern):
    """`pattern` filled in for every (architecture, activation, seed) of the study."""
    return expand(
        pattern,
        architecture=ARCHITECTURES,
        activation=ACTIVATIONS,
        seed=SEEDS,
        allow_missing=True,
    )


def figure_files(name):
    return [f"{FIGURES}/{name}.{ext}" for ext in ("pdf", "png")]


# The in vivo data and study: the ENCODE table's TFs and the members of each TF's ensembles.
ENCODE = f"{RESULTS}/encode"
ENCODE_TABLE = workflow_file(config["encode"]["manifest"])


def read_encode_table(path):
    """(TF names, the DNase row's name) of the ENCODE manifest, read and checked by the library."""
    table = read_manifest(path)
    tfs = table.loc[table["assay"] == TF_ASSAY, "name"].tolist()
    if not tfs:
        raise ValueError(f"{path}: needs {TF_ASSAY} rows")
    dnase = table.loc[table["assay"] == DNASE_ASSAY, "name"].item()
    chosen = config["encode"].get("tfs") or tfs
    unknown = sorted(set(chosen) - set(tfs))
    if unknown:
        raise ValueError(
            f"config encode.tfs names {unknown}, which {path} does not have"
        )
    return chosen, dnase


ENCODE_TFS, ENCODE_DNASE = read_encode_table(ENCODE_TABLE)
unknown_tfs = sorted(set(config["invivo"]["tfs"]) - set(ENCODE_TFS))
if unknown_tfs:
    raise ValueError(
        f"config invivo.tfs names {unknown_tfs}, which are not among the ENCODE TFs {ENCODE_TFS}"
    )
INVIVO = f"{RESULTS}/invivo"
INVIVO_TFS = config["invivo"]["tfs"] or ENCODE_TFS
MEMBER = "{architecture}_{activation}/filters{filters}/repeat{repeat}"
INVIVO_FIGURE_MODEL = {
    key: config["invivo"]["figures"][key] for key in ("architecture", "activation")
}


def invivo_members(pattern):
    """An input function: `pattern` for every member of the ensemble named by the wildcards (filter sizes
    in config order, repeats within)."""

    def members(wildcards):
        return [
            pattern.format(
                filters=filters,
                repeat=repeat,
                **{key: wildcards[key] for key in ("tf", "architecture", "activation")},
            )
            for filters in config["invivo"]["first_layer_filters"]
            for repeat in range(config["invivo"]["repeats"])
        ]

    return members


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


def all_outputs():
    """Every output of the studies the config turns on, and the scorecard (the paper's claims vs this run).
    Rule all calls it once every rule file, with its `*_outputs` helper, is included."""
    outputs = [f"{SYNTHETIC}/{table}.tsv" for table in ("metrics", "angles", "summary")]
    outputs += synthetic_figures() + modisco_outputs("synthetic")
    for study in TRAINING_STUDIES:
        if config[study]["enabled"]:
            outputs += training_study_outputs(study)
    if config["encode"]["enabled"]:
        outputs += expand(f"{ENCODE}/{{tf}}.h5", tf=ENCODE_TFS)
        outputs.append(f"{ENCODE}/summary.tsv")
        if config["invivo"]["enabled"]:
            outputs += invivo_outputs() + modisco_outputs("invivo")
    return outputs + [f"{RESULTS}/scorecard.tsv", f"{RESULTS}/scorecard.md"]


# ---- Helpers of train.smk ----


def member_template(first_model, member):
    """The --out-template of an ensemble group: the folder beside the first member's, named `member`."""
    return os.path.join(os.path.dirname(os.path.dirname(first_model)), member)


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


def group_recipe(family):
    """A params function: the training options of an ensemble group's members (:func:`training_options`),
    a training study's setting, in which they differ, given as --init-stddevs or --angle-penalties with
    the folder names' text."""

    def recipe(wildcards):
        if family not in TRAINING_STUDIES:
            return cli_options(
                training_options(wildcards.experiment, wildcards.architecture)
            )
        spec = TRAINING_STUDIES[family]
        options = training_options(study_settings(family)[0], wildcards.architecture)
        del options[spec["option"]]
        return cli_options(options | {spec["group"]: study_setting_texts(family)})

    return recipe


def invivo_seed(filters, repeat):
    """Member k (filter sizes in config order, repeats within) has seed first_seed + k: its own seed."""
    index = config["invivo"]["first_layer_filters"].index(int(filters))
    return (
        config["invivo"]["first_seed"]
        + index * config["invivo"]["repeats"]
        + int(repeat)
    )


# ---- Helpers of attribute.smk ----


def method_files(pattern, **values):
    """`pattern` for every method of attribution.methods (and the other `values`), its wildcards kept."""
    return expand(pattern, method=METHODS, **values, allow_missing=True)


def method_settings(method):
    """A method's own options: the config's seed (for seeded methods) and the config's overrides."""
    settings = config["attribution"]
    seeded = "seed" in method_options(method)
    return ({"seed": settings["seed"]} if seeded else {}) | settings.get(method, {})


def attribution_options(wildcards):
    """The options of the method in the wildcards, for `simplexgrad attribute`."""
    return cli_options(method_settings(wildcards.method))


def all_methods_options(methods=METHODS):
    """The methods' options as `--options METHOD.NAME=VALUE ...`, for `simplexgrad attribute-methods`
    and `attribute-group`."""
    return cli_options(
        {
            "options": [
                f"{method}.{name}={value}"
                for method in sorted(methods)
                for name, value in sorted(method_settings(method).items())
            ]
        }
    )


def group_labels(wildcards):
    """The tables' identifying columns of a group's members, as the per-model evaluation rules label them;
    `attribute-group` fills in each member's {seed}."""
    return [
        f"architecture={wildcards.architecture}",
        f"activation={wildcards.activation}",
        "seed={seed}",
    ]


def synthetic_evaluations(wildcards):
    """Per-run evaluation tables of one kind (metrics or angles) for every method, of the synthetic
    study or of its null baseline."""
    return expand(
        synthetic_runs(
            f"{RESULTS}/{wildcards.experiment}/evaluation/{RUN}/{{method}}.{wildcards.table}.tsv"
        ),
        method=METHODS,
    )


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
    """The main study's models without the studied option, as the angle penalty's λ = 0 reference when
    the study does not train its own (0 among its strengths); common.smk refuses a config whose main
    study was trained otherwise."""
    settings = config[wildcards.study]
    if wildcards.study != "angle_penalty_study" or 0 in settings["strengths"]:
        return []
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


# ---- Helpers of figures.smk ----


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


# ---- Helpers of invivo.smk ----


def synthetic_reference(wildcards):
    """Fig 4b's dashed lines: the synthetic study's angles.tsv, when it has saliency maps of the
    wildcards' model type (else none, and the figure says so)."""
    same_type = (
        wildcards.architecture in ARCHITECTURES and wildcards.activation in ACTIVATIONS
    )
    return [f"{SYNTHETIC}/angles.tsv"] if same_type and "saliency" in METHODS else []


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


# ---- Helpers of modisco.smk ----


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


# ---- Helpers of scorecard.smk ----


def scorecard_inputs(wildcards):
    """The run's tables, keyed by the `simplexgrad scorecard` option that reads each (those of the studies
    that are off are left out), and the null baseline's."""
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
        if NULL_BASELINE:
            inputs["null_attributions"] = synthetic_runs(
                f"{NULL}/attributions/{RUN}/saliency.npz"
            )
    if NULL_BASELINE:
        inputs["null_metrics"] = f"{NULL}/metrics.tsv"
        inputs["null_angles"] = f"{NULL}/angles.tsv"
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
