import os
import textwrap

import numpy as np
import pytest
import simplexgrad.attribution._points as machinery
from conftest import random_onehot, run_with_jax, small_cnn
from simplexgrad import correct
from simplexgrad.attribution import (
    expected_gradients,
    integrated_gradients,
    saliency,
    shuffled_references,
    smoothgrad,
)
from simplexgrad.attribution._points import distinct_points, streamed_gradients
from simplexgrad.backend import input_gradient_function


def predict(model, x, unit=0):
    return np.asarray(model(x.astype(model.inputs[0].dtype), training=False))[:, unit].astype(np.float64)


def central_differences(model, x, unit=0, step=1e-5):
    """``(N, L, A)`` central finite differences of output ``unit`` at each position and letter."""
    numeric = np.empty_like(x)
    for position in range(x.shape[1]):
        for letter in range(x.shape[2]):
            bump = np.zeros_like(x)
            bump[:, position, letter] = step
            numeric[:, position, letter] = (
                predict(model, x + bump, unit) - predict(model, x - bump, unit)
            ) / (2 * step)
    return numeric


def test_saliency_matches_central_finite_differences(model64, rng):
    x = random_onehot(rng, 3, 30).astype(np.float64)
    grads = saliency(model64, x, batch_size=2)
    numeric = central_differences(model64, x)
    assert np.abs(numeric).max() > 1e-3  # the check is not vacuous
    np.testing.assert_allclose(grads, numeric, rtol=1e-4, atol=1e-7)


def test_each_unit_of_a_multi_task_model_has_its_own_gradient(rng):
    """One compiled function serves every unit (the unit is its argument): each unit's saliency is that
    unit's finite differences, and its logit gradient that over p (1 - p)."""
    model = small_cnn(dtype="float64", seed=5, units=3)
    x = random_onehot(rng, 3, 30).astype(np.float64)
    maps = []
    for unit in range(3):
        grads = saliency(model, x, class_index=unit)
        np.testing.assert_allclose(grads, central_differences(model, x, unit), rtol=1e-4, atol=1e-7)
        p = predict(model, x, unit)
        logit = saliency(model, x, class_index=unit, output="logit")
        np.testing.assert_allclose(logit * (p * (1 - p))[:, None, None], grads, rtol=1e-6, atol=1e-12)
        maps.append(grads)
    assert not np.allclose(maps[0], maps[1]) and not np.allclose(maps[1], maps[2])


def test_logit_gradient_is_probability_gradient_over_p_one_minus_p(model64, rng):
    x = random_onehot(rng, 4, 30)
    probability = saliency(model64, x)
    logit = saliency(model64, x, output="logit")
    p = predict(model64, x)
    np.testing.assert_allclose(probability, logit * (p * (1 - p))[:, None, None], rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("baseline", ["zeros", "uniform", "array"])
def test_integrated_gradients_are_complete_on_a_fine_path(model64, rng, baseline):
    x = random_onehot(rng, 3, 30)
    reference = {
        "zeros": np.zeros_like(x),
        "uniform": np.full_like(x, 0.25),
        "array": random_onehot(rng, 3, 30),
    }[baseline]
    argument = reference if baseline == "array" else baseline
    averaged = integrated_gradients(model64, x, baseline=argument, steps=400, batch_size=256)
    attributed = np.sum((x - reference) * averaged, axis=(1, 2))
    difference = predict(model64, x) - predict(model64, reference)
    assert np.abs(difference).max() > 1e-3
    np.testing.assert_allclose(attributed, difference, atol=2e-5, rtol=1e-3)


def test_shuffled_references_permute_positions(rng):
    x = random_onehot(rng, 5, 40)
    references = shuffled_references(x, 3, rng)
    assert references.shape == (5, 3, 40, 4)
    # Same letter composition, different order.
    np.testing.assert_array_equal(references.sum(axis=2), np.repeat(x.sum(axis=1)[:, None], 3, axis=1))
    assert not np.array_equal(references[:, 0], x)


def test_randomised_methods_do_not_depend_on_batch_size(model32, rng):
    x = random_onehot(rng, 70, 30)  # spans two query blocks
    for method, kwargs in [
        (integrated_gradients, {"steps": 4}),
        (smoothgrad, {"num_samples": 3}),
        (expected_gradients, {"num_references": 2, "steps": 3}),
    ]:
        small = method(model32, x, batch_size=7, seed=5, **kwargs)
        large = method(model32, x, batch_size=100, seed=5, **kwargs)
        np.testing.assert_allclose(small, large, rtol=1e-5, atol=1e-8, err_msg=method.__name__)
        again = method(model32, x, batch_size=7, seed=5, **kwargs)
        np.testing.assert_array_equal(small, again)
        other = method(model32, x, batch_size=7, seed=6, **kwargs)
        assert not np.allclose(small, other), method.__name__


def test_smoothgrad_without_noise_equals_saliency(model32, rng):
    x = random_onehot(rng, 9, 30)
    np.testing.assert_allclose(
        smoothgrad(model32, x, sigma=0.0, num_samples=4, batch_size=5),
        saliency(model32, x),
        rtol=1e-5,
        atol=1e-9,
    )


def test_expected_gradients_with_one_reference_is_shuffle_integrated_gradients(model32, rng):
    x = random_onehot(rng, 6, 30)
    np.testing.assert_allclose(
        expected_gradients(model32, x, num_references=1, steps=5, seed=3),
        integrated_gradients(model32, x, baseline="shuffle", steps=5, seed=3),
        rtol=1e-5,
        atol=1e-9,
    )


class _Doubling:
    """A gradient function (2 x) that records its batch sizes; ``fixed_shape`` as a backend's says."""

    def __init__(self, fixed_shape: bool):
        self.fixed_shape, self.sizes = fixed_shape, []

    def __call__(self, batch):
        self.sizes.append(len(batch))
        return 2 * batch


class _NoBar:
    def update(self, count):
        pass


@pytest.mark.parametrize("fixed_shape", [True, False])
def test_streamed_batches_run_across_blocks_and_only_the_last_is_padded(rng, fixed_shape):
    """Full batches taken across the blocks' boundaries; the last one padded only for a function that
    needs one shape (Keras on JAX), left short otherwise (torch, TensorFlow); each block's gradients in
    order, and only its rows when rows are given."""
    blocks = [rng.normal(size=(count, 3, 4)).astype(np.float32) for count in (5, 11, 2, 7)]
    rows = np.array([0, 2, 3, 6])
    stream = [(0, blocks[0]), (1, blocks[1]), (2, blocks[2], None), (3, blocks[3], rows)]
    gradient = _Doubling(fixed_shape)
    results = list(streamed_gradients(gradient, stream, total=22, batch_size=6, bar=_NoBar()))
    assert [key for key, _ in results] == [0, 1, 2, 3]
    for (_, grads), block in zip(results[:3], blocks):
        np.testing.assert_array_equal(grads, 2 * block)
    np.testing.assert_array_equal(results[3][1], 2 * blocks[3][rows])
    assert gradient.sizes == [6, 6, 6, 6 if fixed_shape else 4]  # 22 inputs


def test_tensorflow_gradients_take_any_batch_size_and_the_heap_setting_is_undone(model32, rng):
    """On TensorFlow a last, smaller batch is not padded (a second shape is traced once for all sizes);
    the glibc heap setting of an attribution call is undone when the outermost call ends, even on error."""
    assert input_gradient_function(model32).fixed_shape is False
    x = random_onehot(rng, 7, 30)
    np.testing.assert_allclose(saliency(model32, x, batch_size=3), saliency(model32, x), rtol=1e-5, atol=1e-9)
    with pytest.raises(RuntimeError), machinery.steady_heap(), machinery.steady_heap():
        assert machinery._heap_users == (2 if machinery._glibc() else 0)
        raise RuntimeError("stop")
    assert machinery._heap_users == 0


def test_repeated_points_are_found_bit_for_bit(rng):
    points = rng.normal(size=(9, 5, 4)).astype(np.float32)
    assert distinct_points(points) == (None, None)
    points[[3, 7]] = points[1]
    points[8] = points[5]
    points[4], points[6] = 0.0, -0.0  # equal as numbers, not in bits: not merged
    rows, inverse = distinct_points(points)
    np.testing.assert_array_equal(rows, [0, 1, 2, 4, 5, 6])
    np.testing.assert_array_equal(points[rows][inverse].view(np.uint32), points.view(np.uint32))
    nearly = points.copy()
    nearly[7, 0, 0] = np.nextafter(nearly[7, 0, 0], np.float32(np.inf))  # one ulp: a different point
    rows, inverse = distinct_points(nearly)
    np.testing.assert_array_equal(rows, [0, 1, 2, 4, 5, 6, 7])
    np.testing.assert_array_equal(nearly[rows][inverse], nearly)


def test_expected_gradients_evaluate_each_query_once_per_block(rng):
    """The query ends every one of its paths: one gradient serves all of them, and the map is that of
    a model called on every point."""
    model = small_cnn(seed=2)
    x = random_onehot(rng, 5, 30)
    options = {"num_references": 4, "steps": 3, "seed": 1}
    maps = expected_gradients(model, x, batch_size=1000, **options)
    np.testing.assert_allclose(
        maps, expected_gradients(model, x, batch_size=3, **options), rtol=1e-5, atol=1e-9
    )
    references = shuffled_references(x, 4, np.random.default_rng([1, 0]))
    by_reference = [
        integrated_gradients(model, x, baseline=references[:, r], steps=3, batch_size=1000) for r in range(4)
    ]
    np.testing.assert_allclose(maps, np.mean(by_reference, axis=0), rtol=1e-5, atol=1e-9)


def test_return_corrected(model32, rng):
    x = random_onehot(rng, 4, 30)
    raw, corrected = saliency(model32, x, return_corrected=True)
    assert raw.dtype == corrected.dtype == np.float32
    np.testing.assert_allclose(corrected, correct(raw))
    np.testing.assert_array_equal(raw, saliency(model32, x))


def test_wrong_layout_is_refused_with_the_expected_shape(model32, rng):
    x = random_onehot(rng, 4, 30)
    with pytest.raises(ValueError, match=r"\(N, 30, 4\)"):
        saliency(model32, np.transpose(x, (0, 2, 1)))
    with pytest.raises(ValueError, match=r"\(N, L, A\)"):
        saliency(model32, x[0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"class_index": 1}, "class_index"),
        ({"output": "odds"}, "output"),
    ],
)
def test_bad_arguments_are_refused(model32, rng, kwargs, message):
    with pytest.raises(ValueError, match=message):
        saliency(model32, random_onehot(rng, 2, 30), **kwargs)


def test_bad_method_parameters_are_refused(model32, rng):
    x = random_onehot(rng, 2, 30)
    with pytest.raises(ValueError, match="steps"):
        integrated_gradients(model32, x, steps=0)
    with pytest.raises(ValueError, match="baseline"):
        integrated_gradients(model32, x, baseline="random")
    with pytest.raises(ValueError, match=r"\(L, A\)"):
        integrated_gradients(model32, x, baseline=np.zeros((5, 4)))
    with pytest.raises(ValueError, match="sigma"):
        smoothgrad(model32, x, sigma=-1.0)
    with pytest.raises(ValueError, match="num_references"):
        expected_gradients(model32, x, num_references=0)


JAX_SALIENCY = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    sys.path.insert(0, sys.argv[3])
    from conftest import small_cnn
    from simplexgrad.attribution import saliency
    assert keras.backend.backend() == "jax"
    model, multi_task = small_cnn(), small_cnn(units=3)
    model.load_weights(sys.argv[1])
    multi_task.load_weights(sys.argv[1].replace("small.weights", "units3.weights"))
    x = np.load(sys.argv[2])
    np.save(sys.argv[2] + ".jax.npy", saliency(model, x, batch_size=3))
    for unit in (2, 0):  # one compiled function, called for a second unit
        np.save(sys.argv[2] + f".jax.unit{unit}.npy", saliency(multi_task, x, class_index=unit))
    """
)


@pytest.mark.slow
def test_tensorflow_and_jax_give_the_same_saliency(tmp_path, rng):
    model = small_cnn(seed=7)
    x = random_onehot(rng, 8, 30)
    weights = tmp_path / "small.weights.h5"
    model.save_weights(weights)
    multi_task = small_cnn(seed=8, units=3)
    multi_task.save_weights(tmp_path / "units3.weights.h5")
    inputs = tmp_path / "x.npy"
    np.save(inputs, x)
    here = os.path.dirname(__file__)
    run_with_jax(tmp_path / "jax_saliency.py", JAX_SALIENCY, weights, inputs, here, timeout=300)
    jax_grads = np.load(str(inputs) + ".jax.npy")
    tf_grads = saliency(model, x, batch_size=3)
    assert np.abs(tf_grads).max() > 1e-4
    np.testing.assert_allclose(jax_grads, tf_grads, rtol=1e-4, atol=1e-7)
    for unit in (0, 2):
        tf_unit = saliency(multi_task, x, class_index=unit)
        assert np.abs(tf_unit).max() > 1e-4
        np.testing.assert_allclose(np.load(f"{inputs}.jax.unit{unit}.npy"), tf_unit, rtol=1e-4, atol=1e-7)
    assert not np.allclose(np.load(f"{inputs}.jax.unit0.npy"), np.load(f"{inputs}.jax.unit2.npy"))


def test_cached_gradient_function_follows_weight_updates(rng):
    model = small_cnn(seed=11)
    x = random_onehot(rng, 5, 30)
    before = saliency(model, x)
    model.set_weights([w * 1.5 for w in model.get_weights()])
    after = saliency(model, x)
    fresh = small_cnn(seed=11)
    fresh.set_weights(model.get_weights())
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, saliency(fresh, x), rtol=1e-5, atol=1e-9)


JAX_THREADS = textwrap.dedent(
    """
    import os, sys
    import jax, jax.numpy as jnp
    from simplexgrad.backend import configure_threads

    if sys.argv[1] != "default":
        configure_threads(int(sys.argv[1]))
    product = jax.jit(lambda a: jnp.tanh(a @ a).sum())
    x = jnp.ones((1500, 1500))
    product(x).block_until_ready()  # compiled before the threads are counted

    def cpu_ticks():  # user time of each thread of this process (/proc/<pid>/task/<tid>/stat, field 14)
        ticks = {}
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/stat") as stat:
                ticks[tid] = int(stat.read().rsplit(")", 1)[1].split()[11])
        return ticks

    before = cpu_ticks()
    for _ in range(12):
        product(x).block_until_ready()
    spent = {tid: ticks - before.get(tid, 0) for tid, ticks in cpu_ticks().items()}
    total = sum(spent.values())
    print(sum(ticks > 0.2 * total for ticks in spent.values()), total)
    """
)


@pytest.mark.slow
@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs (Linux)"
)
def test_threads_limit_the_jax_compute_threads(tmp_path):
    """``configure_threads(1)`` leaves JAX one busy compute thread; by default a matrix product spreads
    over several (JAX ignores XLA's thread flags and sizes its pools from the CPU affinity)."""
    busy = {}
    for threads in ("default", "1"):
        stdout = run_with_jax(tmp_path / "threads.py", JAX_THREADS, threads, threads=None)
        busy[threads], total = map(int, stdout.split())
        assert total > 50, "too little work to count the threads"  # clock ticks: 10 ms each
    assert busy["1"] == 1 and busy["default"] >= 2, busy
