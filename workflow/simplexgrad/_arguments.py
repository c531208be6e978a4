"""A library function's signature as command-line options, and its outputs checked before it runs.

Each parameter gives one ``--option`` (a dataclass parameter one per field) with its type, its default and
the first line of its numpydoc description as help; :class:`Output` declares which parameters name files
or folders to write, and :func:`check_outputs` refuses unwritable ones before any work. The machinery of
:mod:`simplexgrad.cli`.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import os
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence

from simplexgrad._docs import parameter_help, plain
from simplexgrad.io import check_output_path, same_file

__all__ = ["Output", "check_outputs", "add_function_options", "new_parser", "summary", "escaped"]


@dataclasses.dataclass(frozen=True)
class Output:
    """What a command writes at the path one of its parameters names.

    Attributes
    ----------
    suffix : str or None
        The suffix the file must have (``.h5`` and ``.hdf5`` count as one), or None for any.
    folder : bool
        A folder (its name takes no suffix), not a file.

    in_place : str or None
        The input parameter this file may be, for a command documented to rewrite its input in place
        (atomically); any other input is refused.
    """

    suffix: str | None = None
    folder: bool = False
    in_place: str | None = None


def check_outputs(outputs: Mapping[str, Output], arguments: dict) -> None:
    """Refuse, before any work, outputs that cannot be written: for each argument declared in
    ``outputs`` and given, a folder where a file goes (or a file where a folder goes), a parent that is a
    file or not writable, a suffix other than the declared one, two outputs at one path, and an output
    that is an input file (any other argument naming an existing file; through links too) unless the
    output declares that input ``in_place``."""
    check_not_inputs(outputs, arguments)
    seen: dict[str, str] = {}
    for name, value in arguments.items():
        if name not in outputs or not value or not isinstance(value, str):
            continue
        option = "--" + name.replace("_", "-")
        folder, suffix = outputs[name].folder, outputs[name].suffix
        check_output_path(value, option, folder=folder)
        given = os.path.splitext(value)[1].lower()
        if not folder and suffix and given != suffix and {given, suffix} != {".h5", ".hdf5"}:
            raise ValueError(f"{option} {value}: writes a {suffix} file; name it with the suffix {suffix}")
        where = os.path.abspath(value)
        if where in seen:
            raise ValueError(f"{option} {value}: is also {seen[where]}")
        seen[where] = option


def check_not_inputs(outputs: Mapping[str, Output], arguments: dict) -> None:
    """Refuse an output file that is one of the command's input files (see :func:`check_outputs`)."""
    inputs = [
        (name, path)
        for name, value in arguments.items()
        if name not in outputs
        for path in (value if isinstance(value, (list, tuple)) else [value])
        if isinstance(path, str) and path and os.path.isfile(path)
    ]
    for name, value in arguments.items():
        if name not in outputs or outputs[name].folder or not isinstance(value, str) or not value:
            continue
        for input_name, path in inputs:
            if input_name != outputs[name].in_place and same_file(value, path):
                raise ValueError(
                    f"{_flag(name)} {value}: is the input {_flag(input_name)} {path}; it would be overwritten"
                )


def _flag(name: str) -> str:
    return "--" + name.rstrip("_").replace("_", "-")


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


def new_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser of one (sub)command with ``--debug``, errors in one line and every default in its help."""
    parser = _Parser(prog=prog, description=description, formatter_class=_Formatter)
    parser.add_argument("--debug", action="store_true", help="show tracebacks of user errors")
    return parser


def summary(function: Callable) -> str:
    """The first paragraph of ``function``'s docstring, on one line, as plain text."""
    return plain(inspect.getdoc(function).split("\n\n")[0].replace("\n", " "), function)


def escaped(text: str) -> str:
    """``text`` for an argparse help string, which is %-formatted (``%`` in a summary would break it)."""
    return text.replace("%", "%%")


def add_function_options(
    parser: argparse.ArgumentParser,
    function: Callable,
    extra_options: Mapping[str, tuple[object, str]] | None = None,
) -> Callable[[argparse.Namespace], dict]:
    """Add one ``--option`` per parameter of ``function`` (dataclass parameters give one per field).

    ``extra_options`` (name → (type, help)) are the options a ``**options`` parameter takes, such as the
    attribution methods' own; a function with such a parameter needs them. Returns a function mapping the
    parsed namespace to ``function``'s keyword arguments.
    """
    hints = typing.get_type_hints(function)
    helps = parameter_help(function)
    plain: list[str] = []
    dataclass_builders: dict[str, Callable] = {}
    extras: Mapping[str, tuple[object, str]] = {}
    for name, parameter in inspect.signature(function).parameters.items():
        hint = hints.get(name, str)
        if dataclasses.is_dataclass(hint):
            dataclass_builders[name] = _add_dataclass(parser, hint)
        elif parameter.kind is inspect.Parameter.VAR_KEYWORD:
            if extra_options is None:
                raise TypeError(f"{function.__name__} takes **{name}: name the options it accepts")
            extras = extra_options
            for option, (option_hint, help_text) in extras.items():
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
        arguments.update({key: getattr(args, key) for key in extras if getattr(args, key) is not None})
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
        "help": escaped(help_text or " "),
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
            kind = _seed_or_range if name == "seeds" else _int_or_range
            options.update(type=kind, action=_Flattened, metavar=name.rstrip("_").upper())
            options["help"] += " Ranges count as their numbers: 0-49 is 0 to 49."
            parser.add_argument(flag, dest=name, **options)
            return
    if origin is typing.Literal:
        choices = typing.get_args(hint)
        options.update(choices=choices, type=type(choices[0]))
    else:
        options.update(type=hint if hint in (int, float, str) else str, metavar=name.rstrip("_").upper())
        if hint is int and name == "seed":  # NumPy's refusal of a negative seed names no option
            options["type"] = _seed
    parser.add_argument(flag, dest=name, **options)


def _seed(text: str) -> int:
    """A random seed: a non-negative integer."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: a seed must be a non-negative integer")
    return value


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


def _seed_or_range(text: str) -> list[int]:
    """:func:`_int_or_range` of seeds: non-negative integers."""
    values = _int_or_range(text)
    if values and values[0] < 0:
        raise argparse.ArgumentTypeError(f"{text}: a seed must be a non-negative integer")
    return values


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
