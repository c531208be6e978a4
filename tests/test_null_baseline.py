"""The null baseline: what a model that learned nothing shows. Its angles in closed form and by simulation,
untrained models built as training starts them, and a scorecard that an untrained run cannot pass."""

import json

import numpy as np
import pandas as pd
import pytest
from simplexgrad.angle_null import null_angle_sd, null_percent_above
from simplexgrad.correction import simplex_angle
from workflow_helpers import REPO

CLAIMS = REPO / "resources" / "paper_claims.tsv"


def isotropic_gradients(alphabet_size: int, count: int = 400_000) -> np.ndarray:
    return np.random.default_rng(alphabet_size).normal(size=(1, count, alphabet_size))


def test_dna_null_in_closed_form():
    # density ∝ cos²θ: SD = sqrt(π²/12 − 1/2) rad; P(|θ| > t) = (π/2 − t − sin(2t)/2) / (π/2)
    assert null_angle_sd() == pytest.approx(np.degrees(np.sqrt(np.pi**2 / 12 - 0.5)), abs=1e-6)
    assert null_angle_sd() == pytest.approx(32.54, abs=0.01)
    t = np.radians([30.0, 45.0, 60.0])
    expected = 100 * (np.pi / 2 - t - np.sin(2 * t) / 2) / (np.pi / 2)
    np.testing.assert_allclose(null_percent_above([30, 45, 60]), expected, atol=1e-3)
    np.testing.assert_allclose(null_percent_above([30, 45, 60]), [39.10, 18.17, 5.77], atol=0.01)


@pytest.mark.parametrize("alphabet_size", [2, 4, 20])
def test_the_null_matches_simulated_isotropic_gradients(alphabet_size):
    angles = simplex_angle(isotropic_gradients(alphabet_size), alphabet_size=None)[0]
    assert angles.std() == pytest.approx(null_angle_sd(alphabet_size), abs=0.15)
    simulated = [100 * np.mean(np.abs(angles) > limit) for limit in (30, 45, 60)]
    np.testing.assert_allclose(simulated, null_percent_above([30, 45, 60], alphabet_size), atol=0.3)


def test_the_null_refuses_what_has_no_angle():
    with pytest.raises(ValueError, match="alphabet_size"):
        null_angle_sd(1)


@pytest.fixture(scope="module")
def untrained_run(tmp_path_factory):
    """An untrained study in miniature: the four model types, one seed each, never trained, with saliency
    maps of 12 positive test sequences each, evaluated and collected as the workflow does, through the
    command line in this process."""
    pytest.importorskip("keras")
    from simplexgrad import cli

    folder = tmp_path_factory.mktemp("untrained")
    data = folder / "data.h5"
    assert cli.main(["synthetic", "--out", str(data), "--seed", "5", "--num-seqs", "600"]) == 0
    for table in ("metrics", "angles"):
        (folder / table).mkdir()
    saliency = []
    for architecture in ("cnn_shallow", "cnn_deep"):
        for activation in ("relu", "exponential"):
            for seed in (0,):
                run = folder / f"{architecture}_{activation}" / f"seed{seed}"
                model = ["--architecture", architecture, "--activation", activation, "--seed", str(seed)]
                assert cli.main(["untrained", "--data", str(data), "--out", str(run / "model"), *model]) == 0
                assert cli.main([
                    "attribute-methods", "--model", str(run / "model" / "model.keras"), "--data", str(data),
                    "--out-dir", str(run), "--methods", "saliency", "--positives-only", "--num-seqs", "12",
                ]) == 0  # fmt: skip
                assert cli.main([
                    "evaluate-methods", "--attributions-dir", str(run), "--methods", "saliency",
                    "--data", str(data), "--classification",
                    str(run / "model" / "metrics.json"), "--out-dir", str(run / "tables"), "--labels",
                    f"architecture={architecture}", f"activation={activation}", f"seed={seed}",
                ]) == 0  # fmt: skip
                saliency.append(str(run / "saliency.npz"))
    tables = {}
    for table in ("metrics", "angles"):
        tables[table] = str(folder / f"{table}.tsv")
        parts = sorted(str(path) for path in folder.glob(f"*/seed*/tables/*.{table}.tsv"))
        assert cli.main(["collect", "--out", tables[table], "--tables", *parts]) == 0
    return folder, data, tables, saliency


@pytest.mark.slow
def test_untrained_models_are_what_training_starts_from(untrained_run):
    import keras
    from simplexgrad.training.recipe import TrainingConfig, seeded_model

    folder, data, _, _ = untrained_run
    run = folder / "cnn_deep_exponential" / "seed0" / "model"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["untrained"] is True and metrics["epochs_run"] == 0
    assert 0.3 < metrics["test_auroc"] < 0.7  # a model that learned nothing
    saved = keras.saving.load_model(run / "model.keras").get_weights()
    built = seeded_model(TrainingConfig("cnn_deep", "exponential", seed=0), (200, 4)).get_weights()
    assert len(saved) == len(built) and all(np.array_equal(a, b) for a, b in zip(saved, built))


@pytest.mark.slow
def test_a_run_of_untrained_models_reproduces_no_claim_against_its_null(untrained_run, tmp_path):
    from simplexgrad import cli
    from simplexgrad.studies.scorecard import DISCRIMINATES, DOES_NOT_DISCRIMINATE, REPRODUCED

    folder, data, tables, saliency = untrained_run
    run = ["--metrics", tables["metrics"], "--angles", tables["angles"], "--attributions", *saliency]
    # the null of an untrained run: the same architectures, seeds and initialisation, never trained
    null = ["--null-metrics", tables["metrics"], "--null-angles", tables["angles"], "--null-attributions",
            *saliency]  # fmt: skip
    out = ["--out", str(tmp_path / "scorecard.tsv"), "--out-markdown", str(tmp_path / "scorecard.md")]
    assert cli.main(["scorecard", "--claims", str(CLAIMS), "--data", str(data), *run, *null, *out]) == 0
    table = pd.read_csv(tmp_path / "scorecard.tsv", sep="\t", keep_default_na=False)
    passed = table[table["verdict"] == REPRODUCED]
    assert len(passed) > 0  # what an untrained model passes: geometry, chance, the paper's wide ranges ...
    assert (passed["evidence"] == DOES_NOT_DISCRIMINATE).all()  # ... and the null passes it too
    assert DISCRIMINATES not in set(table["evidence"])
    page = (tmp_path / "scorecard.md").read_text()
    assert "**0** reproduced that the untrained null fails" in page
    assert "hypotheses: **0** of" in page  # no hypothesis holds that the null fails either
    assert "these do not discriminate" in page
    # without a null, the same run's passes are reported as such, never as evidence
    bare = ["--out", str(tmp_path / "bare.tsv"), "--out-markdown", str(tmp_path / "bare.md")]
    assert cli.main(["scorecard", "--claims", str(CLAIMS), "--data", str(data), *run, *bare]) == 0
    assert "**0** reproduced that the untrained null fails" in (tmp_path / "bare.md").read_text()
