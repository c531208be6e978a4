"""Motif discovery with tfmodisco-lite (simplexgrad.studies.modisco) and its patterns matched to JASPAR
(simplexgrad.studies.motif_matching) on planted-motif maps."""

import logging

import h5py
import numpy as np
import pandas as pd
import pytest
from conftest import random_onehot
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from simplexgrad import correct
from simplexgrad.data.motifs import CORE_MOTIFS, load_motifs, reverse_complement
from simplexgrad.figures import FIGURES
from simplexgrad.io import save_attributions
from simplexgrad.studies.modisco import (
    export_modisco_inputs,
    find_motifs,
    from_modisco_layout,
    modisco_file,
    modisco_inputs,
    modisco_kernels,
    read_patterns,
    run_modisco,
    to_modisco_layout,
)
from simplexgrad.studies.motif_matching import (
    NO_PATTERN,
    TABLE_COLUMNS,
    Pattern,
    jaspar_targets,
    match_patterns,
    no_pattern_row,
    pwm_similarity,
    recovery_counts,
    trim_by_information,
    trim_pattern,
)

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
    """modisco_file on an attribution file of the planted set (corrected maps, fast report)."""
    x, raw, corrected = planted
    folder = tmp_path_factory.mktemp("modisco")
    path = folder / "maps.npz"
    save_attributions(path, raw, corrected, x, np.arange(len(x)), {"method": "saliency"})
    out = folder / "out"
    modisco_file(
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


@pytest.mark.slow
def test_modisco_file_finds_the_planted_motifs_by_jaspar_id(discovered, planted):
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


@pytest.mark.slow
def test_find_motifs_is_deterministic_and_matches_the_file(discovered, planted):
    x, _, corrected = planted
    run, table = find_motifs(x, corrected, planted_ids=PLANTED, **SETTINGS)
    written = pd.read_csv(discovered / "motifs.tsv", sep="\t").drop(columns="maps")
    pd.testing.assert_frame_equal(table, written, check_dtype=False, rtol=1e-5)
    for mine, stored in zip(run.patterns(), read_patterns(discovered / "modisco.h5"), strict=True):
        np.testing.assert_array_equal(mine.cwm, stored.cwm)
        np.testing.assert_array_equal(mine.ppm, stored.ppm)


def test_modisco_file_refuses_bad_files_without_output(tmp_path, planted):
    x, raw, corrected = planted
    out = tmp_path / "out"
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        modisco_file(str(tmp_path / "missing.npz"), str(out))
    np.savez(tmp_path / "raw_only.npz", raw=raw, x=x, params=np.array("{}"))
    with pytest.raises(ValueError, match=r"raw_only\.npz: .*corrected"):
        modisco_file(str(tmp_path / "raw_only.npz"), str(out))
    (tmp_path / "garbage.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match=r"garbage\.npz: "):
        modisco_file(str(tmp_path / "garbage.npz"), str(out))
    bad = corrected.copy()
    bad[0, 0, 0] = np.nan
    save_attributions(tmp_path / "nan.npz", raw, bad, x, np.arange(len(x)), {})
    with pytest.raises(ValueError, match=r"nan\.npz: maps contains NaN or inf"):
        modisco_file(str(tmp_path / "nan.npz"), str(out))
    with pytest.raises(ValueError, match="JASPAR1999"):
        modisco_file(str(tmp_path / "nan.npz"), str(out), which="raw", jaspar_release="JASPAR1999")
    with pytest.raises(ValueError, match="MA9999.1"):
        modisco_file(str(tmp_path / "nan.npz"), str(out), which="raw", planted_ids=["MA9999.1"])
    assert not out.exists()


# --- PWM similarity without TOMTOM: hand-checkable cases and properties --------------------------------


def core_pwm(matrix_id: str) -> np.ndarray:
    return {matrix_id: pwm for matrix_id, _, pwm in jaspar_targets("JASPAR2016")}[matrix_id]


def test_pwm_similarity_of_a_two_position_toy_is_one_third():
    # centred flattened values: ppm A,C vs pwm A,T share the A (cov 1 - 8/16 = 0.5), each has var 2 - 0.5
    ppm = np.array([[1.0, 0, 0, 0], [0, 1, 0, 0]])
    pwm = np.array([[1.0, 0, 0, 0], [0, 0, 0, 1]])  # its own reverse complement: '-' ties, '+' kept
    assert pwm_similarity(ppm, pwm, min_overlap=2) == pytest.approx((1 / 3, 0, "+"))


def test_pwm_similarity_finds_identity_reverse_complement_and_shifts():
    pwm = core_pwm("MA0095.2")  # YY1, 12 positions, not palindromic
    assert pwm_similarity(pwm, pwm) == pytest.approx((1.0, 0, "+"))
    assert pwm_similarity(reverse_complement(pwm), pwm) == pytest.approx((1.0, 0, "-"))
    assert pwm_similarity(pwm, reverse_complement(pwm)) == pytest.approx((1.0, 0, "-"))
    assert pwm_similarity(reverse_complement(pwm), pwm).r > pwm_similarity(pwm, pwm[::-1]).r
    assert pwm_similarity(pwm[3:], pwm) == pytest.approx((1.0, 3, "+"))  # starts at the PWM's 4th position
    flanked = np.vstack([np.full((2, 4), 0.25), pwm, np.full((5, 4), 0.25)])
    assert pwm_similarity(flanked, pwm) == pytest.approx((1.0, -2, "+"))  # starts 2 before the PWM
    # the shifted reverse complement: offsets count positions of the reverse-complemented PWM
    assert pwm_similarity(reverse_complement(pwm)[4:], pwm) == pytest.approx((1.0, 4, "-"))


def test_pwm_similarity_leaves_out_overlaps_shorter_than_the_minimum():
    pwm = core_pwm("MA0095.2")
    short = pwm_similarity(pwm[:5], pwm)  # 5 positions < 6: nothing compared
    assert np.isnan(short.r) and short.offset is None and short.strand is None
    assert pwm_similarity(pwm[:5], pwm, min_overlap=5) == pytest.approx((1.0, 0, "+"))
    # a pattern whose last 3 positions copy the PWM's first 3: a perfect 3-position overlap at offset -9
    other = core_pwm("MA0079.3")[:9]
    tail = np.vstack([other, pwm[:3]])
    assert pwm_similarity(tail, pwm, min_overlap=3) == pytest.approx((1.0, -9, "+"))
    best = pwm_similarity(tail, pwm)  # with 6 positions at least, that overlap is not eligible
    assert best.r < 0.9 and best.offset != -9
    assert np.isnan(pwm_similarity(np.full((8, 4), 0.25), pwm).r)  # uniform: no correlation anywhere
    with pytest.raises(ValueError, match="min_overlap"):
        pwm_similarity(pwm, pwm, min_overlap=0)
    with pytest.raises(ValueError, match=r"\(W, 4\)"):
        pwm_similarity(pwm.T, pwm)


probability_matrices = (
    st.integers(6, 12)
    .flatmap(lambda width: arrays(np.float64, (width, 4), elements=st.floats(0.01, 1.0)))
    .map(lambda m: m / m.sum(axis=1, keepdims=True))
)


@settings(max_examples=30, deadline=None)
@given(probability_matrices, probability_matrices)
def test_pwm_similarity_is_symmetric_and_strand_blind(a, b):
    r = pwm_similarity(a, b).r  # NaN only where every aligned block is constant (uniform rows)
    assert np.isnan(r) or -1 <= r <= 1
    same = {"abs": 1e-9, "nan_ok": True}
    assert pwm_similarity(b, a).r == pytest.approx(r, **same)  # same aligned pairs, offset negated
    assert pwm_similarity(reverse_complement(a), b).r == pytest.approx(r, **same)
    assert pwm_similarity(reverse_complement(a), reverse_complement(b)).r == pytest.approx(r, **same)
    assert np.isnan(pwm_similarity(a, a).r) or pwm_similarity(a, a).r == pytest.approx(1.0)


def test_trim_by_information_keeps_the_informative_span():
    uniform = [0.25] * 4
    ppm = np.array([uniform, [1.0, 0, 0, 0], uniform, [0.5, 0.5, 0, 0], uniform])  # 0, 2, 0, 1, 0 bits
    np.testing.assert_array_equal(trim_by_information(ppm, 0.25), ppm[1:4])  # >= 0.5 bits
    np.testing.assert_array_equal(trim_by_information(ppm, 0.6), ppm[1:2])  # >= 1.2 bits
    np.testing.assert_array_equal(trim_by_information(np.full((3, 4), 0.25)), np.full((3, 4), 0.25))
    with pytest.raises(ValueError, match="fraction"):
        trim_by_information(ppm, 1.5)


# --- Recovery by significant match and by similarity, never by the best match alone ---------------------


def flanked_pattern(name: str, matrix_id: str) -> Pattern:
    """A pattern whose PPM is a JASPAR motif between uniform flanks (CWM: PPM - 0.25)."""
    ppm = np.vstack([np.full((4, 4), 0.25), core_pwm(matrix_id), np.full((4, 4), 0.25)])
    return Pattern(name, 40, ppm, ppm - 0.25)


@pytest.fixture(scope="module")
def relatives():
    """Patterns of ETS and E-box relatives of the planted Gabpa and MAX (ELK4, EHF, Mycn) and of an
    unrelated motif (CTCF), matched against JASPAR 2016 with the five core motifs planted."""
    patterns = [
        flanked_pattern("pos_patterns.pattern_0", "MA0076.2"),  # ELK4
        flanked_pattern("pos_patterns.pattern_1", "MA0598.2"),  # EHF
        flanked_pattern("pos_patterns.pattern_2", "MA0104.3"),  # Mycn
        flanked_pattern("pos_patterns.pattern_3", "MA0139.1"),  # CTCF
    ]
    return match_patterns(patterns, "JASPAR2016", planted_ids=CORE_MOTIFS, max_matches=3)


def test_a_relative_ranked_first_still_counts_the_planted_motif(relatives):
    table = relatives
    assert list(table.columns) == list(TABLE_COLUMNS)
    # TOMTOM ranks the relatives first: the best match alone would recover no planted motif here
    assert list(table["best_match_name"]) == ["ELK4", "EHF", "Mycn", "CTCF"]
    assert not table["best_match_id"].isin(CORE_MOTIFS).any()
    assert list(table["planted"]) == [True, True, True, False]
    ranks = [dict(i.split(":") for i in cell.split(";")) if cell else {} for cell in table["planted_ranks"]]
    assert ranks[0] == {"MA0062.2": "2"} and ranks[2] == {"MA0058.3": "3"} and ranks[3] == {}
    assert int(ranks[1]["MA0062.2"]) > 3  # EHF's Gabpa rank is beyond the listed matches, still recorded
    assert (table["significant_matches"][:3] > 3).all()
    listed = [cell.split("; ") for cell in table["matches"]]
    assert [len(entries) for entries in listed[:3]] == [3, 3, 3]  # max_matches
    assert [entry.split(" (q=")[0] for entry in listed[0][:2]] == ["MA0076.2 ELK4", "MA0062.2 Gabpa"]
    assert list(table["similar_planted_id"][:3]) == ["MA0062.2", "MA0062.2", "MA0058.3"]
    assert (table["pwm_similarity"][:3] >= 0.8).all() and table["pwm_similarity"][3] < 0.8
    # a stricter significance level drops the weaker planted match (MAX at q ~ 1e-4 for the Mycn pattern)
    mycn = [flanked_pattern("p", "MA0104.3")]
    strict = match_patterns(mycn, planted_ids=CORE_MOTIFS, qvalue_threshold=1e-6).iloc[0]
    assert not strict["planted"] and strict["planted_ranks"] == "" and strict["pwm_similarity"] >= 0.8


def test_recovery_counts_by_similarity_and_significant_match(relatives):
    run = relatives.assign(architecture="cnn_deep", activation="exponential", seed=0, maps="corrected")
    empty = no_pattern_row().assign(architecture="cnn_shallow", activation="exponential", seed=0, maps="raw")
    counts = recovery_counts(pd.concat([run, empty], ignore_index=True)).set_index("architecture")
    columns = ["patterns", "recovered_similarity", "recovered_tomtom", "false_discoveries"]
    assert counts.loc["cnn_deep", columns].tolist() == [4, 2, 2, 1]  # Gabpa and MAX; CTCF matches nothing
    assert counts.loc["cnn_shallow", columns].tolist() == [0, 0, 0, 0]
    assert recovery_counts(run, similarity_threshold=0.999)["recovered_similarity"][0] == 0
    with pytest.raises(ValueError, match=r"lacks columns \['planted_ranks'"):
        recovery_counts(run.drop(columns="planted_ranks"))


def test_recovery_figure_shows_a_model_without_patterns(relatives, tmp_path):
    run = relatives.assign(architecture="cnn_deep", activation="exponential", seed=0)
    empty = no_pattern_row().assign(architecture="cnn_shallow", activation="exponential", seed=0)
    table = pd.concat([part.assign(maps=maps) for part in (run, empty) for maps in ("raw", "corrected")])
    table.to_csv(tmp_path / "motifs.tsv", sep="\t", index=False)
    written = pd.read_csv(tmp_path / "motifs.tsv", sep="\t")  # empty cells come back as NaN
    assert list(recovery_counts(written)["patterns"]) == [4, 4, 0, 0]
    from simplexgrad.plots.synthetic import modisco_recovery

    figure = modisco_recovery(recovery_counts(written), 0.8)
    labels = [tick.get_text() for tick in figure.axes[2].get_xticklabels()]
    assert labels == ["CNN-deep-exp", "CNN-shallow-exp"]
    heights = sorted(bar.get_height() for bar in figure.axes[2].patches if bar.get_width() > 0)
    assert heights[:2] == [0, 0] and heights[2:] == [4, 4]
    pdf, png = tmp_path / "r.pdf", tmp_path / "r.png"
    FIGURES["modisco_recovery"](str(tmp_path / "motifs.tsv"), str(pdf), str(png))
    assert pdf.stat().st_size > 0 and png.stat().st_size > 0


def test_no_pattern_is_logged_and_recorded(tmp_path, caplog):
    rng = np.random.default_rng(3)
    x = random_onehot(rng, 20, 60)
    maps = rng.normal(0, 1e-3, x.shape).astype(np.float32)  # too few sequences for a metacluster
    save_attributions(tmp_path / "flat.npz", maps, maps, x, np.arange(20), {"method": "saliency"})
    with caplog.at_level(logging.INFO, logger="simplexgrad.studies.modisco"):
        modisco_file(
            str(tmp_path / "flat.npz"), str(tmp_path / "out"), planted_ids=list(PLANTED), report="none",
            labels=["seed=0", "maps=corrected"], window=15,
        )  # fmt: skip
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "flat.npz" in warnings[0] and "no pattern" in warnings[0]
    assert "\n" not in warnings[0]
    assert any("tfmodisco-lite on 20 sequences" in r.getMessage() for r in caplog.records)
    table = pd.read_csv(tmp_path / "out" / "motifs.tsv", sep="\t")
    assert list(table.columns) == ["seed", "maps", *TABLE_COLUMNS] and len(table) == 1
    assert table["pattern"][0] == NO_PATTERN and table["seqlets"][0] == 0 and not table["planted"][0]
    assert recovery_counts(table, by=["seed", "maps"])["patterns"].tolist() == [0]


@pytest.mark.slow
def test_discovered_patterns_recover_both_planted_motifs_by_both_definitions(discovered):
    table = pd.read_csv(discovered / "motifs.tsv", sep="\t").assign(seed=0)
    assert set(table["similar_planted_id"]) == set(PLANTED) and (table["pwm_similarity"] >= 0.8).all()
    counts = recovery_counts(table, by=["seed", "maps"])
    columns = ["recovered_similarity", "recovered_tomtom", "false_discoveries"]
    assert counts[columns].values.tolist() == [[2, 2, 0]]


def test_bad_matching_options_are_refused_before_modisco_runs(tmp_path):
    for option in ({"qvalue_threshold": 0}, {"max_matches": 0}, {"min_overlap": 0}):
        with pytest.raises(ValueError, match=next(iter(option))):
            modisco_file(str(tmp_path / "missing.npz"), str(tmp_path / "out"), **option)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_modisco_kernels_runs_the_example_and_records_the_environment(tmp_path):
    modisco_kernels(str(tmp_path / "kernels.tsv"))
    table = pd.read_csv(tmp_path / "kernels.tsv", sep="\t", keep_default_na=False)
    versions = ["modiscolite_version", "memelite_version", "numba_version"]
    assert list(table.columns) == [*versions, "numba_cache", "seconds", "patterns"] and len(table) == 1
    assert table["patterns"][0] >= 1 and table["seconds"][0] > 0 and all(table[versions].iloc[0])
