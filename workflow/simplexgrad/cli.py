"""The ``simplexgrad`` command line: each subcommand calls one library function.

A subcommand's options are derived from its function's signature (names, types, defaults) and the first
line of each parameter's description in the numpydoc ``Parameters`` section, so they are written once, in
the library. User errors (missing or malformed files, bad values) print one line naming the file and the
problem and exit with status 2; ``--debug`` shows the traceback instead. SIGTERM and SIGINT stop the
command cleanly: partial outputs are removed on the way out.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import logging
import os
import re
import signal
import sys
import time
import types
import typing
from collections.abc import Callable, Sequence

from simplexgrad import __version__
from simplexgrad._docs import parameter_help
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
from simplexgrad.io import check_output_path

log = logging.getLogger("simplexgrad")

# subcommand -> (library function, one-line summary); figure functions come from simplexgrad.figures.
# Each function is named after its subcommand (snake_case), with a suffix naming what it works on where
# the bare name is taken (``correct`` is the array function, ``correct_file`` the command's).
COMMANDS: dict[str, tuple[str, str]] = {
    "synthetic": ("simplexgrad.data.synthetic:synthetic_dataset", "the billboard dataset with ground truth"),
    "train": ("simplexgrad.training.single:train_to_directory", "train one model with the paper's recipe"),
    "train-ensemble": (
        "simplexgrad.training.ensemble:train_ensemble",
        "train same-shape models as one JAX program",
    ),
    "import-weights": (
        "simplexgrad.training.models:import_weights_file",
        "a Keras 2 weights file as a .keras model",
    ),
    "attribute": ("simplexgrad.attribution.methods:attribute_file", "raw and corrected attribution maps"),
    "attribute-methods": (
        "simplexgrad.attribution.methods:attribute_methods_file",
        "one model's maps of several methods, a file per method",
    ),
    "evaluate": (
        "simplexgrad.studies.evaluation:evaluate_file",
        "interpretability and angle tables of one map file",
    ),
    "evaluate-methods": (
        "simplexgrad.studies.evaluation:evaluate_methods_file",
        "the tables of `evaluate` for one model's map file of each method",
    ),
    "collect": ("simplexgrad.tables:collect_tables", "concatenate tidy TSV tables with equal columns"),
    "summarize": (
        "simplexgrad.studies.evaluation:summarize_file",
        "before/after summary with Wilcoxon tests",
    ),
    "summarize-study": ("simplexgrad.studies.training_study:summarize_study", "tables of a training study"),
    "download": (
        "simplexgrad.data.download:download_file",
        "fetch one file with retries and md5 and gzip checks",
    ),
    "prepare-genome": ("simplexgrad.data.genome:prepare_genome", "decompress a FASTA.gz and index it (.fai)"),
    "encode-manifest": ("simplexgrad.data.portal:encode_manifest", "resolve the ENCODE table on the portal"),
    "encode-dataset": ("simplexgrad.data.encode:encode_dataset", "TF-peak vs DNase windows of one TF"),
    "invivo-ensemble": ("simplexgrad.studies.invivo:invivo_ensemble", "an ensemble's maps, angles and AUROC"),
    "correct": (
        "simplexgrad.attribution.maps:correct_file",
        "correct any attribution file (.npy, .npz, .h5)",
    ),
    "angles": (
        "simplexgrad.studies.model_angles:angles",
        "how far any Keras model's saliency leans off the simplex",
    ),
    "modisco": ("simplexgrad.studies.modisco:modisco_file", "tfmodisco-lite motifs of raw or corrected maps"),
    "modisco-kernels": (
        "simplexgrad.studies.modisco:modisco_kernels",
        "compile tfmodisco-lite's and TOMTOM's numba kernels into the cache",
    ),
    "scorecard": (
        "simplexgrad.studies.scorecard:scorecard_file",
        "the paper's claims against a run's tables",
    ),
    "reproduction-record": (
        "simplexgrad.studies.reproduction:reproduction_record",
        "docs/reproduction.md from a scorecard",
    ),
    "figure": ("", "draw one figure of the study (PDF and PNG)"),
}
# subcommand -> the extra of simplexgrad it needs (None: the core install, NumPy and h5py). Each command's
# module is imported only when the command runs, so `simplexgrad --help` works in any install and a
# command whose extra is missing says which one to install (one line, exit status 2).
COMMAND_EXTRAS: dict[str, str | None] = {
    "synthetic": "workflow",
    "train": "keras",
    "train-ensemble": "jax",
    "import-weights": "keras",
    "attribute": "keras",
    "attribute-methods": "keras",
    "evaluate": "workflow",
    "evaluate-methods": "workflow",
    "collect": "workflow",
    "summarize": "workflow",
    "summarize-study": "workflow",
    "download": None,
    "prepare-genome": "workflow",
    "encode-manifest": "workflow",
    "encode-dataset": "workflow",
    "invivo-ensemble": "keras",
    "correct": None,
    "angles": "keras",
    "modisco": "modisco",
    "modisco-kernels": "modisco",
    "scorecard": "workflow",
    "reproduction-record": "workflow",
    "figure": "workflow",
}
USER_ERRORS = (ValueError, LookupError, OSError, DownloadError)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; returns the exit status (0, 2 for user errors, 128 + signal when stopped)."""
    with skipped_optional_imports():  # about 1.5 s of a Keras job's start, 0.8 s of a figure job's
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop_on_signals()
    argv = list(sys.argv[1:] if argv is None else argv)
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
    return message[1:-1] if isinstance(error, KeyError) and message.startswith("'") else message


def _parse(argv: list[str]) -> tuple[Callable, dict]:
    parser = _parser("simplexgrad", __doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, summary) in COMMANDS.items():
        commands.add_parser(name, help=summary, add_help=False)
    known, _ = parser.parse_known_args(argv[:1] or ["--help"])
    if COMMAND_EXTRAS[known.command] is not None:
        check_extra(COMMAND_EXTRAS[known.command], f"`simplexgrad {known.command}`")
    if known.command == "figure":
        return _parse_figure(argv[1:])
    return _parse_function(f"simplexgrad {known.command}", _load(COMMANDS[known.command][0]), argv[1:])


def _parse_figure(argv: list[str]) -> tuple[Callable, dict]:
    from simplexgrad.figures import FIGURES  # here: the figures need the workflow extra (checked first)

    parser = _parser("simplexgrad figure", COMMANDS["figure"][1])
    names = parser.add_subparsers(dest="name", required=True, metavar="FIGURE")
    for name, function in FIGURES.items():
        names.add_parser(name, help=_escaped(_summary(function)), add_help=False)
    name = parser.parse_known_args(argv[:1] or ["--help"])[0].name
    return _parse_function(f"simplexgrad figure {name}", FIGURES[name], argv[1:])


def _parse_function(prog: str, function: Callable, argv: list[str]) -> tuple[Callable, dict]:
    """``function`` and its keyword arguments from ``argv``, by its signature; output locations are
    checked before anything runs."""
    parser = _parser(prog, _summary(function))
    build = add_function_options(parser, function)
    arguments = build(parser.parse_args(argv))
    check_outputs(function, arguments)
    return function, arguments


def check_outputs(function: Callable, arguments: dict) -> None:
    """Refuse, before any work, outputs that cannot be written: for each ``out`` / ``out_*`` argument
    (a folder when its name ends in ``_dir`` or its help says folder), a folder where a file goes (or a
    file where a folder goes), a parent that is a file or not writable, a suffix other than the one its
    help names (``(.npz)``; ``out_pdf`` .pdf, ``out_png`` .png), and two outputs at one path."""
    helps = parameter_help(function)
    seen: dict[str, str] = {}
    for name, value in arguments.items():
        if not (name == "out" or name.startswith("out_")) or name == "out_template" or not value:
            continue
        if not isinstance(value, str):
            continue
        option = "--" + name.replace("_", "-")
        text = helps.get(name, "")
        folder = name.endswith("_dir") or re.search(r"\bfolder\b", text, re.I) is not None
        check_output_path(value, option, folder=folder)
        named = re.search(r"\((\.[a-z0-9]+)\)", text)
        suffix = {"out_pdf": ".pdf", "out_png": ".png"}.get(name, named[1] if named else None)
        given = os.path.splitext(value)[1].lower()
        if not folder and suffix and given != suffix and {given, suffix} != {".h5", ".hdf5"}:
            raise ValueError(f"{option} {value}: writes a {suffix} file; name it with the suffix {suffix}")
        where = os.path.abspath(value)
        if where in seen:
            raise ValueError(f"{option} {value}: is also {seen[where]}")
        seen[where] = option


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, unless its help already states it (registry options, whose
    defaults are the library's and differ between methods)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        return help_text if "(default:" in help_text else super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit status 2), as user errors are."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description=description, formatter_class=_Formatter)
    parser.add_argument("--debug", action="store_true", help="show tracebacks of user errors")
    return parser


def _load(target: str) -> Callable:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _summary(function: Callable) -> str:
    return inspect.getdoc(function).split("\n\n")[0].replace("\n", " ")


def _escaped(text: str) -> str:
    """``text`` for an argparse help string, which is %-formatted (``%`` in a summary would break it)."""
    return text.replace("%", "%%")


def add_function_options(parser: argparse.ArgumentParser, function: Callable) -> Callable:
    """Add one ``--option`` per parameter of ``function`` (dataclass parameters give one per field).

    Returns a function mapping the parsed namespace to ``function``'s keyword arguments.
    """
    hints = typing.get_type_hints(function)
    helps = parameter_help(function)
    plain: list[str] = []
    dataclass_builders: dict[str, Callable] = {}
    extra_options: dict[str, tuple] = {}
    for name, parameter in inspect.signature(function).parameters.items():
        hint = hints.get(name, str)
        if dataclasses.is_dataclass(hint):
            dataclass_builders[name] = _add_dataclass(parser, hint)
        elif parameter.kind is inspect.Parameter.VAR_KEYWORD:
            extra_options = function.extra_options()  # a registry's options, e.g. attribution methods'
            for option, (option_hint, help_text) in extra_options.items():
                _add_option(parser, option, option_hint, None, help_text, required=False)
        else:
            required = parameter.default is inspect.Parameter.empty
            default = None if required else parameter.default
            _add_option(parser, name, hint, default, helps.get(name), required)
            plain.append(name)

    def build(args: argparse.Namespace) -> dict:
        arguments = {name: getattr(args, name) for name in plain}
        arguments.update({name: builder(args) for name, builder in dataclass_builders.items()})
        # Registry options left at None are not passed, so the library's defaults apply.
        arguments.update({key: getattr(args, key) for key in extra_options if getattr(args, key) is not None})
        return arguments

    return build


def _add_dataclass(parser: argparse.ArgumentParser, cls) -> Callable:
    hints = typing.get_type_hints(cls)
    helps = parameter_help(cls)
    fields = [field for field in dataclasses.fields(cls) if field.init]
    for field in fields:
        _add_option(parser, field.name, hints[field.name], field.default, helps.get(field.name), False)
    return lambda args: cls(**{field.name: getattr(args, field.name) for field in fields})


def _add_option(parser, name: str, hint, default, help_text: str | None, required: bool) -> None:
    flag = "--" + name.rstrip("_").replace("_", "-")  # in_ (a Python keyword) is --in
    hint, optional = _strip_none(hint)
    options: dict = {
        "default": argparse.SUPPRESS if required else default,  # no "(default: None)" for those
        "help": _escaped(help_text or " "),
        "required": required,
    }
    origin = typing.get_origin(hint)
    if hint is bool:
        parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, **options)
        return
    if origin in (list, tuple, Sequence, typing.Sequence) or hint in (list, tuple):
        item = (typing.get_args(hint) or (str,))[0]
        options["nargs"] = "*" if optional or (default is not None and not required) else "+"
        hint, origin = item, typing.get_origin(item)
        if hint is int:  # ranges too: --seeds 0-49 is 0, 1, ..., 49
            options.update(type=_int_or_range, action=_Flattened, metavar=name.rstrip("_").upper())
            options["help"] += " Ranges count as their numbers: 0-49 is 0 to 49."
            parser.add_argument(flag, dest=name, **options)
            return
    if origin is typing.Literal:
        choices = typing.get_args(hint)
        options.update(choices=choices, type=type(choices[0]))
    else:
        options.update(type=hint if hint in (int, float, str) else str, metavar=name.rstrip("_").upper())
    parser.add_argument(flag, dest=name, **options)


def _int_or_range(text: str) -> list[int]:
    """``'7'`` → [7]; ``'0-49'`` → [0, ..., 49] (both ends included); ``'-3'`` → [-3]."""
    match = re.fullmatch(r"\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer or a range such as 0-49")
    first = int(match[1])
    last = first if match[2] is None else int(match[2])
    if last < first:
        raise argparse.ArgumentTypeError(f"range {text!r} ends before it starts")
    return list(range(first, last + 1))


class _Flattened(argparse.Action):
    """Stores the integers of all values (each a list from :func:`_int_or_range`) as one list."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, [number for value in values for number in value])


def _strip_none(hint) -> tuple[object, bool]:
    """``X | None`` → (X, True); a union of a Literal and an array type → the Literal."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [member for member in typing.get_args(hint) if member is not type(None)]
        literal = [member for member in members if typing.get_origin(member) is typing.Literal]
        return (literal or members)[0], type(None) in typing.get_args(hint)
    return hint, False


if __name__ == "__main__":
    sys.exit(main())
