"""Filling an ENCODE manifest from the portal's REST API, as the real portal answers.

Every field read is requested with ``field=`` (a search answers only its type's schema columns
otherwise) and a missing one is an error naming it and the URL; an empty search is a 404 saying "No
results found"; calls are retried like downloads. For a TF row the candidates are the released
experiments of the assay and biosample whose target label is the target or a tagged form of it
(``eGFP-ZNF24``), and their released ``bed narrowPeak`` files of the accepted output types on the
assembly, within each experiment's default analysis where one is marked. The best output type wins,
then an untagged target, the portal's ``preferred_default``, the newest ``date_created``, the lowest
accession; every candidate set aside is logged with the reason. Pinned files are checked likewise.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from simplexgrad._optional import needs

with needs("workflow", "simplexgrad.data.portal"):
    import pandas as pd

    from simplexgrad.data.manifest import DNASE_ASSAY, GENOME_ASSAY, TF_ASSAY, read_manifest, write_manifest
    from simplexgrad.data.portal_api import (
        PORTAL,
        PortalClient,
        PortalError,  # noqa: F401  (what resolve_manifest raises; its home is portal_api)
        accession_of,
        get_field,
        require_fields,
    )

__all__ = [
    "OUTPUT_TYPE_PREFERENCE",
    "Resolution",
    "resolve_manifest",
    "encode_manifest",
]

log = logging.getLogger(__name__)

OUTPUT_TYPE_PREFERENCE = (
    "conservative IDR thresholded peaks",
    "IDR thresholded peaks",
    "pseudoreplicated peaks",
)
FILE_FIELDS = tuple(
    "accession href md5sum file_size status output_type file_type assembly dataset preferred_default "
    "analyses biological_replicates date_created".split()
)
_REQUIRED_FILE_FIELDS = ("href", "md5sum", "status", "output_type", "file_type", "assembly")
EXPERIMENT_FIELDS = ("accession", "status", "target.label", "default_analysis")
_FILE_TYPES = {TF_ASSAY: "bed narrowPeak", DNASE_ASSAY: "bed narrowPeak", GENOME_ASSAY: "fasta"}


class _Unresolved(LookupError):
    """One manifest row cannot be resolved (the message says why)."""


def _file_problems(item: dict, output_types: Sequence[str], file_type: str, assembly: str) -> list[str]:
    require_fields(item, _REQUIRED_FILE_FIELDS)
    problems = []
    if item["status"] != "released":
        problems.append(f"status {item['status']}")
    if item["output_type"] not in output_types:
        problems.append(f"output type {item['output_type']!r} not in {list(output_types)}")
    if item["file_type"] != file_type:
        problems.append(f"file type {item['file_type']!r}, not {file_type!r}")
    if item["assembly"] != assembly:
        problems.append(f"assembly {item['assembly']}, not {assembly}")
    return problems


@dataclass(frozen=True)
class _Request:
    """What one row asks for."""

    name: str
    assay: str
    target: str
    experiment: str
    output_types: tuple[str, ...]
    assembly: str = "GRCh38"
    biosample: str = "GM12878"
    match_tagged: bool = True

    @property
    def file_type(self) -> str:
        return _FILE_TYPES[self.assay]


def _label_match(label: str, target: str) -> str | None:
    """``'exact'``, ``'tagged'`` (``eGFP-ZNF24`` for ``ZNF24``) or ``None``."""
    if label == target:
        return "exact"
    return "tagged" if re.fullmatch(rf"[A-Za-z0-9]+-{re.escape(target)}", label or "") else None


def _experiments(client: PortalClient, request: _Request) -> dict[str, dict]:
    """The row's candidate experiments by accession, each with ``'tagged'``; rejections logged."""
    found = client.search(
        [("type", "Experiment"), ("assay_title", request.assay)]
        + [("biosample_ontology.term_name", request.biosample)],
        EXPERIMENT_FIELDS,
    )
    candidates, reasons = {}, {}
    for experiment in found:
        require_fields(experiment, ("accession", "status"))
        accession, label = experiment["accession"], str(get_field(experiment, "target.label") or "")
        match = _label_match(label, request.target) if request.target else "exact"
        if match is None:
            if accession == request.experiment:
                reasons[accession] = f"its target is {label or 'none'}"
            continue
        if request.experiment and accession != request.experiment:
            reasons[accession] = f"not the pinned experiment {request.experiment}"
        elif experiment["status"] != "released":
            reasons[accession] = f"status {experiment['status']}"
        elif match == "tagged" and not request.match_tagged:
            reasons[accession] = f"tagged target label {label!r} (tagged targets not matched)"
        else:
            candidates[accession] = {**experiment, "label": label, "tagged": match == "tagged"}
    for accession, reason in reasons.items():
        log.info("%s: experiment %s set aside: %s", request.name, accession, reason)
    if not candidates:
        wanted = f"{request.biosample} {request.assay} experiment for target {request.target or '(any)'}"
        pinned = f" (pinned {request.experiment}: {reasons.get(request.experiment, 'not found')})"
        raise _Unresolved(f"no released {wanted}{pinned if request.experiment else ''}")
    return candidates


def _identifier(entry: object) -> str | None:
    """An object's ``@id`` whether the portal embedded it or gave its path."""
    return entry.get("@id") if isinstance(entry, dict) else entry


def _rank(item: dict, request: _Request, experiments: dict[str, dict]) -> tuple:
    experiment = experiments[accession_of(item["dataset"])]
    return (
        request.output_types.index(item["output_type"]),
        experiment["tagged"],
        not item.get("preferred_default", False),
    )


def _why_lower(loser: dict, winner: dict, request: _Request, experiments: dict[str, dict]) -> str:
    ranks = (_rank(loser, request, experiments), _rank(winner, request, experiments))
    reasons = ("a less preferred output type", "a tagged target", "not the portal's preferred_default")
    for reason, lose, win in zip(reasons, *ranks):
        if lose != win:
            return reason
    if loser.get("date_created", "") != winner.get("date_created", ""):
        return f"older (created {loser.get('date_created', '?')})"
    return "same rank, higher accession"


def _choose_file(client: PortalClient, request: _Request, experiments: dict[str, dict]) -> dict:
    found = client.search(
        [("type", "File")]
        + [("dataset", f"/experiments/{accession}/") for accession in sorted(experiments)]
        + [("output_type", output_type) for output_type in request.output_types]
        + [("file_type", request.file_type), ("assembly", request.assembly)],
        FILE_FIELDS,
    )
    usable = []
    for item in found:
        require_fields(item, ("accession", "dataset"))
        problems = _file_problems(item, request.output_types, request.file_type, request.assembly)
        experiment = experiments.get(accession_of(item["dataset"]))
        if experiment is None:
            problems.append(f"from {item['dataset']}, not a candidate experiment")
        elif default := _identifier(experiment.get("default_analysis")):
            if default not in {_identifier(entry) for entry in item.get("analyses") or []}:
                problems.append(f"not in the default analysis {default}")
        if problems:
            log.info("%s: file %s set aside: %s", request.name, item["accession"], "; ".join(problems))
        else:
            usable.append(item)
    if not usable:
        raise _Unresolved(
            f"no released {' / '.join(request.output_types)} ({request.file_type}, {request.assembly}) "
            f"file in {', '.join(sorted(experiments))}"
        )
    usable.sort(key=lambda item: item["accession"])
    usable.sort(key=lambda item: item.get("date_created", ""), reverse=True)
    usable.sort(key=lambda item: _rank(item, request, experiments))
    chosen = usable[0]
    for item in usable[1:]:
        reason = _why_lower(item, chosen, request, experiments)
        log.info(
            "%s: file %s set aside for %s: %s", request.name, item["accession"], chosen["accession"], reason
        )
    return chosen


def _pinned_file(client: PortalClient, request: _Request, accession: str) -> dict:
    item = client.object(f"/files/{accession}/")
    if item is None:
        raise _Unresolved(f"pinned file {accession} is not on the portal (or not public)")
    problems = _file_problems(item, request.output_types, request.file_type, request.assembly)
    if problems:
        raise _Unresolved(f"pinned file {accession} refused: {'; '.join(problems)}")
    return item


def _resolve_row(client: PortalClient, row: pd.Series, request: _Request) -> dict[str, str]:
    if request.assay == GENOME_ASSAY:
        item = _pinned_file(client, request, row["file"])
        return {"url": client.absolute(item["href"]), "md5": item["md5sum"]}
    if request.assay == TF_ASSAY and not request.target:
        raise _Unresolved("a TF ChIP-seq row needs a target to search for")
    if row["file"]:
        item = _pinned_file(client, request, row["file"])
        require_fields(item, ("dataset",))
        experiments = _experiments(client, replace(request, experiment=accession_of(item["dataset"])))
        if request.experiment and request.experiment not in experiments:
            raise _Unresolved(f"pinned file {row['file']} is not from pinned experiment {request.experiment}")
    else:
        experiments = _experiments(client, request)
        item = _choose_file(client, request, experiments)
    experiment = experiments[accession_of(item["dataset"])]
    if item["output_type"] != request.output_types[0]:
        log.warning("%s: no usable %s; using %s", row["name"], request.output_types[0], item["output_type"])
    if experiment["tagged"]:
        log.warning("%s: using tagged target label %s", row["name"], experiment["label"])
    label = {"target_label": experiment["label"]} if request.assay == TF_ASSAY else {}
    return {
        **label,
        "output_type": item["output_type"],
        "experiment": experiment["accession"],
        "file": item.get("accession") or row["file"],
        "url": client.absolute(item["href"]),
        "md5": item["md5sum"],
    }


def _complete(row: pd.Series) -> bool:
    needed = {TF_ASSAY: ("target_label", "output_type", "experiment"), DNASE_ASSAY: ("experiment",)}
    return all(row[column] for column in ("file", "url", "md5", *needed.get(row["assay"], ())))


@dataclass(frozen=True)
class Resolution:
    """The manifest with what resolved filled in, and why each other row did not (name -> reason)."""

    table: pd.DataFrame
    failures: dict[str, str]


def resolve_manifest(
    table: pd.DataFrame,
    portal: str = PORTAL,
    biosample: str = "GM12878",
    output_types: Sequence[str] | None = None,
    match_tagged_targets: bool = True,
    refresh: bool = False,
    retries: int = 3,
    backoff_seconds: float = 2.0,
    timeout: float = 60.0,
) -> Resolution:
    """Fill the experiment / file / url / md5 / output_type / target_label cells of every row.

    Complete rows are left alone (no request) unless ``refresh``, which re-checks them (a pinned file
    that has since been revoked then fails). Filled ``experiment``, ``file`` and ``output_type`` cells
    are pins: clear them to let the portal choose again.

    Parameters
    ----------
    table
        A manifest as :func:`simplexgrad.data.manifest.read_manifest` returns it.
    output_types
        TF output types accepted, most preferred first (default :data:`OUTPUT_TYPE_PREFERENCE`).
    match_tagged_targets
        Whether a target label with a tag prefix (``eGFP-ZNF24``) matches its target (``ZNF24``).

    Raises
    ------
    PortalError
        When the portal cannot be reached after the retries, or an answer lacks a field read here.
    """
    preference = tuple(output_types or OUTPUT_TYPE_PREFERENCE)
    options = {"biosample": biosample, "match_tagged": match_tagged_targets}
    client = PortalClient(portal, retries, backoff_seconds, timeout)
    resolved, failures = table.copy(), {}
    for index, row in table.iterrows():
        if _complete(row) and not refresh:
            continue
        output_types = (row["output_type"],) if row["output_type"] else preference
        target = row["target"] if row["assay"] == TF_ASSAY else ""
        request = _Request(
            row["name"], row["assay"], target, row["experiment"], output_types, row["assembly"], **options
        )
        try:
            cells = _resolve_row(client, row, request)
        except _Unresolved as error:
            failures[row["name"]] = str(error)
            continue
        for column, value in cells.items():
            resolved.loc[index, column] = value
        log.info("%s: %s", row["name"], ", ".join(f"{key} {value}" for key, value in cells.items()))
    return Resolution(table=resolved, failures=failures)


def encode_manifest(
    table: str,
    out: str,
    portal: str = PORTAL,
    biosample: str = "GM12878",
    output_types: list[str] | None = None,
    match_tagged_targets: bool = True,
    refresh: bool = False,
    retries: int = 3,
) -> None:
    """Resolve a manifest TSV against the ENCODE portal and write it, then report every failed row.

    What resolved is written even when some rows did not: run by hand with ``out`` equal to ``table``,
    the resolved rows become pins and the next run asks only for the rest. As a Snakemake rule the
    non-zero exit makes Snakemake delete the output, so no later job reads a partial manifest. Filled
    experiment, file and output_type cells are pins; clear them to let the portal choose again.

    Parameters
    ----------
    table
        Manifest TSV to read (config/encode.tsv format).
    out
        Manifest TSV to write (may be the same file as table).
    portal
        Base URL of the ENCODE portal.
    biosample
        Biosample term name the experiments must have.
    output_types
        TF peak output types to accept, best first (default: conservative IDR, IDR, pseudoreplicated).
        That is :data:`OUTPUT_TYPE_PREFERENCE`; a row's own output_type cell pins one type instead.
    match_tagged_targets
        Match tagged target labels such as eGFP-ZNF24 to their target (untagged ones rank first).
    refresh
        Re-check complete rows too (status, md5) instead of leaving them alone.
    retries
        Further attempts after a failed portal call.

    Raises
    ------
    LookupError
        After writing what resolved, one line listing every row that did not resolve and why (the
        full table is logged first); :class:`PortalError` when the portal cannot be used at all.
    """
    resolution = resolve_manifest(
        read_manifest(table), portal, biosample, output_types, match_tagged_targets, refresh, retries
    )
    write_manifest(resolution.table, out)
    failures = resolution.failures
    if failures:
        width = max(map(len, failures))
        lines = "\n".join(f"  {name:<{width}}  {reason}" for name, reason in failures.items())
        log.error("%d row(s) of %s did not resolve:\n%s", len(failures), table, lines)
        summary = "; ".join(f"{name} ({reason})" for name, reason in failures.items())
        raise LookupError(
            f"{table}: {len(failures)} of {len(resolution.table)} rows did not resolve: {summary}"
        )
    log.info("wrote %s (%d rows)", out, len(resolution.table))
