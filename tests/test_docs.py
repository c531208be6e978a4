"""The front door and the manual: the README stays a short page, every ``make`` target printed exists, and
the documentation site builds with warnings as errors, as ``make docs`` does, with the manual's pages, the
reproduction records and the API reference."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import simplexgrad
from manual import MANUAL

REPO = Path(__file__).resolve().parents[1]
PAGES = [
    "getting-started",
    "usage",
    "your-sequences",
    "library",
    "api",
    "study",
    "workflow",
    "reproduction",
    "benchmarks",
]


def table_cells(text: str) -> list[str]:
    """The cells of the Markdown tables in ``text`` (an escaped ``\\|`` stays inside its cell)."""
    rows = [line.strip() for line in text.splitlines() if line.lstrip().startswith("|")]
    return [cell.strip() for row in rows for cell in re.split(r"(?<!\\)\|", row.strip("|"))]


def test_the_readme_is_a_front_door():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    assert max(map(len, table_cells(text))) <= 200
    # Measurements, their dates and their history live on the benchmarks page and in CHANGELOG.md.
    dated = re.findall(r"\b20\d\d-\d\d-\d\d\b|\b\d+ min(?: \d+ s)?\b|\b\d+(?:\.\d+)? s\b|\bearlier\b", text)
    assert not dated, dated
    pages = ("getting-started", "usage", "your-sequences", "library", "study", "workflow", "benchmarks")
    for page in (*pages, "reproduction"):
        assert f"(docs/{page}.md)" in text, f"the README does not link docs/{page}.md"


def test_table_cells_are_read_as_a_reader_sees_them():
    cells = table_cells("| a | b \\| c |\n|---|---|\n| `x` | y |")
    assert cells == ["a", "b \\| c", "---", "---", "`x`", "y"]


def test_every_printed_make_target_exists():
    targets = set(re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), re.M))
    printed = {name for page in MANUAL for name in re.findall(r"`make ([\w-]+)", page.read_text())}
    assert {"run", "test", "test-fast", "docs"} <= printed
    assert printed <= targets, printed - targets


def test_code_in_the_manual_fits_the_page():
    """A code line of the README or a manual page that is wider than the site's column scrolls sideways."""
    for page in MANUAL:
        for block in re.findall(r"```\w*\n(.*?)```", page.read_text(), re.S):
            wide = [line for line in block.splitlines() if len(line) > 86]
            assert not wide, f"{page.name}: {wide}"


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "docs"]
    done = subprocess.run([*command, str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=600)
    warnings = [line for line in done.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    sphinx = [line for line in warnings if "absl::InitializeLog" not in line]  # TensorFlow's own start-up
    assert done.returncode == 0 and not sphinx, done.stderr[-4000:]
    api = (tmp_path / "api.html").read_text()
    documented = set(re.findall(r'id="simplexgrad\.[\w.]*?\.(\w+)"', api))
    core = [name for name in simplexgrad.__all__ if name != "__version__"]
    assert {*core, "correct_file", "read_array", "attribution_gradients", "require"} <= documented
    started = re.sub(r"<[^>]+>", "", (tmp_path / "getting-started.html").read_text())  # text, no markup
    assert "simplexgrad correct --in maps.npy" in started and "removed_norm_fraction" in started
    index = (tmp_path / "index.html").read_text()
    for page in PAGES:
        assert f'href="{page}.html"' in index, page
    usage = re.sub(r"<[^>]+>", "", (tmp_path / "usage.html").read_text())
    assert "pass --layout NAL" in usage  # prose keeps a user's two hyphens
