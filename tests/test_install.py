"""How `make` installs the project: requirements/constraints.txt pins what pyproject.toml asks for, the
virtualenv holds those versions, and tools/uv_install.py hands pip's settings to uv; and the virtualenv's
cache of JAX's compiled programs, which the tests' processes share."""

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from conftest import run_with_jax
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

import uv_install  # noqa: E402


def pinned() -> dict[str, Version]:
    pins = {}
    for line in (REPO / "requirements" / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            assert name not in pins, f"{name} is pinned twice"
            pins[canonicalize_name(name)] = Version(version)
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *sum(project["optional-dependencies"].values(), [])]
    return [Requirement(text) for text in requirements if not text.startswith("simplexgrad")]


def test_every_requirement_is_pinned_to_a_version_it_allows():
    pins = pinned()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not pinned in requirements/constraints.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{requirement}: {pins[name]}"
    assert "uv" in pins and not any(version.local for version in pins.values())


def test_the_virtualenv_holds_the_pinned_versions():
    """What `make setup` installed: every pinned distribution present has its pinned version (a local
    label such as torch's +cpu aside)."""
    pins = pinned()
    for distribution in importlib.metadata.distributions():
        name = canonicalize_name(distribution.metadata["Name"])
        if name in pins:
            assert Version(distribution.version).public == str(pins[name]), name


def test_pip_settings_follow_pips_loading_order():
    listing = "\n".join([
        "global.find-links='/opt/wheels'",
        "global.extra-index-url='file:///opt/a/simple file:///opt/b/simple'",
        "global.index-url='https://mirror.example/simple'",
        "install.index-url='https://install.example/simple'",
        "download.no-index='true'",  # another command's section
        ":env:.default-timeout='180'",
        ":env:.constraint='/etc/pip/constraints.txt'",
        ":env:.find-links='/srv/wheels'",
    ])  # fmt: skip
    assert uv_install.pip_settings(listing) == {
        "find-links": "/srv/wheels",  # PIP_FIND_LINKS wins over the file
        "extra-index-url": "file:///opt/a/simple file:///opt/b/simple",
        "index-url": "https://install.example/simple",  # [install] wins over [global]
        "default-timeout": "180",
        "constraint": "/etc/pip/constraints.txt",
    }


def test_uv_gets_a_flag_per_value_and_the_rest_through_its_environment():
    flags, environment = uv_install.uv_arguments({
        "index-url": "https://mirror.example/simple",
        "extra-index-url": "file:///opt/a/simple  file:///opt/b/simple",
        "find-links": "/opt/wheels",
        "constraint": "/etc/pip/constraints.txt",
        "trusted-host": "mirror.example",
        "no-index": "false",
        "cert": "/etc/ssl/certs/ca.pem",
        "default-timeout": "180",
        "disable-pip-version-check": "1",  # pip's own: dropped
    })  # fmt: skip
    assert flags == [
        "--index-url", "https://mirror.example/simple",
        "--extra-index-url", "file:///opt/a/simple", "--extra-index-url", "file:///opt/b/simple",
        "--find-links", "/opt/wheels",
        "--constraint", "/etc/pip/constraints.txt",
        "--allow-insecure-host", "mirror.example",
    ]  # fmt: skip
    assert environment == {"SSL_CERT_FILE": "/etc/ssl/certs/ca.pem", "UV_HTTP_TIMEOUT": "180"}
    assert uv_install.uv_arguments({"no-index": "yes"})[0] == ["--no-index"]


@pytest.mark.slow
def test_uv_resolves_the_project_under_this_machines_pip_settings(tmp_path):
    """A dry run of what `make setup` runs: uv finds every pinned version through the translated settings
    (the local wheel of torch included) and would change nothing in the installed virtualenv."""
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "uv_install.py"), "--dry-run", "--constraint",
         str(REPO / "requirements" / "constraints.txt"), "-e", f"{REPO}[test]"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    changes = [line for line in result.stderr.splitlines() if re.match(r"\s*[-+] (?!simplexgrad)", line)]
    assert not changes, "\n".join(changes)


def test_under_make_python_writes_the_bytecode_that_uv_leaves_out():
    """uv installs without bytecode (tools/uv_install.py), so each process started by make must be allowed
    to write it on first import, even where PYTHONDONTWRITEBYTECODE is set (the Makefile unexports it);
    otherwise every process would compile its modules again, TensorFlow's alone for several seconds."""
    if "MAKELEVEL" not in os.environ:
        pytest.skip("run by pytest directly, not by make")
    assert not sys.flags.dont_write_bytecode


# Counts JAX's persistent-cache events while it compiles one small program (well under JAX's default
# threshold of 1 s of compiling, below which it would not be cached).
COMPILE_ONE_PROGRAM = """
import jax, jax.numpy as jnp
events = []
jax.monitoring.register_event_listener(lambda event, **kwargs: events.append(event))
jax.jit(lambda x: jnp.sin(x) * 2)(jnp.arange(3.0)).block_until_ready()
print(sum(e.endswith("/cache_hits") for e in events), sum(e.endswith("/cache_misses") for e in events))
"""


@pytest.mark.slow
def test_a_program_one_test_process_compiled_is_loaded_by_the_next(tmp_path, monkeypatch):
    """tests/conftest.py's cache settings, which every process the tests start inherits (pointed at an
    empty folder here): the first process compiles and stores, the second loads and compiles nothing."""
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "cache"))
    counts = []
    for _ in range(2):
        stdout = run_with_jax(tmp_path / "compile.py", COMPILE_ONE_PROGRAM, threads=None)
        counts.append([int(count) for count in stdout.split()])
    (first_hits, first_misses), (second_hits, second_misses) = counts
    assert first_hits == 0 and first_misses >= 1
    assert second_hits == first_misses and second_misses == 0
