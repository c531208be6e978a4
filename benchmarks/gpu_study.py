"""One study of the paper's synthetic part on one GPU, without Snakemake: the workflow's group jobs, in order.

``--study main`` is the main study (4 model types x 50 seeds) and its null baseline (the same models
untrained); ``init`` the init study (10 σ x 10 seeds per model type), ``penalty`` the angle-penalty study
(9 λ and the λ = 0 reference x 20 seeds per model type). Per model type, the script runs what
``config/paper-gpu.yaml`` makes the workflow run (``training.engine: ensemble``): ``simplexgrad
train-ensemble`` for the group (a study's settings are members of the group) and ``simplexgrad
attribute-group`` (maps of every method and the evaluation tables of every member), with the workflow's
options and in its folder layout under ``--results``::

    <results>/<experiment>/models/<type>/seed<S>/{model.keras,history.tsv,metrics.json}
    <results>/<experiment>/attributions/<type>/seed<S>/<method>.npz
    <results>/<experiment>/evaluation/<type>/seed<S>/<method>.{metrics,angles,model}.tsv

with ``<experiment>`` ``synthetic`` and ``null``, ``init_study/sigma<σ>`` or ``angle_penalty_study/lambda<λ>``
(σ and λ written as the workflow writes them, ``f"{value:g}"``). A later workflow run over these results
(or ``simplexgrad collect``/``summarize-study``/``scorecard``) scores them. The commands run in this process
(``simplexgrad.cli.main``: imports and compiled programs are paid once); their times go to
``<results>/gpu_study_<study>.tsv``. The null's models are built under JAX (``simplexgrad untrained``'s
function), so their random draws differ from the TensorFlow-built null of a CPU run.

Defaults are the paper's (``config/config.yaml``); the options below shrink a run for a CPU try::

    KERAS_BACKEND=jax python benchmarks/gpu_study.py --study init --data data.h5 --results results \\
        --seeds 2 --settings 0.05 0.3 --architectures cnn_shallow --activations relu --epochs 1 \\
        --num-seqs 20 --options integrated_gradients.steps=2 smoothgrad.num_samples=2

On the GPU machine, ``benchmarks/gpu_study.sh WHEELS_FOLDER --study main --data ... --results ...``
installs Keras from the wheels folder first.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The paper's values, as config/config.yaml sets them (tests/test_gpu_study.py compares the two).
PAPER = {
    "architectures": ["cnn_shallow", "cnn_deep"],
    "activations": ["relu", "exponential"],
    "seeds": {"main": 50, "init": 10, "penalty": 20},
    "settings": {
        "init": [0.005, 0.01, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5],
        "penalty": [0, 2.0e-2, 1.0e-2, 3.0e-3, 1.0e-3, 1.0e-4, 2.0e-5, 1.0e-5, 1.0e-6, 1.0e-7],
    },
    "recipe": {
        "epochs": 100,
        "early_stopping_patience": 10,
        "lr_patience": 3,
        "batch_size": 100,
        "learning_rate": 0.001,
    },
    "cnn_deep_first_layer_kernel": 19,
    "angle_penalty_mode": "training",
    "methods": ["saliency", "integrated_gradients", "smoothgrad", "expected_gradients"],
    "num_seqs": 500,
    "attribution_batch_size": 128,
    "attribution_seed": 0,
    "thresholds": [30, 45, 60],
}
# Per study: the experiment folder (with the setting's field), the setting's prefix and template field,
# train-ensemble's and attribute-group's option for the settings, and the methods explained.
STUDIES = {
    "main": ("synthetic", None, None, None),
    "init": ("init_study", "sigma", "init_stddev", "--init-stddevs"),
    "penalty": ("angle_penalty_study", "lambda", "angle_penalty", "--angle-penalties"),
}
SEEDED_METHODS = ("integrated_gradients", "smoothgrad", "expected_gradients")


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", required=True, choices=list(STUDIES))
    parser.add_argument("--data", required=True, help="dataset file from `simplexgrad synthetic`")
    parser.add_argument("--results", required=True, help="the workflow's results folder")
    parser.add_argument("--seeds", type=int, help="members per setting and model type (paper: 50, 10, 20)")
    parser.add_argument("--settings", nargs="+", type=float, help="σ or λ values (paper: the config's)")
    parser.add_argument("--architectures", nargs="+", default=PAPER["architectures"])
    parser.add_argument("--activations", nargs="+", default=PAPER["activations"])
    parser.add_argument("--epochs", type=int, default=PAPER["recipe"]["epochs"], help="at most (paper: 100)")
    parser.add_argument("--num-seqs", type=int, default=PAPER["num_seqs"], help="positive test sequences")
    parser.add_argument("--options", nargs="*", default=[], help="methods' options, METHOD.NAME=VALUE")
    parser.add_argument("--no-null", action="store_true", help="main study: leave out the null baseline")
    parser.add_argument(
        "--evaluation-workers", type=int, default=min(8, os.cpu_count() or 1),
        help="processes evaluating members beside the GPU's work (default: the CPUs, at most 8)",
    )  # fmt: skip
    return parser.parse_args(argv)


def group_commands(
    args: argparse.Namespace, architecture: str, activation: str
) -> list[tuple[str, list[str]]]:
    """The named ``simplexgrad`` commands of one model type's group, in order, as the workflow runs them."""
    experiment, prefix, field, option = STUDIES[args.study]
    seeds = [str(seed) for seed in range(args.seeds or PAPER["seeds"][args.study])]
    texts = [f"{value:g}" for value in (args.settings or PAPER["settings"].get(args.study, []))]
    folder = f"{experiment}/{prefix}{{{field}}}" if prefix else experiment
    run = f"{architecture}_{activation}/seed{{seed}}"
    settings = [option, *texts] if option else []
    recipe = {**PAPER["recipe"], "epochs": args.epochs}
    if architecture == "cnn_deep":
        recipe["first_layer_kernel_size"] = PAPER["cnn_deep_first_layer_kernel"]
    if args.study == "penalty":
        recipe["angle_penalty_mode"] = PAPER["angle_penalty_mode"]
    recipe_options = [
        text for name, value in sorted(recipe.items()) for text in (f"--{name.replace('_', '-')}", str(value))
    ]
    methods = PAPER["methods"] if args.study == "main" else ["saliency"]
    seeded = [
        f"{method}.seed={PAPER['attribution_seed']}" for method in sorted(methods) if method in SEEDED_METHODS
    ]
    chosen = [item for item in args.options if item.split(".", 1)[0] in methods]
    model = ["--architecture", architecture, "--activation", activation]

    def attribute(experiment_folder: str) -> list[str]:
        templates = {
            stage: f"{args.results}/{experiment_folder}/{stage}/{run}"
            for stage in ("models", "attributions", "evaluation")
        }
        return [
            "attribute-group", "--data", args.data, "--models-template", templates["models"],
            "--attributions-template", templates["attributions"],
            "--evaluation-template", templates["evaluation"],
            "--methods", *methods, "--seeds", *seeds, *settings, "--split", "test", "--positives-only",
            "--num-seqs", str(args.num_seqs), "--batch-size", str(PAPER["attribution_batch_size"]),
            "--output", "probability", *(["--options", *seeded, *chosen] if seeded or chosen else []),
            "--labels", f"architecture={architecture}", f"activation={activation}", "seed={seed}",
            "--thresholds", *map(str, PAPER["thresholds"]),
            "--evaluation-workers", str(args.evaluation_workers),
        ]  # fmt: skip

    commands = [(
        "train",
        ["train-ensemble", "--data", args.data, "--out-template", f"{args.results}/{folder}/models/{run}",
         *model, "--seeds", *seeds, *settings, *recipe_options],
    )]  # fmt: skip
    if args.study == "main" and not args.no_null:
        for seed in seeds:
            out = f"{args.results}/null/models/{run.format(seed=seed)}"
            untrained = ["untrained", "--data", args.data, "--out", out, *model, "--seed", seed]
            untrained += recipe_options
            commands.append(("untrained", untrained))
        commands.append(("attribute null", attribute("null")))
    commands.append(("attribute", attribute(folder)))
    return commands


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
    from simplexgrad import cli

    times = []
    started = time.perf_counter()
    for architecture in args.architectures:
        for activation in args.activations:
            steps: dict[str, float] = {}
            for name, command in group_commands(args, architecture, activation):
                start = time.perf_counter()
                code = cli.main(command)
                if code != 0:
                    print(f"simplexgrad {' '.join(command)}: exit status {code}", file=sys.stderr)
                    return code
                steps[name] = steps.get(name, 0.0) + time.perf_counter() - start
            times.append((f"{architecture}_{activation}", steps))
            print(
                f"{architecture}_{activation}: " + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()),
                flush=True,
            )
    total = time.perf_counter() - started
    names = list(dict.fromkeys(name for _, steps in times for name in steps))
    lines = ["\t".join(["model", *names])]
    lines += [
        "\t".join([model, *(f"{steps.get(name, 0.0):.1f}" for name in names)]) for model, steps in times
    ]
    totals = [sum(steps.get(name, 0.0) for _, steps in times) for name in names]
    lines.append("\t".join(["all", *(f"{value:.1f}" for value in totals)]))
    Path(args.results).mkdir(parents=True, exist_ok=True)
    (Path(args.results) / f"gpu_study_{args.study}.tsv").write_text("\n".join(lines) + "\n")
    table = Path(args.results) / f"gpu_study_{args.study}.tsv"
    print(f"study {args.study}: {total:.1f} s in all (times per step: {table})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
