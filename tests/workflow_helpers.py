"""Running the workflow from tests: a config derived from config/quick.yaml, Snakemake in a subprocess."""

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]


def merged(base: dict, override: dict) -> dict:
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def assert_only_overrides(name: str) -> dict:
    """Check that ``config/<name>`` holds only keys of config/config.yaml, each with another value, and
    return it."""
    full = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    override = yaml.safe_load((REPO / "config" / name).read_text())

    def differs(override, base, where=""):
        for key, value in override.items():
            assert key in base, f"{where}{key} is not a key of config.yaml"
            if isinstance(value, dict):
                differs(value, base[key], f"{where}{key}.")
            else:
                assert value != base[key], f"{where}{key} repeats config.yaml's value"

    differs(override, full)
    return override


def write_config(folder: Path, override: dict) -> Path:
    base = yaml.safe_load((REPO / "config" / "quick.yaml").read_text())
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(merged(base, override)))
    return path


def run_snakemake(folder: Path, config: Path, *arguments: str, timeout: int = 900):
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run(
        [*SNAKEMAKE, "--directory", str(folder), "--configfile", str(config), *arguments],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def repository_copy(destination: Path) -> Path:
    """The repository's tracked and untracked (not ignored) files copied to ``destination`` with their
    modification times, and its virtual environment linked, as a user's clone would be."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (destination / ".venv").symlink_to(REPO / ".venv")
    # The linked environment is installed already (the test extra holds every other extra set): keep make
    # from reinstalling the copy into it, whichever of the Makefile's install stamps it looks for.
    stamps = list((REPO / ".venv").glob(".installed*"))
    installed = max(stamp.stat().st_mtime for stamp in stamps)
    for name in ("test", "run"):
        stamp = REPO / ".venv" / f".installed-{name}"
        if not stamp.exists():
            stamp.touch()
            os.utime(stamp, (installed, installed))
    oldest = min((REPO / ".venv" / f".installed-{name}").stat().st_mtime for name in ("test", "run"))
    for name in ("pyproject.toml", "requirements/constraints.txt"):  # what the stamps are made from
        os.utime(destination / name, (oldest - 1, oldest - 1))
    return destination
