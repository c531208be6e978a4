import csv
import os
import re
import shlex

from snakemake.utils import validate

validate(config, schema="../schemas/config.schema.yaml")

RESULTS = config["results"]
SYNTHETIC = f"{RESULTS}/synthetic"
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
# The library ships inside the workflow: every rule runs it from here, in whatever environment
# (the project's virtualenv, or a conda env built from envs/ on a cluster).
LIBRARY = os.path.join(workflow.basedir, "workflow")
CLI = f"PYTHONPATH={shlex.quote(LIBRARY)}${{PYTHONPATH:+:$PYTHONPATH}} python -m simplexgrad"

RUN = "{architecture}_{activation}/seed{seed}"

ENCODE = f"{RESULTS}/encode"
# A relative table path is looked up in the working directory, then in the workflow's folder.
ENCODE_TABLE = config["encode"]["manifest"]
if not os.path.isabs(ENCODE_TABLE) and not os.path.exists(ENCODE_TABLE):
    ENCODE_TABLE = os.path.join(workflow.basedir, ENCODE_TABLE)


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


wildcard_constraints:
    architecture="cnn_shallow|cnn_deep",
    activation="relu|exponential",
    seed=r"\d+",
    method="saliency|integrated_gradients|smoothgrad|expected_gradients",
    tf="|".join(re.escape(name) for name in ENCODE_TFS),
    encode_name=r"[A-Za-z0-9_.-]+",


def synthetic_runs(pattern):
    """`pattern` filled in for every (architecture, activation, seed) of the study."""
    return expand(
        pattern,
        architecture=ARCHITECTURES,
        activation=ACTIVATIONS,
        seed=SEEDS,
        allow_missing=True,
    )


def synthetic_evaluations(kind):
    """Per-run evaluation tables of one kind ('metrics' or 'angles') for every method."""
    return expand(
        synthetic_runs(f"{SYNTHETIC}/evaluation/{RUN}/{{method}}.{kind}.tsv"),
        method=METHODS,
    )


def synthetic_figures():
    figures = f"{SYNTHETIC}/figures"
    names = [f"fig2_interpretability_{m}" for m in METHODS]
    names += [f"fig2_correction_{m}" for m in METHODS]
    if "saliency" in METHODS:
        names += [
            "fig3a_patch",
            "fig3c_motif_angles",
            "fig3d_background_angles",
            "fig4a_large_angles",
        ]
    return [f"{figures}/{name}.{ext}" for name in names for ext in ("pdf", "png")]


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


def all_outputs():
    outputs = synthetic_outputs()
    if config["encode"]["enabled"]:
        outputs += encode_outputs()
    return outputs


def attribution_options(wildcards):
    """Command-line options of one attribution method, from the config."""
    settings = config["attribution"]
    options = {
        "saliency": {},
        "integrated_gradients": settings["integrated_gradients"],
        "smoothgrad": settings["smoothgrad"],
        "expected_gradients": settings["expected_gradients"],
    }[wildcards.method]
    arguments = []
    for name, value in options.items():
        arguments += [f"--{name.replace('_', '-')}", str(value)]
    return arguments


def representative_run():
    chosen = config["figures"]["representative"]
    return f"{chosen['architecture']}_{chosen['activation']}/seed{chosen.get('seed', SEEDS[0])}"


def representative_name():
    chosen = config["figures"]["representative"]
    short = {"relu": "relu", "exponential": "exp"}[chosen["activation"]]
    return f"{chosen['architecture'].replace('cnn_', 'CNN-')}-{short}"
