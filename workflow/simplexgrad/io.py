"""Reading and writing the data contracts (DESIGN §3), always atomically.

A file is written under a temporary name in its destination folder and renamed into place only when
complete, so a failure never leaves a partial output behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from simplexgrad._arrays import as_sequences

__all__ = [
    "SPLITS",
    "Split",
    "atomic_output",
    "create_reproducible_h5",
    "split_rows",
    "write_dataset_file",
    "load_split",
    "save_attributions",
    "load_attributions",
]

SPLITS = ("train", "valid", "test")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success, delete it on error."""
    destination = Path(path)
    destination.parent.mkdir(parents=True, exist_ok=True)
    # Keep the destination's suffix: some writers (Keras) insist on it.
    handle, temporary = tempfile.mkstemp(
        prefix=f".{destination.name}.partial.", suffix=destination.suffix, dir=destination.parent
    )
    os.close(handle)
    temporary_path = Path(temporary)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary_path, 0o666 & ~umask)  # mkstemp creates 0600; outputs get the usual mode
    try:
        yield temporary_path
        os.replace(temporary_path, destination)
    except BaseException:
        temporary_path.unlink(missing_ok=True)
        raise


def create_reproducible_h5(path: str | os.PathLike) -> h5py.File:
    """A new HDF5 file, opened for writing, that records no timestamps: the same content gives the same
    bytes. Create its datasets with ``track_times=False``."""
    properties = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    properties.set_obj_track_times(False)  # the root group would otherwise carry its creation time
    file_id = h5py.h5f.create(os.fsencode(path), h5py.h5f.ACC_TRUNC, fcpl=properties)
    return h5py.File(file_id)


def split_rows(order: np.ndarray, fractions: Sequence[float]) -> dict[str, np.ndarray]:
    """Cut a permutation of the rows into train / valid / test by ``fractions`` (three numbers summing
    to 1); train and valid sizes are rounded, test takes the rest."""
    if len(fractions) != 3 or not np.isclose(sum(fractions), 1.0) or min(fractions) < 0:
        raise ValueError(f"split fractions must be three non-negative numbers summing to 1; got {fractions}")
    n_train = int(round(fractions[0] * len(order)))
    n_valid = int(round(fractions[1] * len(order)))
    return {
        "train": order[:n_train],
        "valid": order[n_train : n_train + n_valid],
        "test": order[n_train + n_valid :],
    }


def write_dataset_file(
    path: str | os.PathLike,
    splits: Mapping[str, Mapping[str, np.ndarray]],
    attributes: Mapping[str, object],
) -> None:
    """Write a dataset file (DESIGN §3) atomically and byte-reproducibly.

    ``splits[split][key]`` becomes the gzip-compressed dataset ``{key}_{split}`` (e.g. ``x_train``);
    ``attributes`` become file attributes, lists and dicts as JSON.
    """
    with atomic_output(path) as temporary, create_reproducible_h5(temporary) as handle:
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


@dataclass(frozen=True)
class Split:
    """One split of a dataset file: ``x`` (N, L, 4) float32, ``y`` (N, 1) float32 and, for synthetic
    data, the ground-truth sequence model ``model_probs`` (N, L, 4)."""

    x: np.ndarray
    y: np.ndarray
    model_probs: np.ndarray | None


def load_split(path: str | os.PathLike, split: str, alphabet_size: int = 4) -> Split:
    """Load one split (``'train'``, ``'valid'`` or ``'test'``) of a dataset HDF5 file.

    ``x`` must be ``(N, L, alphabet_size)`` (channels last, ACGT for DNA).

    Raises
    ------
    ValueError
        For an unknown split, missing keys or arrays that break the contract.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    with h5py.File(path, "r") as handle:
        for key in (f"x_{split}", f"y_{split}"):
            if key not in handle:
                raise ValueError(f"{path}: dataset file has no {key!r} (keys: {sorted(handle)})")
        x = as_sequences(handle[f"x_{split}"][()], f"{path}:x_{split}", alphabet_size)
        y = np.asarray(handle[f"y_{split}"][()], dtype=np.float32).reshape(len(x), -1)
        model_key = f"model_{split}"
        model_probs = (
            as_sequences(handle[model_key][()], f"{path}:{model_key}", alphabet_size)
            if model_key in handle
            else None
        )
    if model_probs is not None and model_probs.shape != x.shape:
        raise ValueError(f"{path}: model_{split} has shape {model_probs.shape}, x_{split} has {x.shape}")
    return Split(x=x, y=y, model_probs=model_probs)


def save_attributions(
    path: str | os.PathLike,
    raw: np.ndarray,
    corrected: np.ndarray,
    x: np.ndarray,
    indices: np.ndarray,
    params: dict,
) -> None:
    """Write an attribution file: ``raw``, ``corrected``, ``x`` (N, L, A), the rows of the split they
    came from (``indices``, (N,)) and the method's parameters as JSON (``params``)."""
    with atomic_output(path) as temporary, open(temporary, "wb") as handle:
        np.savez(
            handle,
            raw=raw.astype(np.float32),
            corrected=corrected.astype(np.float32),
            x=x.astype(np.float32),
            indices=np.asarray(indices, dtype=np.int64),
            params=np.array(json.dumps(params, sort_keys=True)),
        )


def load_attributions(path: str | os.PathLike) -> dict:
    """Read an attribution file written by :func:`save_attributions`; ``params`` is returned as a dict."""
    with np.load(path) as archive:
        contents = {key: archive[key] for key in archive.files}
    contents["params"] = json.loads(str(contents["params"]))
    return contents
