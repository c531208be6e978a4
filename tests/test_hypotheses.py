"""The paper's hypotheses, each judged once over its claims by an intersection-union test, on hand-made
scorecards; and every claim of the claims file is evidence of one hypothesis or informational."""

import math

import pandas as pd
import pytest
from simplexgrad.studies.hypotheses import HYPOTHESES, hypothesis_of
from simplexgrad.studies.scorecard import (
    DISCRIMINATES,
    DOES_NOT_DISCRIMINATE,
    NO_NULL,
    NOT_REPRODUCED,
    NOT_RUN,
    REPRODUCED,
    hypotheses,
    read_claims,
)
from workflow_helpers import REPO

CLAIMS = read_claims(REPO / "resources" / "paper_claims.tsv")


def test_every_claim_is_evidence_of_one_hypothesis_or_informational():
    names = [hypothesis_of(claim.quantity, claim.comparison) for claim in CLAIMS]
    assert set(names) - {""} == set(HYPOTHESES)  # every hypothesis has its rows
    assert names.count("correction_improves") == 48
    informational = {claim.claim for claim, name in zip(CLAIMS, names) if not name}
    # the rows an isotropic null passes by construction: the text's ranges and the angle spreads
    assert {"angle_sd_motif.cnn_deep_exponential", "large_angles.cnn_deep_relu.text"} <= informational
    assert not any(name.startswith("correction_gain") for name in informational)
    with pytest.raises(ValueError, match="no hypothesis"):
        hypothesis_of("made_up_quantity", "greater")


def scorecard(rows):
    """A scorecard of (hypothesis, verdict, null verdict, p) rows."""
    table = pd.DataFrame(rows, columns=["hypothesis", "verdict", "null_verdict", "p"])
    return table.assign(claim=[f"c{i}" for i in range(len(table))])


def judged(rows, name="correction_improves"):
    return hypotheses(scorecard(rows)).set_index("hypothesis").loc[name]


def test_a_hypothesis_holds_when_every_measured_row_holds():
    rows = [("correction_improves", REPRODUCED, NOT_REPRODUCED, 0.01),
            ("correction_improves", REPRODUCED, REPRODUCED, 0.03),
            ("correction_improves", NOT_RUN, NOT_RUN, math.nan)]  # fmt: skip
    row = judged(rows)
    assert (row["rows"], row["measured"], row["held"]) == (3, 2, 2)
    assert row["verdict"] == REPRODUCED and row["p"] == pytest.approx(0.03)  # the largest p
    # the null fails one of its rows, so it fails the hypothesis: the hypothesis discriminates
    assert row["null_verdict"] == NOT_REPRODUCED and row["evidence"] == DISCRIMINATES


def test_one_failing_row_fails_the_hypothesis():
    rows = [("correction_improves", REPRODUCED, REPRODUCED, 0.01),
            ("correction_improves", NOT_REPRODUCED, REPRODUCED, 0.2)]  # fmt: skip
    row = judged(rows)
    assert row["verdict"] == NOT_REPRODUCED and row["held"] == 1 and row["evidence"] == ""


def test_a_hypothesis_the_null_also_holds_does_not_discriminate():
    rows = [("background_wider", REPRODUCED, REPRODUCED, math.nan)] * 2
    row = judged(rows, "background_wider")
    assert row["verdict"] == REPRODUCED and math.isnan(row["p"]) and row["evidence"] == DOES_NOT_DISCRIMINATE


def test_without_a_null_or_a_measured_row():
    row = judged([("models_learn", REPRODUCED, NOT_RUN, math.nan)], "models_learn")
    assert row["verdict"] == REPRODUCED and row["evidence"] == NO_NULL
    row = judged([("models_learn", NOT_RUN, NOT_RUN, math.nan)], "models_learn")
    assert row["verdict"] == NOT_RUN and row["measured"] == 0 and row["test"] == ""
    untested = judged([], "penalty_flattens")
    assert untested["rows"] == 0 and untested["verdict"] == NOT_RUN
