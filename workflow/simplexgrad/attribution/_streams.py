"""Arrays of ``.npy``, ``.npz`` and HDF5 files read and written in blocks of rows, so that correcting a
file needs memory for a block, not for the file (:func:`simplexgrad.attribution.maps.correct_file`).

A ``.npy`` file (or an ``.npz`` member, compressed or not) is read from its header on, block by block; an
HDF5 dataset by slices. Writers produce the input's format: the other arrays of an ``.npz`` are copied
member by member (their compression kept), an HDF5 file is copied and its dataset overwritten block by
block (its chunks, compression and attributes kept).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import h5py
import numpy as np

__all__ = ["ArraySource", "open_source", "write_blocks", "chosen_key", "BLOCK_VALUES"]

BLOCK_VALUES = 1 << 20  # values per block: 1 Mi (8 MB in float64, the precision of the statistics)
HDF5_SUFFIXES = (".h5", ".hdf5")
_READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, RuntimeError, KeyError)


@dataclass
class ArraySource:
    """One array of a file, read in row blocks by :meth:`rows` (in order, for ``.npz`` members).

    Attributes
    ----------
    path : pathlib.Path
        The file.
    key : str
        The ``.npz`` array or HDF5 dataset ('' for ``.npy``).
    shape : tuple of int
        The array's shape.
    dtype : numpy.dtype
        Its element type.
    """

    path: Path
    key: str
    shape: tuple[int, ...]
    dtype: np.dtype
    _read: Any = field(repr=False, default=None)
    _position: int = field(repr=False, default=0)

    @property
    def name(self) -> str:
        """The array as messages name it: ``path`` or ``path:key``."""
        return f"{self.path}:{self.key}" if self.key else str(self.path)

    def block_rows(self) -> int:
        """Rows per block: :data:`BLOCK_VALUES` values, at least one row."""
        per_row = int(np.prod(self.shape[1:], dtype=np.int64)) if len(self.shape) > 1 else 1
        return max(1, BLOCK_VALUES // max(per_row, 1))

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` (``start`` must follow the previous call's ``stop`` for ``.npz`` files)."""
        try:
            block = self._read(start, stop)
        except _READ_ERRORS as error:
            raise ValueError(f"{self.name}: unreadable data ({_reason(error)})") from None
        self._position = stop
        return block


def _reason(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


@contextlib.contextmanager
def open_source(path: str | os.PathLike, key: str | None = None) -> Iterator[ArraySource]:
    """The array ``key`` of ``path`` (``.npy``, ``.npz`` or HDF5), opened for reading in blocks.

    ``key`` names the ``.npz`` array (default: the only one) or the HDF5 dataset path (required when the
    file holds several datasets); it is ignored for ``.npy``.

    Raises
    ------
    FileNotFoundError, ValueError
        Naming the file: missing, not a regular file, an unknown format, an unreadable or truncated file,
        no such key.
    """
    path = Path(path)
    if str(path) == "-":
        raise ValueError("-: standard input cannot be read as attribution maps; name a file")
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder; name a file")
    if not path.is_file():
        raise ValueError(f"{path}: is not a regular file (a device or a pipe); name a file")
    suffix = path.suffix.lower()
    with contextlib.ExitStack() as stack:
        if suffix == ".npy":
            handle = stack.enter_context(open(path, "rb"))
            yield _npy_source(path, "", handle, os.path.getsize(path), ".npy")
        elif suffix == ".npz":
            try:
                archive = stack.enter_context(zipfile.ZipFile(path))
                members = [info for info in archive.infolist() if info.filename.endswith(".npy")]
            except _READ_ERRORS as error:
                raise ValueError(f"{path}: not a readable .npz file ({_reason(error)})") from None
            key = chosen_key(path, [info.filename[: -len(".npy")] for info in members], key)
            info = archive.getinfo(f"{key}.npy")
            try:
                stream = stack.enter_context(archive.open(info))
            except _READ_ERRORS as error:
                raise ValueError(f"{path}: not a readable .npz file ({_reason(error)})") from None
            yield _npy_source(path, key, stream, None, ".npz")
        elif suffix in HDF5_SUFFIXES:
            try:
                handle = stack.enter_context(h5py.File(path, "r"))
            except OSError as error:
                raise ValueError(f"{path}: not a readable HDF5 file ({_reason(error)})") from None
            datasets: list[str] = []
            handle.visititems(
                lambda name, item: datasets.append(name) if isinstance(item, h5py.Dataset) else None
            )
            key = chosen_key(path, datasets, key)
            dataset = handle[key]
            yield ArraySource(path, key, tuple(dataset.shape), dataset.dtype, lambda a, b: dataset[a:b])
        else:
            raise ValueError(f"{path}: unknown format {suffix!r}; use .npy, .npz, .h5 or .hdf5")


def chosen_key(path: Path, keys: list[str], key: str | None) -> str:
    """The array ``key`` of a file holding ``keys``: the only one when ``key`` is None."""
    if key is None:
        if len(keys) != 1:
            raise ValueError(f"{path} holds {len(keys)} arrays {keys[:10]}; name one with --key")
        return keys[0]
    if key not in keys:
        raise ValueError(f"{path} has no array {key!r}; it has {keys[:10]}")
    return key


def _npy_source(path: Path, key: str, handle: IO[bytes], size: int | None, kind: str) -> ArraySource:
    """An :class:`ArraySource` reading the ``.npy`` stream ``handle`` (``size`` bytes, if known)."""
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except _READ_ERRORS as error:
        raise ValueError(f"{path}: not a readable {kind} file ({_reason(error)})") from None
    if dtype.hasobject:
        raise ValueError(f"{path}: not a readable {kind} file (it holds Python objects, which are not read)")
    if fortran and len(shape) > 1:
        raise ValueError(f"{path}: a Fortran-ordered array; save it in C order (numpy.ascontiguousarray)")
    row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize if shape else dtype.itemsize
    if size is not None and shape and size - handle.tell() < shape[0] * row_bytes:
        raise ValueError(
            f"{path}: not a readable {kind} file (truncated: {size - handle.tell()} bytes of data for "
            f"shape {shape})"
        )

    def read(start: int, stop: int) -> np.ndarray:
        data = handle.read((stop - start) * row_bytes)
        if len(data) != (stop - start) * row_bytes:
            raise EOFError(f"the file ends before row {stop} of {shape[0]}")
        return np.frombuffer(data, dtype=dtype).reshape((stop - start, *shape[1:]))

    return ArraySource(path, key, tuple(shape), dtype, read)


def _npy_header(shape: tuple[int, ...], dtype: np.dtype) -> dict:
    return {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(shape)}


def _write_npy(
    handle: IO[bytes], shape: tuple[int, ...], dtype: np.dtype, blocks: Iterable[np.ndarray]
) -> None:
    header = _npy_header(shape, dtype)
    try:
        np.lib.format.write_array_header_1_0(handle, header)
    except ValueError:  # a header over 64 KiB
        np.lib.format.write_array_header_2_0(handle, header)
    for block in blocks:
        handle.write(np.ascontiguousarray(block, dtype=dtype).data)


def write_blocks(
    source: ArraySource, out: str | os.PathLike, dtype: np.dtype, blocks: Iterable[np.ndarray]
) -> None:
    """Write ``out`` in the format of ``source``'s file with ``blocks`` (the rows, in order, of an array of
    ``source.shape``) in place of ``source``'s array; the file's other arrays are copied unchanged.

    ``out`` is the temporary file of an atomic write; ``blocks`` may read ``source`` as it goes.
    """
    dtype = np.dtype(dtype)
    suffix = source.path.suffix.lower()
    if suffix == ".npy":
        with open(out, "wb") as handle:
            _write_npy(handle, source.shape, dtype, blocks)
    elif suffix == ".npz":
        with zipfile.ZipFile(source.path) as original, zipfile.ZipFile(out, "w", allowZip64=True) as archive:
            for info in original.infolist():
                copy = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                copy.compress_type, copy.external_attr = info.compress_type, info.external_attr
                if info.filename == f"{source.key}.npy":
                    with archive.open(copy, "w", force_zip64=True) as member:
                        _write_npy(member, source.shape, dtype, blocks)
                    continue
                with original.open(info) as member, archive.open(copy, "w", force_zip64=True) as target:
                    shutil.copyfileobj(member, target, 1 << 22)
    else:
        shutil.copyfile(source.path, out)
        with h5py.File(out, "r+") as handle:
            dataset = handle[source.key]
            if dataset.dtype != dtype:  # an integer map: stored anew as float32, its attributes kept
                attributes = dict(dataset.attrs)
                options = {
                    "chunks": dataset.chunks,
                    "compression": dataset.compression,
                    "compression_opts": dataset.compression_opts,
                    "shuffle": dataset.shuffle,
                }
                del handle[source.key]
                dataset = handle.create_dataset(source.key, shape=source.shape, dtype=dtype, **options)
                dataset.attrs.update(attributes)
            start = 0
            for block in blocks:
                dataset[start : start + len(block)] = block
                start += len(block)
