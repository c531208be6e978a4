"""PyTorch models in the attribution API, checked against captum, finite differences and Keras.

Scaling conventions compared here (see :func:`simplexgrad.attribution.integrated_gradients`): captum's
``Saliency(abs=False)`` is our saliency as is. Our integrated gradients are the path-averaged gradient
over ``steps + 1`` points, trapezoid weights summing to 1; captum's
``IntegratedGradients(method='riemann_trapezoid', n_steps=steps + 1)`` uses the same points
(``linspace(0, 1, n_steps)``) with weights ``1 / n_steps`` halved at both ends (they sum to
``steps / (steps + 1)``) and multiplies by ``x - x'``. So captum = ``(x - x') * ours * steps / (steps + 1)``.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients, Saliency
from conftest import random_onehot, small_cnn
from simplexgrad.attribution import (
    expected_gradients,
    integrated_gradients,
    saliency,
    shuffled_references,
    smoothgrad,
)
from simplexgrad.attribution.methods import QUERY_BLOCK
from torch import nn
from torch.nn import functional as F

LENGTH = 30
# One thread: these models are tiny, and with two OpenMP threads on shared CPU cores every small op waits
# for a descheduled thread (measured here: the same expected-gradients call 0.02 s vs 5 s).
torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients")


class TorchCNN(nn.Module):
    """``conftest.small_cnn`` in PyTorch (plus a dropout that eval mode must switch off).

    Takes ``(N, 4, L)`` inputs, or ``(N, L, 4)`` with ``channels_last=True`` (it then transposes first).
    """

    def __init__(self, outputs: int = 1, channels_last: bool = False, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.channels_last = channels_last
        self.conv = nn.Conv1d(4, 6, 5, padding=2)
        self.bn = nn.BatchNorm1d(6, eps=1e-3)  # Keras' epsilon
        self.pool = nn.AvgPool1d(3)
        self.hidden = nn.Linear(6 * (LENGTH // 3), 8)
        self.dropout = nn.Dropout(0.5)
        self.out = nn.Linear(8, outputs)
        with torch.no_grad():  # batch-norm statistics off their defaults, so that eval mode matters
            self.bn.running_mean.normal_(0, 0.1)
            self.bn.running_var.uniform_(0.5, 1.5)

    def forward(self, x):
        if self.channels_last:
            x = x.transpose(1, 2)
        hidden = torch.tanh(self.bn(F.softplus(self.conv(x))))
        hidden = self.pool(hidden).transpose(1, 2).flatten(1)  # flattened (L, C) as Keras does
        hidden = self.dropout(torch.tanh(self.hidden(hidden)))
        return torch.sigmoid(self.out(hidden))


class TwoHeads(nn.Module):
    """BPNet-style: profile logits ``(N, 2, L)`` and log counts ``(N, 1)`` from ``(N, 4, L)`` inputs."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.body = nn.Conv1d(4, 8, 7, padding=3)
        self.profile = nn.Conv1d(8, 2, 5, padding=2)
        self.counts = nn.Linear(8, 1)

    def forward(self, x):
        hidden = F.softplus(self.body(x))
        return self.profile(hidden), self.counts(hidden.mean(dim=-1))


def profile_score(outputs):
    """The docstring's BPNet example: profile logits weighted by their (detached) softmax, summed."""
    logits = outputs[0].reshape(len(outputs[0]), -1)
    weights = torch.softmax(logits, dim=-1).detach()
    return (logits * weights).sum(dim=-1)


def torch_copy(keras_model, channels_last: bool = False) -> TorchCNN:
    """A TorchCNN carrying the weights of a ``conftest.small_cnn``."""
    conv, bn, hidden, out = [layer.get_weights() for layer in keras_model.layers if layer.get_weights()]
    module = TorchCNN(channels_last=channels_last)
    tensors = {
        module.conv.weight: conv[0].transpose(2, 1, 0),
        module.conv.bias: conv[1],
        module.bn.weight: bn[0],
        module.bn.bias: bn[1],
        module.bn.running_mean: bn[2],
        module.bn.running_var: bn[3],
        module.hidden.weight: hidden[0].T,
        module.hidden.bias: hidden[1],
        module.out.weight: out[0].T,
        module.out.bias: out[1],
    }
    with torch.no_grad():
        for parameter, value in tensors.items():
            parameter.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return module


def nal(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.swapaxes(x, 1, 2))


@pytest.fixture(scope="module")
def module3():
    return TorchCNN(outputs=3).eval()


def test_saliency_equals_captum_and_keeps_training_flags(rng):
    module = TorchCNN(outputs=3).train()
    module.bn.eval()  # a mixed state, to be restored as it was
    x = nal(random_onehot(rng, 5, LENGTH))
    ours = saliency(module, x, class_index=2, layout="NAL")
    assert module.training and module.dropout.training and not module.bn.training
    np.testing.assert_array_equal(ours, saliency(module, x, class_index=2, layout="NAL"))  # no dropout
    module.eval()
    theirs = Saliency(module).attribute(torch.from_numpy(x), target=2, abs=False).numpy()
    assert ours.dtype == np.float32 and np.abs(theirs).max() > 1e-3
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9)
    batched = saliency(module, x, class_index=2, layout="NAL", batch_size=2)  # a padded last batch
    np.testing.assert_allclose(batched, theirs, rtol=1e-5, atol=1e-9)


def test_saliency_of_a_float64_module_matches_central_finite_differences(rng):
    module = TorchCNN(seed=1).double().eval()
    x = nal(random_onehot(rng, 3, LENGTH))
    step = 1e-5
    bumps = torch.eye(4 * LENGTH, dtype=torch.float64).reshape(-1, 4, LENGTH) * step
    inputs = torch.from_numpy(x).double()[:, None]
    with torch.no_grad():
        plus = module((inputs + bumps).reshape(-1, 4, LENGTH))[:, 0]
        minus = module((inputs - bumps).reshape(-1, 4, LENGTH))[:, 0]
    numeric = ((plus - minus) / (2 * step)).reshape(x.shape).numpy()
    assert np.abs(numeric).max() > 1e-3
    np.testing.assert_allclose(saliency(module, x, layout="NAL"), numeric, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("reference", ["zeros", "shuffle"])
def test_integrated_gradients_equal_captum_riemann_trapezoid(module3, rng, reference):
    x = random_onehot(rng, 4, LENGTH)
    baseline = np.zeros_like(x) if reference == "zeros" else shuffled_references(x, 1, rng)[:, 0]
    x, baseline = nal(x), nal(baseline)
    steps = 8
    ours = integrated_gradients(module3, x, baseline=baseline, steps=steps, class_index=1, layout="NAL")
    theirs = IntegratedGradients(module3).attribute(
        torch.from_numpy(x),
        baselines=torch.from_numpy(baseline),
        target=1,
        n_steps=steps + 1,
        method="riemann_trapezoid",
    )
    scaled = (x - baseline) * ours * steps / (steps + 1)
    assert np.abs(scaled).max() > 1e-4
    np.testing.assert_allclose(theirs.numpy(), scaled, rtol=1e-4, atol=1e-8)


def our_draws(x_nla: np.ndarray, draw, seed: int) -> np.ndarray:
    """What the averaged methods draw for queries (N, L, A): ``draw(block, rng)`` per block of
    ``QUERY_BLOCK`` queries with ``numpy.random.default_rng([seed, block])``."""
    blocks = range(0, len(x_nla), QUERY_BLOCK)
    return np.concatenate(
        [
            draw(x_nla[start : start + QUERY_BLOCK], np.random.default_rng([seed, i]))
            for i, start in enumerate(blocks)
        ]
    )


def test_smoothgrad_is_captum_saliency_averaged_over_the_same_noisy_points(module3, rng):
    """The maps as the definition gives them: the noise drawn per block of queries (two blocks here),
    each noisy point's gradient taken by captum, averaged; batches straddling the blocks change nothing."""
    x = random_onehot(rng, QUERY_BLOCK + 6, LENGTH)
    samples, sigma, seed = 3, 0.3, 2

    def noisy(block, block_rng):
        noise = block_rng.standard_normal((len(block), samples) + block.shape[1:], dtype=np.float32)
        return block[:, None] + np.float32(sigma) * noise

    points = nal(our_draws(x, noisy, seed).reshape((-1, LENGTH, 4))).reshape(len(x), samples, 4, LENGTH)
    gradients = Saliency(module3).attribute(
        torch.from_numpy(points.reshape(-1, 4, LENGTH)), target=1, abs=False
    )
    expected = gradients.numpy().reshape(points.shape).mean(axis=1)
    for batch_size in (7, 128, 1000):
        ours = smoothgrad(
            module3,
            nal(x),
            num_samples=samples,
            sigma=sigma,
            seed=seed,
            class_index=1,
            layout="NAL",
            batch_size=batch_size,
        )
        np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-8, err_msg=f"batch_size {batch_size}")


def test_expected_gradients_equal_captum_integrated_gradients_averaged_over_the_same_shuffles(module3, rng):
    """captum's IntegratedGradients(multiply_by_inputs=False) from each of the shuffled references our
    expected gradients draw, averaged: ours * steps / (steps + 1), as for integrated gradients."""
    x = random_onehot(rng, QUERY_BLOCK + 3, LENGTH)
    references, steps, seed = 3, 4, 5
    shuffles = our_draws(x, lambda block, block_rng: shuffled_references(block, references, block_rng), seed)
    theirs = IntegratedGradients(module3, multiply_by_inputs=False).attribute(
        torch.from_numpy(nal(np.repeat(x, references, axis=0))),
        baselines=torch.from_numpy(nal(shuffles.reshape(-1, LENGTH, 4))),
        target=2,
        n_steps=steps + 1,
        method="riemann_trapezoid",
    )
    theirs = theirs.numpy().reshape(len(x), references, 4, LENGTH).mean(axis=1)
    for batch_size in (6, 128):
        ours = expected_gradients(
            module3,
            nal(x),
            num_references=references,
            steps=steps,
            seed=seed,
            class_index=2,
            layout="NAL",
            batch_size=batch_size,
        )
        scaled = ours * steps / (steps + 1)
        assert np.abs(scaled).max() > 1e-4
        np.testing.assert_allclose(theirs, scaled, rtol=1e-4, atol=1e-8, err_msg=f"batch_size {batch_size}")


class Recorder(nn.Module):
    """A module that records the shape and contiguity of every batch it is given."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner, self.batches = inner, []

    def forward(self, x):
        self.batches.append((tuple(x.shape), x.is_contiguous()))
        return self.inner(x)


def test_torch_batches_run_on_across_blocks_unpadded_and_contiguous(module3, rng):
    """A module gets every batch contiguous in its layout (a transposed view would reach it in a slower
    memory format), full batches across the blocks of queries, and a last batch that is not padded."""
    x = nal(random_onehot(rng, QUERY_BLOCK + 6, LENGTH))
    recorder = Recorder(module3)
    options = {"baseline": "shuffle", "steps": 4, "seed": 1, "layout": "NAL", "batch_size": 48}
    ours = integrated_gradients(recorder, x, **options)
    total = len(x) * 5  # 350 points: 7 batches of 48 and one of 14
    sizes = [shape[0] for shape, _ in recorder.batches[1:]]  # the first is the probe on two inputs
    assert recorder.batches[0][0] == (2, 4, LENGTH)
    assert sizes == [48] * (total // 48) + [total % 48]
    assert all(contiguous for _, contiguous in recorder.batches)
    np.testing.assert_array_equal(ours, integrated_gradients(module3, x, **options))


def test_a_point_repeated_within_a_block_is_evaluated_once(module3, rng):
    """The shared baseline of integrated gradients is the first point of every path, and a query ends
    each of its expected-gradient paths: their gradients are taken once per block of queries. The maps
    stay those of the definition (the captum tests above check them with such baselines too)."""
    x = nal(random_onehot(rng, QUERY_BLOCK + 6, LENGTH))  # two blocks
    steps, references = 4, 3
    recorder = Recorder(module3)
    zeros = integrated_gradients(recorder, x, baseline="zeros", steps=steps, layout="NAL", batch_size=1000)
    evaluated = sum(shape[0] for shape, _ in recorder.batches[1:])
    assert evaluated == len(x) * (steps + 1) - (len(x) - 2)  # one baseline point per block
    explicit = integrated_gradients(module3, x, baseline=np.zeros((4, LENGTH)), steps=steps, layout="NAL")
    np.testing.assert_allclose(zeros, explicit, rtol=1e-6, atol=1e-9)
    recorder.batches.clear()
    options = {"num_references": references, "steps": steps, "seed": 3, "layout": "NAL"}
    expected = expected_gradients(recorder, x, batch_size=1000, **options)
    evaluated = sum(shape[0] for shape, _ in recorder.batches[1:])
    assert evaluated == len(x) * references * (steps + 1) - len(x) * (references - 1)
    np.testing.assert_allclose(
        expected, expected_gradients(module3, x, batch_size=7, **options), rtol=1e-5, atol=1e-8
    )


def test_keras_and_torch_copies_give_the_same_maps_in_both_layouts(rng):
    import keras

    keras_model = small_cnn(seed=3)
    x = random_onehot(rng, 6, LENGTH)
    options = {"num_references": 2, "steps": 4, "seed": 1}
    expected = {
        "saliency": saliency(keras_model, x),
        "expected_gradients": expected_gradients(keras_model, x, **options),
    }
    assert np.abs(expected["saliency"]).max() > 1e-4
    # The Keras model fed (N, A, L) through a Permute layer: the Keras side of layout='NAL'.
    inputs = keras.Input((4, LENGTH))
    keras_nal = keras.Model(inputs, keras_model(keras.layers.Permute((2, 1))(inputs)))
    keras_nal_map = saliency(keras_nal, nal(x), layout="NAL")
    np.testing.assert_allclose(keras_nal_map, nal(expected["saliency"]), rtol=1e-5, atol=1e-9)
    for layout, data, arrange in [("NLA", x, lambda a: a), ("NAL", nal(x), nal)]:
        module = torch_copy(keras_model, channels_last=layout == "NLA")
        got = {
            "saliency": saliency(module, data, layout=layout),
            "expected_gradients": expected_gradients(module, data, layout=layout, **options),
        }
        for method in expected:
            np.testing.assert_allclose(
                got[method], arrange(expected[method]), rtol=1e-4, atol=1e-7, err_msg=f"{method} {layout}"
            )


def test_nal_is_the_transpose_of_nla_and_corrections_sum_to_zero(rng):
    channels_first, channels_last = TorchCNN(seed=5), TorchCNN(seed=5, channels_last=True)
    x = random_onehot(rng, 5, LENGTH)
    baseline = np.full((LENGTH, 4), 0.25, dtype=np.float32)
    for method, options in [
        (saliency, {}),
        (integrated_gradients, {"steps": 3, "baseline": "shuffle"}),
        (integrated_gradients, {"steps": 3, "baseline": baseline}),
        (smoothgrad, {"num_samples": 3}),
    ]:
        nla_options, options = options, dict(options)
        if "baseline" in options and not isinstance(options["baseline"], str):
            options["baseline"] = baseline.T  # an array baseline is given in the layout too
        raw_nla, corrected_nla = method(channels_last, x, return_corrected=True, **nla_options)
        options["layout"] = "NAL"
        raw_nal, corrected_nal = method(channels_first, nal(x), return_corrected=True, **options)
        assert raw_nal.shape == (5, 4, LENGTH) and np.abs(raw_nla).max() > 1e-4
        np.testing.assert_allclose(raw_nal, nal(raw_nla), rtol=1e-5, atol=1e-9, err_msg=method.__name__)
        np.testing.assert_allclose(corrected_nla.sum(axis=2), 0, atol=1e-6)
        np.testing.assert_allclose(corrected_nal.sum(axis=1), 0, atol=1e-6)
        np.testing.assert_allclose(corrected_nal, nal(corrected_nla), rtol=1e-5, atol=1e-8)


def test_seeded_methods_on_torch_are_deterministic(module3, rng):
    x = nal(random_onehot(rng, 70, LENGTH))  # two query blocks
    methods = [(smoothgrad, {"num_samples": 3}), (expected_gradients, {"num_references": 2, "steps": 4})]
    for method, options in methods:
        first = method(module3, x, layout="NAL", seed=4, batch_size=50, **options)
        again = method(module3, x, layout="NAL", seed=4, batch_size=50, **options)
        np.testing.assert_array_equal(first, again)
        np.testing.assert_allclose(
            first, method(module3, x, layout="NAL", seed=4, batch_size=17, **options), rtol=1e-5, atol=1e-8
        )
        assert not np.allclose(first, method(module3, x, layout="NAL", seed=5, **options))


def test_target_explains_profile_and_counts_heads_as_captum_does(rng):
    module = TwoHeads().eval()
    x = nal(random_onehot(rng, 4, LENGTH))
    for score in [profile_score, lambda outputs: outputs[1][:, 0]]:
        ours = saliency(module, x, layout="NAL", target=score)
        theirs = Saliency(lambda inputs, score=score: score(module(inputs))).attribute(
            torch.from_numpy(x), abs=False
        )
        assert np.abs(ours).max() > 1e-4
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-5, atol=1e-8)


def test_target_is_shared_by_keras_models_too(rng):
    keras_model = small_cnn(seed=4)
    x = random_onehot(rng, 3, LENGTH)
    doubled = saliency(keras_model, x, target=lambda outputs: 2.0 * outputs[:, 0])
    np.testing.assert_allclose(doubled, 2.0 * saliency(keras_model, x), rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="one score per input"):
        saliency(keras_model, x, target=lambda outputs: outputs)


def test_bad_torch_inputs_are_refused(module3, rng):
    x = random_onehot(rng, 3, LENGTH)
    with pytest.raises(ValueError, match=r"class_index must be in \[0, 3\).*\(2, 3\)"):
        saliency(module3, nal(x), layout="NAL", class_index=3)
    # Wrong layout for the first layer: the error names the inputs' shape and what the layer takes.
    with pytest.raises(ValueError, match=r"\(2, 30, 4\).*Conv1d.*takes \(N, 4, L\)"):
        saliency(module3, x)
    with pytest.raises(ValueError, match="target="):
        saliency(TwoHeads(), nal(x), layout="NAL")
    with pytest.raises(ValueError, match=r"one score per input, shape \(2,\)"):
        saliency(TwoHeads(), nal(x), layout="NAL", target=lambda outputs: outputs[0])
    with pytest.raises(ValueError, match="output='logit'"):
        saliency(module3, nal(x), layout="NAL", output="logit")
    with pytest.raises(ValueError, match="layout must be"):
        saliency(module3, nal(x), layout="LNA")
    with pytest.raises(ValueError, match=r"\(N, A, L\)"):
        saliency(module3, nal(x)[0], layout="NAL")
    with pytest.raises(ValueError, match=r"\(A, L\)"):
        integrated_gradients(module3, nal(x), layout="NAL", baseline=np.zeros((LENGTH, 4)))
    with pytest.raises(ValueError, match="not one-hot"):
        saliency(module3, nal(x) * 2, layout="NAL")


KERAS_ON_TORCH = textwrap.dedent(
    """
    import sys
    import numpy as np
    import keras
    import torch
    sys.path.insert(0, sys.argv[3])
    from conftest import small_cnn
    from simplexgrad.attribution import saliency
    assert keras.backend.backend() == "torch"
    model = small_cnn()
    model.load_weights(sys.argv[1])
    assert isinstance(model, torch.nn.Module)
    x = np.load(sys.argv[2])
    maps = [saliency(model, x, batch_size=3), saliency(model, x, output="logit")]
    np.save(sys.argv[2] + ".torch.npy", np.stack(maps))
    """
)


@pytest.mark.slow
def test_a_keras_model_on_the_torch_backend_goes_through_torch(tmp_path, rng):
    model = small_cnn(seed=9)
    x = random_onehot(rng, 5, LENGTH)
    weights, inputs, script = tmp_path / "small.weights.h5", tmp_path / "x.npy", tmp_path / "run.py"
    model.save_weights(weights)
    np.save(inputs, x)
    script.write_text(KERAS_ON_TORCH)
    result = subprocess.run(
        [sys.executable, str(script), str(weights), str(inputs), os.path.dirname(__file__)],
        env={**os.environ, "KERAS_BACKEND": "torch", "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    probability, logit = np.load(str(inputs) + ".torch.npy")
    np.testing.assert_allclose(probability, saliency(model, x), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(logit, saliency(model, x, output="logit"), rtol=1e-4, atol=1e-7)


@pytest.mark.slow
def test_nothing_imports_torch_for_a_keras_model():
    code = (
        "import sys, numpy as np; sys.path.insert(0, sys.argv[1]);"
        "from conftest import small_cnn; from simplexgrad.attribution import saliency;"
        "saliency(small_cnn(), np.eye(4, dtype='float32')[np.zeros((2, 30), int)]);"
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, os.path.dirname(__file__)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
