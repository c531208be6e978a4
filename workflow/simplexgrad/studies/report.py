"""``simplexgrad report``: a user's model and sequences in, corrected attributions and one offline HTML
page out.

From a model (Keras, TorchScript, or a PyTorch factory with its ``state_dict``) and a FASTA file (or a BED
file and its genome, :mod:`simplexgrad.data.sequences`), for each method and output unit it writes, in
the folder ``out``:

- ``maps/<method>_unit<k>.npz``: raw and corrected maps ``(N, L, 4)``, the sequences, names and parameters
  (an attribution file, :func:`simplexgrad.io.save_attributions`);
- ``maps/<method>_unit<k>.h5``: ``raw``, ``corrected`` and ``one_hot`` ``(N, 4, L)``, the layout that
  tfmodisco-lite and CREsted read, and ``names``;
- ``angles.tsv``: one row per method, unit and sequence (:func:`simplexgrad.correction.angle_statistics`);
- ``motifs/<method>_unit<k>_{raw,corrected}.tsv``: tfmodisco-lite patterns matched to JASPAR, when the
  ``modisco`` extra is installed and ``motifs`` is on;
- ``index.html``: the page (images inline as PNG, no script, nothing fetched): the model and data, the
  angles against the isotropic null (:mod:`simplexgrad.angle_null`), the sequences whose maps lean off
  the simplex most with their raw and corrected logos and angle track, the motifs raw against corrected,
  and the command that made it.

The folder is written beside ``out`` under a temporary name and renamed into place when complete, so a
failure or a stop leaves nothing behind; an earlier report in ``out`` is replaced.
"""

from __future__ import annotations

import base64
import html
import importlib.metadata
import logging
import os
import shlex
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from simplexgrad._arrays import Layout, OutputKind, as_layout, check_method_list
from simplexgrad._atomic import glob_escape
from simplexgrad._model_files import chosen_units, output_units
from simplexgrad._optional import MissingExtra, check_extra, needs
from simplexgrad.angle_null import null_angle_sd, null_percent_above
from simplexgrad.attribution.commands import ModelSource, model_sequences
from simplexgrad.attribution.maps import write_tsv
from simplexgrad.attribution.methods import METHODS, method_options
from simplexgrad.backend import configure_threads, is_torch_model
from simplexgrad.correction import ANGLE_THRESHOLDS, angle_statistics, simplex_angle
from simplexgrad.data.sequences import NO_SEQUENCE_FILE, SequenceInput
from simplexgrad.io import create_reproducible_h5, save_attributions

with needs("keras", "simplexgrad.studies.report"):
    from simplexgrad.plots import report as figures

__all__ = ["report"]

log = logging.getLogger(__name__)

PATCH_WIDTH = 60  # positions shown in a sequence's logos
STYLE = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;"
    "font-size:13px;text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}"
    "img{max-width:100%}pre{background:#f6f6f6;padding:.6em;white-space:pre-wrap}"
    ".pair{display:flex;gap:1em;flex-wrap:wrap}"
)


def report(
    model: str,
    out: str,
    inputs: SequenceInput = NO_SEQUENCE_FILE,
    methods: list[str] | None = None,
    class_index: list[str] | None = None,
    output: OutputKind = "probability",
    state_dict: str | None = None,
    layout: Layout = "NLA",
    output_head: str | None = None,
    num_seqs: int | None = None,
    top: int = 5,
    motifs: bool = True,
    batch_size: int = 128,
    threads: int | None = None,
) -> Path:
    """A model's raw and corrected maps of a FASTA or BED file's sequences, their angles, their motifs
    and one HTML page.

    Parameters
    ----------
    model : str
        Keras (.keras, .h5), TorchScript (.pt), or package.module:factory with --state-dict.
    out : str
        Folder to write: index.html, maps/, angles.tsv and motifs/ (replaced if it holds a report).
    inputs : SequenceInput
        The sequences: a FASTA file, or a BED file and a genome (:class:`SequenceInput`).
    methods : list of str or None
        Attribution methods of :data:`METHODS` (default: saliency).
    class_index : list of str or None
        Output units to explain: numbers, ranges (0-3) or all (default: 0).
    output : {'probability', 'logit'}
        Differentiate the model's output or its logit (Keras models).
    state_dict : str or None
        Weights (torch.save of a state_dict) of a PyTorch model given as package.module:factory.
    layout : {'NLA', 'NAL'}
        The model's input layout: (N, L, 4) or (N, 4, L) (PyTorch's usual one); maps are written NLA.
    output_head : str or None
        Output head (name or index) of a model with several outputs.
    num_seqs : int or None
        Use only the first N sequences.
    top : int
        Sequences shown per unit and method, those whose raw maps lean off the simplex most.
    motifs : bool
        Run tfmodisco-lite on the raw and corrected maps when the modisco extra is installed.
    batch_size : int
        Model inputs per gradient call.
    threads : int or None
        CPU threads for the backend.

    Returns
    -------
    pathlib.Path
        The page, ``out/index.html``.
    """
    started = time.perf_counter()
    methods = methods or ["saliency"]
    check_method_list(methods)
    for method in methods:
        method_options(method)  # an unknown method is refused before anything is read
    if top < 0:
        raise ValueError(f"top must be >= 0; got {top}")
    destination = Path(out)
    if destination.is_dir() and any(destination.iterdir()) and not (destination / "index.html").exists():
        raise ValueError(f"--out {out}: a folder that holds files but no report; name a new folder")
    if not inputs.given():
        raise ValueError("give the sequences as --sequences FASTA, or --bed BED with --genome FASTA")
    configure_threads(threads)
    source = ModelSource(model, state_dict, layout, output_head)
    loaded = source.load()
    x, names, where = model_sequences(source, loaded, inputs, num_seqs)
    units = chosen_units(class_index, output_units(loaded, as_layout(x[:2], layout), model), model)
    log.info("report: %d sequences of %d nt from %s; %d method(s) x %d unit(s)", len(x), x.shape[1],
             where, len(methods), len(units))  # fmt: skip
    discovery = _motif_discovery(motifs)
    _remove_stale(destination)
    prefix = f".{destination.name}.partial.{socket.gethostname()}-{os.getpid()}."  # a stale one is known
    temporary = Path(tempfile.mkdtemp(prefix=prefix, dir=_parent(destination)))
    try:
        (temporary / "maps").mkdir()
        sections, tables = [], []
        for unit in units:
            for method in methods:
                log.info("report: %s maps of unit %d", method, unit)
                settings = {"batch_size": batch_size, "class_index": unit, "layout": layout, "output": output}
                fed = as_layout(x, layout)
                raw, corrected = METHODS[method](
                    loaded, fed, return_corrected=True, progress=True, **settings
                )
                raw, corrected = as_layout(raw, layout), as_layout(corrected, layout)
                defaults = {name: p.default for name, p in method_options(method).items()}
                named = {
                    "method": method,
                    "model": os.path.basename(model),
                    "sequences": os.path.basename(where),
                }
                record = {**named, "split": "", **defaults, **settings}
                stem = f"{method}_unit{unit}"
                _write_maps(temporary / "maps" / stem, raw, corrected, x, names, record)
                statistics = angle_statistics(raw)
                labels = {
                    "method": np.full(len(x), method),
                    "class_index": np.full(len(x), unit),
                    "name": names,
                }
                tables.append({**labels, **statistics})
                found = discovery(x, raw, corrected, temporary, stem) if discovery else None
                sections.append(_section(method, unit, x, raw, corrected, names, statistics, top, found))
        write_tsv({key: np.concatenate([table[key] for table in tables]) for key in tables[0]},
                  temporary / "angles.tsv")  # fmt: skip
        summary = _summary(model, loaded, layout, output_head, where, x, names, methods, units, started)
        note = "" if discovery else _MOTIF_NOTE[motifs]
        page = _page(summary, sections, note)
        (temporary / "index.html").write_text(page, encoding="utf-8")
        _replace(temporary, destination)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    log.info("report: wrote %s (%.0f kB) in %.1f s", destination / "index.html", len(page.encode()) / 1000,
             time.perf_counter() - started)  # fmt: skip
    return destination / "index.html"


def _parent(destination: Path) -> Path:
    parent = destination.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    return parent


def _remove_stale(destination: Path) -> None:
    """Remove partial folders of this report left by writers that are gone (killed before clean-up)."""
    parent = destination.absolute().parent
    for stale in parent.glob(f"{glob_escape(f'.{destination.name}.partial.')}*"):
        writer = stale.name.removeprefix(f".{destination.name}.partial.").split(".")[0]
        host, _, pid = writer.rpartition("-")
        if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _replace(temporary: Path, destination: Path) -> None:
    """Move the finished folder into place; an earlier report there is removed once the new one is in."""
    os.chmod(temporary, 0o777 & ~_umask())
    if not destination.exists():
        os.replace(temporary, destination)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{destination.name}.old.", dir=destination.absolute().parent))
    os.replace(destination, old / "report")
    os.replace(temporary, destination)
    shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_maps(stem: Path, raw, corrected, x, names, record: dict) -> None:
    """``<stem>.npz``, an attribution file, and ``<stem>.h5``: maps and sequences ``(N, 4, L)`` float32
    (tfmodisco-lite's and CREsted's layout) and the names."""
    save_attributions(stem.with_suffix(".npz"), raw, corrected, x, np.arange(len(x)), record, names)
    with create_reproducible_h5(stem.with_suffix(".h5")) as handle:
        for key, array in (("raw", raw), ("corrected", corrected), ("one_hot", x)):
            handle.create_dataset(key, data=np.ascontiguousarray(np.swapaxes(array, 1, 2), dtype=np.float32),
                                  compression="gzip", shuffle=True, track_times=False)  # fmt: skip
        handle.create_dataset("names", data=np.asarray(names, dtype=h5py.string_dtype()), track_times=False)
        handle.attrs["layout"] = "NAL: (N, 4, L), ACGT"
        handle.attrs.update({key: str(value) for key, value in record.items()})


_MOTIF_NOTE = {
    True: "Motifs: not searched; tfmodisco-lite is not installed (pip install 'simplexgrad[modisco]').",
    False: "Motifs: not searched (--no-motifs).",
}


def _motif_discovery(wanted: bool):
    """The motif step, or None (with one line saying why) when it is off or the extra is missing."""
    if not wanted:
        return None
    try:
        check_extra("modisco", "motifs in `simplexgrad report`")
    except MissingExtra as missing:
        log.warning("report: %s; the page says so and has no motifs", missing)
        return None
    from simplexgrad.studies.modisco import find_motifs

    def discover(x, raw, corrected, folder: Path, stem: str) -> dict:
        found = {}
        (folder / "motifs").mkdir(exist_ok=True)
        for which, maps in (("raw", raw), ("corrected", corrected)):
            log.info("report: tfmodisco-lite on the %s maps (%s)", which, stem)
            try:
                run, table = find_motifs(x, maps)
            except ValueError as error:  # too few sequences or seqlets
                log.warning("report: no motifs in the %s maps of %s: %s", which, stem, error)
                found[which] = ([], None, str(error))
                continue
            table.to_csv(folder / "motifs" / f"{stem}_{which}.tsv", sep="\t", index=False)
            found[which] = ([(p.name, p.cwm) for p in run.patterns()], table, "")
        return found

    return discover


def _png(figure) -> str:
    data = base64.b64encode(figures.png_bytes(figure)).decode("ascii")
    return f'<img alt="figure" src="data:image/png;base64,{data}">'


def _section(method, unit, x, raw, corrected, names, statistics, top, found) -> str:
    """The HTML of one method and unit: angles against the null, top sequences, motifs."""
    angles = simplex_angle(raw, zero=np.nan)
    pooled = angles[~np.isnan(angles)]
    above = {f"{t:g}": statistics[f"percent_above_{t:g}"] for t in ANGLE_THRESHOLDS}
    null = null_percent_above(ANGLE_THRESHOLDS)
    rows = "".join(
        f"<tr><td>{t:g}°</td><td>{np.mean(values):.1f}</td><td>{expected:.1f}</td></tr>"
        for t, values, expected in zip(ANGLE_THRESHOLDS, above.values(), null)
    )
    removed = statistics["removed_norm_fraction"]
    parts = [
        f"<h2>Output unit {unit}: {html.escape(method)}</h2>",
        f"<p>Angle spread (sd) {np.std(pooled) if pooled.size else float('nan'):.1f}° against "
        f"{null_angle_sd():.1f}° for isotropic gradients; the correction removes a median "
        f"{100 * np.nanmedian(removed):.1f} % of each raw map's squared norm.</p>",
        "<table><tr><th>|angle| above</th><th>% positions (mean)</th><th>isotropic null</th></tr>"
        f"{rows}</table>",
        _png(figures.angles_against_null(pooled, above, f"unit {unit}, {method}: raw maps")),
    ]
    order = np.argsort(-np.nan_to_num(removed, nan=-1.0), kind="stable")[:top]
    if len(order):
        parts.append(f"<h3>The {len(order)} sequences whose maps lean off the simplex most</h3>")
    width = min(PATCH_WIDTH, x.shape[1])
    for row in order:
        strength = np.abs(corrected[row] * x[row]).sum(axis=1)
        start = int(np.clip(np.argmax(strength) - width // 2, 0, x.shape[1] - width))
        title = f"{names[row]}: {100 * removed[row]:.1f} % of the norm off the simplex"
        parts.append(_png(figures.sequence_maps(raw[row], corrected[row], angles[row], title, start, width)))
    if found is not None:
        parts.append(_motifs_html(found))
    return "\n".join(parts)


def _motifs_html(found: dict) -> str:
    cells = []
    for which in ("raw", "corrected"):
        cwms, table, error = found[which]
        if table is None or not len(table):
            reason = f"no motifs: {html.escape(error)}" if table is None else "no pattern found"
            cells.append(f"<div><h4>{which} maps</h4><p>{reason}</p></div>")
            continue
        rows = "".join(
            f"<tr><td class=l>{html.escape(str(r.pattern))}</td><td>{r.seqlets}</td>"
            f"<td class=l>{html.escape(str(r.best_match_name))}</td><td>{r.tomtom_qvalue:.2g}</td></tr>"
            for r in table.itertuples()
        )
        head = "<tr><th class=l>pattern</th><th>seqlets</th><th class=l>best JASPAR match</th><th>q</th></tr>"
        logos = _png(figures.motif_logos(cwms[:6], f"{which} maps")) if cwms else ""
        cells.append(
            f"<div><h4>{which} maps: {len(cwms)} patterns</h4><table>{head}{rows}</table>{logos}</div>"
        )
    return (
        "<h3>Motifs (tfmodisco-lite, TOMTOM against JASPAR)</h3><div class=pair>" + "".join(cells) + "</div>"
    )


def _summary(model, loaded, layout, head, where, x, names, methods, units, started) -> str:
    kind = "PyTorch" if is_torch_model(loaded) and not hasattr(loaded, "output_shape") else "Keras"
    unknown = 100 * float((x.sum(axis=-1) == 0).mean())
    shown = ", ".join(html.escape(str(name)) for name in names[:5]) + (" …" if len(names) > 5 else "")
    items = {
        "model": f"{html.escape(str(model))} ({kind}, input layout {layout}"
        + (f", output head {html.escape(head)})" if head else ")"),
        "sequences": f"{len(x)} of {x.shape[1]} nt from {html.escape(where)}: {shown}",
        "unknown bases (N)": f"{unknown:.2f} % of positions",
        "methods": ", ".join(methods),
        "output units": ", ".join(map(str, units)),
        "simplexgrad": _version(),
    }
    rows = "".join(f"<tr><th class=l>{key}</th><td class=l>{value}</td></tr>" for key, value in items.items())
    return f"<table>{rows}</table>"


def _version() -> str:
    try:
        return importlib.metadata.version("simplexgrad")
    except importlib.metadata.PackageNotFoundError:
        return "not installed (a source checkout)"


def _command() -> str:
    """The command that made the report, as typed (or the Python call when called from Python)."""
    argv = sys.argv
    if len(argv) > 1 and argv[1] == "report" and Path(argv[0]).name in ("simplexgrad", "__main__.py"):
        return shlex.join(["simplexgrad", *argv[1:]])
    return "simplexgrad.studies.report.report(...), called from Python: " + shlex.join(argv)


def _page(summary: str, sections: list[str], note: str) -> str:
    body = "\n".join(sections)
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>simplexgrad report</title><style>{STYLE}</style></head><body>\n"
        "<h1>Corrected attributions</h1>\n"
        "<p>Each position's gradient is split into the part in the simplex plane, which the model can "
        "use, and the part along its normal, which points off the one-hot data; the corrected map is "
        "g − mean over A, C, G, T. The angle to the plane shows how much a raw map leaned off it; an "
        f"isotropic gradient (no preferred direction) has an angle spread of {null_angle_sd():.1f}°.</p>\n"
        f"{summary}\n"
        + (f"<p>{html.escape(note)}</p>\n" if note else "")
        + f"{body}\n<h2>Command</h2>\n<pre>{html.escape(_command())}</pre>\n</body></html>\n"
    )
