import json
import time

import h5py
import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from simplexgrad import cli
from simplexgrad.data.motifs import (
    CORE_MOTIFS,
    core_and_background_pools,
    load_motifs,
    published_background_ids,
    read_motif_ids,
    reverse_complement,
)
from simplexgrad.data.synthetic import (
    MOTIF_COUNT_PROBABILITIES,
    MOTIF_COUNTS,
    billboard_dataset,
    plant_motifs,
    sample_onehot,
    synthetic_dataset,
)
from simplexgrad.io import load_split
from simplexgrad.metrics import information_content
from workflow_helpers import REPO

# The one copy of the published pool: package data of the library.
PUBLISHED_POOL = REPO / "workflow" / "simplexgrad" / "resources" / "published_background_motifs.tsv"


@pytest.fixture(scope="module")
def pools():
    return core_and_background_pools(CORE_MOTIFS, release="JASPAR2016")  # the default: published


@pytest.fixture(scope="module")
def full(pools):
    return billboard_dataset(*pools, num_seqs=20_000, length=200, seed=0)


def joined(dataset, key):
    return np.concatenate([dataset.splits[name][key] for name in ("train", "valid", "test")])


def test_pools_hold_the_core_motifs_and_reverse_complements(pools):
    core, background = pools
    assert [m.label for m in core] == [f"{i}{s}" for i in CORE_MOTIFS for s in "+-"]
    assert {m.name for m in core} == {"SP1", "Gabpa", "CEBPB", "MAX", "YY1"}
    assert len(background) == 110
    assert [m.label for m in background[:10]] == [m.label for m in core]
    assert len({m.matrix_id for m in background}) == 55
    for forward, reverse in zip(core[::2], core[1::2]):
        np.testing.assert_array_equal(reverse.pwm, reverse_complement(forward.pwm))
        np.testing.assert_allclose(forward.pwm.sum(axis=1), 1.0)


def test_reverse_complement_hand_case():
    pwm = np.array([[1.0, 0, 0, 0], [0, 0.5, 0.5, 0]])  # A then C/G
    np.testing.assert_array_equal(reverse_complement(pwm), [[0, 0.5, 0.5, 0], [0, 0, 0, 1.0]])


def test_the_default_pool_is_the_published_generators():
    # The 50 IDs of the authors' notebook (np.random.seed(22) draw), in its order; see docs/study.md.
    ids = published_background_ids()
    assert ids == read_motif_ids(PUBLISHED_POOL)
    assert len(ids) == 50 and len(set(ids)) == 50
    assert ids[:3] == ["MA0909.1", "MA0004.1", "MA0006.1"] and ids[-1] == "MA0593.1"
    assert not set(ids) & set(CORE_MOTIFS)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert config["synthetic"]["background_ids"] == "published"
    assert not (REPO / "resources" / PUBLISHED_POOL.name).exists()  # one copy only


def test_the_package_declares_the_pool_as_package_data():
    # A pip-installed (not editable) library finds the table only if the wheel carries it.
    import tomllib

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    package_root = REPO / "workflow" / "simplexgrad"
    shipped = {path for pattern in declared["simplexgrad"] for path in package_root.glob(pattern)}
    assert PUBLISHED_POOL in shipped


def test_published_pool_is_the_core_plus_those_50_on_both_strands(pools):
    core, background = pools
    ids = read_motif_ids(PUBLISHED_POOL)
    assert len(background) == 110
    assert [m.label for m in background] == [
        f"{i}{strand}" for i in [*CORE_MOTIFS, *ids] for strand in "+-"
    ]


def test_a_drawn_background_follows_the_seed(pools):
    _, drawn = core_and_background_pools(CORE_MOTIFS, "draw", 50, "JASPAR2016", seed=0)
    _, other = core_and_background_pools(CORE_MOTIFS, "draw", 50, "JASPAR2016", seed=1)
    assert len(drawn) == len(other) == 110
    assert [m.label for m in other] != [m.label for m in drawn] != [m.label for m in pools[1]]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: load_motifs(["MA9999.9"], "JASPAR2016"), "MA9999.9"),
        (lambda: load_motifs(["MA0079.3"], "JASPAR1999"), "JASPAR1999"),
        (lambda: core_and_background_pools(CORE_MOTIFS, "draw", 10_000, "JASPAR2016"), "eligible"),
        (lambda: core_and_background_pools(CORE_MOTIFS, ["MA0079.3"]), "not core motifs"),
        (lambda: core_and_background_pools(CORE_MOTIFS, "drawn"), "published"),
    ],
)
def test_bad_motif_requests_are_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_shapes_dtypes_and_split_sizes(full):
    sizes = {name: len(split["y"]) for name, split in full.splits.items()}
    assert sizes == {"train": 14_000, "valid": 2_000, "test": 4_000}
    for split in full.splits.values():
        n = len(split["y"])
        assert split["x"].shape == (n, 200, 4) and split["x"].dtype == np.uint8
        assert split["y"].shape == (n, 1) and split["y"].dtype == np.float32
        assert split["model"].shape == (n, 200, 4) and split["model"].dtype == np.float32
    y = joined(full, "y")
    assert y.sum() == 10_000
    # The shuffle mixes classes into every split.
    assert 0.45 < full.splits["test"]["y"].mean() < 0.55


def test_rows_are_distributions_and_sampled_letters_are_possible(full):
    x, model = joined(full, "x"), joined(full, "model")
    assert np.all(x.sum(axis=2) == 1)
    np.testing.assert_allclose(model.sum(axis=2), 1.0, atol=1e-6)
    assert np.all(model[x.astype(bool)] > 0)


def test_motif_counts_follow_the_published_distribution(full):
    y, planted = joined(full, "y")[:, 0], joined(full, "planted")
    counts = (planted[y == 1] >= 0).sum(axis=1)
    n = len(counts)
    for count, probability in zip(MOTIF_COUNTS, MOTIF_COUNT_PROBABILITIES):
        observed = np.mean(counts == count)
        assert abs(observed - probability) < 5 * np.sqrt(probability * (1 - probability) / n), count


def test_positives_carry_exactly_the_core_motifs(full, pools):
    core, background = pools
    y, planted, model = joined(full, "y")[:, 0], joined(full, "planted"), joined(full, "model")
    in_positives = set(np.unique(planted[y == 1])) - {-1}
    assert in_positives == set(range(len(core)))
    assert set(np.unique(planted[y == 0])) - {-1} - set(range(len(background))) == set()
    # And the planted rows are those PWMs: every positive's informative rows come from core PWMs.
    core_rows = {tuple(np.round(row, 5)) for m in core for row in m.pwm.astype(np.float32)}
    informative = information_content(model[y == 1]) > 0
    observed_rows = {tuple(row) for row in np.round(model[y == 1][informative], 5)}
    assert observed_rows <= core_rows


def test_information_is_zero_on_background_and_high_on_motifs(full):
    model = joined(full, "model")
    info = information_content(model)
    background = np.all(np.isclose(model, 0.25), axis=2)
    assert np.all(np.abs(info[background]) < 1e-6)
    assert np.mean(info[~background] > 0.1) > 0.8


def test_same_seed_same_bytes_and_different_seed_differs(pools, full):
    again = billboard_dataset(*pools, num_seqs=20_000, length=200, seed=0)
    other = billboard_dataset(*pools, num_seqs=20_000, length=200, seed=1)
    for name in ("train", "test"):
        for key in ("x", "y", "model"):
            assert again.splits[name][key].tobytes() == full.splits[name][key].tobytes()
        assert other.splits[name]["x"].tobytes() != full.splits[name]["x"].tobytes()


def test_planted_motifs_fill_the_length_exactly():
    rng = np.random.default_rng(0)
    pwms = [np.full((w, 4), [0.7, 0.1, 0.1, 0.1]) for w in (5, 9, 12)]
    planted = plant_motifs(pwms, 500, 90, rng)
    widths = np.where(planted.motif_index >= 0, np.array([5, 9, 12])[planted.motif_index], 0)
    ends = np.where(planted.motif_index >= 0, planted.motif_start + widths, 0)
    assert ends.max() <= 90
    # Motifs are in order and never overlap.
    valid = planted.motif_index[:, 1:] >= 0
    assert np.all((planted.motif_start[:, 1:] >= ends[:, :-1])[valid])
    motif_positions = np.isclose(planted.ground_truth_probs[..., 0], 0.7).sum(axis=1)
    np.testing.assert_array_equal(motif_positions, widths.sum(axis=1))


@settings(deadline=None, max_examples=30)
@given(st.integers(0, 2**32 - 1))
def test_letters_with_zero_probability_are_never_sampled(seed):
    rng = np.random.default_rng(seed)
    probabilities = rng.random((50, 30, 4)) * (rng.random((50, 30, 4)) < 0.6)
    probabilities[..., 3] += probabilities.sum(axis=2) == 0  # keep every row a distribution
    probabilities /= probabilities.sum(axis=2, keepdims=True)
    onehot = sample_onehot(probabilities, rng)
    assert np.all(probabilities[onehot.astype(bool)] > 0)


@pytest.mark.parametrize("pool", [[], ["--background-table", "published"], ["--background-table", "TABLE"]])
def test_cli_writes_the_contract_with_provenance(tmp_path, pool):
    # Without --background-table the command uses the published pool, as the workflow does; a TSV of the
    # same IDs gives the same pool.
    out = tmp_path / "data.h5"
    command = ["synthetic", "--out", str(out), "--seed", "3", "--num-seqs", "200"]
    assert cli.main([*command, *(str(PUBLISHED_POOL) if a == "TABLE" else a for a in pool)]) == 0
    test_split = load_split(out, "test")
    assert test_split.x.shape == (40, 200, 4) and test_split.ground_truth_probs.shape == (40, 200, 4)
    with h5py.File(out, "r") as handle:
        assert handle.attrs["seed"] == 3
        assert handle.attrs["jaspar_release"] == "JASPAR2016"
        assert "MA0079.3" in handle.attrs["jaspar_core_ids"]
        recorded = json.loads(handle.attrs["background_motifs"])
        assert recorded[10:] == [f"{i}{s}" for i in read_motif_ids(PUBLISHED_POOL) for s in "+-"]
        assert handle.attrs["background_source"] == "published_background_motifs.tsv"
        assert set(handle) >= {f"{k}_{s}" for k in ("x", "y", "model") for s in ("train", "valid", "test")}


def test_draw_is_an_explicit_choice_and_recorded(tmp_path):
    published, drawn = tmp_path / "published.h5", tmp_path / "drawn.h5"
    synthetic_dataset(published, num_seqs=100, seed=5)
    assert cli.main(["synthetic", "--out", str(drawn), "--seed", "5", "--num-seqs", "100",
                     "--background-table", "draw"]) == 0  # fmt: skip
    with h5py.File(published, "r") as first, h5py.File(drawn, "r") as second:
        assert second.attrs["background_source"] == "seeded draw"
        assert json.loads(second.attrs["background_motifs"]) != json.loads(first.attrs["background_motifs"])
        assert len(json.loads(second.attrs["background_motifs"])) == 110


def test_same_seed_gives_identical_files(tmp_path):
    first, second = tmp_path / "a.h5", tmp_path / "b.h5"
    synthetic_dataset(first, num_seqs=100, seed=5)
    time.sleep(1.1)  # HDF5 timestamps have a resolution of one second
    synthetic_dataset(second, num_seqs=100, seed=5)
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize(
    "arguments",
    [
        ["--length", "100"],
        ["--jaspar-release", "JASPAR1999"],
        ["--core-ids", "MA0079.3", "MA9999.9"],
        ["--num-seqs", "1"],
        ["--num-seqs", "3"],  # an empty validation split
        ["--background-table", "no_such_table.tsv"],
    ],
)
def test_cli_bad_arguments_leave_no_file(tmp_path, arguments):
    out = tmp_path / "data.h5"
    assert cli.main(["synthetic", "--out", str(out), "--seed", "0", *arguments]) == 2
    assert list(tmp_path.iterdir()) == []
