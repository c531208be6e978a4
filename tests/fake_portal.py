"""A fake ENCODE portal on 127.0.0.1 that is no more generous than the real one.

What it copies from the real portal (ENCODE-DCC/encoded):
- ``/search/?type=...`` filters on any (dotted) field, ``field=value`` repeated is OR, ``field!=value``
  excludes; without ``limit`` it answers the first 25 results; results carry only the type's schema
  columns unless ``field=`` is given (then those fields plus ``@id`` and ``@type``), and everything with
  ``frame=object`` (embedded objects then become their ``@id``). File columns have ``accession``,
  ``href`` and ``preferred_default`` but not ``md5sum`` (nor ``analyses``).
- An empty search is a 404 whose JSON body says "No results found"; an unknown object is a 404 too.
- ``/files/<id>/@@download/<name>`` answers 307 to another server (the file store) serving the bytes.
- ``preferred_default`` is absent (not false) on files that are not the default.

:func:`encode_catalog` builds the GM12878 cases the manifest must handle.
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.parse

from encode_fixtures import EncodeInputs, FileServer, md5

FILE_COLUMNS = (
    "accession",
    "title",
    "dataset",
    "file_format",
    "file_type",
    "file_format_type",
    "output_type",
    "assembly",
    "status",
    "href",
    "file_size",
    "date_created",
    "biological_replicates",
    "preferred_default",
)
EXPERIMENT_COLUMNS = ("accession", "assay_title", "target.label", "biosample_summary", "status")
_CONTROL = {"type", "format", "limit", "field", "frame"}
GENOME_ID = "GRCh38_no_alt_analysis_set_GCA_000001405.15"


def _get(item: object, path: str) -> object:
    for key in path.split("."):
        if isinstance(item, list):
            item = [_get(entry, key) for entry in item]
        else:
            item = item.get(key) if isinstance(item, dict) else None
    return item


def _texts(value: object) -> list[str]:
    if isinstance(value, list):
        return [text for entry in value for text in _texts(entry)]
    if isinstance(value, bool):
        return [str(value).lower()]
    return [] if value is None else [str(value)]


def _project(item: dict, fields: list[str]) -> dict:
    result = {"@id": item["@id"], "@type": item["@type"]}
    for path in fields:
        value = _get(item, path)
        if value is None:
            continue
        *parents, last = path.split(".")
        target = result
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value
    return result


def _object_frame(item: dict) -> dict:
    return {
        key: value["@id"] if isinstance(value, dict) and "@id" in value else value
        for key, value in item.items()
    }


class FakePortal:
    """Serves ``experiments`` and ``files`` (full objects, the embedded frame) like the portal, and the
    files' bytes (``blobs``: file id -> bytes) from a second server behind 307 redirects.

    ``fail_first`` makes the first N requests answer 503; ``hide_fields`` are never returned (a field
    the portal stopped providing). ``requests`` records every path asked for.
    """

    def __init__(
        self,
        experiments: list[dict],
        files: list[dict],
        blobs: dict[str, bytes],
        fail_first: int = 0,
        hide_fields: tuple[str, ...] = (),
    ):
        self.objects = {item["@id"]: item for item in [*experiments, *files]}
        self.blobs = blobs
        self.fail_first = fail_first
        self.hide_fields = set(hide_fields)
        self.requests: list[str] = []
        self.store = FileServer({})
        portal = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                portal.requests.append(self.path)
                if portal.fail_first > 0:
                    portal.fail_first -= 1
                    return self.answer(503, {"status": "error", "title": "Service Unavailable"})
                parsed = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)
                if parsed.path == "/search/":
                    return self.answer(*portal.search(query))
                if "/@@download/" in parsed.path:
                    identifier = parsed.path.split("/")[2]
                    if identifier not in portal.blobs:
                        return self.answer(404, {"status": "error", "title": "Not Found"})
                    name = parsed.path.rsplit("/", 1)[-1]
                    self.send_response(307)
                    self.send_header("Location", f"{portal.store.url}/store/{identifier}/{name}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                item = portal.objects.get(parsed.path)
                if item is None:
                    return self.answer(404, {"status": "error", "code": 404, "title": "Not Found"})
                return self.answer(200, portal.visible(item))

            def answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def visible(self, item: dict) -> dict:
        return {key: value for key, value in item.items() if key not in self.hide_fields}

    def search(self, query: list[tuple[str, str]]) -> tuple[int, dict]:
        wanted: dict[str, list[str]] = {}
        unwanted: dict[str, list[str]] = {}
        for key, value in query:
            if key.endswith("!"):
                unwanted.setdefault(key[:-1], []).append(value)
            elif key not in _CONTROL:
                wanted.setdefault(key, []).append(value)
        types = [value for key, value in query if key == "type"]
        results = [
            item
            for item in self.objects.values()
            if all(kind in item["@type"] for kind in types)
            and all(set(_texts(_get(item, key))) & set(values) for key, values in wanted.items())
            and not any(set(_texts(_get(item, key))) & set(values) for key, values in unwanted.items())
        ]
        if not results:
            return 404, {"@graph": [], "total": 0, "notification": "No results found", "@type": ["Search"]}
        limit = dict(query).get("limit", "25")
        shown = results if limit == "all" else results[: int(limit)]
        fields = [value for key, value in query if key == "field"]
        if dict(query).get("frame") == "object":
            graph = [_object_frame(self.visible(item)) for item in shown]
        else:
            columns = fields or [
                *(FILE_COLUMNS if "File" in types else EXPERIMENT_COLUMNS if "Experiment" in types else ())
            ]
            graph = [_project(self.visible(item), columns) for item in shown]
        return 200, {"@graph": graph, "total": len(results), "notification": "Success", "@type": ["Search"]}

    def __enter__(self):
        for identifier, data in self.blobs.items():
            name = self.objects[f"/files/{identifier}/"]["href"].rsplit("/", 1)[-1]
            self.store.files[f"/store/{identifier}/{name}"] = data
        self.store.__enter__()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.store.__exit__(*exc)


# --- the catalog ------------------------------------------------------------------------------------


def experiment(
    accession: str,
    label: str | None,
    status: str = "released",
    assay: str = "TF ChIP-seq",
    biosample: str = "GM12878",
    default_analysis: str | None = None,
) -> dict:
    item = {
        "@id": f"/experiments/{accession}/",
        "@type": ["Experiment", "Dataset", "Item"],
        "accession": accession,
        "status": status,
        "assay_title": assay,
        "biosample_ontology": {"@id": f"/biosample-types/{biosample}/", "term_name": biosample},
        "biosample_summary": f"Homo sapiens {biosample}",
        "date_created": "2012-01-01T00:00:00.000000+00:00",
    }
    if label:
        gene = label.rsplit("-", 1)[-1] if label.startswith("eGFP-") else label
        item["target"] = {"@id": f"/targets/{label}-human/", "label": label, "genes": [{"symbol": gene}]}
    if default_analysis:
        item["default_analysis"] = f"/analyses/{default_analysis}/"
    return item


def peak_file(
    accession: str,
    experiment_accession: str,
    output_type: str,
    data: bytes,
    *,
    status: str = "released",
    preferred: bool = False,
    assembly: str = "GRCh38",
    analysis: str | None = None,
    date: str = "2020-10-01",
) -> dict:
    item = {
        "@id": f"/files/{accession}/",
        "@type": ["File", "Item"],
        "accession": accession,
        "title": accession,
        "dataset": f"/experiments/{experiment_accession}/",
        "file_format": "bed",
        "file_format_type": "narrowPeak",
        "file_type": "bed narrowPeak",
        "output_type": output_type,
        "assembly": assembly,
        "status": status,
        "href": f"/files/{accession}/@@download/{accession}.bed.gz",
        "md5sum": md5(data),
        "content_md5sum": "0" * 32,
        "file_size": len(data),
        "date_created": f"{date}T12:00:00.000000+00:00",
        "biological_replicates": [1, 2],
    }
    if preferred:
        item["preferred_default"] = True
    if analysis:
        item["analyses"] = [f"/analyses/{analysis}/"]
    return item


CONSERVATIVE = "conservative IDR thresholded peaks"
OPTIMAL = "IDR thresholded peaks"
PSEUDO = "pseudoreplicated peaks"


def encode_catalog(inputs: EncodeInputs) -> tuple[list[dict], list[dict], dict[str, bytes]]:
    """Experiments, files and file bytes for the ten TFs of config/encode.tsv, the DNase file and the
    genome. Cases: CTCF has two candidate files (the preferred_default one older), a newer preferred file
    outside the default analysis, an hg19 file and a second CTCF experiment; MAX has a newer archived
    experiment; ATF2 has only IDR thresholded peaks (its conservative file is revoked); BACH1 only
    pseudoreplicated peaks; ARID3A two experiments, the one with the preferred file archived; ZNF24 only
    a tagged target (eGFP-ZNF24); SRF two files, none preferred; GABPA a revoked file (ENCFF999REV)."""
    tf, dnase = inputs.files["/files/TFA.bed.gz"], inputs.files["/files/DNase.bed.gz"]
    experiments = [
        experiment("ENCSR000AKB", "CTCF", default_analysis="ENCAN000CTC"),
        experiment("ENCSR000DZN", "CTCF"),
        experiment("ENCSR000K56", "CTCF", biosample="K562"),
        experiment("ENCSR000DZF", "MAX"),
        experiment("ENCSR999MAX", "MAX", status="archived"),
        experiment("ENCSR000BQK", "ATF2"),
        experiment("ENCSR001ARI", "ARID3A"),
        experiment("ENCSR002ARI", "ARID3A", status="archived"),
        experiment("ENCSR000BAC", "BACH1"),
        experiment("ENCSR000BGC", "GABPA"),
        experiment("ENCSR000ZNF", "eGFP-ZNF24"),
        experiment("ENCSR000Z40", "eGFP-ZNF240"),
        experiment("ENCSR000DZB", "ELK1"),
        experiment("ENCSR000BGE", "SRF"),
        experiment("ENCSR000BGF", "REST"),
        experiment("ENCSR000BQS", "REST"),
        experiment("ENCSR000EJD", None, assay="DNase-seq"),
        experiment("ENCSR000EMT", None, assay="DNase-seq"),
    ]
    files = [
        peak_file("ENCFF001CTC", "ENCSR000AKB", CONSERVATIVE, tf, preferred=True, analysis="ENCAN000CTC"),
        peak_file("ENCFF002CTC", "ENCSR000AKB", CONSERVATIVE, tf, analysis="ENCAN000CTC", date="2021-05-01"),
        peak_file("ENCFF003CTC", "ENCSR000AKB", CONSERVATIVE, tf, preferred=True, analysis="ENCAN000OLD"),
        peak_file("ENCFF004CTC", "ENCSR000AKB", CONSERVATIVE, tf, assembly="hg19"),
        peak_file("ENCFF005CTC", "ENCSR000DZN", CONSERVATIVE, tf, preferred=True),
        peak_file("ENCFF006CTC", "ENCSR000K56", CONSERVATIVE, tf, preferred=True),
        peak_file("ENCFF001MAX", "ENCSR000DZF", CONSERVATIVE, tf, preferred=True),
        peak_file("ENCFF999MAX", "ENCSR999MAX", CONSERVATIVE, tf, preferred=True, date="2023-01-01"),
        peak_file("ENCFF001ATF", "ENCSR000BQK", CONSERVATIVE, tf, status="revoked"),
        peak_file("ENCFF002ATF", "ENCSR000BQK", OPTIMAL, tf, preferred=True),
        peak_file("ENCFF003ATF", "ENCSR000BQK", PSEUDO, tf),
        peak_file("ENCFF001ARI", "ENCSR001ARI", CONSERVATIVE, tf, date="2016-01-01"),
        peak_file("ENCFF002ARI", "ENCSR002ARI", CONSERVATIVE, tf, preferred=True, date="2022-01-01"),
        peak_file("ENCFF001BAC", "ENCSR000BAC", PSEUDO, tf, preferred=True),
        peak_file("ENCFF001GAB", "ENCSR000BGC", CONSERVATIVE, tf, preferred=True),
        peak_file("ENCFF999REV", "ENCSR000BGC", CONSERVATIVE, tf, status="revoked", date="2022-01-01"),
        peak_file("ENCFF001ZNF", "ENCSR000ZNF", CONSERVATIVE, tf, preferred=True),
        peak_file("ENCFF240ZNF", "ENCSR000Z40", CONSERVATIVE, tf, preferred=True),
        peak_file("ENCFF001ELK", "ENCSR000DZB", CONSERVATIVE, tf, preferred=True),
        peak_file("ENCFF001SRF", "ENCSR000BGE", CONSERVATIVE, tf, date="2019-01-01"),
        peak_file("ENCFF002SRF", "ENCSR000BGE", CONSERVATIVE, tf, date="2020-01-01"),
        peak_file("ENCFF001RES", "ENCSR000BGF", CONSERVATIVE, tf, preferred=True),
        peak_file("ENCFF002RES", "ENCSR000BQS", CONSERVATIVE, tf, preferred=True),
        peak_file("ENCFF588OCA", "ENCSR000EJD", "peaks", dnase),
        peak_file("ENCFF001EMT", "ENCSR000EMT", "peaks", dnase, assembly="hg19"),
    ]
    genome = inputs.files["/genome.fa.gz"]
    files.append(
        {
            "@id": f"/files/{GENOME_ID}/",
            "@type": ["File", "Item"],
            "title": GENOME_ID,
            "external_accession": GENOME_ID,
            "dataset": "/references/ENCSR425FOI/",
            "file_format": "fasta",
            "file_type": "fasta",
            "output_type": "genome reference",
            "assembly": "GRCh38",
            "status": "released",
            "href": f"/files/{GENOME_ID}/@@download/{GENOME_ID}.fasta.gz",
            "md5sum": md5(genome),
            "file_size": len(genome),
            "date_created": "2016-01-01T00:00:00.000000+00:00",
        }
    )
    blobs = {
        item["@id"].split("/")[2]: dnase if item["output_type"] == "peaks" else tf
        for item in files
        if item["file_format"] == "bed"
    }
    blobs[GENOME_ID] = genome
    return experiments, files, blobs
