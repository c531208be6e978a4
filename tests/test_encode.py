"""In vivo data, offline: peak parsing, windows, downloads, the portal manifest and the datasets."""

import gzip
import json
import urllib.parse

import h5py
import numpy as np
import pandas as pd
import pytest
from encode_fixtures import (
    CHROMOSOMES,
    FileServer,
    fasta_text,
    gzipped,
    make_encode_inputs,
    md5,
    narrowpeak_text,
)
from simplexgrad import cli
from simplexgrad.download import DownloadError, download
from simplexgrad.encode import (
    MANIFEST_COLUMNS,
    build_dataset,
    non_overlapping,
    read_manifest,
    resolve_manifest,
    write_dataset,
)
from simplexgrad.genome import centred_windows, filter_windows, one_hot_encode, read_peaks
from workflow_helpers import run_snakemake, write_config

ONE_HOT = {base: row for base, row in zip("ACGT", np.eye(4, dtype=np.uint8))}


def encode_sequence(sequence: str) -> np.ndarray:
    return np.array([ONE_HOT.get(base.upper(), np.zeros(4, np.uint8)) for base in sequence])


@pytest.fixture(scope="module")
def inputs():
    return make_encode_inputs(seed=0)


@pytest.fixture(scope="module")
def files(inputs, tmp_path_factory):
    """The fixture's files on disk: genome.fa (+ .fai) and the three peak files."""
    import pyfaidx

    folder = tmp_path_factory.mktemp("encode_files")
    (folder / "genome.fa").write_text(fasta_text(inputs.genome))
    pyfaidx.Faidx(str(folder / "genome.fa")).close()
    for name in inputs.peaks:
        (folder / f"{name}.bed.gz").write_bytes(inputs.files[f"/files/{name}.bed.gz"])
    return folder


# --- peak files -------------------------------------------------------------------------------------


def test_read_peaks_parses_narrowpeak_columns(inputs, files):
    peaks = read_peaks(files / "TFA.bed.gz")
    assert len(peaks) == len(inputs.peaks["TFA"])
    assert peaks["start"].dtype == np.int64 and peaks["peak"].dtype == np.int64
    assert list(peaks.iloc[0][["chrom", "start", "end"]]) == list(inputs.peaks["TFA"][0][:3])


@pytest.mark.parametrize(
    "line, message",
    [
        ("chr1\t10\t200\tp\t0\t.\t1\t-1\t1", "10 tab-separated columns; this one has 9"),
        ("chr1\t300\t200\tp\t0\t.\t1\t-1\t1\t5", "start < end"),
        ("chr1\t-5\t200\tp\t0\t.\t1\t-1\t1\t5", "start < end"),
        ("chr1\tten\t200\tp\t0\t.\t1\t-1\t1\t5", "'start' must be an integer"),
    ],
)
def test_malformed_narrowpeak_is_a_clear_error_with_the_line_number(tmp_path, line, message):
    path = tmp_path / "bad.narrowPeak.gz"
    good = "chr1\t10\t200\tp\t0\t.\t1\t-1\t1\t50\n"
    path.write_bytes(gzipped("track name=x\n" + good + line + "\n"))
    with pytest.raises(ValueError, match=message) as error:
        read_peaks(path)
    assert ":3:" in str(error.value)


def test_empty_peak_file_is_an_error(tmp_path):
    path = tmp_path / "empty.bed"
    path.write_text("")
    with pytest.raises(ValueError, match="no intervals"):
        read_peaks(path, "bed")


# --- windows ----------------------------------------------------------------------------------------


def test_windows_centre_on_the_midpoint_or_the_summit():
    peaks = pd.DataFrame({"chrom": ["c", "c"], "start": [100, 100], "end": [301, 300], "peak": [10, -1]})
    midpoint = centred_windows(peaks, 200)
    assert midpoint["start"].tolist() == [100, 100] and midpoint["end"].tolist() == [300, 300]
    summit = centred_windows(peaks, 200, centre="summit")
    assert summit["start"].tolist() == [10, 100]  # 100 + 10 - 100; no summit -> midpoint
    odd = centred_windows(peaks.iloc[:1], 5)
    assert odd["start"].tolist() == [198] and odd["end"].tolist() == [203]


def test_filter_windows_drops_edges_n_and_duplicates_and_reads_the_fasta(inputs, files):
    windows = pd.DataFrame(
        {
            "chrom": ["chr1", "chr1", "chr3", "chr2", "chr1", "chr2"],
            "start": [450, 450, -20, 6990, 1000, CHROMOSOMES["chr2"] - 100],
            "end": [650, 650, 180, 7190, 1200, CHROMOSOMES["chr2"] + 100],
        }
    )
    sizes = dict(CHROMOSOMES)
    result, onehot = filter_windows(windows, files / "genome.fa", sizes)
    assert (result.dropped_duplicate, result.dropped_edge, result.dropped_n) == (1, 2, 1)
    assert result.windows[["chrom", "start"]].values.tolist() == [["chr1", 450], ["chr1", 1000]]
    for row, window in result.windows.iterrows():
        expected = encode_sequence(inputs.genome[window.chrom][window.start : window.end])
        np.testing.assert_array_equal(onehot[row], expected)  # lower-case bases count too


def test_a_chromosome_missing_from_the_fasta_is_an_error(files):
    windows = pd.DataFrame({"chrom": ["chrUn_x"], "start": [0], "end": [200]})
    with pytest.raises(ValueError, match="chrUn_x.*not in the genome FASTA"):
        filter_windows(windows, files / "genome.fa", dict(CHROMOSOMES))


def test_one_hot_encode_maps_other_bases_to_zero_rows():
    codes = np.frombuffer(b"ACGTNacgtR", dtype=np.uint8)[None]
    onehot = one_hot_encode(codes)
    assert onehot.shape == (1, 10, 4)
    np.testing.assert_array_equal(onehot[0].sum(axis=1), [1, 1, 1, 1, 0, 1, 1, 1, 1, 0])
    np.testing.assert_array_equal(onehot[0, :4], np.eye(4))


def test_non_overlapping_agrees_with_brute_force(inputs, tmp_path):
    rng = np.random.default_rng(3)
    starts = rng.integers(0, 5000, 200)
    candidates = pd.DataFrame({"chrom": "chr1", "start": starts, "end": starts + rng.integers(1, 300, 200)})
    peak_starts = rng.integers(0, 5000, 20)
    peaks = pd.DataFrame({"chrom": "chr1", "start": peak_starts, "end": peak_starts + 100})
    kept = non_overlapping(candidates, peaks, tmp_path)
    overlaps = (candidates["start"].to_numpy()[:, None] < peaks["end"].to_numpy()) & (
        candidates["end"].to_numpy()[:, None] > peaks["start"].to_numpy()
    )
    assert kept.index.tolist() == candidates.index[~overlaps.any(axis=1)].tolist()
    assert list(tmp_path.iterdir()) == []  # its temporary folder is gone


# --- downloads --------------------------------------------------------------------------------------


def test_download_verifies_md5_and_retries_a_server_error(tmp_path):
    body = gzipped("chr1\t1\t2\n")
    with FileServer({"/a.bed.gz": body}, fail_once={"/a.bed.gz"}) as server:
        observed = download(f"{server.url}/a.bed.gz", tmp_path / "a.bed.gz", md5=md5(body), backoff_seconds=0)
        assert server.requests == ["/a.bed.gz", "/a.bed.gz"]
    assert observed == md5(body) and (tmp_path / "a.bed.gz").read_bytes() == body


@pytest.mark.parametrize(
    "served, expected_md5, message",
    [
        (gzipped("chr1\t1\t2\n"), "0" * 32, "md5 mismatch"),
        (gzipped("chr1\t1\t2\n" * 500)[:-30], "", "not a complete gzip"),
        (None, "", "HTTP Error 404"),
    ],
)
def test_bad_downloads_fail_and_leave_nothing(tmp_path, served, expected_md5, message):
    files = {} if served is None else {"/x.bed.gz": served}
    with FileServer(files) as server:
        with pytest.raises(DownloadError, match=message):
            download(f"{server.url}/x.bed.gz", tmp_path / "x.bed.gz", md5=expected_md5, backoff_seconds=0)
        assert len(server.requests) == 1  # neither a 404 nor a bad file is retried
    assert list(tmp_path.iterdir()) == []


def test_download_gives_up_after_the_retries(tmp_path):
    with FileServer({"/y.gz": gzipped("a")}, fail_once={"/y.gz"}) as server:
        with pytest.raises(DownloadError, match="after 1 attempt.*500"):
            download(f"{server.url}/y.gz", tmp_path / "y.gz", retries=0)
    assert list(tmp_path.iterdir()) == []


# --- the manifest and the portal --------------------------------------------------------------------


def manifest_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in MANIFEST_COLUMNS:
        if column not in frame:
            frame[column] = ""
    return frame[list(MANIFEST_COLUMNS)].fillna("")


def test_committed_manifest_is_valid():
    from pathlib import Path

    table = read_manifest(Path(__file__).resolve().parents[1] / "config" / "encode.tsv")
    tfs = table[table["assay"] == "TF ChIP-seq"]["name"].tolist()
    assert tfs == ["CTCF", "MAX", "ATF2", "ARID3A", "BACH1", "GABPA", "ZNF24", "ELK1", "SRF", "REST"]
    assert (table["assembly"] == "GRCh38").all()


def test_manifest_rejects_bad_md5_and_two_dnase_rows(tmp_path):
    common = {"output_type": "peaks", "assembly": "GRCh38"}
    rows = [
        {"name": "A", "assay": "TF ChIP-seq", "md5": "xyz", **common},
        {"name": "D", "assay": "DNase-seq", **common},
    ]
    manifest_frame(rows).to_csv(tmp_path / "m.tsv", sep="\t", index=False)
    with pytest.raises(ValueError, match="32 hex"):
        read_manifest(tmp_path / "m.tsv")
    rows[0]["md5"] = ""
    rows[0]["assay"] = "DNase-seq"
    manifest_frame(rows).to_csv(tmp_path / "m.tsv", sep="\t", index=False)
    with pytest.raises(ValueError, match="exactly one DNase-seq"):
        read_manifest(tmp_path / "m.tsv")


def portal_answers() -> dict[str, bytes]:
    """What the portal's REST API answers (format=json, results under @graph) for the searches made."""

    def search(parameters):
        query = urllib.parse.urlencode([*parameters, ("format", "json"), ("limit", "all")])
        return f"/search/?{query}"

    experiment = {"@graph": [{"accession": "ENCSR000ZZZ"}, {"accession": "ENCSR000AAA"}]}
    files = {
        "@graph": [
            {
                "accession": "ENCFF000AAA",
                "href": "/files/ENCFF000AAA/@@download/ENCFF000AAA.bed.gz",
                "md5sum": "a" * 32,
                "preferred_default": False,
            },
            {
                "accession": "ENCFF999ZZZ",
                "href": "/files/ENCFF999ZZZ/@@download/ENCFF999ZZZ.bed.gz",
                "md5sum": "b" * 32,
                "preferred_default": True,
            },
        ]
    }
    dnase_file = {
        "accession": "ENCFF588OCA",
        "href": "/files/ENCFF588OCA/@@download/ENCFF588OCA.bed.gz",
        "md5sum": "c" * 32,
    }
    experiment_search = search(
        [
            ("type", "Experiment"),
            ("assay_title", "TF ChIP-seq"),
            ("biosample_ontology.term_name", "GM12878"),
            ("status", "released"),
            ("target.label", "ZNF24"),
        ]
    )
    file_search = search(
        [
            ("type", "File"),
            ("dataset", "/experiments/ENCSR000AAA/"),
            ("output_type", "conservative IDR thresholded peaks"),
            ("file_type", "bed narrowPeak"),
            ("assembly", "GRCh38"),
            ("status", "released"),
        ]
    )
    return {
        experiment_search: json.dumps(experiment).encode(),
        file_search: json.dumps(files).encode(),
        "/files/ENCFF588OCA/?format=json": json.dumps(dnase_file).encode(),
    }


def test_resolve_manifest_fills_cells_from_the_portal_search(tmp_path):
    common = {"assembly": "GRCh38"}
    table = manifest_frame(
        [
            {
                "name": "ZNF24",
                "target": "ZNF24",
                "assay": "TF ChIP-seq",
                "output_type": "conservative IDR thresholded peaks",
                **common,
            },
            {
                "name": "DNase",
                "assay": "DNase-seq",
                "output_type": "peaks",
                "experiment": "ENCSR000EJD",
                "file": "ENCFF588OCA",
                **common,
            },
            {
                "name": "DONE",
                "target": "X",
                "assay": "TF ChIP-seq",
                "output_type": "peaks",
                "experiment": "E",
                "file": "F",
                "url": "http://elsewhere/f.bed.gz",
                "md5": "d" * 32,
                **common,
            },
        ]
    )
    with FileServer(portal_answers()) as portal:
        resolved = resolve_manifest(table, portal=portal.url)
        assert len(portal.requests) == 3  # the complete row asked nothing
    znf24, dnase, done = (resolved.iloc[i] for i in range(3))
    assert znf24["experiment"] == "ENCSR000AAA"  # lowest accession when none is preferred
    assert znf24["file"] == "ENCFF999ZZZ"  # the portal's preferred default
    assert znf24["url"] == f"{portal.url}/files/ENCFF999ZZZ/@@download/ENCFF999ZZZ.bed.gz"
    assert znf24["md5"] == "b" * 32
    assert dnase["md5"] == "c" * 32 and dnase["url"].endswith(
        "/files/ENCFF588OCA/@@download/ENCFF588OCA.bed.gz"
    )
    assert done.equals(table.iloc[2])


# --- datasets ---------------------------------------------------------------------------------------


def peak_overlaps(chrom: str, start: int, end: int, rows: list[tuple]) -> bool:
    return any(row[0] == chrom and row[1] < end and row[2] > start for row in rows)


def test_dataset_is_balanced_correct_and_reproducible(inputs, files, tmp_path):
    dataset = build_dataset(
        files / "TFA.bed.gz", files / "DNase.bed.gz", files / "genome.fa", seed=5, tmpdir=tmp_path
    )
    counts = dataset.counts
    assert counts["positives_dropped_duplicate"] == 1
    assert counts["positives_dropped_edge"] == 1 and counts["positives_dropped_n"] == 1
    assert counts["positives_kept"] == len(inputs.peaks["TFA"]) - 3
    total = 2 * counts["positives_used"]
    sizes = [len(dataset.splits[name]["y"]) for name in ("train", "valid", "test")]
    assert sizes == [round(0.7 * total), round(0.1 * total), total - round(0.7 * total) - round(0.1 * total)]
    labels = np.concatenate([dataset.splits[name]["y"][:, 0] for name in dataset.splits])
    assert labels.sum() == total / 2
    midpoints = {(row[0], (row[1] + row[2]) // 2) for row in inputs.peaks["TFA"]}
    for split in dataset.splits.values():
        for x, y, chrom, start in zip(split["x"], split["y"][:, 0], split["chrom"], split["start"]):
            chrom = chrom.decode()
            np.testing.assert_array_equal(x, encode_sequence(inputs.genome[chrom][start : start + 200]))
            if y == 1:
                assert (chrom, start + 100) in midpoints
            else:
                assert not peak_overlaps(chrom, start, start + 200, inputs.peaks["TFA"])
    assert list(tmp_path.iterdir()) == []

    written = []
    for seed in (5, 5, 6):
        path = tmp_path / f"out{len(written)}.h5"
        again = build_dataset(files / "TFA.bed.gz", files / "DNase.bed.gz", files / "genome.fa", seed=seed)
        write_dataset(path, again, {"seed": seed})
        written.append(path.read_bytes())
    assert written[0] == written[1] and written[0] != written[2]


def test_a_tf_without_usable_peaks_fails_and_writes_nothing(inputs, files, tmp_path):
    (tmp_path / "edge.bed.gz").write_bytes(
        gzipped(narrowpeak_text([("chr3", 0, 120, "p", 0, ".", 1, -1, 1, 5)]))
    )
    out = tmp_path / "TF.h5"
    manifest = tmp_path / "m.tsv"
    manifest_frame(
        [
            {
                "name": "TF",
                "assay": "TF ChIP-seq",
                "output_type": "p",
                "url": "http://x",
                "assembly": "GRCh38",
            },
            {
                "name": "DNase",
                "assay": "DNase-seq",
                "output_type": "p",
                "url": "http://y",
                "assembly": "GRCh38",
            },
        ]
    ).to_csv(manifest, sep="\t", index=False)
    status = cli.main(
        [
            "encode-dataset",
            "--name",
            "TF",
            "--manifest",
            str(manifest),
            "--peaks",
            str(tmp_path / "edge.bed.gz"),
            "--dnase",
            str(files / "DNase.bed.gz"),
            "--genome",
            str(files / "genome.fa"),
            "--out",
            str(out),
            "--out-counts",
            str(tmp_path / "TF.tsv"),
        ]
    )
    assert status == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edge.bed.gz", "m.tsv"]


def test_prepare_genome_decompresses_and_indexes(inputs, tmp_path):
    (tmp_path / "g.fa.gz").write_bytes(gzipped(fasta_text(inputs.genome)))
    assert (
        cli.main(["prepare-genome", "--fasta-gz", str(tmp_path / "g.fa.gz"), "--out", str(tmp_path / "g.fa")])
        == 0
    )
    index = pd.read_csv(tmp_path / "g.fa.fai", sep="\t", header=None)
    assert dict(zip(index[0], index[1])) == CHROMOSOMES
    with gzip.open(tmp_path / "g.fa.gz", "rt") as handle:
        assert (tmp_path / "g.fa").read_text() == handle.read()


# --- the encode rules through Snakemake -------------------------------------------------------------


def encode_config(folder, server_url, inputs, wrong_md5_for=()):
    """A workflow config whose ENCODE table and genome URL point at the local server."""
    rows = []
    for name in ("TFA", "TFB", "DNase"):
        body = inputs.files[f"/files/{name}.bed.gz"]
        rows.append(
            {
                "name": name,
                "target": "" if name == "DNase" else name,
                "assay": "DNase-seq" if name == "DNase" else "TF ChIP-seq",
                "output_type": "peaks",
                "experiment": f"ENCSR{name}",
                "file": f"ENCFF{name}",
                "url": f"{server_url}/files/{name}.bed.gz",
                "md5": "0" * 32 if name in wrong_md5_for else md5(body),
                "assembly": "GRCh38",
            }
        )
    manifest_frame(rows).to_csv(folder / "encode.tsv", sep="\t", index=False)
    genome = {"url": f"{server_url}/genome.fa.gz", "md5": md5(inputs.files["/genome.fa.gz"])}
    override = {
        "encode": {"enabled": True, "manifest": str(folder / "encode.tsv"), "genome": genome, "seed": 3},
    }
    return write_config(folder, override)


@pytest.fixture(scope="module")
def encode_run(inputs, tmp_path_factory):
    folder = tmp_path_factory.mktemp("encode_workflow")
    with FileServer(inputs.files, fail_once={"/files/TFB.bed.gz"}) as server:
        config = encode_config(folder, server.url, inputs)
        result = run_snakemake(folder, config, "--cores", "2", "results/encode/summary.tsv")
        requests = list(server.requests)
    assert result.returncode == 0, result.stderr[-5000:]
    return folder, requests


@pytest.mark.slow
def test_encode_rules_build_every_dataset(inputs, encode_run):
    folder, requests = encode_run
    assert requests.count("/files/TFB.bed.gz") == 2  # the failed first try was retried
    summary = pd.read_csv(folder / "results/encode/summary.tsv", sep="\t")
    assert summary["name"].tolist() == ["TFA", "TFB"]
    assert (summary["positives_used"] == summary["negatives_used"]).all()
    for name in ("TFA", "TFB"):
        with h5py.File(folder / f"results/encode/{name}.h5") as handle:
            assert handle.attrs["md5"] == md5(inputs.files[f"/files/{name}.bed.gz"])
            assert handle.attrs["dnase_file"] == "ENCFFDNase" and handle.attrs["seed"] == 3
            total = 0
            for split in ("train", "valid", "test"):
                x, y = handle[f"x_{split}"][()], handle[f"y_{split}"][()]
                assert x.shape[1:] == (200, 4) and y.shape == (len(x), 1)
                for row, (chrom, start) in enumerate(
                    zip(handle[f"chrom_{split}"][()], handle[f"start_{split}"][()])
                ):
                    chrom = chrom.decode()
                    np.testing.assert_array_equal(
                        x[row], encode_sequence(inputs.genome[chrom][start : start + 200])
                    )
                    if y[row, 0] == 0:
                        assert not peak_overlaps(chrom, start, start + 200, inputs.peaks[name])
                total += len(y)
            assert total == 2 * summary.set_index("name").loc[name, "positives_used"]
    assert not list((folder / "results/encode").glob("**/.*partial*"))


@pytest.mark.slow
def test_encode_md5_mismatch_stops_the_run_and_leaves_no_download(inputs, tmp_path):
    with FileServer(inputs.files) as server:
        config = encode_config(tmp_path, server.url, inputs, wrong_md5_for={"TFB"})
        result = run_snakemake(tmp_path, config, "--cores", "1", "results/encode/TFB.h5")
    assert result.returncode != 0
    assert not (tmp_path / "results/encode/downloads/TFB.bed.gz").exists()
    assert not (tmp_path / "results/encode/TFB.h5").exists()
    log = (tmp_path / "results/logs/encode/download/TFB.log").read_text()
    assert "md5 mismatch" in log
