"""Sphinx extension: the English and Chinese editions of one site, and the link between them.

``docs/build_site.py`` builds every edition of :data:`EDITIONS` into its own folder of one site
(English at the top, Chinese under ``zh_CN/``). Each HTML page gets ``concur_editions`` in its
template context: for every *other* edition, its name and a relative link to the same page there.
The sidebar snippet ``_templates/sidebar/language.html`` shows those links, so the switcher works
from ``file://`` and on any host or sub-path.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from sphinx.application import Sphinx

__all__ = ["EDITIONS", "Edition", "edition_links", "setup"]


class Edition(NamedTuple):
    """One language of the site: where it is built and how the switcher names it."""

    language: str
    #: Folder of the site that holds this edition, "" for the top, else ending in "/".
    folder: str
    #: The edition's name, in its own language.
    label: str
    #: BCP 47 tag for ``hreflang`` and ``lang``.
    tag: str


#: The editions of the site, the source language first.
EDITIONS = (
    Edition("en", "", "English", "en"),
    Edition("zh_CN", "zh_CN/", "简体中文", "zh-CN"),
)


def edition_links(
    language: str, target_uri: str, editions: tuple[Edition, ...] = EDITIONS
) -> list[dict[str, Any]]:
    """Return every edition of the page at *target_uri* of *language*, with a link to each.

    *target_uri* is the page's address relative to its edition's root, as the builder gives it
    (``howto/plugin.html``). Each entry has the edition's ``label``, ``tag``, whether it is the
    ``current`` one, and ``href``, relative to the page. An unknown *language* gets no entries:
    a build with ``-D language=`` of an edition the site does not have is not part of the site.
    """
    current = next((edition for edition in editions if edition.language == language), None)
    if current is None:
        return []
    # From the page up to the site's root: the page's own folders, then its edition's folder.
    up = "../" * (target_uri.count("/") + current.folder.count("/"))
    return [
        {
            "label": edition.label,
            "tag": edition.tag,
            "current": edition is current,
            "href": f"{up}{edition.folder}{target_uri}",
        }
        for edition in editions
    ]


def _alternate_links(links: list[dict[str, Any]]) -> str:
    return "".join(
        f'<link rel="alternate" hreflang="{link["tag"]}" href="{link["href"]}" />\n'
        for link in links
        if not link["current"]
    )


def _add_links(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    links = edition_links(app.config.language, app.builder.get_target_uri(pagename))
    context["concur_editions"] = links
    context["metatags"] = context.get("metatags", "") + _alternate_links(links)


def _quiet_jieba(app: Sphinx, config: Any) -> None:
    # Sphinx's Chinese search splits words with jieba when it is installed; jieba logs its
    # dictionary loading at DEBUG level to stderr, four lines of noise in every build.
    if not config.language.startswith("zh"):
        return
    try:
        import jieba  # type: ignore[import-not-found]
    except ImportError:
        return
    jieba.setLogLevel(logging.WARNING)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the page-context hook."""
    app.connect("config-inited", _quiet_jieba)
    app.connect("html-page-context", _add_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
