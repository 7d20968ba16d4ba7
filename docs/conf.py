"""Sphinx configuration for the concur-lab documentation.

The build must work offline and with warnings as errors (``sphinx-build -W --keep-going -n``), so
intersphinx reads Python's inventory from a local copy; pytest's is only fetched when
``CONCUR_DOCS_INTERSPHINX=1`` says the network may be used.
"""

from __future__ import annotations

import os
import sys
from importlib import metadata
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# The local extension lives next to this file; it is not an installed package.
sys.path.insert(0, str(_HERE / "_ext"))

project = "concur-lab"
author = "the concur-lab authors"
copyright = "2026, the concur-lab authors"
try:
    release = metadata.version("concur-lab")
except metadata.PackageNotFoundError:  # pragma: no cover - docs built from a bare checkout
    release = "unknown"
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
    "concur_docs",
    "concur_bench",
    "concur_i18n",
    "concur_editions",
]

# The Chinese edition: Sphinx's gettext catalogs, one per page (docs/locale/README.md tells how
# they are updated). English is the source language.
language = "en"
locale_dirs = ["locale"]
gettext_compact = False
# A message that changed in English must not show its old translation: untranslated and fuzzy
# entries are caught by tests/test_docs_i18n.py instead.
gettext_allow_fuzzy_translations = False
gettext_last_translator = "concur-lab translators"
gettext_language_team = "concur-lab zh_CN"

# demos/ holds one two-line page per demo, filled in by a directive at build time (see
# _ext/concur_docs.py); _build is where people usually put the output when building in place.
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

nitpicky = True
# Python's own inventory is a local file (see _intersphinx/README.md): references into the
# standard library become links to docs.python.org, nothing is fetched, an offline build works,
# and a misspelt stdlib target is an error like any other broken reference.
extensions.append("sphinx.ext.intersphinx")
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", (str(_HERE / "_intersphinx" / "python.inv"),)),
}
intersphinx_timeout = 1
if os.environ.get("CONCUR_DOCS_INTERSPHINX") == "1":
    # pytest's inventory is not available offline: fetch it only when the network may be used.
    intersphinx_mapping["pytest"] = ("https://docs.pytest.org/en/stable", None)
# Third-party packages without a local inventory, and private modules of the standard library
# that appear in signatures; every public stdlib name must resolve.
_THIRD_PARTY = ["pytest", "_pytest", "pluggy", "multiprocess", "dill", "filelock", "matplotlib"]
nitpick_ignore_regex = [
    (r"py:(class|exc|func|meth|data|obj|mod|attr)", rf"({'|'.join(_THIRD_PARTY)})(\..*)?"),
    # Type variables of private modules (``T`` in ``list[T]``) are not public names.
    (r"py:(class|obj)", r"(concur_lab|pytest_concur)(\.\w+)*\._\w+\.[A-Z]\w{0,2}"),
]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
# Every parameter shows its type, documented or not.
autodoc_typehints_description_target = "all"
# Bases are shown per class by autopublic, which leaves out a lone "Bases: object".
autodoc_preserve_defaults = True

# Docstring examples use the package's public names unqualified, as a reader would after
# ``from concur_lab import ...``.
doctest_global_setup = """
import concur_lab
from concur_lab import *
"""

# ``::`` blocks are output and plain text; Python code says so with ``.. code-block:: python``.
highlight_language = "text"

html_theme = "furo"
html_title = f"concur-lab {release}"
html_static_path = ["_static"]
html_css_files = ["concur.css"]
# furo's sidebar with the language switcher (_templates/sidebar/language.html) under the brand.
html_sidebars = {
    "**": [
        "sidebar/brand.html",
        "sidebar/language.html",
        "sidebar/search.html",
        "sidebar/scroll-start.html",
        "sidebar/navigation.html",
        "sidebar/ethical-ads.html",
        "sidebar/scroll-end.html",
        "sidebar/variant-selector.html",
    ]
}

copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True

# Demo pages: run every demo in these modes when building HTML ("auto": only for HTML builders).
concur_demo_modes = ["thread", "process"]
# Demos whose lesson depends on the start method show every method, not only the default fork:
# the tutorial and the explanation pages point at these tables for spawn and forkserver.
_EVERY_START_METHOD = ["thread", "process:fork", "process:forkserver", "process:spawn"]
concur_demo_modes_by_slug = {
    slug: _EVERY_START_METHOD
    for slug in ("start-methods", "startup-cost", "pid-report", "thread-subclass", "shared-global")
}
concur_run_demos = "auto"
# Timeline figures only for the demos about scheduling and the GIL.
concur_timeline_themes = ["performance"]
