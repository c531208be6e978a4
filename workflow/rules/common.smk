# The validated config, the jobs' environment, the study's paths and names, cli_options, the wildcard
# constraints and all_outputs: what two or more rule files share. What one stage alone uses is in that
# stage's rule file, above its rules.
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
