"""Our CNNs against an independent build of the authors' model_zoo layers: their weights files load by
order and give the same predictions, and `import-weights` refuses a file of another architecture."""

import re

import numpy as np
import pytest
from conftest import random_onehot
from simplexgrad import cli
from simplexgrad.backend import load_model
from simplexgrad.training.models import build_model, import_weights

# The authors' cnn_deep / cnn_shallow (Keras 2, tensorflow.keras), transcribed from their description:
# (filters, kernel, dropout, pool) per convolution block; the first block's activation is the study's.
AUTHORS_BLOCKS = {
    "cnn_deep": [(None, None, 0.1, None), (32, 7, 0.2, 4), (48, 7, 0.3, 4), (64, 3, 0.4, 3)],
    "cnn_shallow": [(None, None, 0.1, 50), (48, 3, 0.2, 2)],
}


def authors_model(architecture, activation, filters=24, kernel_size=19):
    """Keras defaults everywhere the authors used them: biases, glorot output, separate sigmoid."""
    import keras

    l2 = keras.regularizers.l2(1e-6)
    inputs = keras.layers.Input(shape=(200, 4))
    hidden = inputs
    for index, (width, kernel, dropout, pool) in enumerate(AUTHORS_BLOCKS[architecture]):
        first = index == 0
        hidden = keras.layers.Conv1D(
            filters=filters if first else width,
            kernel_size=kernel_size if first else kernel,
            padding="same",
            kernel_regularizer=l2,
        )(hidden)
        hidden = keras.layers.BatchNormalization()(hidden)
        hidden = keras.layers.Activation(activation if first else "relu")(hidden)
        hidden = keras.layers.Dropout(dropout)(hidden)
        if pool:
            hidden = keras.layers.MaxPool1D(pool_size=pool)(hidden)
    hidden = keras.layers.Flatten()(hidden)
    hidden = keras.layers.Dense(96, kernel_regularizer=l2)(hidden)
    hidden = keras.layers.BatchNormalization()(hidden)
    hidden = keras.layers.Activation("relu")(hidden)
    hidden = keras.layers.Dropout(0.5)(hidden)
    outputs = keras.layers.Dense(1, activation="linear")(hidden)
    outputs = keras.layers.Activation("sigmoid")(outputs)
    return keras.Model(inputs=inputs, outputs=outputs)


def perturbed(model, seed):
    """Random weights everywhere, batch-norm statistics included, so that a mix-up cannot pass."""
    rng = np.random.default_rng(seed)
    model.set_weights(
        [
            (rng.uniform(0.5, 1.5, w.shape) if "variance" in v.path else rng.normal(0, 0.2, w.shape)).astype(
                np.float32
            )
            for v, w in zip(model.weights, model.get_weights())
        ]
    )
    return model


CASES = [
    ("cnn_deep", "relu", 19),
    ("cnn_deep", "exponential", 19),
    ("cnn_deep", "exponential", 11),  # the authors' released CNN-deep weights
    ("cnn_shallow", "relu", 19),
    ("cnn_shallow", "exponential", 19),
]


@pytest.mark.parametrize("architecture, activation, kernel_size", CASES)
def test_authors_weights_load_by_order_and_predict_the_same(tmp_path, architecture, activation, kernel_size):
    reference = perturbed(authors_model(architecture, activation, kernel_size=kernel_size), seed=1)
    assert (
        reference.count_params()
        == build_model(architecture, first_layer_kernel_size=kernel_size).count_params()
    )
    weights = tmp_path / "authors.h5"
    reference.save(weights)  # the legacy HDF5 layout that TF-Keras 2 wrote
    ours = import_weights(
        build_model(architecture, activation=activation, first_layer_kernel_size=kernel_size), weights
    )
    x = random_onehot(np.random.default_rng(0), 64, 200)
    np.testing.assert_allclose(
        np.asarray(ours(x, training=False)), np.asarray(reference(x, training=False)), rtol=1e-5, atol=1e-6
    )


def test_import_weights_command_writes_a_usable_model(tmp_path):
    reference = perturbed(authors_model("cnn_deep", "exponential", kernel_size=11), seed=2)
    weights = tmp_path / "cnn_deep_exp.h5"
    reference.save(weights)
    out = tmp_path / "imported" / "model.keras"
    code = cli.main(
        [
            "import-weights", "--weights", str(weights), "--architecture", "cnn_deep",
            "--activation", "exponential", "--first-layer-kernel-size", "11", "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    x = random_onehot(np.random.default_rng(3), 16, 200)
    np.testing.assert_allclose(
        np.asarray(load_model(out)(x, training=False)),
        np.asarray(reference(x, training=False)),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "options, message",
    [
        (["--architecture", "cnn_shallow"], "layers with weights"),
        (["--architecture", "cnn_deep"], r"layer 'conv1d.*\(11, 4, 24\).*\(19, 4, 24\)"),
    ],
)
def test_import_weights_names_the_layer_that_does_not_fit(tmp_path, caplog, options, message):
    weights = tmp_path / "deep_k11.h5"
    authors_model("cnn_deep", "relu", kernel_size=11).save(weights)
    out = tmp_path / "model.keras"
    code = cli.main(["import-weights", "--weights", str(weights), "--out", str(out), *options])
    assert code == 2
    assert not out.exists() and list(tmp_path.iterdir()) == [weights]
    errors = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert len(errors) == 1 and "\n" not in errors[0]
    assert re.search(message, errors[0])
