"""The documentation site builds from the docstrings with warnings as errors, as ``make docs`` does, and
documents the core API."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import simplexgrad

REPO = Path(__file__).resolve().parents[1]


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
