"""The in vivo study: the ensemble analysis on hand-made members, and the whole DAG (ENCODE data from the
loopback fixture -> ensembles -> tables -> figures) on tiny ensembles."""

import json

import h5py
import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from conftest import random_onehot, small_cnn
from encode_fixtures import FileServer, encode_config, make_encode_inputs
from simplexgrad.correction import angle_statistics, correct, simplex_angle
from simplexgrad.io import load_attributions, save_attributions, write_dataset_file
from simplexgrad.metrics import ensemble_difference_by_angle
from simplexgrad.studies.evaluation import angle_summary
from simplexgrad.studies.invivo import angle_bin_edges, invivo_ensemble
from sklearn.metrics import roc_auc_score
from workflow_helpers import run_snakemake


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    """Three small models with their metrics.json, saliency-like maps on 6 sequences, and a dataset."""
    folder = tmp_path_factory.mktemp("ensemble")
    rng = np.random.default_rng(7)
    x = random_onehot(rng, 40, 30)
    y = (np.arange(40) % 2).astype(np.float32)[:, None]
    write_dataset_file(folder / "data.h5", {s: {"x": x, "y": y} for s in ("train", "valid", "test")}, {})
    positives = np.flatnonzero(y[:, 0] == 1)[:6]
    paths, maps = [], []
    for index, (filters, seed) in enumerate([(12, 0), (12, 1), (14, 2)]):
        member = folder / f"filters{filters}" / f"seed{seed}"
        member.mkdir(parents=True)
        small_cnn(seed=index).save(member / "model.keras")
        (member / "metrics.json").write_text(json.dumps({"first_layer_filters": filters, "seed": seed}))
        raw = rng.normal(size=(6, 30, 4)).astype(np.float32)
        raw[:, :3] = 0.0  # zero gradients
        path = folder / f"saliency_{index}.npz"
        save_attributions(path, raw, correct(raw), x[positives], positives, {"split": "test"})
        paths.append((member, path))
        maps.append(raw)
    return folder, paths, np.stack(maps), x, y


def test_invivo_ensemble_writes_every_table(members, tmp_path):
    folder, paths, maps, x, y = members
    out = tmp_path / "out"
    invivo_ensemble(
        [str(member) for member, _ in paths],
        [str(path) for _, path in paths],
        str(folder / "data.h5"),
        str(out),
        labels=["tf=TFA", "architecture=cnn_deep", "activation=relu"],
    )
    differences = pd.read_csv(out / "differences.tsv", sep="\t")
    edges, drawn = angle_bin_edges("authors")  # the default: the authors' 37 bins, drawn at -90 + 5i
    expected = ensemble_difference_by_angle(maps.astype(np.float64), bins=edges)
    np.testing.assert_allclose(
        differences["reduction_percent"], expected["reduction_percent"], rtol=1e-5, equal_nan=True
    )  # the table keeps 6 digits
    np.testing.assert_allclose(differences["bin_high"] - differences["bin_low"], 180 / 37, atol=1e-4)
    np.testing.assert_array_equal(differences["plot_angle"], drawn)
    assert differences[["tf", "architecture", "activation"]].drop_duplicates().values.tolist() == [
        ["TFA", "cnn_deep", "relu"]
    ]
    filled = differences["positions"] > 0
    assert differences.loc[filled].notna().all().all()
    assert differences.loc[~filled, "reduction_percent"].isna().all()
    assert differences["zero_gradient_positions"].iloc[0] == 3 * 6 * 3

    angles = pd.read_csv(out / "angles.tsv", sep="\t").set_index("member")
    assert angles.index.tolist() == ["filters12_seed0", "filters12_seed1", "filters14_seed2", "ensemble"]
    mean = maps.mean(axis=0)
    assert angles.loc["ensemble", "angle_sd"] == pytest.approx(
        angle_summary(simplex_angle(mean, zero=np.nan), angle_statistics(mean))["angle_sd"], rel=1e-5
    )
    defined = simplex_angle(maps[0], zero=np.nan)
    assert angles.loc["filters12_seed0", "angle_sd"] == pytest.approx(np.nanstd(defined), rel=1e-5)
    # averaging independent off-simplex components narrows the ensemble's angles (App. Fig 10)
    assert angles.loc["ensemble", "angle_sd"] < angles.drop("ensemble")["angle_sd"].min()

    histogram = pd.read_csv(out / "angle_histogram.tsv", sep="\t")
    assert histogram.groupby("member")["plot_angle"].apply(list).map(lambda a: a == drawn.tolist()).all()
    counts = histogram.groupby("member")["count"].sum()
    assert (counts == 6 * 27).all()  # every position with a gradient, in some bin
    sequences = pd.read_csv(out / "sequence_angles.tsv", sep="\t")
    assert len(sequences) == 3 * 6 and sequences["percent_above_30"].between(0, 100).all()

    classification = pd.read_csv(out / "classification.tsv", sep="\t").iloc[0]
    predictions = [
        small_cnn(seed=index).predict(x, verbose=0)[:, 0] for index in range(3)
    ]  # the members are small_cnn(seed=0, 1, 2)
    assert classification["ensemble_auroc"] == pytest.approx(roc_auc_score(y[:, 0], np.mean(predictions, 0)))
    aurocs = [roc_auc_score(y[:, 0], p) for p in predictions]
    assert classification["member_auroc_mean"] == pytest.approx(np.mean(aurocs))

    ensemble = load_attributions(out / "ensemble.npz")
    np.testing.assert_allclose(ensemble["raw"], mean, rtol=1e-5, atol=1e-7)  # float32 file
    np.testing.assert_allclose(ensemble["corrected"], correct(mean), rtol=1e-5, atol=1e-7)


def test_members_must_explain_the_same_sequences(members, tmp_path):
    folder, paths, maps, x, _ = members
    other = tmp_path / "other.npz"
    save_attributions(other, maps[0], correct(maps[0]), x[:6], np.arange(6) + 1, {"split": "test"})
    with pytest.raises(ValueError, match="other sequences"):
        invivo_ensemble(
            [str(paths[0][0]), str(paths[1][0])], [str(paths[0][1]), str(other)], str(folder / "data.h5"),
            str(tmp_path / "out"),
        )  # fmt: skip


TINY_INVIVO = {
    # Fig 4b's dashed lines come from the synthetic study's models of the same type: one, tiny.
    "synthetic": {"num_seqs": 600},
    "models": {"architectures": ["cnn_shallow"], "activations": ["exponential"], "num_seeds": 1},
    "attribution": {"methods": ["saliency"], "num_seqs": 8},
    "training": {"epochs": 1, "early_stopping_patience": 1, "lr_patience": 1, "threads": 1},
    "invivo": {
        "enabled": True,
        "architectures": ["cnn_shallow"],
        "activations": ["exponential"],
        "first_layer_filters": [6, 8],
        "repeats": 1,
        "num_seqs": 10,
        "figures": {"architecture": "cnn_shallow", "activation": "exponential"},
        "angle_bins": 5,
    },
}


@pytest.fixture(scope="module")
def invivo_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("invivo_workflow")
    inputs = make_encode_inputs(seed=1, tfa=90, tfb=70, dnase=320)
    with FileServer(inputs.files) as server:
        config = encode_config(folder, server.url, inputs, extra=TINY_INVIVO)
        result = run_snakemake(folder, config, "--cores", "2", "results/invivo/angles.tsv",
                               "results/invivo/ensemble_difference.tsv", "results/invivo/classification.tsv",
                               *[f"results/invivo/figures/{name}.png" for name in FIGURES])  # fmt: skip
    assert result.returncode == 0, result.stderr[-6000:]
    return folder, config


FIGURES = [
    "fig3b_invivo_patch_TFA",
    "fig3b_invivo_patch_TFB",
    "fig3e_ensemble_difference_cnn_shallow_exponential",
    "appfig10_ensemble_angles_cnn_shallow_exponential",
    "fig4b_invivo_large_angles_cnn_shallow_exponential",
    "invivo_large_angle_histograms_cnn_shallow_exponential",
]


@pytest.mark.slow
def test_the_invivo_dag_builds_every_table(invivo_run):
    folder, _ = invivo_run
    invivo = folder / "results" / "invivo"
    differences = pd.read_csv(invivo / "ensemble_difference.tsv", sep="\t")
    assert differences.columns.tolist()[:10] == [
        "tf", "architecture", "activation", "bin_low", "bin_high", "plot_angle", "positions", "raw_l2",
        "corrected_l2", "reduction_percent",
    ]  # fmt: skip
    # invivo.angle_bins: 5 (the config's choice reaches the tables): 36 bins drawn at their centres
    assert sorted(differences["tf"].unique()) == ["TFA", "TFB"] and len(differences) == 2 * 36
    np.testing.assert_array_equal(differences["plot_angle"][:36], np.arange(-87.5, 90, 5))
    filled = differences["positions"] > 0
    assert filled.any() and differences.loc[filled].notna().all().all()
    angles = pd.read_csv(invivo / "angles.tsv", sep="\t")
    assert len(angles) == 2 * 3  # two members and the ensemble, per TF
    assert {"angle_sd", "mean_abs_angle", "percent_above_30", "zero_gradient_percent"} <= set(angles.columns)
    classification = pd.read_csv(invivo / "classification.tsv", sep="\t")
    assert classification[["member_auroc_mean", "ensemble_auroc"]].notna().all().all()
    members = sorted(p.parent.name + "/" + p.name for p in (invivo / "TFA" / "saliency").rglob("*.npz"))
    assert members == ["filters6/repeat0.npz", "filters8/repeat0.npz"]
    seeds = [
        json.loads(
            (invivo / f"TFA/models/cnn_shallow_exponential/filters{f}/repeat0/metrics.json").read_text()
        )
        for f in (6, 8)
    ]
    assert [(m["first_layer_filters"], m["seed"]) for m in seeds] == [(6, 0), (8, 1)]  # each its own seed
    with h5py.File(folder / "results/encode/TFA.h5") as handle:
        positives = int((handle["y_test"][()] == 1).sum())
    assert len(
        load_attributions(invivo / "TFA/saliency/cnn_shallow_exponential/filters6/repeat0.npz")["raw"]
    ) == min(10, positives)


@pytest.mark.slow
def test_the_invivo_figures_are_drawn(invivo_run):
    folder, _ = invivo_run
    for name in FIGURES:
        png = folder / "results" / "invivo" / "figures" / f"{name}.png"
        image = matplotlib.image.imread(png)
        assert image.ndim == 3 and np.ptp(image[..., :3]) > 0, name
        assert png.with_suffix(".pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.slow
def test_rerunning_one_tfs_figure_rebuilds_only_that(invivo_run):
    folder, config = invivo_run
    target = "results/invivo/figures/fig3b_invivo_patch_TFA.pdf"
    result = run_snakemake(
        folder, config, "-n", "--cores", "1", "--forcerun", "fig3b_invivo_patch", "--", target
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stats = result.stdout.split("Job stats:")[1].split("total")[0].splitlines()
    planned = [line.split() for line in stats[3:] if line.strip()]
    assert planned == [["fig3b_invivo_patch", "1"]], result.stdout[-3000:]
