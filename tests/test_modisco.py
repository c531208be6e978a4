"""Motif discovery with tfmodisco-lite and TOMTOM (simplexgrad.modisco) on planted-motif maps."""

import h5py
import numpy as np
import pandas as pd
import pytest
from conftest import random_onehot
from simplexgrad import correct
from simplexgrad.io import save_attributions
from simplexgrad.modisco import (
    TABLE_COLUMNS,
    Pattern,
    discover_motifs,
    export_modisco_inputs,
    find_motifs,
    from_modisco_layout,
    jaspar_targets,
    match_patterns,
    modisco_inputs,
    read_patterns,
    run_modisco,
    to_modisco_layout,
    trim_pattern,
)
from simplexgrad.motifs import load_motifs

# SP1 and YY1 of the synthetic study's core set (JASPAR 2016): modisco separates them cleanly, while the
# E-box of MAX ties with other bHLH motifs under TOMTOM.
PLANTED = ("MA0079.3", "MA0095.2")
SETTINGS = {"max_seqlets": 1000, "window": 15, "n_leiden": 2, "seed": 0}


def planted_maps(n: int = 200, length: int = 200, seed: int = 0, noise: float = 0.02):
    """One-hot sequences with 1-2 planted motifs each (either orientation), their ground-truth maps
    (planted PWM - 0.25 at motif positions, Gaussian noise elsewhere) and raw maps that add a large
    off-simplex component at every position (so that ``correct(raw)`` gives the maps back there)."""
    motifs = load_motifs(PLANTED)
    rng = np.random.default_rng(seed)
    probs = np.full((n, length, 4), 0.25)
    at_motif = np.zeros((n, length), dtype=bool)
    slots = np.arange(5, length - 30, 30)
    for i in range(n):
        for start in rng.choice(slots, size=rng.integers(1, 3), replace=False):
            pwm = motifs[rng.integers(len(motifs))].pwm
            probs[i, start : start + len(pwm)] = pwm
            at_motif[i, start : start + len(pwm)] = True
    letters = (rng.random((n, length, 1)) > probs.cumsum(axis=2)).sum(axis=2).clip(0, 3)
    x = np.eye(4, dtype=np.float32)[letters]
    maps = probs - 0.25 + rng.normal(0, noise, probs.shape) * ~at_motif[..., None]
    raw = maps + rng.normal(0, 0.5, (n, length, 1))
    return x, raw.astype(np.float32), correct(raw).astype(np.float32)


@pytest.fixture(scope="module")
def planted():
    return planted_maps()


@pytest.fixture(scope="module")
def discovered(planted, tmp_path_factory):
    """discover_motifs on an attribution file of the planted set (corrected maps, fast report)."""
    x, raw, corrected = planted
    folder = tmp_path_factory.mktemp("modisco")
    path = folder / "maps.npz"
    save_attributions(path, raw, corrected, x, np.arange(len(x)), {"method": "saliency"})
    out = folder / "out"
    discover_motifs(
        str(path), str(out), planted_ids=list(PLANTED), report="simple", labels=["maps=corrected"], **SETTINGS
    )
    return out


def test_layout_round_trip_and_contributions(tmp_path):
    rng = np.random.default_rng(0)
    x = random_onehot(rng, 3, 7)
    maps = rng.normal(size=(3, 7, 4)).astype(np.float64)
    one_hot, hypothetical, contributions = modisco_inputs(x, maps)
    for array in (one_hot, hypothetical, contributions):
        assert array.shape == (3, 4, 7) and array.dtype == np.float32 and array.flags.c_contiguous
    np.testing.assert_array_equal(one_hot[1, :, 5], x[1, 5])
    np.testing.assert_allclose(contributions, (maps * x).transpose(0, 2, 1), rtol=1e-6)
    np.testing.assert_allclose(from_modisco_layout(hypothetical), maps, rtol=1e-6)
    np.testing.assert_array_equal(from_modisco_layout(to_modisco_layout(x)), x)
    export_modisco_inputs(x, maps, tmp_path / "ohe.npz", tmp_path / "attr.npz")
    with np.load(tmp_path / "ohe.npz") as seqs, np.load(tmp_path / "attr.npz") as attrs:
        np.testing.assert_array_equal(seqs["arr_0"], one_hot)
        np.testing.assert_array_equal(attrs["arr_0"], hypothetical)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["attr.npz", "ohe.npz"]  # no partial files


def test_layouts_are_never_guessed():
    x = random_onehot(np.random.default_rng(0), 2, 9)
    with pytest.raises(ValueError, match="channels-last"):
        to_modisco_layout(x.transpose(0, 2, 1))  # (N, 4, L) given where (N, L, 4) is expected
    with pytest.raises(ValueError, match=r"\(N, 4, L\)"):
        from_modisco_layout(x)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda x, m: (x, np.where(np.arange(m.size).reshape(m.shape) == 5, np.nan, m)), "NaN or inf"),
        (lambda x, m: (x, m[:, :-1]), "same shape"),
        (lambda x, m: (x[0], m[0]), "shape"),
        (lambda x, m: (x * 0.5, m), "one-hot"),
        (lambda x, m: (x, m.transpose(0, 2, 1)), "channels-last"),
    ],
)
def test_bad_arrays_are_refused(change, message):
    rng = np.random.default_rng(1)
    x, maps = random_onehot(rng, 4, 30), rng.normal(size=(4, 30, 4))
    with pytest.raises(ValueError, match=message):
        run_modisco(*change(x, maps))
    with pytest.raises(ValueError, match=message):
        modisco_inputs(*change(x, maps))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"window": 25}, "exceeds the length"),
        ({"max_seqlets": 0}, "max_seqlets must be >= 1"),
        ({"target_fdr": 1.5}, "target_fdr"),
        ({"max_sequences": 0}, "max_sequences must be >= 1"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    rng = np.random.default_rng(2)
    with pytest.raises(ValueError, match=message):
        run_modisco(random_onehot(rng, 4, 30), rng.normal(size=(4, 30, 4)), **settings)


def test_trim_pattern_keeps_the_span_above_the_threshold():
    cwm = np.zeros((8, 4))
    cwm[[2, 5], 0] = [1.0, -0.5]
    cwm[3, 1] = 0.1
    ppm = np.arange(32.0).reshape(8, 4)
    np.testing.assert_array_equal(trim_pattern(ppm, cwm, 0.3), ppm[2:6])


def test_tomtom_names_a_jaspar_matrix_by_its_own_id():
    targets = {matrix_id: pwm for matrix_id, _, pwm in jaspar_targets("JASPAR2016")}
    assert len(targets) > 400 and all(mid in targets for mid in PLANTED)
    pwm = targets["MA0095.2"]
    patterns = [Pattern("pos_patterns.pattern_0", 50, pwm, pwm - 0.25), Pattern("x", 9, pwm[::-1, ::-1], pwm)]
    table = match_patterns(patterns, "JASPAR2016", planted_ids=["MA0095.2"])
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert list(table["best_match_id"]) == ["MA0095.2"] * 2 and table["planted"].all()  # either strand
    assert (table["best_match_name"] == "YY1").all() and (table["tomtom_qvalue"] < 1e-3).all()
    empty = match_patterns([], "JASPAR2016")
    assert list(empty.columns) == list(TABLE_COLUMNS) and len(empty) == 0


def test_discover_motifs_finds_the_planted_motifs_by_jaspar_id(discovered, planted):
    table = pd.read_csv(discovered / "motifs.tsv", sep="\t")
    assert list(table.columns) == ["maps", *TABLE_COLUMNS]
    assert (table["maps"] == "corrected").all() and (table["seqlets"] > 0).all()
    for matrix_id in PLANTED:
        hits = table[(table["best_match_id"] == matrix_id) & (table["tomtom_qvalue"] < 0.05)]
        assert len(hits) >= 1, table.to_string()
        assert hits["planted"].all()
    assert table.loc[table["tomtom_qvalue"] < 0.05, "planted"].all(), table.to_string()
    # modisco's results file, as `modisco report` reads it, plus the input row of each example
    patterns = read_patterns(discovered / "modisco.h5")
    assert [p.name for p in patterns] == list(table["pattern"])
    assert [p.n_seqlets for p in patterns] == list(table["seqlets"])
    with h5py.File(discovered / "modisco.h5") as handle:
        assert handle.attrs["window_size"] == 200
        assert sorted(handle["example_rows"][()]) == list(range(len(planted[0])))
        example = handle["pos_patterns/pattern_0/seqlets/example_idx"][()]
        assert example.max() < len(planted[0])
    html = (discovered / "report" / "motifs.html").read_text()
    assert "MA0079.3" in html and "MA0095.2" in html
    assert sorted(p.name for p in discovered.iterdir()) == ["modisco.h5", "motifs.tsv", "report"]


def test_find_motifs_is_deterministic_and_matches_the_file(discovered, planted):
    x, _, corrected = planted
    run, table = find_motifs(x, corrected, planted_ids=PLANTED, **SETTINGS)
    written = pd.read_csv(discovered / "motifs.tsv", sep="\t").drop(columns="maps")
    pd.testing.assert_frame_equal(table, written, check_dtype=False, rtol=1e-5)
    for mine, stored in zip(run.patterns(), read_patterns(discovered / "modisco.h5"), strict=True):
        np.testing.assert_array_equal(mine.cwm, stored.cwm)
        np.testing.assert_array_equal(mine.ppm, stored.ppm)


def test_discover_motifs_refuses_bad_files_without_output(tmp_path, planted):
    x, raw, corrected = planted
    out = tmp_path / "out"
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        discover_motifs(str(tmp_path / "missing.npz"), str(out))
    np.savez(tmp_path / "raw_only.npz", raw=raw, x=x, params=np.array("{}"))
    with pytest.raises(ValueError, match=r"raw_only\.npz: .*corrected"):
        discover_motifs(str(tmp_path / "raw_only.npz"), str(out))
    (tmp_path / "garbage.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match=r"garbage\.npz: "):
        discover_motifs(str(tmp_path / "garbage.npz"), str(out))
    bad = corrected.copy()
    bad[0, 0, 0] = np.nan
    save_attributions(tmp_path / "nan.npz", raw, bad, x, np.arange(len(x)), {})
    with pytest.raises(ValueError, match=r"nan\.npz: maps contains NaN or inf"):
        discover_motifs(str(tmp_path / "nan.npz"), str(out))
    with pytest.raises(ValueError, match="JASPAR1999"):
        discover_motifs(str(tmp_path / "nan.npz"), str(out), which="raw", jaspar_release="JASPAR1999")
    with pytest.raises(ValueError, match="MA9999.1"):
        discover_motifs(str(tmp_path / "nan.npz"), str(out), which="raw", planted_ids=["MA9999.1"])
    assert not out.exists()
