"""Downloads that either produce a verified file or fail loudly, leaving nothing behind.

A download streams into a temporary file beside its destination, is retried on network errors and
server errors (5xx), is checked against its md5 (when one is known) and, for ``.gz`` files, decompressed
end to end once to prove the archive is complete, and only then renamed into place.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import shutil
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from simplexgrad.io import atomic_output

__all__ = ["DownloadError", "download", "md5sum", "check_gzip", "decompress_gzip"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_USER_AGENT = "simplexgrad (https://pypi.org/project/simplexgrad)"


class DownloadError(RuntimeError):
    """A download that could not be completed or verified."""


def md5sum(path: str | os.PathLike) -> str:
    """Hex md5 digest of a file, read in 1 MiB chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_gzip(path: str | os.PathLike) -> None:
    """Decompress a gzip file to the end (discarding the output); raise :class:`DownloadError` if it is
    truncated or corrupt. Multi-member (bgzip) files are accepted."""
    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(_CHUNK):
                pass
    except (EOFError, OSError, zlib.error) as error:
        raise DownloadError(f"{path}: not a complete gzip file ({error})") from error


def decompress_gzip(source: str | os.PathLike, destination: str | os.PathLike) -> None:
    """Decompress ``source`` (.gz) to ``destination`` atomically."""
    with atomic_output(destination) as temporary:
        try:
            with gzip.open(source, "rb") as compressed, open(temporary, "wb") as plain:
                shutil.copyfileobj(compressed, plain, _CHUNK)
        except (EOFError, OSError, zlib.error) as error:
            raise DownloadError(f"{source}: not a complete gzip file ({error})") from error


def _fetch(url: str, destination: Path, timeout: float) -> str:
    """Stream ``url`` into ``destination``; return the md5 of the bytes written."""
    digest = hashlib.md5()
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(destination, "wb") as handle:
        expected_size = response.headers.get("Content-Length")
        written = 0
        for chunk in iter(lambda: response.read(_CHUNK), b""):
            handle.write(chunk)
            digest.update(chunk)
            written += len(chunk)
    if expected_size is not None and written != int(expected_size):
        raise DownloadError(f"{url}: connection closed after {written} of {expected_size} bytes")
    return digest.hexdigest()


def _is_retryable(error: Exception) -> bool:
    if isinstance(error, urllib.error.HTTPError):
        return error.code >= 500 or error.code in (408, 429)
    return isinstance(error, (urllib.error.URLError, TimeoutError, ConnectionError, DownloadError))


def download(
    url: str,
    destination: str | os.PathLike,
    md5: str | None = None,
    retries: int = 3,
    backoff_seconds: float = 2.0,
    timeout: float = 60.0,
) -> str:
    """Download ``url`` to ``destination`` and verify it; return its md5.

    Parameters
    ----------
    url
        An ``http(s)://`` or ``file://`` URL.
    destination
        Where the file goes; it appears only when complete and verified.
    md5
        Expected hex md5 of the downloaded bytes. ``None`` or empty logs a warning and skips the check.
    retries
        Further attempts after the first for network errors, truncated transfers and 5xx/408/429
        answers, waiting ``backoff_seconds * 2**attempt`` between them. A 4xx answer is not retried.

    Raises
    ------
    DownloadError
        When every attempt fails, the md5 differs or a ``.gz`` file is not a complete gzip archive.
    """
    if retries < 0:
        raise ValueError(f"retries must be >= 0; got {retries}")
    destination = Path(destination)
    expected = (md5 or "").strip().lower()
    with atomic_output(destination) as temporary:
        for attempt in range(retries + 1):
            try:
                observed = _fetch(url, temporary, timeout)
                break
            except Exception as error:  # noqa: BLE001 - classified just below
                if not _is_retryable(error) or attempt == retries:
                    raise DownloadError(
                        f"{url}: download failed after {attempt + 1} attempt(s): {error}"
                    ) from error
                wait = backoff_seconds * 2**attempt
                log.warning("%s: attempt %d failed (%s); retrying in %.1f s", url, attempt + 1, error, wait)
                time.sleep(wait)
        if expected:
            if observed != expected:
                raise DownloadError(f"{url}: md5 mismatch: expected {expected}, got {observed}")
        else:
            log.warning("%s: no md5 given; the download (md5 %s) is not verified", url, observed)
        if destination.name.endswith(".gz"):
            check_gzip(temporary)
    log.info("downloaded %s -> %s (md5 %s)", url, destination, observed)
    return observed
