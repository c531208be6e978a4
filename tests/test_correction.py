import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from simplexgrad import correct, large_angle_fraction, simplex_angle
from simplexgrad.correction import simplex_angle_ops

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def gradient_arrays(draw):
    """(N, L, A) float64 arrays with A from 2 (binary) to 20 (protein)."""
    shape = (draw(st.integers(1, 4)), draw(st.integers(1, 6)), draw(st.integers(2, 20)))
    return draw(arrays(np.float64, shape, elements=finite))


@given(gradient_arrays())
def test_corrected_maps_sum_to_zero(grads):
    scale = np.abs(grads).sum(axis=-1) + 1.0
    np.testing.assert_allclose(correct(grads, alphabet_size=None).sum(axis=-1) / scale, 0.0, atol=1e-12)


@given(gradient_arrays())
def test_correct_is_idempotent(grads):
    once = correct(grads, alphabet_size=grads.shape[-1])
    np.testing.assert_allclose(correct(once, alphabet_size=None), once, atol=1e-9 * (np.abs(grads).max() + 1))


@given(gradient_arrays())
def test_correction_is_the_orthogonal_projection(grads):
    alphabet = grads.shape[-1]
    normal = np.ones(alphabet) / np.sqrt(alphabet)
    corrected = correct(grads, alphabet_size=alphabet)
    removed = grads - corrected
    tol = 1e-9 * (np.abs(grads).max() + 1)
    np.testing.assert_allclose(corrected @ normal, 0.0, atol=tol)
    # The removed part is parallel to the normal: (g . n) n at every position.
    np.testing.assert_allclose(removed, (grads @ normal)[..., None] * normal, atol=tol)


@given(gradient_arrays())
def test_on_simplex_gradients_have_zero_angle(grads):
    corrected = correct(grads, alphabet_size=None)
    angles = simplex_angle(corrected, alphabet_size=None)
    in_plane = np.linalg.norm(corrected, axis=-1)
    # Only the rounding of the projection remains: |sin theta| <= relative error.
    assert np.all(np.abs(angles)[in_plane > 1e-6] < 1e-6)


@given(
    st.integers(2, 20),
    st.floats(1e-6, 1e6, allow_nan=False).flatmap(lambda s: st.sampled_from([s, -s])),
)
def test_gradients_along_the_normal_are_plus_minus_90(alphabet, scale):
    angle = simplex_angle(np.full((1, 1, alphabet), scale), alphabet_size=alphabet)
    assert angle.shape == (1, 1)
    assert angle[0, 0] == pytest.approx(np.sign(scale) * 90.0, abs=1e-12)


@given(gradient_arrays())
def test_angle_matches_arcsin_definition(grads):
    alphabet = grads.shape[-1]
    norms = np.linalg.norm(grads, axis=-1)
    keep = norms > 1e-6
    sine = grads.sum(axis=-1) / np.sqrt(alphabet) / np.where(keep, norms, 1.0)
    expected = np.degrees(np.arcsin(np.clip(sine, -1, 1)))
    angles = simplex_angle(grads, alphabet_size=alphabet)
    np.testing.assert_allclose(angles[keep], expected[keep], atol=1e-5)
    assert np.all(np.abs(angles) <= 90.0)


def test_known_angles_use_exact_pi():
    # g = (1, 0, 0, 0): sin theta = 1/2, theta = 30 degrees exactly.
    assert simplex_angle(np.array([1.0, 0.0, 0.0, 0.0])) == pytest.approx(30.0, abs=1e-12)
    # g = (1, 1, 0, 0): sin theta = 1/sqrt(2), 45 degrees; g = (1, 1, 1, 0): 60 degrees.
    assert simplex_angle(np.array([1.0, 1.0, 0.0, 0.0])) == pytest.approx(45.0, abs=1e-12)
    assert simplex_angle(np.array([1.0, 1.0, 1.0, 0.0])) == pytest.approx(60.0, abs=1e-12)
    assert simplex_angle(np.array([-1.0, 0.0, 0.0, 0.0])) == pytest.approx(-30.0, abs=1e-12)


def test_zero_gradient_has_zero_angle_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        angles = simplex_angle(np.zeros((3, 5, 4), dtype=np.float32))
    assert not np.isnan(angles).any()
    assert np.all(angles == 0.0)


def test_alphabet_axis_can_be_chosen():
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(3, 7, 4))
    channels_first = np.moveaxis(grads, -1, 1)
    np.testing.assert_allclose(simplex_angle(channels_first, axis=1), simplex_angle(grads))
    np.testing.assert_allclose(np.moveaxis(correct(channels_first, axis=1), 1, -1), correct(grads))


def test_integer_gradients_are_accepted():
    assert simplex_angle(np.array([2, 0, 0, 0])) == pytest.approx(30.0)


@pytest.mark.parametrize("bad", [np.float64(1.0), np.zeros((3, 1))])
def test_axes_that_cannot_hold_an_alphabet_are_refused(bad):
    with pytest.raises(ValueError, match="alphabet|scalar"):
        correct(bad)


def test_an_alphabet_axis_of_another_length_is_refused_naming_the_axis_to_pass():
    channels_first = np.zeros((3, 4, 200))
    for function in (correct, simplex_angle):
        with pytest.raises(ValueError, match=r"has 200 letters, not alphabet_size=4: pass axis=1"):
            function(channels_first)
    assert simplex_angle(channels_first, axis=1).shape == (3, 200)
    protein = np.ones((2, 5, 20))
    with pytest.raises(ValueError, match="alphabet_size=20 for an alphabet of 20 letters"):
        correct(protein)
    np.testing.assert_allclose(correct(protein, alphabet_size=20), 0.0)
    assert simplex_angle(protein, alphabet_size=20) == pytest.approx(90.0)


def test_out_of_range_axis_is_refused():
    with pytest.raises(ValueError, match="out of range"):
        simplex_angle(np.zeros((2, 4)), axis=2)


@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 30)), elements=st.floats(-90, 90)))
def test_large_angle_fractions_are_percentages(angles):
    fractions = large_angle_fraction(angles)
    assert fractions.shape == (angles.shape[0], 3)
    assert np.all((fractions >= 0) & (fractions <= 100))
    # Higher thresholds can only select fewer positions.
    assert np.all(np.diff(fractions, axis=1) <= 0)


def test_large_angle_fraction_hand_case():
    angles = np.array([[10.0, -35.0, 50.0, -70.0], [0.0, 0.0, 0.0, 89.0]])
    np.testing.assert_allclose(large_angle_fraction(angles), [[75.0, 50.0, 25.0], [25.0, 25.0, 25.0]])
    np.testing.assert_allclose(large_angle_fraction(angles, thresholds=(-60,)), [[25.0], [25.0]])


def test_large_angle_fraction_refuses_wrong_layout():
    with pytest.raises(ValueError, match=r"\(N, L\)"):
        large_angle_fraction(np.zeros((2, 3, 4)))


@settings(deadline=None, max_examples=25)
@given(gradient_arrays())
def test_differentiable_twin_matches_numpy(grads):
    from keras import ops

    grads = grads.astype(np.float64)
    twin = ops.convert_to_numpy(simplex_angle_ops(ops.convert_to_tensor(grads)))
    in_plane = np.linalg.norm(correct(grads, alphabet_size=None), axis=-1)
    keep = in_plane > 1e-3  # the twin's epsilon only matters for (near-)zero in-plane norms
    np.testing.assert_allclose(twin[keep], simplex_angle(grads, alphabet_size=None)[keep], atol=1e-4)


def test_differentiable_twin_has_finite_gradients_at_zero():
    import tensorflow as tf

    grads = tf.Variable(np.zeros((2, 3, 4), dtype=np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(simplex_angle_ops(grads)))
    derivative = tape.gradient(loss, grads).numpy()
    assert np.isfinite(derivative).all()
