"""Atomic writes: each output is written under a temporary name beside it and renamed into place only when
complete (several outputs of one command together), so that a failure, a full disk or a stop signal never
leaves a partial output behind. A temporary file's name carries its writer's host and process id, so that
the clean-up of partial files left by killed processes never removes a live writer's (another run writing
the same output). Re-exported by :mod:`simplexgrad.io`.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "atomic_output",
    "atomic_outputs",
    "remove_stale_partials",
    "missing_folders",
    "is_out_of_space",
    "glob_escape",
]

log = logging.getLogger("simplexgrad.io")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success, delete it on error.

    The temporary file's name carries this host and process id, so that the clean-up of partial files
    left by killed processes (:func:`remove_stale_partials`) never touches a live writer's. A write that
    fails for want of space (or a quota) is an ``OSError`` naming ``path``, with nothing left behind.
    """
    with atomic_outputs(path) as (temporary,):
        yield temporary


@contextlib.contextmanager
def atomic_outputs(*paths: str | os.PathLike) -> Iterator[tuple[Path, ...]]:
    """:func:`atomic_output` for several files written together: each is renamed into place only when
    all were written, so an error in any (a full disk) leaves none of them behind."""
    destinations = [Path(path) for path in paths]
    temporaries: list[Path] = []
    created: list[Path] = []
    try:
        for destination in destinations:
            created += missing_folders(destination.parent)
            temporaries.append(_partial_file(destination))
        yield tuple(temporaries)
        for destination, temporary in zip(destinations, temporaries):
            # A writer that appends its own suffix (numpy's save/savez given a path) leaves the temporary
            # file empty and the data beside it: never rename that into place as if it were the output.
            strays = sorted(destination.parent.glob(f"{glob_escape(temporary.name)}?*"))
            if strays:
                raise RuntimeError(
                    f"{destination}: the writer wrote {strays[0].name} instead of the temporary file; "
                    "pass writers an open file object"
                )
        for destination, temporary in zip(destinations, temporaries):
            os.replace(temporary, destination)
    except BaseException as error:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)
            for stray in temporary.parent.glob(f"{glob_escape(temporary.name)}?*"):
                stray.unlink(missing_ok=True)
        for folder in created:  # folders made for these outputs, deepest first, if left empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        failed = next((d for d, t in zip(destinations, temporaries) if _names(error, t)), destinations[-1])
        if is_out_of_space(error):
            known = isinstance(error, OSError) and error.errno is not None and error.strerror
            reason = error.strerror if known else "No space left on device"
            raise OSError(errno.ENOSPC, f"{reason}; nothing written", str(failed)) from None
        raise
    for destination in destinations:
        log.info("wrote %s", destination)


def missing_folders(folder: Path) -> list[Path]:
    """The folders of ``folder``'s path that do not exist yet, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _names(error: BaseException, temporary: Path) -> bool:
    return temporary.name in str(getattr(error, "filename", "") or "") or temporary.name in str(error)


def is_out_of_space(error: BaseException) -> bool:
    """Whether ``error`` is a write that failed for want of space: ``ENOSPC``, ``EDQUOT`` or ``EFBIG``,
    raised by Python or reported in the text of an HDF5 error."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return True
    text = str(error)
    return isinstance(error, (OSError, RuntimeError)) and (
        "No space left on device" in text or "errno = 28" in text or "Disk quota exceeded" in text
    )


_PARTIAL = re.compile(r"(?P<host>.+)-(?P<pid>\d+)\.")


def _partial_file(destination: Path) -> Path:
    """A new empty temporary file beside ``destination``, named ``.<name>.partial.<host>-<pid>.<random>``
    (with ``destination``'s suffix, which some writers insist on), after removing stale ones."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(destination)
    prefix = f"{_partial_prefix(destination)}{_HOST}-{os.getpid()}."
    handle, temporary = tempfile.mkstemp(prefix=prefix, suffix=destination.suffix, dir=destination.parent)
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)  # mkstemp creates 0600; outputs get the usual mode
    return Path(temporary)


_HOST = socket.gethostname().replace(".", "_").replace("/", "_") or "host"


def _partial_prefix(destination: Path) -> str:
    return f".{destination.name}.partial."


def remove_stale_partials(destination: str | os.PathLike) -> list[Path]:
    """Remove the partial files of ``destination`` whose writer is gone: written on this host by a
    process that no longer runs. A live writer's (another run writing the same output) and another
    host's are kept. Returns the files removed."""
    destination = Path(destination)
    prefix = _partial_prefix(destination)
    removed = []
    for stale in destination.parent.glob(f"{glob_escape(prefix)}*"):
        writer = _PARTIAL.match(stale.name[len(prefix) :])
        if writer is None or writer["host"] != _HOST or _alive(int(writer["pid"])):
            continue
        stale.unlink(missing_ok=True)
        removed.append(stale)
    return removed


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: alive
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def glob_escape(text: str) -> str:
    """``text`` with glob metacharacters escaped."""
    return "".join(f"[{char}]" if char in "*?[" else char for char in text)
