"""Downloads that either produce a verified file or fail loudly, leaving nothing behind.

A download streams into a temporary file beside its destination, is retried on network errors (TLS
errors mid-transfer included) and server errors (5xx), is checked against its md5 (when one is known)
and, for ``.gz`` files, decompressed end to end once to prove the archive is complete, and only then
renamed into place. :func:`retrying` and :func:`is_retryable` are the one retry policy of the package
(the ENCODE portal client uses them too).
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import os
import shutil
import ssl
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from simplexgrad.io import atomic_output

__all__ = [
    "DownloadError",
    "download",
    "download_file",
    "is_retryable",
    "retrying",
    "md5sum",
    "check_gzip",
    "decompress_gzip",
]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
USER_AGENT = "simplexgrad (https://pypi.org/project/simplexgrad)"
_T = TypeVar("_T")


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
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
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


def is_retryable(error: BaseException) -> bool:
    """Whether a failed transfer is worth another attempt.

    Network errors, timeouts, TLS errors mid-transfer, truncated bodies and 5xx / 408 / 429 answers are;
    other HTTP answers (4xx) and a certificate that fails verification are not.
    """
    if isinstance(error, urllib.error.HTTPError):
        return error.code >= 500 or error.code in (408, 429)
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, ssl.SSLCertVerificationError):
        return False
    return isinstance(
        error,
        (
            urllib.error.URLError,
            TimeoutError,
            ConnectionError,
            ssl.SSLError,
            http.client.IncompleteRead,
            DownloadError,
        ),
    )


def retrying(call: Callable[[], _T], what: str, retries: int = 3, backoff_seconds: float = 2.0) -> _T:
    """``call()``, tried again after errors that :func:`is_retryable` accepts.

    Parameters
    ----------
    call
        The attempt; its return value is returned.
    what
        Names the attempt in log lines and in the error (e.g. ``'URL: download'``).
    retries
        Further attempts after the first, waiting ``backoff_seconds * 2**attempt`` between them.

    Raises
    ------
    DownloadError
        ``"{what} failed after N attempt(s): {error}"``, chained to the last error, when an error is not
        retryable or every attempt failed.
    """
    if retries < 0:
        raise ValueError(f"retries must be >= 0; got {retries}")
    for attempt in range(retries + 1):
        try:
            return call()
        except Exception as error:  # noqa: BLE001 - classified just below
            if not is_retryable(error) or attempt == retries:
                raise DownloadError(f"{what} failed after {attempt + 1} attempt(s): {error}") from error
            wait = backoff_seconds * 2**attempt
            log.warning("%s: attempt %d failed (%s); retrying in %.1f s", what, attempt + 1, error, wait)
            time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


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
        answers (TLS errors mid-transfer included), waiting ``backoff_seconds * 2**attempt`` between
        them. A 4xx answer is not retried. Redirects (the portal's 307 to its file store) are followed.

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
        observed = retrying(
            lambda: _fetch(url, temporary, timeout), f"{url}: download", retries, backoff_seconds
        )
        if expected:
            if observed != expected:
                raise DownloadError(f"{url}: md5 mismatch: expected {expected}, got {observed}")
        else:
            log.warning("%s: no md5 given; the download (md5 %s) is not verified", url, observed)
        if destination.name.endswith(".gz"):
            check_gzip(temporary)
    log.info("downloaded %s -> %s (md5 %s)", url, destination, observed)
    return observed


def download_file(
    out: str,
    url: str | None = None,
    manifest: str | None = None,
    manifest_name: str | None = None,
    md5: str = "",
    retries: int = 3,
    backoff: float = 2.0,
) -> None:
    """Download one file, verified (md5, gzip) and atomic, from a URL or a row of the ENCODE manifest.

    Parameters
    ----------
    out : str
        Where the file goes; it appears only when complete and verified.
    url : str or None
        The file's URL (or give --manifest and --manifest-name).
    manifest : str or None
        Manifest TSV (config/encode.tsv format).
    manifest_name : str or None
        Take URL and md5 from this row of the manifest.
    md5 : str
        Expected md5 with --url (empty: warn and skip the check).
    retries : int
        Further attempts after network errors, truncated transfers and server errors.
    backoff : float
        Seconds before the first retry (doubling after each).
    """
    if (url is None) == (manifest_name is None):
        raise ValueError("give either --url or --manifest with --manifest-name")
    if manifest_name is not None:
        # Imported here: a manifest needs pandas (the workflow extra); a --url download, the core install.
        from simplexgrad.data.manifest import manifest_row, read_manifest

        if manifest is None:
            raise ValueError("--manifest-name needs --manifest")
        row = manifest_row(read_manifest(manifest), manifest_name)
        url, md5 = row["url"], row["md5"]
    download(url, out, md5=md5, retries=retries, backoff_seconds=backoff)
