"""Nothing in the repository points outside it, and every repository path it cites exists.

Every text file that git tracks or would track (``git ls-files -co --exclude-standard``; files with a NUL
byte or that are not UTF-8 are left out) is searched, line by line, for four kinds of path:

1. A folder of one machine: an absolute path under /work, /home, /root, /Users, /mnt, /scratch or
   /media (where people's and machines' own files live), or any mention of ``shared/reference`` or
   ``../shared`` (the folders beside a checkout on the machines this project is developed on). Always
   flagged: copy the fact itself into the file, or cite the paper or a public URL instead. System paths
   (/usr, /etc, /proc, /dev, /run, /var, /opt, /srv, /bin) are fine: code and tests name them on purpose.
   So is /tmp, as a place to write scratch files; but /tmp names that only one session made are flagged:
   Python's random temporary folders (/tmp/tmpab12cd), pytest's (/tmp/pytest-of-...) and /tmp/bash_jobs.
2. A relative path that starts with ``../``: resolved from the citing file's folder, it must stay inside
   the repository and exist (the rule files' ``../../envs/model.yaml``, a document's ``../README.md``).
3. A repository path: one whose first component is a top-level folder of the repository (``docs/x.md``,
   ``workflow/rules/x.smk``, ``config/x.yaml``, ``tests/x.py``, ...). It must exist from the repository
   root, or from the citing file's folder or one of the folders above it (a package's
   ``resources/x.tsv`` inside workflow/simplexgrad/).
4. Any other ``folder/.../name.md`` or ``.rst`` path whose first folder is no folder of the repository
   (``reference/notes.md``): a document somewhere else. One whose first folder the repository has, at any
   depth, is taken as relative to it (``reproduction/x/README.md`` from docs/).

Never flagged: a path with a placeholder (``{sample}``, ``<TF>``, ``$OUT``, ``*``, ``...``, ``%s``), a
path that git ignores (the workflow's outputs under results/, .venv, docs/_build), and anything inside a
URL (``https://host/docs/x.md`` cites another site). ``path:line``, ``path::test`` and ``path#anchor``
are checked without their suffix.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

MACHINE_FOLDERS = re.compile(
    r"(?<![\w.~:/@-])/(?:work|home|root|Users|mnt|scratch|media)(?![\w.-])"
    r"|\.\./shared\b|\bshared/reference\b"
    r"|(?<![\w.~:/@-])/tmp/(?:tmp[\w-]{6,}|pytest-of-[\w-]+|bash_jobs[\w.-]*)"
)
PLACEHOLDER = re.compile(r"[{}<>$*%?\[\]]|\.\.\.|…")
# Characters of a path; what ends one (quotes, spaces, brackets, commas) is left out.
PATH_CHARACTERS = r"[\w.+@/{}<>$*%?\[\]…-]"
URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+")


@functools.cache
def repository_files() -> tuple[Path, ...]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    # --cached lists a deleted file until the deletion is committed: only files that are here count.
    files = {REPO / name for name in listed.split("\0") if name and (REPO / name).is_file()}
    # A virtual environment made inside the checkout is not the repository's, ignored or not.
    environments = {path.parent for path in files if path.name == "pyvenv.cfg"}
    return tuple(sorted(path for path in files if not environments.intersection(path.parents)))


def text_of(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def top_level_folders(files: tuple[Path, ...]) -> list[str]:
    return sorted(
        {path.relative_to(REPO).parts[0] for path in files if len(path.relative_to(REPO).parts) > 1}
    )


def ignored(paths: set[str]) -> set[str]:
    """The repository-relative paths of `paths` that git ignores (outputs, environments, builds)."""
    if not paths:
        return set()
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"],
        cwd=REPO,
        input="".join(f"{path}\n{path}/\n" for path in sorted(paths)),  # a folder's pattern needs its /
        capture_output=True,
        text=True,
    )
    return {path.rstrip("/") for path in result.stdout.splitlines()}


def bare(candidate: str) -> str:
    """A cited path without sentence punctuation after it, a :line / ::test / #anchor suffix or quotes."""
    candidate = re.split(r"::|#|:(?=\d)", candidate)[0]
    return candidate.rstrip(".,;:!)'\"`")


def cited_paths(line: str, top_level: list[str]):
    """(kind, path) of each relative path in `line`: 'up' for ../ paths, 'repository' for repository
    ones, 'document' for other folder/.../name.md or .rst paths."""
    line = URL.sub(" ", line)
    for match in UP_PATH.finditer(line):
        yield "up", bare(match.group())
    for match in repository_path(tuple(top_level)).finditer(line):
        yield "repository", bare(match.group())
    for match in DOCUMENT_PATH.finditer(line):
        if match.group().split("/")[0] not in top_level:
            yield "document", bare(match.group())


UP_PATH = re.compile(rf"(?<![\w./@-])(?:\.\./)+{PATH_CHARACTERS}*")
DOCUMENT_PATH = re.compile(r"(?<![\w./@~$-])[\w-][\w.-]*(?:/[\w.-]+)+\.(?:md|rst)\b")


@functools.cache
def repository_path(top_level: tuple[str, ...]) -> re.Pattern:
    folders = "|".join(re.escape(name) for name in top_level)
    return re.compile(rf"(?<![\w./@~-])(?:{folders})/{PATH_CHARACTERS}*")


def repository_texts() -> dict[Path, str]:
    """Each text file's text; this file names bad paths on purpose and is left out."""
    texts = {path: text_of(path) for path in repository_files() if path != Path(__file__).resolve()}
    return {path: text for path, text in texts.items() if text is not None}


def inside(path: Path) -> str | None:
    """`path` (absolute, possibly with ..) relative to the repository, or None if it leaves it."""
    relative = os.path.relpath(os.path.normpath(path), REPO)
    return None if relative == ".." or relative.startswith("../") else Path(relative).as_posix()


def problems_in(texts: dict[Path, str], files: tuple[Path, ...]) -> list[str]:
    """'file:line: path (why)' for each bad path in `texts` (file -> its text); `files`: the repository's."""
    top_level = top_level_folders(files)
    folder_names = {part for path in files for part in path.relative_to(REPO).parts[:-1]}
    found = []  # (file, line number, path, why)
    to_check = []  # (file, line number, path as cited, repository-relative readings of it)
    for path, text in texts.items():
        name = path.relative_to(REPO).as_posix()
        folders = [folder for folder in (path.parent, *path.parent.parents) if inside(folder) is not None]
        for number, line in enumerate(text.splitlines(), 1):
            for match in MACHINE_FOLDERS.finditer(line):
                found.append((name, number, match.group(), "a folder outside the repository"))
            for kind, cited in cited_paths(line, top_level):
                if PLACEHOLDER.search(cited) or cited.rstrip("/") in top_level:
                    continue
                if kind == "document":
                    if cited.split("/")[0] in folder_names:
                        continue  # relative to one of the folders of that name: cannot tell which
                    readings = [cited]
                elif kind == "up":
                    reading = inside(path.parent / cited)
                    if reading is None:
                        found.append((name, number, cited, "leaves the repository"))
                        continue
                    readings = [reading]
                else:  # from the root, or from the file's folder or one above it
                    readings = [inside(folder / cited) for folder in folders]
                to_check.append((name, number, cited, [r for r in readings if r is not None]))
    skipped = ignored({reading for *_, readings in to_check for reading in readings})
    for name, number, cited, readings in to_check:
        if not any(reading in skipped or (REPO / reading).exists() for reading in readings):
            found.append((name, number, cited, "does not exist in the repository"))
    return [f"{name}:{number}: {cited} ({why})" for name, number, cited, why in sorted(set(found))]


def problems_in_text(text: str, where: str) -> list[str]:
    """problems_in for `text` as the content of the repository file `where` (never written)."""
    return problems_in({REPO / where: text}, repository_files())


def test_no_file_points_outside_the_repository_or_to_a_missing_file():
    problems = problems_in(repository_texts(), repository_files())
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "line",
    [
        "recipe: shared/reference/slurm-local.md",
        "wheels from `../shared/wheels-gpu`",
        "cp /work/shared/wheels-gpu/*.whl .",
        "see /home/someone/notes.txt",
        "left in /tmp/pytest-of-root/pytest-3/test0",
        "see ../../outside.md",
        "see docs/no-such-page.md.",
        "included from workflow/rules/no_such_helpers.smk",
        "as reference/published-generator.md shows",
    ],
)
def test_a_planted_bad_path_is_flagged(line):
    assert problems_in_text(line, "docs/planted.md"), line


@pytest.mark.parametrize(
    "line",
    [
        "python -m simplexgrad synthetic --out /tmp/default.h5",
        'report=${OUT:-${TMPDIR:-/tmp}}/gpu_ensemble.txt; 2>/dev/null; open("/proc/self/stat")',
        "outputs in results/synthetic/figures/fig2_correction_saliency.png and docs/_build/html/index.html",
        "per TF: results/invivo/{tf}/ensembles/<model>/ensemble.npz, workflow/report/*.rst, envs/...",
        "https://github.com/p-koo/GradientCorrection/blob/main/docs/missing.md",
        "config/quick.yaml (line config/quick.yaml:12) and tests/test_workflow_plans.py::test_x.",
        'conda: "../../envs/model.yaml"',
    ],
)
def test_good_paths_pass(line):
    assert not problems_in_text(line, "workflow/rules/planted.smk"), line
