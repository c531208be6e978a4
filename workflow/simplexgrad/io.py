"""Reading and writing the data contracts, always atomically, with clear errors for bad files.

Dataset files are HDF5 with ``x_<split>`` (N, L, A) one-hot and ``y_<split>`` (N, C) labels for the splits
train / valid / test, plus ``model_<split>`` (N, L, A) ground-truth probabilities for synthetic data.
Attribution files are ``.npz`` with ``raw``, ``corrected``, ``x`` (N, L, A), ``indices`` (N,) and ``params``.

A file is written under a temporary name in its destination folder and renamed into place only when
complete (:mod:`simplexgrad._atomic`), so a failure, a full disk or a SIGTERM (see :mod:`simplexgrad.cli`)
never leaves a partial output behind; partial files left by a killed process are removed by the next write
of the same output, never those of a live writer.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from simplexgrad._arrays import as_sequences, check_finite, check_one_hot
from simplexgrad._atomic import (
    atomic_output,
    atomic_outputs,
    is_out_of_space,
    missing_folders,
    remove_stale_partials,
)

__all__ = [
    "SPLITS",
    "Split",
    "atomic_output",
    "atomic_outputs",
    "remove_stale_partials",
    "missing_folders",
    "is_out_of_space",
    "create_reproducible_h5",
    "split_rows",
    "select_rows",
    "write_dataset_file",
    "load_split",
    "read_dataset",
    "check_output_path",
    "check_input_file",
    "same_file",
    "save_attributions",
    "load_attributions",
    "ground_truth_of",
    "check_explains",
]

SPLITS = ("train", "valid", "test")
ATTRIBUTION_KEYS = ("raw", "corrected", "x", "indices", "params")

log = logging.getLogger(__name__)


def create_reproducible_h5(path: str | os.PathLike, in_memory: bool = False) -> h5py.File:
    """A new HDF5 file, opened for writing, that records no timestamps: the same content gives the same
    bytes. Create its datasets with ``track_times=False``.

    With ``in_memory=True`` the file lives in memory only (``path`` names it); its bytes are
    ``handle.id.get_file_image()``, for the caller to write with Python's file functions, whose errors
    (a full disk) are ordinary exceptions where HDF5's own writes can end the process.
    """
    properties = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    properties.set_obj_track_times(False)  # the root group would otherwise carry its creation time
    access = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    if in_memory:
        access.set_fapl_core(64 * 1024 * 1024, False)
    file_id = h5py.h5f.create(os.fsencode(path), h5py.h5f.ACC_TRUNC, fcpl=properties, fapl=access)
    return h5py.File(file_id)


def split_rows(order: np.ndarray, fractions: Sequence[float]) -> dict[str, np.ndarray]:
    """Cut a permutation of the rows into train / valid / test by ``fractions`` (three numbers summing
    to 1); train and valid sizes are rounded, test takes the rest."""
    if len(fractions) != 3 or not np.isclose(sum(fractions), 1.0) or min(fractions) < 0:
        raise ValueError(f"split fractions must be three non-negative numbers summing to 1; got {fractions}")
    n_train = int(round(fractions[0] * len(order)))
    n_valid = int(round(fractions[1] * len(order)))
    rows = {
        "train": order[:n_train],
        "valid": order[n_train : n_train + n_valid],
        "test": order[n_train + n_valid :],
    }
    empty = [name for name, fraction in zip(rows, fractions) if fraction > 0 and len(rows[name]) == 0]
    if empty:
        raise ValueError(
            f"{len(order)} rows give an empty {' and '.join(empty)} split with fractions {list(fractions)}; "
            "use more sequences"
        )
    return rows


def write_dataset_file(
    path: str | os.PathLike,
    splits: Mapping[str, Mapping[str, np.ndarray]],
    attributes: Mapping[str, object],
) -> None:
    """Write a dataset file (see the module docstring) atomically and byte-reproducibly.

    The file is built in memory and written in one piece, so that a full disk is one ``OSError`` naming
    ``path`` (HDF5 writing to a full disk can crash the process).

    ``splits[split][key]`` becomes the gzip-compressed dataset ``{key}_{split}`` (e.g. ``x_train``);
    ``attributes`` become file attributes, lists and dicts as JSON.
    """
    with create_reproducible_h5(f"{path}.in-memory", in_memory=True) as handle:
        for name, arrays in splits.items():
            for key, array in arrays.items():
                handle.create_dataset(
                    f"{key}_{name}",
                    data=array,
                    compression="gzip",
                    compression_opts=4,
                    shuffle=True,
                    track_times=False,
                )
        for key, value in attributes.items():
            handle.attrs[key] = json.dumps(value) if isinstance(value, (list, dict)) else value
        handle.flush()
        image = handle.id.get_file_image()
    with atomic_output(path) as temporary, open(temporary, "wb") as out:
        out.write(image)


@dataclass(frozen=True)
class Split:
    """One split of a dataset file: ``x`` (N, L, 4) float32, ``y`` (N, 1) float32 and, for synthetic
    data, the ground-truth sequence model ``ground_truth_probs`` (N, L, 4)."""

    x: np.ndarray
    y: np.ndarray
    ground_truth_probs: np.ndarray | None


def load_split(path: str | os.PathLike, split: str, alphabet_size: int = 4) -> Split:
    """Load one split (``'train'``, ``'valid'`` or ``'test'``) of a dataset HDF5 file.

    ``x`` must be one-hot ``(N, L, alphabet_size)`` (channels last, ACGT for DNA) with N >= 1, ``y`` must
    hold N rows of finite labels.

    Raises
    ------
    ValueError
        Naming the file and key: not an HDF5 file, an unknown split, missing keys, or arrays that break
        the contract (layout, NaN, not one-hot, length mismatch, empty split).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    with open_hdf5(path) as handle:
        for key in (f"x_{split}", f"y_{split}"):
            if key not in handle:
                raise ValueError(f"{path}: dataset file has no {key!r} (keys: {sorted(handle)})")
        x = as_sequences(read_dataset(handle, f"x_{split}", path), f"{path}:x_{split}", alphabet_size)
        y = np.asarray(read_dataset(handle, f"y_{split}", path), dtype=np.float32)
        model_key = f"model_{split}"
        ground_truth_probs = (
            as_sequences(read_dataset(handle, model_key, path), f"{path}:{model_key}", alphabet_size)
            if model_key in handle
            else None
        )
    if len(y) != len(x):
        raise ValueError(f"{path}: y_{split} has {len(y)} rows but x_{split} has {len(x)}")
    check_one_hot(x, f"{path}:x_{split}")
    y = y.reshape(len(x), -1)
    check_finite(y, f"{path}:y_{split}")
    if ground_truth_probs is not None and ground_truth_probs.shape != x.shape:
        raise ValueError(
            f"{path}: model_{split} has shape {ground_truth_probs.shape}, x_{split} has {x.shape}"
        )
    log.info("read %s:%s (%d sequences of %d positions)", path, split, len(x), x.shape[1])
    return Split(x=x, y=y, ground_truth_probs=ground_truth_probs)


def open_hdf5(path: str | os.PathLike, mode: str = "r") -> h5py.File:
    """``h5py.File(path, mode)`` with one clear error for a missing or non-HDF5 file."""
    if mode == "r" and not os.path.exists(path):
        raise FileNotFoundError(f"{path}: file not found")
    try:
        return h5py.File(path, mode)
    except OSError as error:
        raise ValueError(f"{path}: not a readable HDF5 file ({error})") from None


def read_dataset(handle: h5py.File, key: str, path: str | os.PathLike) -> np.ndarray:
    """The whole dataset ``key`` of an open HDF5 file; a damaged chunk (a corrupt gzip block, a
    truncated file) is a ``ValueError`` naming the file and the dataset."""
    try:
        return handle[key][()]
    except (OSError, RuntimeError, KeyError) as error:
        raise ValueError(f"{path}:{key}: unreadable data ({_first_line(error)})") from None


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def check_output_path(path: str | os.PathLike, option: str, folder: bool = False) -> None:
    """Refuse, before any work, an output location that cannot be written.

    Parameters
    ----------
    path : str or os.PathLike
        The file (or, with ``folder=True``, the folder) a command will write.
    option : str
        How the user named it (``--out``), for the message.
    folder : bool
        Whether ``path`` is a folder.

    Raises
    ------
    ValueError
        When ``path`` is a folder where a file is expected (or a file where a folder is), when one of its
        parents is a file, or when the nearest existing parent folder is not writable.
    """
    target = Path(path)
    if str(path) == "":
        raise ValueError(f"{option}: empty path")
    if target.exists() and target.is_dir() != folder:
        kind = "a file, not a folder" if folder else "a folder; name a file"
        raise ValueError(f"{option} {path}: is {kind}")
    if target.exists() and not folder and not target.is_file():
        raise ValueError(f"{option} {path}: is not a regular file (a device or a pipe); name a file")
    parent = target if folder and target.exists() else target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"{option} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {path}: folder {parent} is not writable (Permission denied)")
    try:  # root passes os.access everywhere; a file system may still refuse (read-only, /proc)
        handle, probe = tempfile.mkstemp(prefix=".simplexgrad-probe.", dir=parent)
    except OSError as error:
        raise ValueError(f"{option} {path}: cannot write in {parent} ({error.strerror})") from None
    os.close(handle)
    os.unlink(probe)


def check_input_file(path: str | os.PathLike, option: str) -> None:
    """Refuse, before any work, an input that is not a readable regular file: ``-`` (standard input is
    not read), a missing path, a folder, a device or a pipe (``/dev/null``)."""
    if str(path) == "-":
        raise ValueError(f"{option} -: standard input is not read; name a file")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{option} {path}: file not found")
    if os.path.isdir(path):
        raise ValueError(f"{option} {path}: is a folder; name a file")
    if not os.path.isfile(path):
        raise ValueError(f"{option} {path}: is not a regular file (a device or a pipe); name a file")


def same_file(first: str | os.PathLike, second: str | os.PathLike) -> bool:
    """Whether two paths name one existing file, through symbolic and hard links."""
    try:
        return os.path.samefile(first, second)
    except (OSError, ValueError):
        return False


def select_rows(
    y: np.ndarray,
    positives_only: bool = False,
    num_seqs: int | None = None,
    class_index: int = 0,
    source: str = "the split",
) -> np.ndarray:
    """Row indices of a split: optionally only those labelled 1 in ``class_index``, then the first
    ``num_seqs``.

    Parameters
    ----------
    y : numpy.ndarray
        ``(N, C)`` labels.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` int64 indices, n >= 1.
    """
    if not 0 <= class_index < y.shape[1]:
        raise ValueError(f"class_index must be in [0, {y.shape[1]}); got {class_index}")
    indices = np.arange(len(y))
    if positives_only:
        indices = indices[y[:, class_index] == 1]
    if num_seqs is not None:
        if num_seqs < 1:
            raise ValueError(f"num_seqs must be >= 1; got {num_seqs}")
        indices = indices[:num_seqs]
    if len(indices) == 0:
        raise ValueError(f"no sequences selected from {source}")
    return indices


def save_attributions(
    path: str | os.PathLike,
    raw: np.ndarray,
    corrected: np.ndarray,
    x: np.ndarray,
    indices: np.ndarray,
    params: dict,
    names: Sequence[str] | None = None,
) -> None:
    """Write an attribution file: ``raw``, ``corrected``, ``x`` (N, L, A), the rows of the split they
    came from (``indices``, (N,)), the method's parameters as JSON (``params``) and, for sequences read
    from a FASTA or BED file, their ``names`` ((N,) str)."""
    named = {} if names is None else {"names": np.asarray(names, dtype=str)}
    with atomic_output(path) as temporary, open(temporary, "wb") as handle:
        np.savez(
            handle,
            **named,
            raw=raw.astype(np.float32),
            corrected=corrected.astype(np.float32),
            x=x.astype(np.float32),
            indices=np.asarray(indices, dtype=np.int64),
            params=np.array(json.dumps(params, sort_keys=True)),
        )


def load_attributions(path: str | os.PathLike) -> dict:
    """Read an attribution file written by :func:`save_attributions`; ``params`` is returned as a dict.

    Raises
    ------
    ValueError
        Naming the file: not a complete ``.npz`` archive, missing keys, or maps that are not ``(N, L, A)``.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: file not found")
    try:
        with np.load(path) as archive:
            contents = {key: archive[key] for key in archive.files}
    except (OSError, zipfile.BadZipFile, EOFError, ValueError, zlib.error) as error:
        raise ValueError(f"{path}: not a complete .npz attribution file ({_first_line(error)})") from None
    missing = [key for key in ATTRIBUTION_KEYS if key not in contents]
    if missing:
        raise ValueError(f"{path}: attribution file lacks {missing} (has {sorted(contents)})")
    for key in ("raw", "corrected", "x"):
        as_sequences(contents[key], f"{path}:{key}", dtype=None)
    contents["params"] = json.loads(str(contents["params"]))
    return contents


def ground_truth_of(
    attributions: Mapping,
    data: str,
    source: str | os.PathLike = "the attribution file",
    split: Split | None = None,
) -> np.ndarray:
    """The ground-truth probabilities ``(N, L, 4)`` of the sequences in an attribution file, after
    checking that the file explains those sequences (:func:`check_explains`).

    Parameters
    ----------
    attributions : mapping
        An attribution file's contents (:func:`load_attributions`).
    data : str
        The dataset file (.h5) the maps were made on.
    source : str or os.PathLike
        The attribution file's path, for messages.
    split : Split or None
        The split, if already read from ``data``.
    """
    split = split if split is not None else load_split(data, attributions["params"]["split"])
    check_explains(attributions, split.x, source, data)
    if split.ground_truth_probs is None:
        raise ValueError(f"{data}: no ground-truth sequence models (model_* keys); is it synthetic data?")
    return split.ground_truth_probs[attributions["indices"]]


def check_explains(attributions: Mapping, x: np.ndarray, source: str | os.PathLike, data: str) -> None:
    """Refuse an attribution file whose rows are not rows of ``x`` (the split of ``data`` it claims to
    explain) or whose stored sequences differ from those rows: maps scored against other sequences than
    they were made on give numbers of chance, without an error.

    Raises
    ------
    ValueError
        One line naming both files: row indices out of range, or the first row whose sequence differs.
    """
    indices = np.asarray(attributions["indices"])
    stored = np.asarray(attributions["x"])
    split = attributions.get("params", {}).get("split", "?")
    if indices.ndim != 1 or len(indices) != len(stored):
        raise ValueError(f"{source}: {indices.shape} row indices for {len(stored)} sequences")
    if indices.size and (indices.min() < 0 or indices.max() >= len(x)):
        raise ValueError(
            f"{source}: row indices up to {int(indices.max())} do not fit the {len(x)} rows of "
            f"{data}:x_{split}; the maps were made on another dataset"
        )
    if stored.shape[1:] != x.shape[1:]:
        raise ValueError(
            f"{source}: sequences of shape {stored.shape[1:]} do not match {data}:x_{split} "
            f"{x.shape[1:]}; the maps were made on another dataset"
        )
    differ = np.flatnonzero(np.any(stored != x[indices], axis=(1, 2)))
    if differ.size:
        row = int(differ[0])
        raise ValueError(
            f"{source}: its stored sequences differ from {data}:x_{split} in {differ.size} of "
            f"{len(indices)} rows (first: row {row}, split row {int(indices[row])}); the maps were made "
            "on another dataset"
        )
