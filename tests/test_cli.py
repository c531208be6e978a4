import h5py
import numpy as np
import pytest
from conftest import random_onehot, small_cnn
from simplexgrad import cli, correct
from simplexgrad.attribution import saliency
from simplexgrad.io import atomic_output, load_attributions, load_split


@pytest.fixture
def dataset(tmp_path, rng):
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as handle:
        for split, n in [("train", 6), ("valid", 4), ("test", 10)]:
            handle[f"x_{split}"] = random_onehot(rng, n, 30)
            handle[f"y_{split}"] = (np.arange(n) % 2).astype(np.float32)[:, None]
    return path


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.keras"
    small_cnn(seed=3).save(path)
    return path


def test_attribute_writes_raw_and_corrected_maps(tmp_path, dataset, model_file):
    out = tmp_path / "attr" / "saliency.npz"
    code = cli.main(
        [
            "attribute",
            "--model",
            str(model_file),
            "--data",
            str(dataset),
            "--out",
            str(out),
            "--method",
            "saliency",
            "--positives-only",
            "--num-seqs",
            "3",
        ]
    )
    assert code == 0
    result = load_attributions(out)
    split = load_split(dataset, "test")
    np.testing.assert_array_equal(result["indices"], [1, 3, 5])
    np.testing.assert_array_equal(result["x"], split.x[[1, 3, 5]])
    expected = saliency(small_cnn(seed=3), split.x[[1, 3, 5]])
    np.testing.assert_allclose(result["raw"], expected, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(result["corrected"], correct(result["raw"]), atol=1e-7)
    assert result["params"]["method"] == "saliency"
    assert result["params"]["output"] == "probability"


def test_attribute_failure_leaves_no_output(tmp_path, dataset):
    out = tmp_path / "saliency.npz"
    code = cli.main(
        [
            "attribute",
            "--model",
            str(tmp_path / "missing.keras"),
            "--data",
            str(dataset),
            "--out",
            str(out),
            "--method",
            "saliency",
        ]
    )
    assert code == 2
    assert list(tmp_path.glob("saliency*")) == []


def test_atomic_output_removes_partial_files(tmp_path):
    target = tmp_path / "table.tsv"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with atomic_output(target) as temporary:
        temporary.write_text("whole")
    assert target.read_text() == "whole"


def test_load_split_refuses_missing_keys_and_bad_layouts(tmp_path):
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as handle:
        handle["x_test"] = np.zeros((3, 4, 30), np.float32)
        handle["y_test"] = np.zeros((3, 1), np.float32)
    with pytest.raises(ValueError, match="x_train"):
        load_split(path, "train")
    with pytest.raises(ValueError, match=r"\(N, L, A\)"):
        load_split(path, "test", alphabet_size=4)
