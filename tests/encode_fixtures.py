"""Small ENCODE-like inputs for offline tests: a genome FASTA, narrowPeak files in ENCODE's column
layout, and an HTTP server on 127.0.0.1 that serves them (and can fail on purpose)."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import threading
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from simplexgrad.data.manifest import MANIFEST_COLUMNS
from workflow_helpers import merged, write_config

CHROMOSOMES = {"chr1": 20_000, "chr2": 15_000, "chr3": 10_000}
N_RUN = ("chr2", 7_000, 7_060)  # a stretch of N, like an assembly gap


def make_genome(seed: int = 0) -> dict[str, str]:
    """Random chromosomes with an N run on chr2 and a soft-masked (lower-case) stretch on chr1."""
    rng = np.random.default_rng(seed)
    genome = {}
    for name, size in CHROMOSOMES.items():
        genome[name] = "".join(np.array(list("ACGT"))[rng.integers(0, 4, size)])
    chrom, start, end = N_RUN
    genome[chrom] = genome[chrom][:start] + "N" * (end - start) + genome[chrom][end:]
    genome["chr1"] = genome["chr1"][:500] + genome["chr1"][500:900].lower() + genome["chr1"][900:]
    return genome


def fasta_text(genome: dict[str, str], width: int = 60) -> str:
    lines = []
    for name, sequence in genome.items():
        lines.append(f">{name}")
        lines += [sequence[i : i + width] for i in range(0, len(sequence), width)]
    return "\n".join(lines) + "\n"


def random_peaks(
    rng: np.random.Generator, count: int, min_width: int, max_width: int, prefix: str
) -> list[tuple]:
    """narrowPeak rows (chrom, start, end, name, score, strand, signal, p, q, summit)."""
    rows = []
    names = list(CHROMOSOMES)
    for index in range(count):
        chrom = names[rng.integers(0, len(names))]
        width = int(rng.integers(min_width, max_width))
        start = int(rng.integers(300, CHROMOSOMES[chrom] - width - 300))
        summit = int(rng.integers(0, width))
        rows.append((chrom, start, start + width, f"{prefix}{index}", 1000, ".", 12.5, -1, 3.2, summit))
    return rows


def narrowpeak_text(rows: list[tuple]) -> str:
    return "".join("\t".join(str(value) for value in row) + "\n" for row in rows)


def gzipped(text: str) -> bytes:
    # mtime=0: the same text gives the same bytes, hence the same md5.
    return gzip.compress(text.encode(), mtime=0)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@dataclass
class EncodeInputs:
    genome: dict[str, str]
    files: dict[str, bytes] = field(default_factory=dict)  # served path -> bytes
    peaks: dict[str, list[tuple]] = field(default_factory=dict)  # name -> narrowPeak rows


def make_encode_inputs(seed: int = 0, tfa: int = 30, tfb: int = 15, dnase: int = 150) -> EncodeInputs:
    """Two TFs and a DNase file (``tfa``, ``tfb`` and ``dnase`` random peaks). TFA has a duplicated peak,
    one at a chromosome end and one on the N run, so that every drop reason occurs."""
    rng = np.random.default_rng(seed)
    genome = make_genome(seed)
    tfa_rows = random_peaks(rng, tfa, 120, 400, "tfa")
    tfa_rows.append(tfa_rows[0])  # duplicate line, as IDR files have
    tfa_rows.append(("chr3", 0, 150, "edge", 1000, ".", 9.0, -1, 2.0, 20))  # window runs off the start
    tfa_rows.append(("chr2", N_RUN[1] - 50, N_RUN[1] + 90, "gap", 1000, ".", 9.0, -1, 2.0, 70))
    tfb_rows = random_peaks(rng, tfb, 120, 400, "tfb")
    dnase_rows = random_peaks(rng, dnase, 100, 350, "dhs")
    inputs = EncodeInputs(genome=genome, peaks={"TFA": tfa_rows, "TFB": tfb_rows, "DNase": dnase_rows})
    inputs.files["/genome.fa.gz"] = gzipped(fasta_text(genome))
    for name, rows in inputs.peaks.items():
        inputs.files[f"/files/{name}.bed.gz"] = gzipped(narrowpeak_text(rows))
    return inputs


class FileServer:
    """Serves a dict of path -> bytes on 127.0.0.1; paths in ``fail_once`` answer 500 the first time."""

    def __init__(self, files: dict[str, bytes], fail_once: set[str] | None = None):
        self.files = files
        self.fail_once = set(fail_once or ())
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                server.requests.append(self.path)
                if self.path in server.fail_once:
                    server.fail_once.discard(self.path)
                    self.send_error(500, "transient failure")
                    return
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def multi_summit_rows() -> list[tuple]:
    """One IDR region on chr1 listed three times with three summits (as ENCODE's IDR files do), far
    enough apart that each summit gives its own 200-nt window, plus the same line repeated."""
    region = ("chr1", 2_000, 3_000, "multi", 1000, ".", 30.0, -1, 5.0)
    return [(*region, 100), (*region, 500), (*region, 900), (*region, 900)]


def other_chromosome_rows(prefix: str) -> list[tuple]:
    """Sites that ENCODE's TF pipeline leaves out: EBV, the mitochondrion and an unplaced contig (none
    of which the fixture genome has, so keeping any would fail)."""
    names = ("chrEBV", "chrM", "chrUn_KI270302v1")
    return [(chrom, 1_000, 1_300, f"{prefix}{chrom}", 1000, ".", 9.0, -1, 2.0, 150) for chrom in names]


def manifest_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in MANIFEST_COLUMNS:
        if column not in frame:
            frame[column] = ""
    return frame[list(MANIFEST_COLUMNS)].fillna("")




def encode_config(folder, server_url, inputs, wrong_md5_for=(), extra=None):
    """A workflow config whose ENCODE table (TFA, TFB, DNase and the genome) points at the local server;
    ``extra`` is merged over it."""
    rows = []
    for name in ("TFA", "TFB", "DNase"):
        body = inputs.files[f"/files/{name}.bed.gz"]
        rows.append(
            {
                "name": name,
                "target": "" if name == "DNase" else name,
                "target_label": "" if name == "DNase" else name,  # complete: no portal request
                "assay": "DNase-seq" if name == "DNase" else "TF ChIP-seq",
                "output_type": "peaks",
                "experiment": f"ENCSR{name}",
                "file": f"ENCFF{name}",
                "url": f"{server_url}/files/{name}.bed.gz",
                "md5": "0" * 32 if name in wrong_md5_for else md5(body),
                "assembly": "GRCh38",
            }
        )
    genome = {"url": f"{server_url}/genome.fa.gz", "md5": md5(inputs.files["/genome.fa.gz"])}
    rows.append(
        {"name": "genome", "assay": "reference genome", "output_type": "genome reference", "file": "genome"}
        | {"assembly": "GRCh38", **genome}
    )
    manifest_frame(rows).to_csv(folder / "encode.tsv", sep="\t", index=False)
    override = {"encode": {"enabled": True, "manifest": str(folder / "encode.tsv"), "seed": 3}}
    return write_config(folder, merged(override, extra or {}))
