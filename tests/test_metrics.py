import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simplexgrad.metrics import (
    aupr_per_row,
    auroc_per_row,
    average_ranks,
    cosine_similarity,
    ensemble_average,
    ensemble_difference_by_angle,
    grad_times_input,
    information_content,
    interpretability_auc,
    positionwise_improvement,
)
from sklearn.metrics import auc, precision_recall_curve, roc_auc_score

UNIFORM = [0.25, 0.25, 0.25, 0.25]


def test_information_content_hand_cases():
    model = np.array([[UNIFORM, [1, 0, 0, 0], [0.5, 0.5, 0, 0], [0.5, 0.25, 0.25, 0]]])
    np.testing.assert_allclose(information_content(model), [[0.0, 2.0, 1.0, 0.5]], atol=1e-12)


def test_grad_times_input_picks_the_observed_letter():
    attributions = np.arange(8, dtype=float).reshape(1, 2, 4)
    x = np.array([[[0, 0, 1, 0], [1, 0, 0, 0]]], dtype=float)
    np.testing.assert_allclose(grad_times_input(attributions, x), [[2.0, 4.0]])


def test_cosine_similarity_hand_case():
    model = np.array([[UNIFORM, [1, 0, 0, 0]], [UNIFORM, UNIFORM]])
    # Truth minus 0.25 is (0.75, -0.25, -0.25, -0.25) at position 2 of sequence 1, zero elsewhere.
    attributions = np.zeros((2, 2, 4))
    attributions[0, 1] = [3, -1, -1, -1]
    attributions[0, 0] = [5, 0, 0, 0]  # background attribution lowers the cosine
    attributions[1, 0] = [1, 0, 0, 0]
    expected_first = (3 * 0.75 + 3 * 0.25) / (np.sqrt(12 + 25) * np.sqrt(0.75))
    result = cosine_similarity(attributions, model)
    assert result[0] == pytest.approx(expected_first)
    assert np.isnan(result[1])  # no motif: undefined, not 0


def test_auc_hand_case():
    scores = np.array([[0.9, 0.8, 0.1, 0.7, 0.0, 0.2]])
    positive = np.array([[True, False, False, True, False, False]])
    negative = np.array([[False, True, True, False, True, True]])
    # Positives 0.9, 0.7 vs negatives 0.8, 0.1, 0.0, 0.2: 7 of 8 pairs ordered correctly.
    assert auroc_per_row(scores, positive, negative)[0] == pytest.approx(7 / 8)
    # PR points: (0, 1) -> (0.5, 1) -> (0.5, 0.5) -> (1, 2/3): area 0.5 + 0 + 0.5 * (0.5 + 2/3) / 2.
    assert aupr_per_row(scores, positive, negative)[0] == pytest.approx(0.5 + 0.5 * (0.5 + 2 / 3) / 2)


def test_average_ranks_hand_case():
    values = np.array([[3.0, 1.0, 3.0, np.inf, 2.0, 3.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    expected = [[4.0, 1.0, 4.0, 6.0, 2.0, 4.0], [3.5] * 6]  # tied 3s share ranks 3, 4, 5
    np.testing.assert_array_equal(average_ranks(values), expected)
    with pytest.raises(ValueError, match="NaN"):
        average_ranks(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match=r"\(N, L\)"):
        average_ranks(np.zeros(3))


@settings(deadline=None, max_examples=80)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.integers(1, 6))
def test_average_ranks_are_scipys_average_ranks(seed, length, distinct):
    from scipy.stats import rankdata

    rng = np.random.default_rng(seed)
    values = rng.integers(0, distinct, size=(4, length)).astype(np.float64)  # few values: many ties
    values[rng.uniform(size=values.shape) < 0.1] = np.inf
    np.testing.assert_array_equal(average_ranks(values), rankdata(values, axis=1))


@settings(deadline=None, max_examples=60)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(2, 60),
    st.sampled_from(["continuous", "ties"]),
)
def test_auroc_and_aupr_agree_with_sklearn(seed, length, kind):
    rng = np.random.default_rng(seed)
    rows = 5
    scores = rng.normal(size=(rows, length))
    if kind == "ties":
        scores = np.round(scores)
    label = rng.integers(0, 3, size=(rows, length))  # 0 negative, 1 positive, 2 left out
    positive, negative = label == 1, label == 0
    ours_roc = auroc_per_row(scores, positive, negative)
    ours_pr = aupr_per_row(scores, positive, negative)
    for row in range(rows):
        keep = positive[row] | negative[row]
        truth, values = positive[row][keep], scores[row][keep]
        if truth.all() or not truth.any():
            assert np.isnan(ours_roc[row]) and np.isnan(ours_pr[row])
            continue
        assert ours_roc[row] == pytest.approx(roc_auc_score(truth, values), abs=1e-12)
        precision, recall, _ = precision_recall_curve(truth, values)
        assert ours_pr[row] == pytest.approx(auc(recall, precision), abs=1e-12)


def test_interpretability_auc_perfect_and_reversed_maps():
    model = np.full((1, 6, 4), 0.25)
    model[0, 1:3] = [1, 0, 0, 0]  # motif positions
    model[0, 3] = [0.26, 0.25, 0.25, 0.24]  # low information: left out
    x = np.zeros((1, 6, 4))
    x[0, :, 0] = 1
    attributions = np.zeros((1, 6, 4))
    attributions[0, 1:3, 0] = 1.0
    attributions[0, 3, 0] = 5.0  # ignored position with a high score
    auroc, aupr = interpretability_auc(attributions, x, model)
    assert auroc[0] == 1.0 and aupr[0] == 1.0
    auroc, _ = interpretability_auc(-attributions, x, model)
    assert auroc[0] == 0.0


def test_positionwise_improvement_hand_case():
    model = np.array([[[1.0, 0, 0, 0], UNIFORM]])
    raw = np.array([[[4.0, 0, 0, 0], [1.0, 1, 1, 1]]])
    corrected = raw - raw.mean(axis=-1, keepdims=True)
    improvement = positionwise_improvement(raw, corrected, model)
    # Corrected (3, -1, -1, -1) is parallel to the truth (0.75, -0.25, -0.25, -0.25): cosine 1;
    # raw (4, 0, 0, 0) has cosine 0.75 / sqrt(0.75) = sqrt(0.75).
    assert improvement[0, 0] == pytest.approx(1 - np.sqrt(0.75))
    assert np.isnan(improvement[0, 1])


def test_ensemble_difference_by_angle_by_hand():
    # Two members, one sequence of two positions. Position 0: member 1 leans +70.9 degrees off the simplex,
    # member 2 is the normal direction (-90 degrees); position 1 lies on the simplex for both (0 degrees).
    member_1 = np.array([[[2.0, 1, 1, 1], [1, -1, 0, 0]]])
    member_2 = np.array([[[-1.0, -1, -1, -1], [0, 0, 1, -1]]])
    table = ensemble_difference_by_angle([member_1, member_2]).set_index("bin_low")
    assert len(table) == 36 and table["zero_gradient_positions"].eq(0).all()
    # mean = ((0.5, 0, 0, 0), (0.5, -0.5, 0.5, -0.5)); member 1 at position 0: |s - mean| = sqrt(5.25),
    # |corr(s) - mean| = |(0.25, -0.25, -0.25, -0.25)| = 0.5; member 2: sqrt(5.25) and |0 - mean| = 0.5.
    for low in (70.0, -90.0):
        assert table.loc[low, "positions"] == 1
        assert table.loc[low, "raw_l2"] == pytest.approx(np.sqrt(5.25))
        assert table.loc[low, "corrected_l2"] == pytest.approx(0.5)
        assert table.loc[low, "reduction_percent"] == pytest.approx(100 * (1 - 0.5 / np.sqrt(5.25)))
    # On the simplex the correction changes nothing: both distances are 1 and the reduction is 0.
    assert table.loc[0.0, "positions"] == 2
    assert table.loc[0.0, ["raw_l2", "corrected_l2", "reduction_percent"]].tolist() == pytest.approx(
        [1, 1, 0]
    )
    empty = table["positions"] == 0
    assert empty.sum() == 33 and table.loc[empty, "reduction_percent"].isna().all()


def test_ensemble_difference_is_a_ratio_of_bin_means_and_skips_zero_gradients(rng):
    members = rng.normal(size=(3, 5, 20, 4))
    members[0, 0, :4] = 0.0  # zero gradients (max-pooling): no angle, left out
    table = ensemble_difference_by_angle(members, bins=np.array([-90.0, -30.0, 0.0, 30.0, 90.0]))
    mean = members.mean(axis=0)
    angles = np.degrees(np.arcsin(members.sum(-1) / 2 / np.maximum(np.linalg.norm(members, axis=-1), 1e-300)))
    raw = np.linalg.norm(members - mean, axis=-1)
    corrected = np.linalg.norm(members - members.mean(-1, keepdims=True) - mean, axis=-1)
    has_angle = np.linalg.norm(members, axis=-1) > 0
    assert table["zero_gradient_positions"].iloc[0] == 4
    for row in table.itertuples():
        inside = has_angle & (angles >= row.bin_low) & (angles < row.bin_high if row.bin_high < 90 else True)
        assert row.positions == inside.sum()
        expected = 100 * (raw[inside].mean() - corrected[inside].mean()) / raw[inside].mean()
        assert row.reduction_percent == pytest.approx(expected)
    np.testing.assert_allclose(ensemble_average(members), mean)
    np.testing.assert_allclose(ensemble_average(list(members)), mean)


def test_the_geometric_baseline_is_the_members_own_norm_reduction(rng):
    members = rng.normal(size=(3, 5, 20, 4))
    table = ensemble_difference_by_angle(members, bins=np.array([-90.0, 0.0, 90.0]))
    angles = np.arcsin(members.sum(-1) / 2 / np.linalg.norm(members, axis=-1))
    norms = np.linalg.norm(members, axis=-1)
    for row in table.itertuples():
        inside = (np.degrees(angles) >= row.bin_low) & (np.degrees(angles) <= row.bin_high)
        assert row.member_l2 == pytest.approx(norms[inside].mean())
        # |correct(s)| = |s| cos(angle)
        assert row.member_corrected_l2 == pytest.approx((norms * np.cos(angles))[inside].mean())
        assert row.geometric_percent == pytest.approx(100 * (1 - row.member_corrected_l2 / row.member_l2))


def test_members_that_learned_nothing_in_common_sit_on_the_baseline_and_agreeing_ones_above(rng):
    shape = (50, 20, 50, 4)  # 50 members, as the paper's in vivo ensembles
    noise = rng.normal(size=shape)  # isotropic: no agreement on or off the simplex
    alone = ensemble_difference_by_angle(noise, bins=np.array([-90.0, 90.0])).iloc[0]
    assert abs(alone["reduction_percent"] - alone["geometric_percent"]) < 1.0
    shared = rng.normal(size=shape[1:])
    shared -= shared.mean(axis=-1, keepdims=True)  # members agree on the simplex only
    agreeing = ensemble_difference_by_angle(3 * shared + noise, bins=np.array([-90.0, 90.0])).iloc[0]
    assert agreeing["reduction_percent"] > agreeing["geometric_percent"] + 10


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 4))
def test_no_reduction_when_every_member_lies_on_the_simplex(seed, members):
    maps = np.random.default_rng(seed).normal(size=(members, 2, 6, 4))
    maps -= maps.mean(axis=-1, keepdims=True)
    table = ensemble_difference_by_angle(maps)
    filled = table["positions"] > 0
    np.testing.assert_allclose(table.loc[filled, "reduction_percent"], 0.0, atol=1e-9)
    np.testing.assert_allclose(table.loc[filled, "raw_l2"], table.loc[filled, "corrected_l2"])


@pytest.mark.parametrize(
    "call",
    [
        lambda: cosine_similarity(np.zeros((2, 10, 4)), np.zeros((2, 4, 10))),
        lambda: interpretability_auc(np.zeros((2, 10)), np.zeros((2, 10)), np.zeros((2, 10))),
        lambda: positionwise_improvement(np.zeros((1, 3, 4)), np.zeros((1, 3, 4)), np.zeros((1, 4, 3))),
        lambda: ensemble_difference_by_angle([np.zeros((2, 3, 4)), np.zeros((2, 4, 3))]),
    ],
)
def test_bad_layouts_name_the_expected_shape(call):
    with pytest.raises(ValueError, match=r"\(N, L, A\)|same shape as"):
        call()


def test_overlapping_masks_are_refused():
    with pytest.raises(ValueError, match="overlap"):
        auroc_per_row(np.zeros((1, 3)), np.ones((1, 3), bool), np.ones((1, 3), bool))


def test_bins_must_increase():
    with pytest.raises(ValueError, match="increasing"):
        ensemble_difference_by_angle(np.ones((1, 1, 2, 4)), bins=np.array([0.0, -10.0]))
