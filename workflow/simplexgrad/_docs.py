"""Reading numpydoc docstrings: the one-line help of each parameter, for the command line."""

from __future__ import annotations

import inspect
import re

__all__ = ["parameter_help"]

_SECTION = re.compile(r"(?:Parameters|Attributes)\n-+\n(.*?)(?:\n\n[A-Z][a-z]+\n-+\n|\Z)", re.S)
_ENTRY = re.compile(r"^(\S[^\n]*?)(?: : [^\n]*)?\n +(\S[^\n]*)", re.M)


def parameter_help(documented: object) -> dict[str, str]:
    """First description line of each entry of a numpydoc ``Parameters`` (or ``Attributes``) section.

    An entry that documents several names (``a, b : int``) gives each of them the same line.
    """
    section = _SECTION.search(inspect.getdoc(documented) or "")
    helps: dict[str, str] = {}
    if section:
        for names, description in _ENTRY.findall(section[1]):
            for name in names.split(","):
                helps[name.strip()] = description.strip()
    return helps
