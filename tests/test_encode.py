"""In vivo data, offline: peak parsing, windows, downloads, the portal manifest and the datasets."""

import gzip
import json
import logging
import ssl
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from encode_fixtures import (
    CHROMOSOMES,
    FileServer,
    encode_config,
    fasta_text,
    gzipped,
    make_encode_inputs,
    manifest_frame,
    md5,
    multi_summit_rows,
    narrowpeak_text,
    other_chromosome_rows,
)
from fake_portal import GENOME_ID, FakePortal, encode_catalog
from simplexgrad import cli
from simplexgrad.data import download as download_module
from simplexgrad.data.download import DownloadError, download, is_retryable
from simplexgrad.data.encode import build_dataset, encode_dataset, non_overlapping, write_dataset
from simplexgrad.data.genome import centred_windows, filter_windows, one_hot_encode, read_peaks
from simplexgrad.data.manifest import read_manifest
from simplexgrad.data.portal import PortalError, encode_manifest, resolve_manifest
from workflow_helpers import run_snakemake

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


COMMITTED_TABLE = Path(__file__).resolve().parents[1] / "config" / "encode.tsv"


def test_committed_manifest_is_valid():
    table = read_manifest(COMMITTED_TABLE)
    tfs = table[table["assay"] == "TF ChIP-seq"]["name"].tolist()
    assert tfs == ["CTCF", "MAX", "ATF2", "ARID3A", "BACH1", "GABPA", "ZNF24", "ELK1", "SRF", "REST"]
    assert (table["assembly"] == "GRCh38").all()
    genome = table[table["assay"] == "reference genome"].iloc[0]
    assert genome["file"] == GENOME_ID and genome["url"].endswith(f"{GENOME_ID}.fasta.gz")


def test_manifest_accepts_old_tables_and_checks_the_new_rows(tmp_path):
    tf = {"name": "A", "target": "A", "assay": "TF ChIP-seq", "assembly": "GRCh38"}  # no output_type
    dnase = {"name": "D", "assay": "DNase-seq", "output_type": "peaks", "assembly": "GRCh38"}
    genome = {
        "name": "g",
        "assay": "reference genome",
        "output_type": "genome reference",
        "assembly": "GRCh38",
    }
    path = tmp_path / "m.tsv"
    manifest_frame([tf, dnase]).drop(columns="target_label").to_csv(path, sep="\t", index=False)
    assert read_manifest(path)["target_label"].tolist() == ["", ""]  # a table from before the column
    manifest_frame([tf, dnase, {**genome, "file": "G"}]).to_csv(path, sep="\t", index=False)
    assert read_manifest(path)["assay"].tolist()[-1] == "reference genome"
    for rows, message in [
        ([tf, dnase, {**genome, "file": "G"}, {**genome, "name": "h", "file": "G"}], "at most one"),
        ([tf, dnase, genome], "needs its file"),
        ([tf, {**dnase, "output_type": ""}], r"output_type is empty in line\(s\) \[3\]"),
    ]:
        manifest_frame(rows).to_csv(path, sep="\t", index=False)
        with pytest.raises(ValueError, match=message):
            read_manifest(path)


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


@pytest.fixture(scope="module")
def catalog(inputs):
    return encode_catalog(inputs)


def fake_portal(catalog, **options) -> FakePortal:
    experiments, files, blobs = catalog
    return FakePortal(experiments, files, blobs, **options)


def test_fake_portal_answers_like_the_real_one(catalog, inputs, tmp_path):
    """What the resolver must cope with: schema columns only, 404 for nothing, 307 to the file store."""
    import urllib.error
    import urllib.request

    def get(url):
        with urllib.request.urlopen(url) as response:
            return json.load(response)

    with fake_portal(catalog) as portal:
        columns = get(f"{portal.url}/search/?type=File&accession=ENCFF001CTC&format=json")["@graph"][0]
        assert {"accession", "href", "preferred_default"} <= set(columns) and "md5sum" not in columns
        asked = get(f"{portal.url}/search/?type=File&accession=ENCFF001CTC&field=md5sum&format=json")
        assert set(asked["@graph"][0]) == {"@id", "@type", "md5sum"}
        whole = get(f"{portal.url}/search/?type=File&accession=ENCFF001CTC&frame=object&format=json")
        assert "md5sum" in whole["@graph"][0] and "analyses" in whole["@graph"][0]
        tagged = get(f"{portal.url}/search/?type=Experiment&target.label=eGFP-ZNF24&format=json")
        assert tagged["@graph"][0]["target"] == {"label": "eGFP-ZNF24"}
        with pytest.raises(urllib.error.HTTPError) as empty:
            get(f"{portal.url}/search/?type=Experiment&target.label=NOSUCH&format=json")
        assert empty.value.code == 404 and json.load(empty.value)["notification"] == "No results found"
        href = portal.objects["/files/ENCFF588OCA/"]["href"]
        body = inputs.files["/files/DNase.bed.gz"]
        assert download(portal.url + href, tmp_path / "d.bed.gz", md5=md5(body)) == md5(body)
        assert portal.store.requests == ["/store/ENCFF588OCA/ENCFF588OCA.bed.gz"]  # via the 307


def test_committed_table_resolves_against_a_realistic_portal(catalog, inputs, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="simplexgrad.data.portal")
    with fake_portal(catalog) as portal:
        # the study page's command (docs/study.md), against the fake portal
        table = ["--table", str(COMMITTED_TABLE), "--out", str(tmp_path / "m.tsv")]
        assert cli.main(["encode-manifest", *table, "--portal", portal.url]) == 0
        searches = [path for path in portal.requests if path.startswith("/search/")]
    assert searches and all("field=md5sum" in path or "type=Experiment" in path for path in searches)
    table = read_manifest(tmp_path / "m.tsv").set_index("name")
    assert (table[["file", "url", "md5"]] != "").all().all()
    chosen = table[["experiment", "file", "output_type", "target_label"]].T.to_dict()
    assert chosen["CTCF"] == {
        "experiment": "ENCSR000AKB",  # pinned; ENCSR000DZN is another CTCF experiment
        "file": "ENCFF001CTC",  # preferred_default over the newer ENCFF002CTC
        "output_type": "conservative IDR thresholded peaks",
        "target_label": "CTCF",
    }
    assert (
        chosen["ATF2"]["file"] == "ENCFF002ATF" and chosen["ATF2"]["output_type"] == "IDR thresholded peaks"
    )
    assert chosen["BACH1"]["output_type"] == "pseudoreplicated peaks"
    assert chosen["ARID3A"]["experiment"] == "ENCSR001ARI"  # the other one is archived
    assert chosen["ZNF24"]["target_label"] == "eGFP-ZNF24" and chosen["ZNF24"]["file"] == "ENCFF001ZNF"
    assert chosen["SRF"]["file"] == "ENCFF002SRF"  # neither preferred: the newer
    assert chosen["GABPA"]["file"] == "ENCFF001GAB"
    assert table.loc["DNase", "md5"] == md5(inputs.files["/files/DNase.bed.gz"])
    assert table.loc["genome", "md5"] == md5(inputs.files["/genome.fa.gz"])
    assert table.loc["CTCF", "url"] == f"{portal.url}/files/ENCFF001CTC/@@download/ENCFF001CTC.bed.gz"
    logged = caplog.text
    for expected in [
        "CTCF: file ENCFF003CTC set aside: not in the default analysis /analyses/ENCAN000CTC/",
        "CTCF: file ENCFF002CTC set aside for ENCFF001CTC: not the portal's preferred_default",
        "CTCF: experiment ENCSR000DZN set aside: not the pinned experiment ENCSR000AKB",
        "ARID3A: experiment ENCSR002ARI set aside: status archived",
        "ATF2: file ENCFF001ATF set aside: status revoked",
        "ATF2: file ENCFF003ATF set aside for ENCFF002ATF: a less preferred output type",
        "ATF2: no usable conservative IDR thresholded peaks; using IDR thresholded peaks",
        "GABPA: file ENCFF999REV set aside: status revoked",
        "SRF: file ENCFF001SRF set aside for ENCFF002SRF: older",
        "ZNF24: using tagged target label eGFP-ZNF24",
    ]:
        assert expected in logged
    assert "ENCSR000K56" not in logged and "ENCFF240ZNF" not in logged  # K562; eGFP-ZNF240

    # complete rows ask nothing; refresh re-checks them
    with fake_portal(catalog) as portal:
        again = resolve_manifest(read_manifest(tmp_path / "m.tsv"), portal=portal.url)
        assert portal.requests == [] and not again.failures
        refreshed = resolve_manifest(read_manifest(tmp_path / "m.tsv"), portal=portal.url, refresh=True)
        assert "/files/ENCFF001CTC/?format=json" in portal.requests
    assert not refreshed.failures  # the same choices, re-checked (the URLs name the new portal)
    assert refreshed.table.drop(columns="url").equals(again.table.drop(columns="url"))


def test_every_unresolved_row_is_reported_at_once(catalog, tmp_path, caplog):
    common = {"assay": "TF ChIP-seq", "assembly": "GRCh38"}
    rows = [
        {"name": "NOSUCH", "target": "NOSUCH", **common},
        {"name": "GABPA", "target": "GABPA", "file": "ENCFF999REV", **common},  # pinned, revoked
        {"name": "BACH1", "target": "BACH1", "output_type": "conservative IDR thresholded peaks", **common},
        {"name": "ZNF24", "target": "ZNF24", **common},  # only a tagged label, and tags are off here
        {"name": "MAX", "target": "MAX", **common},
        {
            "name": "DNase",
            "assay": "DNase-seq",
            "output_type": "peaks",
            "file": "ENCFF588OCA",
            "assembly": "GRCh38",
        },
    ]
    manifest_frame(rows).to_csv(tmp_path / "in.tsv", sep="\t", index=False)
    out = tmp_path / "out.tsv"
    caplog.set_level(logging.INFO, logger="simplexgrad.data.portal")
    with fake_portal(catalog) as portal, pytest.raises(LookupError) as error:
        encode_manifest(
            str(tmp_path / "in.tsv"), str(out), portal=portal.url, match_tagged_targets=False
        )
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{tmp_path / 'in.tsv'}: 4 of 6 rows did not resolve: ")
    assert "NOSUCH (no released GM12878 TF ChIP-seq experiment for target NOSUCH)" in message
    assert "GABPA (pinned file ENCFF999REV refused: status revoked)" in message
    assert (
        "BACH1 (no released conservative IDR thresholded peaks (bed narrowPeak, GRCh38) file in ENCSR000BAC)"
        in message
    )
    assert "ZNF24 (no released GM12878 TF ChIP-seq experiment for target ZNF24)" in message
    assert "tagged target label 'eGFP-ZNF24' (tagged targets not matched)" in caplog.text
    errors = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 1 and all(name in errors[0] for name in ("NOSUCH", "GABPA", "BACH1", "ZNF24"))
    written = read_manifest(out).set_index("name")  # what resolved is kept; the failed rows as they were
    assert written.loc["MAX", "file"] == "ENCFF001MAX" and written.loc["DNase", "md5"] != ""
    assert written.loc["GABPA", "md5"] == "" and written.loc["NOSUCH", "file"] == ""


def test_a_pinned_file_is_checked(catalog):
    common = {"assay": "TF ChIP-seq", "assembly": "GRCh38", "name": "CTCF", "target": "CTCF"}
    cases = {
        "ENCFF004CTC": "assembly hg19, not GRCh38",
        "ENCFF003ATF": "output type 'pseudoreplicated peaks' not in ['conservative IDR thresholded peaks']",
        "ENCFF000NON": "pinned file ENCFF000NON is not on the portal",
        "ENCFF001MAX": "experiment for target CTCF (pinned ENCSR000DZF: its target is MAX)",
    }
    dnase = {
        "name": "DNase",
        "assay": "DNase-seq",
        "output_type": "peaks",
        "file": "ENCFF588OCA",
        "assembly": "GRCh38",
    }
    with fake_portal(catalog) as portal:
        for accession, message in cases.items():
            pinned_type = {"output_type": "conservative IDR thresholded peaks"} if "ATF" in accession else {}
            table = manifest_frame([{**common, "file": accession, **pinned_type}, dnase])
            failures = resolve_manifest(table, portal=portal.url).failures
            assert message in failures["CTCF"], failures
            assert list(failures) == ["CTCF"]


def test_a_field_missing_from_the_answers_is_an_error_naming_it(catalog, tmp_path):
    rows = [{"name": "MAX", "target": "MAX", "assay": "TF ChIP-seq", "assembly": "GRCh38"}]
    rows.append({"name": "DNase", "assay": "DNase-seq", "output_type": "peaks", "assembly": "GRCh38"})
    manifest_frame(rows).to_csv(tmp_path / "in.tsv", sep="\t", index=False)
    with fake_portal(catalog, hide_fields=("md5sum",)) as portal, pytest.raises(PortalError) as error:
        encode_manifest(str(tmp_path / "in.tsv"), str(tmp_path / "out.tsv"), portal=portal.url)
    assert f"{portal.url}/search/?type=File" in str(error.value) and "lacks field 'md5sum'" in str(
        error.value
    )
    assert not (tmp_path / "out.tsv").exists()


def test_portal_calls_are_retried_like_downloads(catalog):
    table = manifest_frame(
        [
            {"name": "ELK1", "target": "ELK1", "assay": "TF ChIP-seq", "assembly": "GRCh38"},
            {
                "name": "DNase",
                "assay": "DNase-seq",
                "output_type": "peaks",
                "file": "ENCFF588OCA",
                "assembly": "GRCh38",
            },
        ]
    )
    with fake_portal(catalog, fail_first=2) as portal:
        resolved = resolve_manifest(table, portal=portal.url, backoff_seconds=0)
    assert not resolved.failures and resolved.table.loc[0, "file"] == "ENCFF001ELK"
    with (
        fake_portal(catalog, fail_first=1) as portal,
        pytest.raises(PortalError, match="after 1 attempt.*503"),
    ):
        resolve_manifest(table, portal=portal.url, retries=0)


def test_tls_errors_mid_transfer_are_retried(tmp_path, monkeypatch):
    calls = []

    def flaky(url, destination, timeout):
        calls.append(url)
        if len(calls) == 1:
            raise ssl.SSLError(1, "[SSL: DECRYPTION_FAILED_OR_BAD_RECORD_MAC] decryption failed")
        destination.write_bytes(b"ok")
        return md5(b"ok")

    monkeypatch.setattr(download_module, "_fetch", flaky)
    assert download("https://example.org/x", tmp_path / "x", md5=md5(b"ok"), backoff_seconds=0) == md5(b"ok")
    assert len(calls) == 2
    assert not is_retryable(ssl.SSLCertVerificationError("certificate verify failed"))


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


def test_summit_windows_keep_every_summit_of_a_multi_summit_region(inputs, files, tmp_path):
    path = tmp_path / "multi.bed.gz"
    path.write_bytes(gzipped(narrowpeak_text(inputs.peaks["TFA"] + multi_summit_rows())))
    counts = {}
    for centre in ("summit", "midpoint"):
        for peaks in (files / "TFA.bed.gz", path):
            dataset = build_dataset(
                peaks, files / "DNase.bed.gz", files / "genome.fa", centre=centre, tmpdir=tmp_path
            )
            counts[centre, peaks.name] = dataset.counts
    added = {
        centre: {
            key: counts[centre, path.name][key] - counts[centre, "TFA.bed.gz"][key]
            for key in ("positives_kept", "positives_dropped_duplicate")
        }
        for centre in ("summit", "midpoint")
    }
    assert added == {
        "summit": {"positives_kept": 3, "positives_dropped_duplicate": 1},  # three summits, one repeated line
        "midpoint": {"positives_kept": 1, "positives_dropped_duplicate": 3},
    }
    assert counts["summit", path.name]["positives_used"] == counts["summit", path.name]["positives_kept"]
    positives = {
        (chrom.decode(), int(start))
        for split in dataset.splits.values()
        for chrom, start, y in zip(split["chrom"], split["start"], split["y"][:, 0])
        if y == 1
    }
    assert ("chr1", 2_500 - 100) in positives  # the midpoint run: one window for the region
    summit = build_dataset(
        path, files / "DNase.bed.gz", files / "genome.fa", centre="summit", tmpdir=tmp_path
    )
    positives = {
        (chrom.decode(), int(start))
        for split in summit.splits.values()
        for chrom, start, y in zip(split["chrom"], split["start"], split["y"][:, 0])
        if y == 1
    }
    assert {("chr1", 2_000 + offset - 100) for offset in (100, 500, 900)} <= positives


def test_sites_off_the_main_chromosomes_are_dropped_and_counted(inputs, files, tmp_path):
    peaks, dnase = tmp_path / "tf.bed.gz", tmp_path / "dnase.bed.gz"
    peaks.write_bytes(gzipped(narrowpeak_text(inputs.peaks["TFA"] + other_chromosome_rows("p"))))
    dnase.write_bytes(gzipped(narrowpeak_text(other_chromosome_rows("d") + inputs.peaks["DNase"])))
    counts = build_dataset(peaks, dnase, files / "genome.fa", seed=5, tmpdir=tmp_path).counts
    reference = build_dataset(
        files / "TFA.bed.gz", files / "DNase.bed.gz", files / "genome.fa", seed=5
    ).counts
    assert counts["peaks_dropped_chromosome"] == 3 and counts["dnase_dropped_chromosome"] == 3
    assert counts["peaks_read"] == reference["peaks_read"] + 3
    same = {key: value for key, value in counts.items() if not key.endswith(("_read", "_chromosome"))}
    assert same == {key: reference[key] for key in same}
    with pytest.raises(ValueError, match="chrEBV.*not in the genome FASTA"):
        build_dataset(peaks, dnase, files / "genome.fa", chromosomes=None, tmpdir=tmp_path)


def test_encode_dataset_records_the_provenance(inputs, files, tmp_path):
    tf = inputs.files["/files/TFA.bed.gz"]
    rows = [
        {
            "name": "ZNF24",
            "target": "ZNF24",
            "target_label": "eGFP-ZNF24",
            "assay": "TF ChIP-seq",
            "output_type": "IDR thresholded peaks",
            "experiment": "ENCSR000ZNF",
            "file": "ENCFF001ZNF",
            "url": "http://portal/files/ENCFF001ZNF/@@download/ENCFF001ZNF.bed.gz",
            "md5": md5(tf),
            "assembly": "GRCh38",
        },
        {
            "name": "DNase",
            "assay": "DNase-seq",
            "output_type": "peaks",
            "experiment": "ENCSR000EJD",
            "file": "ENCFF588OCA",
            "url": "http://portal/dnase",
            "md5": "c" * 32,
            "assembly": "GRCh38",
        },
        {
            "name": "genome",
            "assay": "reference genome",
            "output_type": "genome reference",
            "file": GENOME_ID,
            "url": "http://portal/genome",
            "md5": "e" * 32,
            "assembly": "GRCh38",
        },
    ]
    manifest_frame(rows).to_csv(tmp_path / "m.tsv", sep="\t", index=False)
    out, counts = tmp_path / "out" / "ZNF24.h5", tmp_path / "out" / "ZNF24.tsv"
    encode_dataset(
        "ZNF24",
        str(tmp_path / "m.tsv"),
        str(files / "TFA.bed.gz"),
        str(files / "DNase.bed.gz"),
        str(files / "genome.fa"),
        str(out),
        str(counts),
        centre="summit",
        seed=4,
        tmpdir=str(tmp_path),
    )
    with h5py.File(out) as handle:
        attributes = dict(handle.attrs)
    assert attributes["output_type"] == "IDR thresholded peaks" and attributes["target_label"] == "eGFP-ZNF24"
    assert json.loads(attributes["split_fractions"]) == [0.7, 0.1, 0.2]
    assert attributes["genome_md5"] == "e" * 32 and attributes["genome_file"] == GENOME_ID
    assert attributes["dnase_file"] == "ENCFF588OCA" and attributes["md5"] == md5(tf)
    assert attributes["centre"] == "summit" and attributes["seed"] == 4 and attributes["length"] == 200
    table = pd.read_csv(counts, sep="\t")
    assert table.loc[0, "name"] == "ZNF24" and table.loc[0, "output_type"] == "IDR thresholded peaks"
    assert table.loc[0, "positives_used"] == attributes["positives_used"]
    assert "peaks_dropped_chromosome" in table and "dnase_dropped_chromosome" in table
    assert sorted(path.name for path in out.parent.iterdir()) == ["ZNF24.h5", "ZNF24.tsv"]
    with pytest.raises(ValueError, match="is a DNase-seq row, not a TF ChIP-seq row"):
        encode_dataset("DNase", str(tmp_path / "m.tsv"), "p", "d", "g", str(out), str(counts))


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
