"""Several runs scored as one record, and per-member tables (GPU runs) as scorecard inputs."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from simplexgrad import cli
from simplexgrad.studies.claims import RunTables
from simplexgrad.studies.combined_runs import combine_scorecards, member_tables_to_run
from simplexgrad.studies.reproduction import reproduction_record
from simplexgrad.studies.scorecard import (
    DISCRIMINATES,
    DOES_NOT_DISCRIMINATE,
    NOT_REPRODUCED,
    NOT_RUN,
    REPRODUCED,
    SCORECARD_COLUMNS,
    read_claims,
    score,
)

REPO = Path(__file__).resolve().parents[1]
CLAIMS = REPO / "resources" / "paper_claims.tsv"


def scorecard_rows(rows: dict[str, dict]) -> pd.DataFrame:
    """A scorecard of the claims named in ``rows`` (each a dict of the columns that matter here)."""
    base = {column: "" for column in SCORECARD_COLUMNS}
    return pd.DataFrame(
        [{**base, "claim": claim, "n": 0, "verdict": NOT_RUN, "null_verdict": NOT_RUN, **row}
         for claim, row in rows.items()]
    )  # fmt: skip


def test_each_claim_takes_the_run_with_most_evidence_and_a_null_from_wherever_one_was_measured():
    medium = scorecard_rows({
        "a": {"n": 5, "verdict": NOT_REPRODUCED, "null": "0.1", "null_verdict": NOT_REPRODUCED},
        "b": {"n": 5, "verdict": REPRODUCED, "null": "0.2", "null_verdict": REPRODUCED},
        "c": {"n": 5, "verdict": REPRODUCED},
        "d": {"note": "invivo off"},
    })  # fmt: skip
    gpu = scorecard_rows({
        "a": {"n": 50, "verdict": REPRODUCED, "ours": "0.03"},
        "b": {"n": 5, "verdict": NOT_REPRODUCED},
        "c": {"note": "not in this run"},
        "d": {"note": "invivo off too"},
    })  # fmt: skip
    combined = combine_scorecards({"medium": medium, "gpu": gpu}).set_index("claim")
    # a: the GPU's 50 seeds win; its null comes from the medium run, and the null fails: discriminates
    assert combined.loc["a", ["verdict", "ours", "run", "null_run"]].tolist() == [
        REPRODUCED,
        "0.03",
        "gpu",
        "medium",
    ]
    assert combined.loc["a", "evidence"] == DISCRIMINATES
    # b: a tie in n goes to the run listed first, with its own null (which passes: does not discriminate)
    assert combined.loc["b", ["verdict", "run", "null_run", "evidence"]].tolist() == [
        REPRODUCED, "medium", "medium", DOES_NOT_DISCRIMINATE,
    ]  # fmt: skip
    assert combined.loc["c", "run"] == "medium"
    assert combined.loc["d", ["verdict", "run", "note"]].tolist() == [NOT_RUN, "", "invivo off"]
    reversed_order = combine_scorecards({"gpu": gpu, "medium": medium}).set_index("claim")
    assert reversed_order.loc["b", ["verdict", "run"]].tolist() == [NOT_REPRODUCED, "gpu"]


def test_scorecards_of_different_claims_are_refused():
    with pytest.raises(ValueError, match="other claims"):
        combine_scorecards({"one": scorecard_rows({"a": {}}), "two": scorecard_rows({"b": {}})})


def member_rows(model: str, seeds: range, gain: float) -> pd.DataFrame:
    rng = np.random.default_rng(len(model))
    raw = rng.uniform(0.4, 0.6, size=len(seeds))
    return pd.DataFrame({
        "model": model, "seed": list(seeds), "test_auroc": 0.96, "percent_above_30": 30.0,
        "percent_above_45": 12.0, "percent_above_60": 4.0, "cosine_raw": raw, "cosine_corrected": raw + gain,
        "auroc_raw": raw, "auroc_corrected": raw + gain, "aupr_raw": raw, "aupr_corrected": raw + gain,
    })  # fmt: skip


def test_member_tables_score_as_the_workflow_tables_of_the_same_models():
    members = pd.concat(
        [member_rows("cnn_deep_relu", range(6), 0.02), member_rows("cnn_deep_exponential", range(6), -0.01)]
    )
    metrics, angles = member_tables_to_run(members)
    assert len(metrics) == 24 and len(angles) == 12 and "sequence" not in angles.columns
    claims = [claim for claim in read_claims(CLAIMS) if claim.study == "synthetic"]
    result = score(claims, RunTables(metrics=metrics, angles=angles)).set_index("claim")
    assert result.loc["correction_gain.cnn_deep_relu.saliency.cosine", ["verdict", "n"]].tolist() == [
        REPRODUCED,
        6,
    ]
    assert result.loc["correction_gain.cnn_deep_exponential.saliency.auroc", "verdict"] == NOT_REPRODUCED
    assert result.loc["large_angles.cnn_deep_relu.notebook", "ours"] == "30/12/4"
    assert result.loc["classification_auroc.cnn_deep_relu", "ours"] == "0.96"
    # per-model angle rows cannot say how many sequences have large angles, nor give the maps' spreads
    assert result.loc["large_angles_pervasive.cnn_deep_relu", "verdict"] == NOT_RUN
    assert result.loc["angle_sd_motif.cnn_deep_exponential", "verdict"] == NOT_RUN


def test_a_combined_record_names_the_run_of_every_verdict(tmp_path):
    members = tmp_path / "cnn_deep_relu_members.tsv"
    member_rows("cnn_deep_relu", range(6), 0.02).to_csv(members, sep="\t", index=False)
    out = {
        name: tmp_path / name
        for name in ("metrics.tsv", "angles.tsv", "gpu.tsv", "gpu.md", "all.tsv", "all.md")
    }
    assert cli.main(["member-tables", "--members", str(members), "--out-metrics", str(out["metrics.tsv"]),
                     "--out-angles", str(out["angles.tsv"])]) == 0  # fmt: skip
    assert cli.main(["scorecard", "--claims", str(CLAIMS), "--out", str(out["gpu.tsv"]), "--out-markdown",
                     str(out["gpu.md"]), "--metrics", str(out["metrics.tsv"]), "--angles",
                     str(out["angles.tsv"])]) == 0  # fmt: skip
    empty = tmp_path / "empty.tsv"
    score(read_claims(CLAIMS), RunTables()).to_csv(empty, sep="\t", index=False)
    assert cli.main(["scorecard-combine", "--scorecards", str(empty), str(out["gpu.tsv"]), "--runs",
                     "cpu", "gpu", "--out", str(out["all.tsv"]), "--out-markdown",
                     str(out["all.md"])]) == 0  # fmt: skip
    combined = pd.read_csv(out["all.tsv"], sep="\t", keep_default_na=False).set_index("claim")
    assert combined.loc["correction_gain.cnn_deep_relu.saliency.aupr", "run"] == "gpu"
    assert combined.loc["init_angle_trend.cnn_deep_relu", "run"] == ""
    page = tmp_path / "record.md"
    config = tmp_path / "config.yaml"
    config.write_text("models: {num_seeds: 6}\n")
    reproduction_record(str(out["all.tsv"]), str(page), [str(config)], date="2026-12-04")
    text = page.read_text()
    assert "| claim | source | paper | ours | n | test, or why not run | verdict | null | run |" in text
    assert "| gpu / — |" in text and "not reachable here" in text


def test_combining_needs_a_name_per_scorecard(tmp_path, caplog):
    empty = tmp_path / "empty.tsv"
    score(read_claims(CLAIMS), RunTables()).to_csv(empty, sep="\t", index=False)
    code = cli.main(["scorecard-combine", "--scorecards", str(empty), str(empty), "--runs", "one",
                     "--out", str(tmp_path / "a.tsv"), "--out-markdown", str(tmp_path / "a.md")])  # fmt: skip
    assert code == 2 and "2 scorecards but 1 run names" in caplog.text
    assert not (tmp_path / "a.tsv").exists()
