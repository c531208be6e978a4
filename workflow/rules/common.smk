import os
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

wildcard_constraints:
    architecture="cnn_shallow|cnn_deep",
    activation="relu|exponential",
    seed=r"\d+",
    method="saliency|integrated_gradients|smoothgrad|expected_gradients",


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
