"""Attribution maps from any tool: reading and writing them as files, and correcting them.

Files are ``.npy``, ``.npz`` (a named array) or HDF5 (``.h5``/``.hdf5``, a dataset path). The layout is
always given, never guessed (a sequence can have 4 positions): ``NLA`` is ``(N, L, A)`` (Keras, this
project) and ``NAL`` is ``(N, A, L)`` (PyTorch, tangermeme, tfmodisco-lite).

Everything here needs only NumPy and h5py (the core install); how far a model's saliency leans off the
simplex is :func:`simplexgrad.studies.model_angles.angles`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np

from simplexgrad._arrays import ALPHABET_AXIS, Layout, as_layout, check_finite, check_one_hot
from simplexgrad.attribution._streams import ArraySource, chosen_key, open_source, write_blocks
from simplexgrad.correction import (
    ANGLE_THRESHOLDS,
    angle_statistics,
    check_thresholds,
    correct,
)
from simplexgrad.io import (
    atomic_output,
    atomic_outputs,
    check_input_file,
    check_output_path,
    open_hdf5,
    read_dataset,
    same_file,
)

__all__ = [
    "HDF5_SUFFIXES",
    "read_array",
    "write_array_like",
    "to_nla",
    "check_layout",
    "check_not_inputs",
    "correct_file",
    "write_tsv",
]

log = logging.getLogger(__name__)

HDF5_SUFFIXES = (".h5", ".hdf5")


def read_array(path: str | os.PathLike, key: str | None = None) -> tuple[np.ndarray, str]:
    """An array and the key it was read under from a ``.npy``, ``.npz`` or HDF5 file.

    ``key`` names the ``.npz`` array (default: the only one) or the HDF5 dataset path (required when the
    file holds several datasets); it is ignored for ``.npy``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            return np.load(path, allow_pickle=False), ""
        except (ValueError, EOFError, OSError) as error:
            raise ValueError(f"{path}: not a readable .npy file ({_reason(error)})") from None
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
            raise ValueError(f"{path}: not a readable .npz file ({_reason(error)})") from None
        key = chosen_key(path, list(arrays), key)
        return arrays[key], key
    if suffix in HDF5_SUFFIXES:
        with open_hdf5(path) as handle:
            datasets: list[str] = []
            handle.visititems(
                lambda name, item: datasets.append(name) if isinstance(item, h5py.Dataset) else None
            )
            key = chosen_key(path, datasets, key)
            return read_dataset(handle, key, path), key
    raise ValueError(f"{path}: unknown format {suffix!r}; use .npy, .npz, .h5 or .hdf5")


def _reason(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def check_same_format(source: str | os.PathLike, out: str | os.PathLike) -> None:
    """Refuse an output whose suffix names another format than ``source``'s (``.h5`` and ``.hdf5`` are
    one format): :func:`write_array_like` writes the input's format, and a name that says otherwise
    would mislead every later reader."""
    given, wanted = Path(out).suffix.lower(), Path(source).suffix.lower()
    if (given in HDF5_SUFFIXES and wanted in HDF5_SUFFIXES) or given == wanted:
        return
    expected = "an .h5 or .hdf5" if wanted in HDF5_SUFFIXES else f"a {wanted}"
    raise ValueError(
        f"--out {out}: {expected} file is written, like --in {Path(source).name}; "
        f"name it so, and convert it afterwards if you need {given or 'no suffix'}"
    )


def write_array_like(source: str | os.PathLike, out: str | os.PathLike, key: str, array: np.ndarray) -> None:
    """Write ``out`` in the format of ``source`` with ``array`` in place of ``source``'s array ``key``;
    the other arrays of an ``.npz`` or HDF5 file are copied unchanged. Atomic."""
    check_same_format(source, out)
    suffix = Path(source).suffix.lower()
    with atomic_output(out) as temporary:
        if suffix == ".npy":
            with open(temporary, "wb") as handle:  # a path without .npy would get one appended
                np.save(handle, array)
        elif suffix == ".npz":
            with np.load(source, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
            with open(temporary, "wb") as handle:
                np.savez(handle, **{**arrays, key: array})
        else:
            shutil.copyfile(source, temporary)
            with h5py.File(temporary, "r+") as handle:
                attributes = dict(handle[key].attrs)
                del handle[key]
                handle.create_dataset(key, data=array)
                handle[key].attrs.update(attributes)


def to_nla(array: np.ndarray, layout: Layout, name: str, alphabet_size: int = 4) -> np.ndarray:
    """A ``(N, L, A)`` view of a map or one-hot array given in ``layout``, after checking its rank, its
    alphabet axis and that it is real and finite."""
    check_layout(array.shape, array.dtype, layout, name, alphabet_size)
    check_finite(array, name)
    return as_layout(array, layout)


def check_layout(
    shape: tuple[int, ...], dtype: np.dtype, layout: Layout, name: str, alphabet_size: int = 4
) -> None:
    """Refuse, from its shape and type alone, an array that is not ``(N, L, A)`` maps in ``layout``
    (the message says which layout it looks like), holds none, or is not real numbers."""
    if layout not in ALPHABET_AXIS:
        raise ValueError(f"layout must be NLA or NAL; got {layout!r}")
    if len(shape) != 3:
        raise ValueError(f"{name} must be 3-D ({layout}); got shape {shape}")
    if shape[ALPHABET_AXIS[layout]] != alphabet_size:
        other = "NAL" if layout == "NLA" else "NLA"
        hint = (
            f"it looks like {other}: pass --layout {other} (layout='{other}')"
            if shape[ALPHABET_AXIS[other]] == alphabet_size
            else f"is --alphabet-size {alphabet_size} right?"
        )
        raise ValueError(
            f"{name} has shape {shape}: its alphabet axis ({layout}, axis {ALPHABET_AXIS[layout]}) "
            f"should have {alphabet_size} letters; {hint}"
        )
    if shape[0] == 0 or shape[1 + (layout == "NAL")] == 0:
        raise ValueError(f"{name} holds no maps (shape {shape}): nothing to correct")
    if np.issubdtype(dtype, np.complexfloating):
        raise ValueError(f"{name} holds complex numbers (dtype {dtype}); attribution maps are real")
    if not np.issubdtype(dtype, np.number):
        raise ValueError(f"{name} is not numeric (dtype {dtype})")


def correct_file(
    in_: str,
    out: str,
    key: str | None = None,
    layout: Layout = "NLA",
    alphabet_size: int = 4,
    one_hot: str | None = None,
    one_hot_key: str | None = None,
    report: str | None = None,
    thresholds: list[float] | None = None,
) -> dict[str, np.ndarray]:
    """Correct an attribution file of any tool: g - mean over the alphabet, same format and layout.

    The file is read and written in blocks of rows, so memory stays near a block's whatever the file's
    size. ``out`` may be ``in_``: the file is then rewritten in place, atomically (the corrected file
    replaces it only when complete). No other output may be an input.

    Parameters
    ----------
    in_ : str
        Attribution maps (.npy, .npz or .h5) of gradients or averaged gradients.
    out : str
        File to write, in the input's format (same suffix: .npy, .npz, .h5/.hdf5) and layout (--in: in place).
    key : str or None
        Array of an .npz (default: the only one) or dataset path of an .h5 file.
    layout : {'NLA', 'NAL'}
        NLA is (N, L, A) (Keras, this project); NAL is (N, A, L) (PyTorch, tangermeme, tfmodisco-lite).
    alphabet_size : int
        Letters of the alphabet (4 for DNA, 20 for protein).
    one_hot : str or None
        The one-hot sequences, to check that they match the maps' shape and layout.
    one_hot_key : str or None
        Array or dataset of --one-hot (default: the only one).
    report : str or None
        TSV to write: per-sequence angle statistics of the input maps.
    thresholds : list of float or None
        Angles (degrees) for the large-angle percentages; default 30, 45 and 60.

    Returns
    -------
    dict of str to numpy.ndarray
        The per-sequence statistics, one ``(N,)`` column each (the report's columns, in its order):
        ``sequence``, the mean absolute angle, % of positions above each threshold, % with a zero gradient,
        and the share of each map's squared norm that the correction removed.
    """
    if alphabet_size < 2:
        raise ValueError(f"--alphabet-size must be >= 2; got {alphabet_size}")
    statistics_thresholds = list(thresholds or ANGLE_THRESHOLDS)
    check_thresholds(statistics_thresholds)
    check_input_file(in_, "--in")
    if one_hot is not None:
        check_input_file(one_hot, "--one-hot")
    check_same_format(in_, out)
    check_output_path(out, "--out")
    if same_file(out, in_):  # in place: the file itself is rewritten, not a link to it replaced
        out = os.path.realpath(out)
    inputs = {"--in": in_, **({"--one-hot": one_hot} if one_hot is not None else {})}
    check_not_inputs({"--out": out}, {k: v for k, v in inputs.items() if k != "--in"})
    if report is not None:
        check_output_path(report, "--report")
        if Path(report).resolve() == Path(out).resolve():
            raise ValueError(f"--report {report}: is also --out")
        check_not_inputs({"--report": report}, inputs)
    with contextlib.ExitStack() as stack:
        maps = stack.enter_context(open_source(in_, key))
        check_layout(maps.shape, maps.dtype, layout, maps.name, alphabet_size)
        sequences = stack.enter_context(open_source(one_hot, one_hot_key)) if one_hot is not None else None
        if sequences is not None and sequences.shape != maps.shape:
            raise ValueError(
                f"{one_hot} has shape {sequences.shape} but {in_} has {maps.shape}: the maps and the "
                f"sequences must share the layout ({layout})"
            )
        dtype = maps.dtype if np.issubdtype(maps.dtype, np.floating) else np.dtype(np.float32)
        # The (N,) columns of the statistics, made before the first block (no small arrays left between
        # blocks' large ones, which would keep the allocator from returning their memory).
        names = angle_statistics(np.ones((1, 1, alphabet_size)), statistics_thresholds, alphabet_size=None)
        table = {"sequence": np.arange(maps.shape[0]), **{name: np.empty(maps.shape[0]) for name in names}}
        blocks = _corrected_blocks(
            maps, sequences, layout, alphabet_size, dtype, statistics_thresholds, table
        )
        with atomic_outputs(out, *([report] if report is not None else [])) as temporaries:
            write_blocks(maps, temporaries[0], dtype.newbyteorder("="), blocks)
            means = {name: column[~np.isnan(column)] for name, column in table.items() if name != "sequence"}
            summary = ", ".join(f"{name} {v.mean() if v.size else np.nan:.3g}" for name, v in means.items())
            log.info("%d maps: %s", maps.shape[0], summary)
            if report is not None:
                write_tsv(table, temporaries[1])
    return table


def _corrected_blocks(
    maps: ArraySource,
    sequences: ArraySource | None,
    layout: Layout,
    alphabet_size: int,
    dtype: np.dtype,
    thresholds: list[float],
    table: dict[str, np.ndarray],
) -> Iterator[np.ndarray]:
    """The corrected maps of ``maps`` block by block (in its layout), after checking each block (finite;
    its sequences one-hot); each block's angle statistics are stored in its rows of ``table``."""
    step = maps.block_rows()
    for start in range(0, maps.shape[0], step):
        stop = min(start + step, maps.shape[0])
        where = "" if start == 0 else f" (block from row {start})"
        block = maps.rows(start, stop)
        view = to_nla(block, layout, f"{maps.name}{where}", alphabet_size)
        if sequences is not None:
            name = f"{sequences.name}{where}"
            check_one_hot(to_nla(sequences.rows(start, stop), layout, name, alphabet_size), name)
        for name, values in angle_statistics(view, thresholds, alphabet_size=alphabet_size).items():
            table[name][start:stop] = values
        corrected = correct(view.astype(dtype, copy=False), axis=-1, alphabet_size=alphabet_size)
        yield as_layout(corrected, layout)


def check_not_inputs(outputs: dict[str, str], inputs: dict[str, str]) -> None:
    """Refuse an output that is one of the inputs (the same file, through links too).

    Parameters
    ----------
    outputs, inputs : dict of str to str
        Option (``--out``) to path.
    """
    for option, path in outputs.items():
        for source_option, source in inputs.items():
            if same_file(path, source):
                raise ValueError(
                    f"{option} {path}: is the input {source_option} {source}; it would be overwritten"
                )


def write_tsv(columns: dict[str, np.ndarray], path: str | os.PathLike) -> None:
    """Write ``(N,)`` columns as a TSV with a header, as :func:`simplexgrad.tables.write_table` does
    (floats to 6 significant digits, NaN as an empty field) without pandas.

    Parameters
    ----------
    columns : dict of str to numpy.ndarray
        Column name to ``(N,)`` values, all of one length.
    path : str or os.PathLike
        File to write (overwritten).
    """
    arrays = [np.asarray(column) for column in columns.values()]
    if len({len(array) for array in arrays}) > 1:
        raise ValueError(f"{path}: columns of different lengths {[len(array) for array in arrays]}")

    def text(value) -> str:
        if isinstance(value, (float, np.floating)):
            return "" if np.isnan(value) else f"{value:.6g}"
        return str(value)

    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\t".join(columns) + "\n")
        for row in zip(*arrays):
            handle.write("\t".join(text(value) for value in row) + "\n")
