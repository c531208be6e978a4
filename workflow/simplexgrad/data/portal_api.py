"""The ENCODE portal's REST API as the real portal answers it: JSON searches and objects, retried.

A search answers only its type's schema columns unless fields are asked for (``field=``), so callers
name every field they read and :func:`require_fields` turns a missing one into an error naming the field
and the URL. An empty search is a 404 whose body says "No results found". ``@@download`` URLs answer
307 to the file store; :func:`simplexgrad.data.download.download` follows the redirect. Calls are retried
with the package's one retry policy (:func:`simplexgrad.data.download.retrying`).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field

from simplexgrad.data.download import USER_AGENT, DownloadError, retrying

__all__ = ["PORTAL", "PortalError", "PortalClient", "get_field", "require_fields", "accession_of"]

PORTAL = "https://www.encodeproject.org"


class PortalError(LookupError):
    """The portal could not be reached, or answered something this code cannot use."""


def get_field(item: dict, path: str) -> object:
    """``item['a']['b']`` for ``'a.b'``; ``None`` where a level is absent."""
    for key in path.split("."):
        item = item.get(key) if isinstance(item, dict) else None
    return item


def accession_of(path: str) -> str:  # '/experiments/ENCSR000AKB/' -> 'ENCSR000AKB'
    return path.strip("/").rsplit("/", 1)[-1]


@dataclass
class PortalClient:
    """JSON answers of an ENCODE portal, retried like downloads; searches are cached per client."""

    url: str = PORTAL
    retries: int = 3
    backoff_seconds: float = 2.0
    timeout: float = 60.0
    _cache: dict[str, list[dict]] = field(default_factory=dict, repr=False)

    def _json(self, url: str, empty_search: bool) -> dict | None:
        """The decoded answer; ``None`` for a 4xx that is not retried (an empty search gives ``{}``)."""

        def attempt() -> dict:
            headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
            try:
                with urllib.request.urlopen(
                    urllib.request.Request(url, headers=headers), timeout=self.timeout
                ) as response:
                    body = response.read()
            except urllib.error.HTTPError as error:
                if error.code == 404 and empty_search and b"No results found" in error.read():
                    return {}
                raise
            try:
                return json.loads(body)
            except ValueError as error:  # a truncated body or an HTML error page: try again
                raise DownloadError(f"{url}: the answer is not JSON ({error})") from error

        try:
            return retrying(attempt, url, self.retries, self.backoff_seconds)
        except DownloadError as error:
            cause = error.__cause__
            if isinstance(cause, urllib.error.HTTPError) and 400 <= cause.code < 500 and not empty_search:
                return None
            raise PortalError(str(error)) from error

    def search(self, parameters: Sequence[tuple[str, str]], fields: Sequence[str]) -> list[dict]:
        """``/search/`` results (``@graph``) with the given fields; ``[]`` for no results."""
        query = [*parameters, *(("field", name) for name in fields), ("format", "json"), ("limit", "all")]
        url = f"{self.url.rstrip('/')}/search/?{urllib.parse.urlencode(query)}"
        if url not in self._cache:
            answer = self._json(url, empty_search=True)
            graph = answer.get("@graph", []) if isinstance(answer, dict) else None
            if not isinstance(graph, list):
                raise PortalError(f"{url}: the answer has no '@graph' list")
            self._cache[url] = graph
        for item in self._cache[url]:
            item["@url"] = url  # where it came from, for error messages
        return self._cache[url]

    def object(self, path: str) -> dict | None:
        """The object at ``path`` (e.g. ``/files/ENCFF588OCA/``), every field; ``None`` when the portal
        answers 4xx (absent or not public)."""
        url = f"{self.url.rstrip('/')}{path}?format=json"
        answer = self._json(url, empty_search=False)
        return None if answer is None else {**answer, "@url": url}

    def absolute(self, href: str) -> str:
        """The full URL of a portal path such as a file's ``href``."""
        return urllib.parse.urljoin(self.url.rstrip("/") + "/", href.lstrip("/"))


def require_fields(item: dict, names: Sequence[str]) -> None:
    """Raise :class:`PortalError` naming the first of ``names`` (dotted paths) that ``item`` lacks and
    the URL it came from (its ``'@url'``, set by :class:`PortalClient`)."""
    for name in names:
        if get_field(item, name) is None:
            raise PortalError(
                f"{item.get('@url', 'the portal')}: the answer lacks field {name!r} (of {item.get('@id')})"
            )
