"""The ``simplexgrad`` command line: each subcommand calls one library function.

A subcommand's options are derived from its function's signature (names, types, defaults) and the first
line of each parameter's description in the numpydoc ``Parameters`` section, so they are written once, in
the library; what it writes is declared in its row of :data:`COMMANDS`. User errors (missing or malformed
files, bad values) print one line naming the file and the problem and exit with status 2; ``--debug`` shows
the traceback instead. SIGTERM and SIGINT stop the command cleanly: partial outputs are removed on the way
out.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence

from simplexgrad import __version__
from simplexgrad._arguments import Output, add_function_options, check_outputs, escaped, new_parser, summary
from simplexgrad._optional import MissingExtra, check_extra, install_hint
from simplexgrad._process import (
    Stopped,
    check_stop,
    filtered_native_logs,
    stop_on_signals,
    stop_requested,
    stops_at_safe_points,
)
from simplexgrad._startup import skipped_optional_imports
from simplexgrad.data.download import DownloadError

log = logging.getLogger("simplexgrad")


@dataclasses.dataclass(frozen=True)
class Command:
    """One subcommand of :data:`COMMANDS`.

    Attributes
    ----------
    target : str
        The library function it calls, ``module:function``; for ``figure``, the table of figures.
    extra : str or None
        The extra of simplexgrad it needs (None: the core install, NumPy and h5py).
    summary : str
        Its line in ``simplexgrad --help``.
    outputs : mapping of str to Output
        The function's parameters that name what it writes (a file with or without a required suffix, or
        a folder), checked before anything runs. Every other parameter naming an existing file is an
        input, which no output may be (through links too) unless the output declares it ``in_place``.
    options : str or None
        For a function taking ``**options``: ``module:function`` giving the options it accepts (name ->
        (type, help)).
    """

    target: str
    extra: str | None
    summary: str
    outputs: Mapping[str, Output] = dataclasses.field(default_factory=dict)
    options: str | None = None


FILE, FOLDER = Output(), Output(folder=True)
FIGURE = {"out_pdf": Output(".pdf"), "out_png": Output(".png")}
# Each function is named after its subcommand (snake_case), with a suffix naming what it works on where
# the bare name is taken (``correct`` is the array function, ``correct_file`` the command's). Each
# command's module is imported only when the command runs, so `simplexgrad --help` works in any install
# and a command whose extra is missing says which one to install (one line, exit status 2).
COMMANDS: dict[str, Command] = {
    "synthetic": Command("simplexgrad.data.synthetic:synthetic_dataset", "workflow",
                         "the billboard dataset with ground truth", {"out": Output(".h5")}),
    "train": Command("simplexgrad.training.single:train_to_directory", "keras",
                     "train one model with the paper's recipe", {"out": FOLDER}),
    "untrained": Command("simplexgrad.training.single:untrained_to_directory", "keras",
                         "the null baseline: one model built and seeded as train would, never trained",
                         {"out": FOLDER}),
    "train-ensemble": Command("simplexgrad.training.ensemble:train_ensemble", "jax",
                              "train same-shape models as one JAX program"),  # out_template: a pattern
    "import-weights": Command("simplexgrad.training.models:import_weights_file", "keras",
                              "a Keras 2 weights file as a .keras model", {"out": Output(".keras")}),
    "attribute": Command("simplexgrad.attribution.commands:attribute_file", "keras",
                         "raw and corrected attribution maps", {"out": Output(".npz")},
                         options="simplexgrad.attribution.commands:command_options"),
    "attribute-methods": Command("simplexgrad.attribution.commands:attribute_methods_file", "keras",
                                 "one model's maps of several methods, a file per method",
                                 {"out_dir": FOLDER}),
    "attribute-group": Command("simplexgrad.studies.group_attribution:attribute_group", "jax",
                               "a group's maps and tables per member, vmapped in JAX"),  # templates
    "evaluate": Command("simplexgrad.studies.evaluation:evaluate_file", "workflow",
                        "interpretability and angle tables of one map file",
                        {"out_metrics": FILE, "out_angles": FILE, "out_model": FILE}),
    "evaluate-methods": Command("simplexgrad.studies.evaluation:evaluate_methods_file", "workflow",
                                "the tables of `evaluate` for one model's map file of each method",
                                {"out_dir": FOLDER}),
    "collect": Command("simplexgrad.tables:collect_tables", "workflow",
                       "concatenate tidy TSV tables with equal columns", {"out": FILE}),
    "summarize": Command("simplexgrad.studies.evaluation:summarize_file", "workflow",
                         "before/after summary with Wilcoxon tests", {"out": FILE}),
    "summarize-study": Command("simplexgrad.studies.training_study:summarize_study", "workflow",
                               "tables of a training study", {"out": FILE, "out_settings": FILE}),
    "download": Command("simplexgrad.data.download:download_file", None,
                        "fetch one file with retries and md5 and gzip checks", {"out": FILE}),
    "prepare-genome": Command("simplexgrad.data.genome:prepare_genome", "workflow",
                              "decompress a FASTA.gz and index it (.fai)", {"out": FILE}),
    "encode-manifest": Command("simplexgrad.data.portal:encode_manifest", "workflow",
                               "resolve the ENCODE table on the portal", {"out": FILE}),
    "encode-dataset": Command("simplexgrad.data.encode:encode_dataset", "workflow",
                              "TF-peak vs DNase windows of one TF", {"out": FILE, "out_counts": FILE}),
    "invivo-ensemble": Command("simplexgrad.studies.invivo:invivo_ensemble", "keras",
                               "an ensemble's maps, angles and AUROC", {"out_dir": FOLDER}),
    "correct": Command("simplexgrad.attribution.maps:correct_file", None,
                       "correct any attribution file (.npy, .npz, .h5)",
                       {"out": Output(in_place="in_")}),  # suffix: --in's; --out --in rewrites it
    "angles": Command("simplexgrad.studies.model_angles:angles", "keras",
                      "how far any Keras model's saliency leans off the simplex", {"out": FILE, **FIGURE}),
    "report": Command("simplexgrad.studies.report:report", "keras",
                      "your model and FASTA or BED: corrected maps, angles, motifs, one HTML page",
                      {"out": FOLDER}),
    "modisco": Command("simplexgrad.studies.modisco:modisco_file", "modisco",
                       "tfmodisco-lite motifs of raw or corrected maps", {"out_dir": FOLDER}),
    "modisco-kernels": Command("simplexgrad.studies.modisco:modisco_kernels", "modisco",
                               "compile tfmodisco-lite's and TOMTOM's numba kernels into the cache",
                               {"out": Output(".tsv")}),
    "scorecard": Command("simplexgrad.studies.scorecard:scorecard_file", "workflow",
                         "the paper's claims against a run's tables", {"out": FILE, "out_markdown": FILE}),
    "scorecard-combine": Command("simplexgrad.studies.combined_runs:scorecard_combine_file", "workflow",
                                 "one scorecard from several runs': per claim the run with most evidence",
                                 {"out": FILE, "out_markdown": FILE}),
    "member-tables": Command("simplexgrad.studies.combined_runs:member_tables_file", "workflow",
                             "a scorecard's metrics and angle tables from per-member tables (GPU runs)",
                             {"out_metrics": FILE, "out_angles": FILE}),
    "reproduction-record": Command("simplexgrad.studies.reproduction:reproduction_record", "workflow",
                                   "docs/reproduction.md from a scorecard", {"out": FILE}),
    "figure": Command("simplexgrad.figures:FIGURES", "workflow",
                      "draw one figure of the study (PDF and PNG)", FIGURE),  # every figure's outputs
}  # fmt: skip
USER_ERRORS = (ValueError, LookupError, OSError, DownloadError, MemoryError)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; returns the exit status (0, 2 for user errors, 128 + signal when stopped)."""
    with skipped_optional_imports():  # about 1.5 s of a Keras job's start, 0.8 s of a figure job's
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop_on_signals()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--debug"]:  # `simplexgrad --debug COMMAND ...`: the command's own --debug
        argv = [*argv[1:], "--debug"]
    debug = "--debug" in argv
    command = argv[0] if argv and argv[0] in COMMANDS else None
    try:
        with filtered_native_logs():
            with stops_at_safe_points():  # imports run to their end: one cut short can crash at exit
                function, arguments = _parse(argv)
            stop_on_signals()  # again: an imported library may have replaced the handlers
            started = time.perf_counter()
            log.info("simplexgrad %s %s", __version__, " ".join(argv))
            function(**arguments)
            check_stop()  # a stop that library code swallowed still stops
            log.info("done in %.1f s", time.perf_counter() - started)
    except Stopped as stopped:
        return _stopped(stopped.signum)
    except MissingExtra as missing:
        if debug:
            raise
        log.error("%s", install_hint(missing.extra, f"`simplexgrad {command}`") if command else missing)
        return 2
    except USER_ERRORS as error:
        if stop_requested() is not None:  # an error caused by the stop (say, an interrupted import)
            return _stopped(stop_requested())
        if debug:
            raise
        log.error("%s", _one_line(error))
        return 2
    except BaseException:
        if stop_requested() is None:
            raise
        return _stopped(stop_requested())
    return 0


def _stopped(signum: int) -> int:
    log.error("stopped by signal %d (%s); partial outputs removed", signum, signal.Signals(signum).name)
    return 128 + signum


def _one_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename and error.strerror:
        return f"{error.filename}: {error.strerror}"
    message = str(error).strip().replace("\n", " ") if str(error).strip() else type(error).__name__
    if isinstance(error, MemoryError):  # nothing was written: outputs are renamed into place when complete
        return f"out of memory ({message}); nothing written: use a smaller input or a larger machine"
    return message[1:-1] if isinstance(error, KeyError) and message.startswith("'") else message


def _parse(argv: list[str]) -> tuple[Callable, dict]:
    parser = new_parser("simplexgrad", __doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        commands.add_parser(name, help=command.summary, add_help=False)
    known, _ = parser.parse_known_args(argv[:1] or ["--help"])
    command = COMMANDS[known.command]
    if command.extra is not None:
        check_extra(command.extra, f"`simplexgrad {known.command}`")
    if known.command == "figure":
        return _parse_figure(argv[1:])
    return _parse_function(f"simplexgrad {known.command}", command, _load(command.target), argv[1:])


def _parse_figure(argv: list[str]) -> tuple[Callable, dict]:
    figures = _load(COMMANDS["figure"].target)  # here: the figures need the workflow extra (checked first)
    parser = new_parser("simplexgrad figure", COMMANDS["figure"].summary)
    names = parser.add_subparsers(dest="name", required=True, metavar="FIGURE")
    for name, function in figures.items():
        names.add_parser(name, help=escaped(summary(function)), add_help=False)
    name = parser.parse_known_args(argv[:1] or ["--help"])[0].name
    return _parse_function(f"simplexgrad figure {name}", COMMANDS["figure"], figures[name], argv[1:])


def _parse_function(
    prog: str, command: Command, function: Callable, argv: list[str]
) -> tuple[Callable, dict]:
    """``function`` and its keyword arguments from ``argv``, by its signature and the ``**options`` that
    ``command`` names; the outputs ``command`` declares are checked before anything runs."""
    parser = new_parser(prog, summary(function))
    extra_options = _load(command.options)() if command.options else None
    build = add_function_options(parser, function, extra_options)
    arguments = build(parser.parse_args(argv))
    check_outputs(command.outputs, arguments)
    return function, arguments


def _load(target: str):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


if __name__ == "__main__":
    sys.exit(main())
