"""Install into this interpreter's environment with uv, under the machine's pip settings.

``make`` runs it with the project's virtualenv: ``.venv/bin/python tools/uv_install.py ARGS...`` runs
``uv pip install --python .venv/bin/python ARGS...`` with every pip setting uv also has (package indexes,
find-links folders, constraint files, trusted hosts, certificate, proxy, timeout) taken from
``pip config list``, which holds pip's configuration files and its ``PIP_*`` variables. uv reads neither,
and without them it would miss a site's mirror or local wheels. Like pip, it takes the best version found
on any index (``--index-strategy unsafe-best-match``). Unlike pip, it writes no bytecode at install time:
Python writes it into the virtualenv for each module on the module's first import (the Makefile lets it,
whatever ``PYTHONDONTWRITEBYTECODE`` says). The test extra holds about 18,000 Python files, of which the
whole test suite imports about 7,800: compiling every file (``--compile-bytecode``) took 50 s of a 64 s
install on two cores (90 s of CPU), against about 30 s of CPU for the imported ones, once.

uv is several times faster than pip at unpacking large wheels (TensorFlow, torch, JAX): on two cores, the
quick study's extras install in about 40 s from an empty uv cache, where pip took 104 s; from a warm one,
the test extra installs in 8 s.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys

# pip configuration sections that apply to `pip install`, later ones winning (pip: install over global)
SECTIONS = ("global", "install", "")
# pip options that take several whitespace-separated values, and uv's flag for each value
MULTIPLE = {
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
    "constraint": "--constraint",
    "trusted-host": "--allow-insecure-host",
}
SINGLE = {"index-url": "--index-url"}
SWITCHES = {"no-index": "--no-index"}
# pip options that uv takes from environment variables
ENVIRONMENT = {
    "cert": ("SSL_CERT_FILE",),
    "proxy": ("HTTP_PROXY", "HTTPS_PROXY"),
    "timeout": ("UV_HTTP_TIMEOUT",),
    "default-timeout": ("UV_HTTP_TIMEOUT",),
}
TRUE = {"1", "true", "yes", "on"}


def pip_settings(listing: str) -> dict[str, str]:
    """The install settings in ``pip config list`` output (lines ``scope.key='value'``, in pip's loading
    order: files, then ``PIP_*`` variables as scope ``:env:``), the last one of each key winning."""
    settings: dict[str, str] = {}
    for line in listing.splitlines():
        name, _, value = line.partition("=")
        section, _, key = name.strip().rpartition(".")
        section = section.rpartition(":")[2].lstrip(".")  # ':env:' or ':env:.'-prefixed names: no section
        if not key or not value or section not in SECTIONS:
            continue
        try:
            settings[key] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            settings[key] = value.strip()
    return settings


def uv_arguments(settings: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """uv's command-line flags and environment variables for pip's ``settings``."""
    flags: list[str] = []
    environment: dict[str, str] = {}
    for key, value in settings.items():
        if key in MULTIPLE:
            for item in str(value).split():
                flags += [MULTIPLE[key], item]
        elif key in SINGLE:
            flags += [SINGLE[key], str(value)]
        elif key in SWITCHES and str(value).lower() in TRUE:
            flags.append(SWITCHES[key])
        elif key in ENVIRONMENT:
            environment.update(dict.fromkeys(ENVIRONMENT[key], str(value)))
    return flags, environment


def main(arguments: list[str]) -> int:
    listing = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True
    ).stdout
    flags, environment = uv_arguments(pip_settings(listing))
    command = [
        sys.executable, "-m", "uv", "pip", "install", "--python", sys.executable,
        "--index-strategy", "unsafe-best-match", *flags, *arguments,
    ]  # fmt: skip
    return subprocess.run(command, env={**environment, **os.environ}).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
