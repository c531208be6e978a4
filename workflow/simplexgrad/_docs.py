"""Reading numpydoc docstrings: the one-line help of each parameter, for the command line, as plain text
(Sphinx roles and literals rendered as a user reads them)."""

from __future__ import annotations

import inspect
import re

__all__ = ["parameter_help", "plain"]

_SECTION = re.compile(r"(?:Parameters|Attributes)\n-+\n(.*?)(?:\n\n[A-Z][a-z]+\n-+\n|\Z)", re.S)
_ROLE = re.compile(r":(?:py:)?([a-z]+):`~?([^`<]+?)(?:\s*<[^>]*>)?`")
_LITERAL = re.compile(r"``([^`]+)``")
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
                helps[name.strip()] = plain(description.strip(), documented)
    return helps


def plain(text: str, context: object = None) -> str:
    """``text`` without reStructuredText markup: ````x```` is x, a role such as ``:func:`~a.b.name``` is
    ``name``, and ``:data:`NAME``` of a mapping or list of names in ``context``'s module is the names
    themselves (``:data:`METHODS``` is ``saliency, integrated_gradients, ...``)."""

    def role(match: re.Match) -> str:
        kind, target = match[1], match[2].strip()
        module = inspect.getmodule(context) if context is not None else None
        value = getattr(module, target, None) if kind == "data" and module is not None else None
        if isinstance(value, (dict, list, tuple)) and value and all(isinstance(key, str) for key in value):
            return ", ".join(value)
        return target.rsplit(".", 1)[-1]

    return _LITERAL.sub(r"\1", _ROLE.sub(role, text))
