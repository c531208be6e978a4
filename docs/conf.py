"""Sphinx configuration of simplexgrad's documentation: the manual's Markdown pages (MyST), the reproduction
records, and the API reference built from the library's numpydoc docstrings (``make docs``;
tests/test_docs.py builds it with warnings as errors)."""

import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "workflow")))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from simplexgrad import __version__  # noqa: E402

project = "simplexgrad"
author = "The simplexgrad contributors"
copyright = "the simplexgrad contributors"  # noqa: A001  (Sphinx's name)
version = release = __version__

extensions = ["sphinx.ext.autodoc", "numpydoc", "myst_parser"]
root_doc = "index"
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = "simplexgrad"
# Headings become link targets (`page.md#a-heading`) down to the third level.
myst_heading_anchors = 3
myst_enable_extensions = ["deflist"]
smartquotes = False  # `--layout` stays two hyphens in prose, as a user types it
html_static_path: list[str] = []

autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the numpydoc Parameters sections give the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
