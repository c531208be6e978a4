"""Jobs that neither differentiate nor train (evaluation, downloads, tables, figures, the scorecard) import no
deep-learning framework: each command runs as the workflow runs it, ``python -m simplexgrad ...``, under
``-X importtime`` on small hand-made inputs in the real formats, and its import log must name no module of
TensorFlow, Keras, JAX or torch (an import that failed is logged too, so a guarded try counts)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from conftest import random_onehot
from simplexgrad import correct, io
from simplexgrad.studies.evaluation import angle_table
from test_paper_figures import study_models
from test_scorecard import CLAIMS, metrics_table

pytestmark = pytest.mark.slow  # ten interpreters that load pandas: 25 s on a busy 2-core machine

FRAMEWORKS = ("tensorflow", "keras", "jax", "torch")
IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|( *)(\S+)$")
SEEDS, LENGTH = (0, 1), 40


def imports(stderr: str) -> list[tuple[int, str]]:
    """The modules in an ``-X importtime`` log, each with its depth in the import stack, in log order (a
    module after those it imports; one imported by ``importlib.import_module``, as the lazy packages do, is
    not logged, and its own imports show at the top)."""
    return [(len(m[1]), m[2]) for m in map(IMPORT_LINE.match, stderr.splitlines()) if m]


def framework_imports(modules: list[tuple[int, str]]) -> dict[str, str]:
    """The frameworks among ``modules`` (:func:`imports`), each with the modules the log shows importing it
    first (``jax <- tensorflow <- simplexgrad.x``; framework submodules left out)."""
    chains: dict[str, str] = {}
    for index, (depth, name) in enumerate(modules):
        framework = name.split(".")[0]
        if framework in FRAMEWORKS and framework not in chains:  # its first module, often a submodule
            importers = []
            for outer_depth, outer in modules[index + 1 :]:
                if outer_depth < depth:
                    depth = outer_depth
                    if outer != framework and (outer in FRAMEWORKS or outer.split(".")[0] not in FRAMEWORKS):
                        importers.append(outer)
            chains[framework] = " <- ".join([framework, *importers])
    return chains


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A synthetic data.h5 (test split with ground truth, a motif at positions 10-15), saliency files of
    two seeds (seed 0's folder is ``run0``), a model's metrics.json, metrics and angle tables split by
    seed, and a training study's per-model table."""
    folder = tmp_path_factory.mktemp("light_jobs")
    rng = np.random.default_rng(7)
    x = random_onehot(rng, 4, LENGTH)
    truth = np.full((4, LENGTH, 4), 0.25, np.float32)
    truth[:, 10:16] = [0.85, 0.05, 0.05, 0.05]
    paths = {"data": folder / "data.h5", "classification": folder / "metrics.json", "claims": CLAIMS}
    with h5py.File(paths["data"], "w") as handle:
        handle["x_test"], handle["y_test"], handle["model_test"] = x, np.ones((4, 1), np.float32), truth
    paths["classification"].write_text(json.dumps({"test_auroc": 0.9, "init_stddev": 0.05, "seconds": 3.0,
                                                   "epochs_run": 2}))  # fmt: skip
    metrics = metrics_table({"cnn_deep_relu": [0.01, 0.02]})
    angles = []
    for seed in SEEDS:
        raw = rng.normal(size=x.shape).astype(np.float32)
        paths[f"maps{seed}"] = folder / "attributions" / "cnn_deep_relu" / f"seed{seed}" / "saliency.npz"
        io.save_attributions(paths[f"maps{seed}"], raw, correct(raw), x, np.arange(4),
                             {"method": "saliency", "split": "test"})  # fmt: skip
        labels = {"architecture": "cnn_deep", "activation": "relu", "seed": seed, "method": "saliency"}
        angles.append(angle_table(raw, np.arange(4), labels))
        paths[f"metrics{seed}"] = folder / f"metrics{seed}.tsv"
        metrics[metrics["seed"] == seed].to_csv(paths[f"metrics{seed}"], sep="\t", index=False)
    paths["run0"] = paths["maps0"].parent
    metrics.to_csv(paths.setdefault("metrics", folder / "metrics.tsv"), sep="\t", index=False)
    pd.concat(angles).to_csv(paths.setdefault("angles", folder / "angles.tsv"), sep="\t", index=False)
    study = study_models("init_stddev", [0.005, 0.05, 0.5])
    study.to_csv(paths.setdefault("init_study", folder / "init_study.tsv"), sep="\t", index=False)
    return paths


# Each command with the options its workflow rule gives (download: a file:// URL instead of the manifest);
# {name} is a file of `inputs`, {out} the output folder; a figure also gets --out-pdf and --out-png.
COMMANDS = {
    "evaluate": "evaluate --attributions {maps0} --data {data} --classification {classification} --labels "
    "architecture=cnn_deep activation=relu seed=0 --out-metrics {out}/metrics.tsv "
    "--out-angles {out}/angles.tsv --out-model {out}/model.tsv",
    "evaluate-methods": "evaluate-methods --attributions-dir {run0} --methods saliency --data {data} "
    "--classification {classification} --labels architecture=cnn_deep activation=relu seed=0 "
    "--out-dir {out}/evaluation",
    "download": "download --url file://{data} --out {out}/data.h5",
    "collect": "collect --tables {metrics0} {metrics1} --out {out}/metrics.tsv",
    "summarize": "summarize --metrics {metrics} --out {out}/summary.tsv",
    "summarize-study": "summarize-study --tables {init_study} --parameter init_stddev "
    "--out {out}/summary.tsv --out-settings {out}/settings.tsv",
    "fig2_interpretability": "figure fig2_interpretability --metrics {metrics} --method saliency",
    "fig3c_motif_angles": "figure fig3c_motif_angles --attributions {maps0} {maps1} --data {data} "
    "--architecture cnn_deep --activation relu",
    "fig4c_init_study": "figure fig4c_init_study --summary {init_study}",
    "scorecard": "scorecard --claims {claims} --metrics {metrics} --angles {angles} --attributions {maps0} "
    "{maps1} --data {data} --models {classification} --init-study {init_study} --out {out}/scorecard.tsv "
    "--out-markdown {out}/scorecard.md",
}


@pytest.mark.parametrize("name", COMMANDS)
def test_the_command_imports_no_deep_learning_framework(name, inputs, tmp_path):
    figure = " --out-pdf {out}/figure.pdf --out-png {out}/figure.png" if name.startswith("fig") else ""
    line = COMMANDS[name] + figure
    arguments = [argument.format(out=tmp_path, **inputs) for argument in line.split()]
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "simplexgrad", *arguments],
        capture_output=True,
        text=True,
        timeout=300,
    )
    command = f"simplexgrad {'figure ' if name.startswith('fig') else ''}{name}"
    logged = "\n".join(text for text in result.stderr.splitlines() if not IMPORT_LINE.match(text))
    assert result.returncode == 0, f"`{command}` failed:\n{logged[-3000:]}"
    assert any(tmp_path.iterdir()), f"`{command}` wrote nothing"
    modules = imports(result.stderr)
    assert any(module == "simplexgrad.cli" for _, module in modules), f"`{command}`: no -X importtime log"
    imported = framework_imports(modules)
    assert not imported, f"`{command}` imported {', '.join(imported)}: " + "; ".join(imported.values())
