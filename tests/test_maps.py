"""Maps from other tools: `simplexgrad correct` in every format and layout, its refusals, and
`simplexgrad angles` on a multi-task model."""

import h5py
import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from conftest import random_onehot
from simplexgrad import cli, correct
from simplexgrad.attribution.maps import correct_file, read_array
from simplexgrad.correction import angle_statistics
from simplexgrad.studies.model_angles import angles


@pytest.fixture
def maps(rng):
    return rng.normal(size=(5, 12, 4)).astype(np.float32)


def write(path, array, key="arr_0", extra=None):
    if path.suffix == ".npy":
        np.save(path, array)
    elif path.suffix == ".npz":
        np.savez(path, **{key: array, **(extra or {})})
    else:
        with h5py.File(path, "w") as handle:
            handle.create_dataset(key, data=array)
            for name, value in (extra or {}).items():
                handle.create_dataset(name, data=value)
    return path


@pytest.mark.parametrize(
    "suffix, key", [(".npy", None), (".npz", None), (".npz", "hyp"), (".h5", "maps/hyp")]
)
@pytest.mark.parametrize("layout", ["NLA", "NAL"])
def test_correct_round_trips_every_format_and_layout(tmp_path, maps, suffix, key, layout):
    stored = maps if layout == "NLA" else np.swapaxes(maps, 1, 2)
    extra = {"other": np.arange(3)} if suffix != ".npy" and key else None
    source = write(tmp_path / f"in{suffix}", stored, key or "arr_0", extra)
    out = tmp_path / f"out{suffix}"
    arguments = ["correct", "--in", str(source), "--out", str(out), "--layout", layout]
    assert cli.main([*arguments, *(["--key", key] if key else [])]) == 0
    corrected, _ = read_array(out, key)
    assert corrected.shape == stored.shape and corrected.dtype == np.float32
    axis = 2 if layout == "NLA" else 1
    np.testing.assert_allclose(corrected, correct(stored, axis=axis), atol=1e-6)
    np.testing.assert_allclose(corrected.sum(axis=axis), 0.0, atol=1e-5)
    if extra:
        np.testing.assert_array_equal(read_array(out, "other")[0], np.arange(3))


def test_correct_reports_per_sequence_angles(tmp_path, maps):
    source = write(tmp_path / "in.npy", maps)
    report = tmp_path / "angles.tsv"
    table = correct_file(str(source), str(tmp_path / "out.npy"), report=str(report))
    written = pd.read_csv(report, sep="\t")
    assert written.columns.tolist() == [
        "sequence", "mean_abs_angle", "percent_above_30", "percent_above_45", "percent_above_60",
        "zero_gradient_percent", "removed_norm_fraction",
    ]  # fmt: skip
    expected = angle_statistics(maps)
    np.testing.assert_allclose(table["removed_norm_fraction"], expected["removed_norm_fraction"])
    removed = 1 - (correct(maps.astype(np.float64)) ** 2).sum(axis=(1, 2)) / (
        maps.astype(np.float64) ** 2
    ).sum(axis=(1, 2))
    np.testing.assert_allclose(written["removed_norm_fraction"], removed, rtol=1e-5)


@pytest.mark.parametrize(
    "make, options, message",
    [
        (lambda m: m[0], [], "must be 3-D"),
        (lambda m: m, ["--layout", "NAL"], "alphabet axis"),
        (lambda m: np.where(m > 1.5, np.nan, m), [], "NaN or inf"),
        (lambda m: np.concatenate([m, m], axis=2), ["--alphabet-size", "4"], "8"),
        (lambda m: m, ["--key", "missing"], "has no array 'missing'"),
    ],
)
def test_bad_maps_get_one_line_and_no_file(tmp_path, maps, caplog, make, options, message):
    source = write(tmp_path / "in.npz", make(maps))
    out = tmp_path / "out.npz"
    assert cli.main(["correct", "--in", str(source), "--out", str(out), *options]) == 2
    errors = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert len(errors) == 1 and message in errors[0] and str(source) in errors[0], errors
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.npz"]


def test_layout_that_contradicts_the_one_hot_is_refused(tmp_path, maps, rng):
    source = write(tmp_path / "maps.npz", np.swapaxes(maps, 1, 2))  # (N, 4, L), NAL
    one_hot = write(tmp_path / "x.npz", random_onehot(rng, 5, 12))  # (N, L, 4), NLA
    with pytest.raises(ValueError, match=r"x.npz has shape \(5, 12, 4\).*\(5, 4, 12\)"):
        correct_file(str(source), str(tmp_path / "out.npz"), layout="NAL", one_hot=str(one_hot))
    assert not (tmp_path / "out.npz").exists()


def test_protein_alphabet(tmp_path, rng):
    protein = rng.normal(size=(2, 7, 20))
    source = write(tmp_path / "p.npy", protein)
    correct_file(str(source), str(tmp_path / "c.npy"), alphabet_size=20)
    np.testing.assert_allclose(np.load(tmp_path / "c.npy").sum(axis=2), 0.0, atol=1e-9)


def multitask_model(length=30, outputs=200):
    import keras

    keras.utils.set_random_seed(1)
    inputs = keras.Input((length, 4))
    hidden = keras.layers.Conv1D(8, 5, padding="same", activation="relu")(inputs)
    hidden = keras.layers.GlobalMaxPooling1D()(hidden)
    return keras.Model(inputs, keras.layers.Dense(outputs, activation="sigmoid")(hidden))


@pytest.mark.slow
def test_angles_of_a_multitask_model(tmp_path, rng):
    model = tmp_path / "basset_like.keras"
    multitask_model().save(model)
    x = random_onehot(rng, 6, 30)
    data = write(tmp_path / "x.npz", np.swapaxes(x, 1, 2), key="ohe")  # tangermeme's (N, 4, L)
    out = tmp_path / "angles.tsv"
    code = cli.main(
        ["angles", "--model", str(model), "--data", str(data), "--layout", "NAL", "--out", str(out),
         "--out-pdf", str(tmp_path / "a.pdf"), "--out-png", str(tmp_path / "a.png"),
         "--class-index", "0", "7", "199", "--output", "logit"]
    )  # fmt: skip
    assert code == 0
    table = pd.read_csv(out, sep="\t")
    assert sorted(table["class_index"].unique()) == [0, 7, 199] and len(table) == 3 * 6
    assert np.ptp(matplotlib.image.imread(tmp_path / "a.png")[..., :3]) > 0
    all_units = angles(str(model), str(tmp_path / "all.tsv"), str(tmp_path / "b.pdf"),
                       str(tmp_path / "b.png"), data=str(data), layout="NAL", num_seqs=2)  # fmt: skip
    assert sorted(all_units["class_index"].unique()) == list(range(200)) and len(all_units) == 400
    with pytest.raises(ValueError, match="200 output units"):
        angles(str(model), str(tmp_path / "c.tsv"), str(tmp_path / "c.pdf"),
               str(tmp_path / "c.png"), data=str(data), layout="NAL", class_index=[200])  # fmt: skip
