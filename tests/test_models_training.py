import json
import textwrap

import numpy as np
import pytest
from conftest import random_onehot, run_with_jax, small_cnn
from simplexgrad import simplex_angle
from simplexgrad.attribution import saliency
from simplexgrad.backend import load_model
from simplexgrad.data.synthetic import synthetic_dataset
from simplexgrad.io import load_split
from simplexgrad.training import TrainingConfig, evaluate, train, train_to_directory
from simplexgrad.training.models import build_model, cnn_deep, cnn_shallow
from simplexgrad.training.single import compile_model

# Hand counts for (200, 4) inputs, as in the authors' model_zoo: hidden convolutions and the hidden dense
# layer have a bias, each batch norm has 4 numbers per channel (2 trainable, 2 moving statistics), the
# output unit has 96 + 1.
SHALLOW = (19 * 4 + 1) * 24 + 4 * 24 + (3 * 24 + 1) * 48 + 4 * 48 + (2 * 48 + 1) * 96 + 4 * 96 + 97
DEEP = (
    (19 * 4 + 1) * 24
    + 4 * 24
    + (7 * 24 + 1) * 32
    + 4 * 32
    + (7 * 32 + 1) * 48
    + 4 * 48
    + (3 * 48 + 1) * 64
    + 4 * 64
    + (4 * 64 + 1) * 96
    + 4 * 96
    + 97
)


def test_parameter_counts_are_the_published_ones():
    assert (SHALLOW, DEEP) == (15_433, 53_161)


@pytest.mark.parametrize("activation", ["relu", "exponential"])
@pytest.mark.parametrize("builder, expected", [(cnn_shallow, SHALLOW), (cnn_deep, DEEP)])
def test_parameter_counts_and_output_shapes(builder, expected, activation):
    model = builder(activation=activation)
    assert model.count_params() == expected
    assert model.output_shape == (None, 1)
    assert model.get_layer(f"conv1_{activation}").activation.__name__ == activation
    prediction = np.asarray(model(np.zeros((3, 200, 4), np.float32)))
    assert prediction.shape == (3, 1) and np.all((prediction > 0) & (prediction < 1))


def test_first_layer_options_change_the_first_layer_only():
    wide = cnn_deep(first_layer_filters=30, first_layer_kernel_size=11)
    assert wide.get_layer("conv1").kernel.shape == (11, 4, 30)
    assert wide.get_layer("conv2").kernel.shape == (7, 30, 32)
    assert (
        wide.count_params()
        == DEEP - (19 * 4 + 1) * 24 - 4 * 24 - 7 * 24 * 32 + (11 * 4 + 1) * 30 + 4 * 30 + 7 * 30 * 32
    )


def test_init_stddev_sets_the_kernel_scale():
    small = np.asarray(cnn_deep(init_stddev=0.01).get_layer("conv2").kernel)
    large = np.asarray(cnn_deep(init_stddev=0.5).get_layer("conv2").kernel)
    he = np.asarray(cnn_deep().get_layer("conv2").kernel)
    assert small.std() == pytest.approx(0.01, rel=0.1)
    assert large.std() == pytest.approx(0.5, rel=0.1)
    assert he.std() == pytest.approx(np.sqrt(2 / (7 * 24)), rel=0.15)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: build_model("cnn_wide"), "cnn_wide"),
        (lambda: cnn_shallow(activation="tanh"), "activation"),
        (lambda: cnn_shallow(init_stddev=0.0), "init_stddev"),
        (lambda: TrainingConfig(epochs=0), "epochs"),
        (lambda: TrainingConfig(angle_penalty=-1.0), "angle_penalty"),
        (lambda: TrainingConfig(angle_penalty_mode="eval"), "angle_penalty_mode"),
    ],
)
def test_bad_model_options_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "small.h5"
    synthetic_dataset(path, num_seqs=3000, seed=2)
    return {name: load_split(path, name) for name in ("train", "valid", "test")}, path


def fit(data, **options):
    config = TrainingConfig(**{"architecture": "cnn_shallow", "epochs": 2, "seed": 0, **options})
    return train(config, data["train"].x, data["train"].y, data["valid"].x, data["valid"].y, verbose=0)


@pytest.mark.slow
def test_a_short_training_separates_the_classes(small_data):
    data, _ = small_data
    model, history = fit(data, architecture="cnn_deep", epochs=6)
    assert list(history.columns[:3]) == ["epoch", "auroc", "loss"] and len(history) == 6
    assert evaluate(model, data["test"].x, data["test"].y)["test_auroc"] > 0.7


@pytest.mark.slow
def test_same_seed_same_weights(small_data):
    data, _ = small_data
    first, _ = fit(data, seed=4)
    second, _ = fit(data, seed=4)
    other, _ = fit(data, seed=5)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(first.get_weights(), other.get_weights()))


@pytest.mark.slow
def test_the_default_angle_penalty_drives_the_angles_to_zero_at_a_similar_auroc(small_data):
    # The paper's claim for the authors' penalty (the default, training mode), on CNN-shallow-exp with
    # λ = 3e-3: mean |θ| at least 4x smaller at a test AUROC within 0.05 (issue 26). Measured here (3,000
    # sequences, 10 epochs, about 40 s): 26.5° -> 5.8° (4.6x), AUROC 0.722 -> 0.689. On 8,000 sequences
    # the angles reach 0.04° (benchmarks/angle_penalty_modes.py, which also runs the inference mode).
    data, _ = small_data
    options = {"activation": "exponential", "epochs": 10, "seed": 1}
    plain, _ = fit(data, **options)
    penalised, _ = fit(data, **options, angle_penalty=3e-3)
    assert TrainingConfig(angle_penalty=3e-3).angle_penalty_mode == "training"
    held_out = data["test"].x[data["test"].y[:, 0] == 1][:300]
    plain_angle = np.nanmean(np.abs(simplex_angle(saliency(plain, held_out), zero=np.nan)))
    penalised_angle = np.nanmean(np.abs(simplex_angle(saliency(penalised, held_out), zero=np.nan)))
    plain_auroc = evaluate(plain, data["test"].x, data["test"].y)["test_auroc"]
    penalised_auroc = evaluate(penalised, data["test"].x, data["test"].y)["test_auroc"]
    assert penalised_angle <= plain_angle / 4
    assert penalised_auroc > 0.65 and abs(penalised_auroc - plain_auroc) < 0.05


@pytest.mark.slow
def test_training_directory_and_save_load_round_trip(small_data, tmp_path):
    data, path = small_data
    out = tmp_path / "run"
    metrics = train_to_directory(path, out, TrainingConfig(architecture="cnn_shallow", epochs=2, seed=3))
    assert sorted(p.name for p in out.iterdir()) == ["history.tsv", "metrics.json", "model.keras"]
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert {"test_auroc", "test_aupr", "epochs_run", "seconds"} <= metrics.keys()
    assert metrics["first_layer_kernel_size"] == 19 and metrics["angle_penalty_mode"] == "training"
    loaded = load_model(out / "model.keras")
    assert loaded.get_layer("conv1").kernel.shape[0] == metrics["first_layer_kernel_size"]
    x = data["test"].x[:50]
    refit, _ = fit(data, seed=3)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(refit(x, training=False)))


JAX_TRAINING = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    from simplexgrad.io import load_split
    from simplexgrad.training import TrainingConfig, train
    assert keras.backend.backend() == "jax"
    tr, va = load_split(sys.argv[1], "train"), load_split(sys.argv[1], "valid")
    config = TrainingConfig(
        architecture="cnn_shallow", epochs=1, seed=0, angle_penalty=1e-2, init_stddev=0.05
    )
    model, history = train(config, tr.x[:500], tr.y[:500], va.x, va.y, verbose=0)
    finite = all(np.isfinite(w).all() for w in model.get_weights())
    print(json.dumps({"loss": float(history["loss"].iloc[0]), "finite": bool(finite)}))
    """
)


@pytest.mark.slow
def test_angle_penalty_and_init_options_train_on_jax(small_data, tmp_path):
    _, path = small_data
    stdout = run_with_jax(tmp_path / "jax_train.py", JAX_TRAINING, path)
    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["finite"] and np.isfinite(report["loss"])


def test_compiling_creates_the_optimizer_slots_so_fit_traces_its_step_once(rng):
    # A traced function that creates variables is traced twice by TensorFlow: Adam's slots created inside
    # fit's first step cost each training job a second trace of the training step.
    model = compile_model(small_cnn())
    assert model.optimizer.built and len(model.optimizer.variables) > 2 * len(model.trainable_variables)
    traces = []
    train_step = model.train_step
    model.train_step = lambda data: traces.append(1) or train_step(data)
    x, y = random_onehot(rng, 40, 30), rng.integers(0, 2, (40, 1)).astype("float32")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert len(traces) == 1
