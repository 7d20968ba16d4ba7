"""Sphinx extension: decide which text of the documentation the Chinese edition translates.

The pages are translated with Sphinx's own gettext machinery (catalogs under
``docs/locale/<language>/LC_MESSAGES``). Three kinds of text are deliberately left in English,
so that the catalogs hold only prose a translator owns and do not go stale on every commit:

* the benchmark report shown by ``.. benchmark-report::`` (measured numbers and table cells,
  rewritten by every benchmark run; the page's own prose around it is translated);
* docstrings pulled in by autodoc and ``.. autopublic::`` (the API reference keeps English
  docstrings; its headings and introduction are translated);
* the body of the changelog (a record of English commit notes; its title is translated).

Marking happens in a transform that runs before Sphinx's ``Locale`` transform, so both the
extraction (``-b gettext``) and the translated build see the same set of messages.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform

__all__ = ["ENGLISH_ONLY_DOCS", "KeepEnglish", "setup"]

#: Documents whose body stays English in every edition (their titles are translated).
ENGLISH_ONLY_DOCS = frozenset({"changelog"})

#: Node attribute set by directives whose output is data, not prose (the benchmark report).
DATA_ATTRIBUTE = "concur-data"

# Sources of generated text: autodoc gives "<file>:docstring of <name>", the autopublic
# directive "<autopublic ...>".
_GENERATED_SOURCE_MARKERS = (":docstring of ", "<autopublic")


def _keep_english(node: nodes.Element) -> None:
    for text_node in node.findall(nodes.TextElement):
        text_node["translatable"] = False


class KeepEnglish(SphinxTransform):
    """Mark generated docstrings, benchmark data and English-only pages as not translatable."""

    # Sphinx's Locale transform runs at 20; this must come first.
    default_priority = 10

    def apply(self, **kwargs: Any) -> None:
        if self.env.docname in ENGLISH_ONLY_DOCS:
            for element in self.document.findall(nodes.TextElement):
                if not isinstance(element, nodes.title):
                    element["translatable"] = False
            return
        for element in list(self.document.findall(nodes.Element)):
            if element.get(DATA_ATTRIBUTE):
                _keep_english(element)
            elif isinstance(element, nodes.TextElement):
                source = element.source or ""
                if any(marker in source for marker in _GENERATED_SOURCE_MARKERS):
                    element["translatable"] = False


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the transform."""
    app.add_transform(KeepEnglish)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
