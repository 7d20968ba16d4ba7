"""The Chinese edition: complete catalogs, in step with the English sources, built into one site.

The catalogs are those of docs/locale, or of the folder named by ``CONCUR_DOCS_CATALOGS`` (to
check a translator's work in progress against these sources before it is merged).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LANGUAGE = "zh_CN"
# Both editions without running the demos: test_docs.py builds English with them, and the runs
# are the same in either language.
BUILD_TIMEOUT = 600
#: Chinese characters (CJK Unified Ideographs, Extension A and the compatibility block).
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
#: The catalog of the theme's own words (furo's "Next", "On this page"), which no page has.
THEME_CATALOG = "sphinx"
#: A message with a cross-reference, substitution or footnote shows text the catalog lacks.
_REFERS = re.compile(r"[`|\[]")

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("sphinx") is None,
    reason='sphinx is not installed: it comes with the docs extra (pip install -e ".[docs]")',
)


@pytest.fixture(scope="module")
def catalog_dir() -> Path:
    """The locale folder under test: docs/locale, or $CONCUR_DOCS_CATALOGS."""
    return Path(os.environ.get("CONCUR_DOCS_CATALOGS") or DOCS / "locale").resolve()


def _messages_dir(locale_dir: Path) -> Path:
    return locale_dir / LANGUAGE / "LC_MESSAGES"


def _read_po(path: Path):  # type: ignore[no-untyped-def]
    from babel.messages.pofile import read_po

    with path.open("rb") as stream:
        return read_po(stream, locale=LANGUAGE)


def _catalogs(messages_dir: Path) -> dict[str, Path]:
    """Each catalog by its page's name (``demos/daemon``)."""
    return {
        path.relative_to(messages_dir).with_suffix("").as_posix(): path
        for path in sorted(messages_dir.rglob("*.po"))
    }


def _sample(ids: list[str], limit: int = 3) -> str:
    shown = [repr(text if len(text) <= 40 else text[:37] + "...") for text in ids[:limit]]
    return ", ".join(shown) + (", ..." if len(ids) > limit else "")


def incomplete_catalogs(messages_dir: Path) -> dict[str, str]:
    """Map each catalog with an untranslated or fuzzy message to what is wrong with it."""
    problems = {}
    for page, path in _catalogs(messages_dir).items():
        messages = [message for message in _read_po(path) if message.id]
        untranslated = [message.id for message in messages if not message.string]
        fuzzy = [message.id for message in messages if message.string and message.fuzzy]
        if untranslated or fuzzy:
            problems[f"{page}.po"] = (
                f"{len(untranslated)} untranslated, {len(fuzzy)} fuzzy of {len(messages)}"
                f" (first: {_sample(untranslated + fuzzy)})"
            )
    return problems


def out_of_sync(pot_dir: Path, messages_dir: Path) -> dict[str, str]:
    """Map each catalog that differs from the freshly extracted templates to how it differs."""
    from babel.messages.pofile import read_po

    templates = {
        path.relative_to(pot_dir).with_suffix("").as_posix(): path
        for path in sorted(pot_dir.rglob("*.pot"))
    }
    catalogs = _catalogs(messages_dir)
    problems = {}
    for page in sorted(templates.keys() | catalogs.keys()):
        if page not in catalogs:
            problems[f"{page}.po"] = "missing: the page has messages but no catalog"
            continue
        if page == THEME_CATALOG:
            continue
        if page not in templates:
            problems[f"{page}.po"] = "stale: no page has these messages any more"
            continue
        with templates[page].open("rb") as stream:
            wanted = {message.id for message in read_po(stream) if message.id}
        catalog = _read_po(catalogs[page])
        have = {message.id for message in catalog if message.id}
        faults = []
        if new := sorted(wanted - have):
            faults.append(f"{len(new)} new in English: {_sample(new)}")
        if gone := sorted(have - wanted):
            faults.append(f"{len(gone)} no longer in English: {_sample(gone)}")
        if catalog.obsolete:
            faults.append(f"{len(catalog.obsolete)} obsolete (#~) entries")
        if faults:
            problems[f"{page}.po"] = "; ".join(faults)
    return problems


def _report(problems: dict[str, str], what: str, fix: str) -> str:
    lines = [f"{len(problems)} catalogs {what} ({fix}; docs/locale/README.md says how):"]
    lines += [f"  {name}: {problem}" for name, problem in sorted(problems.items())]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Extract the messages of the English sources afresh (sphinx-build -b gettext)."""
    outdir = tmp_path_factory.mktemp("gettext")
    command = [
        sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "gettext",
        "-d", str(outdir / ".doctrees"), str(DOCS), str(outdir),
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False, cwd=ROOT
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return outdir


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, catalog_dir: Path) -> tuple[Path, str]:
    """Build both editions with the documented command; return the site and its messages."""
    outdir = tmp_path_factory.mktemp("site")
    (outdir.parent / "site-build-started").write_text(repr(time.time()), encoding="utf-8")
    command = [
        sys.executable, str(DOCS / "build_site.py"), str(outdir),
        "--locale-dir", str(catalog_dir), "-D", "concur_run_demos=0",
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False, cwd=ROOT
    )
    return outdir, f"exit status {done.returncode}\n{done.stdout}\n{done.stderr}"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


_HEADER = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'


# --------------------------------------------------------------------------- catalogs


def test_every_catalog_is_complete(catalog_dir: Path) -> None:
    """No catalog has an untranslated or a fuzzy message."""
    problems = incomplete_catalogs(_messages_dir(catalog_dir))
    assert not problems, _report(problems, "are incomplete", "translate what they list")


def test_incomplete_catalogs_are_named_with_what_they_lack(tmp_path: Path) -> None:
    """The failure names each incomplete catalog with its untranslated and fuzzy counts."""
    _write(tmp_path / "done.po", _HEADER + 'msgid "Hello"\nmsgstr "你好"\n')
    _write(
        tmp_path / "demos" / "half.po",
        _HEADER + 'msgid "One"\nmsgstr ""\n\n#, fuzzy\nmsgid "Two"\nmsgstr "二"\n\n'
        'msgid "Three"\nmsgstr "三"\n',
    )
    assert incomplete_catalogs(tmp_path) == {
        "demos/half.po": "1 untranslated, 1 fuzzy of 3 (first: 'One', 'Two')"
    }


def test_catalogs_match_the_english_sources(templates: Path, catalog_dir: Path) -> None:
    """Every extracted message is in its catalog, and no catalog holds a message no page has."""
    problems = out_of_sync(templates, _messages_dir(catalog_dir))
    fix = f"run sphinx-intl update -p <gettext dir> -d {catalog_dir} -l {LANGUAGE}"
    assert not problems, _report(problems, "differ from the English sources", fix)


def test_a_changed_english_sentence_puts_its_catalog_out_of_sync(tmp_path: Path) -> None:
    """A new message, a vanished one, an obsolete entry and a lost page are each reported."""
    pots, pos = tmp_path / "pot", tmp_path / "po"
    _write(pots / "page.pot", _HEADER + 'msgid "New words"\nmsgstr ""\n')
    _write(pots / "new-page.pot", _HEADER + 'msgid "Hi"\nmsgstr ""\n')
    _write(
        pos / "page.po",
        _HEADER + 'msgid "Old words"\nmsgstr "旧话"\n\n#~ msgid "Older"\n#~ msgstr "更旧"\n',
    )
    _write(pos / "gone.po", _HEADER + 'msgid "Bye"\nmsgstr "再见"\n')
    assert out_of_sync(pots, pos) == {
        "gone.po": "stale: no page has these messages any more",
        "new-page.po": "missing: the page has messages but no catalog",
        "page.po": "1 new in English: 'New words'; 1 no longer in English: 'Old words';"
        " 1 obsolete (#~) entries",
    }


def test_the_theme_catalog_needs_no_page(tmp_path: Path) -> None:
    """sphinx.po translates the theme's words: no page's template is expected for it."""
    _write(tmp_path / "pot" / "index.pot", _HEADER + 'msgid "Hi"\nmsgstr ""\n')
    _write(tmp_path / "po" / "index.po", _HEADER + 'msgid "Hi"\nmsgstr "你好"\n')
    _write(tmp_path / "po" / "sphinx.po", _HEADER + 'msgid "Next"\nmsgstr "下一页"\n')
    assert out_of_sync(tmp_path / "pot", tmp_path / "po") == {}


# --------------------------------------------------------------------------- the site


def _pages(edition: Path) -> list[Path]:
    zh = edition / LANGUAGE
    return [
        path
        for path in sorted(edition.rglob("*.html"))
        if zh not in path.parents and "_static" not in path.parts
    ]


def test_site_builds_with_warnings_as_errors(site: tuple[Path, str]) -> None:
    """docs/build_site.py builds English and Chinese with -W --keep-going -n and succeeds."""
    outdir, messages = site
    assert messages.startswith("exit status 0\n"), messages
    assert (outdir / "index.html").exists() and (outdir / LANGUAGE / "index.html").exists()


def test_chinese_pages_say_they_are_chinese(site: tuple[Path, str]) -> None:
    """Every Chinese page has lang="zh-CN" (for fonts, line breaking and :lang(zh) CSS)."""
    outdir, messages = site
    pages = _pages(outdir / LANGUAGE)
    assert pages, messages
    marker = '<html class="no-js" lang="zh-CN"'
    wrong = [str(page) for page in pages if marker not in page.read_text(encoding="utf-8")]
    assert wrong == []


def _switcher_links(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    nav = re.search(r'<nav class="sidebar-editions".*?</nav>', text, flags=re.DOTALL)
    assert nav, f"{page}: no language switcher"
    return re.findall(r'<a class="sidebar-edition" href="([^"]+)"', nav.group(0))


@pytest.mark.parametrize("edition", ["", LANGUAGE])
def test_every_page_links_to_itself_in_the_other_language(
    site: tuple[Path, str], edition: str
) -> None:
    """The sidebar's switcher on each page links, relatively, to the same page in the other."""
    outdir, messages = site
    here, there = outdir / edition, outdir / (LANGUAGE if not edition else "")
    pages = _pages(here)
    assert pages, messages
    wrong = []
    for page in pages:
        links = _switcher_links(page)
        expected = there / page.relative_to(here)
        if len(links) != 1 or (page.parent / links[0]).resolve() != expected.resolve():
            wrong.append(f"{page.relative_to(outdir)} -> {links}")
        elif not expected.exists():
            wrong.append(f"{page.relative_to(outdir)} -> {links[0]} (no such page)")
    assert wrong == [], messages


def _han(text: str) -> str:
    return "".join(_HAN.findall(text))


def test_every_translated_page_shows_its_chinese(site: tuple[Path, str], catalog_dir: Path) -> None:
    """Each Chinese page contains its catalog's translations (a broken locale_dirs gives English).

    Compared are the Chinese characters alone, of each translation without a reference (whose
    text comes from elsewhere) and of the page, so markup and punctuation do not matter.
    """
    outdir, messages = site
    english_pages = {}
    for page, path in _catalogs(_messages_dir(catalog_dir)).items():
        if page == THEME_CATALOG:
            continue
        wanted = [
            _han(message.string)
            for message in _read_po(path)
            if message.id and message.string and not _REFERS.search(message.string)
        ]
        wanted = [text for text in wanted if text]
        html = outdir / LANGUAGE / f"{page}.html"
        shown = _han(html.read_text(encoding="utf-8")) if html.exists() else ""
        missing = [text for text in wanted if text not in shown]
        if not wanted:
            english_pages[page] = "its catalog has no Chinese yet"
        elif missing:
            english_pages[page] = f"{len(missing)} of {len(wanted)} translations not shown"
    report = "\n".join(f"  {LANGUAGE}/{page}.html: {why}" for page, why in english_pages.items())
    assert not english_pages, f"pages without their Chinese:\n{report}\n{messages}"


def test_the_site_build_writes_nothing_into_the_catalogs(
    site: tuple[Path, str], catalog_dir: Path
) -> None:
    """The Chinese build compiles a copy of the catalogs: no .mo file appears under docs/."""
    outdir, _ = site
    started = float((outdir.parent / "site-build-started").read_text(encoding="utf-8"))
    written = [
        str(path)
        for folder in {DOCS, catalog_dir}
        for path in folder.rglob("*")
        if path.is_file()
        and not {"__pycache__", "_build"} & set(path.parts)
        and path.stat().st_mtime >= started
    ]
    assert written == []


# --------------------------------------------------------------------------- pieces


def _editions():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import concur_editions

        return concur_editions
    finally:
        sys.path.remove(str(DOCS / "_ext"))


def test_english_page_links_down_into_the_chinese_folder() -> None:
    """From English howto/plugin.html the Chinese page is zh_CN/howto/plugin.html, relatively."""
    links = _editions().edition_links("en", "howto/plugin.html")
    assert [(link["tag"], link["current"], link["href"]) for link in links] == [
        ("en", True, "../howto/plugin.html"),
        ("zh-CN", False, "../zh_CN/howto/plugin.html"),
    ]


def test_chinese_page_links_up_out_of_its_folder() -> None:
    """From Chinese index.html the English page is ../index.html."""
    links = _editions().edition_links("zh_CN", "index.html")
    assert [link["href"] for link in links if not link["current"]] == ["../index.html"]


def test_a_language_outside_the_site_gets_no_switcher() -> None:
    """A build in a language the site has no edition for shows no links."""
    assert _editions().edition_links("fr", "index.html") == []


def test_chinese_search_splits_chinese_words() -> None:
    """Sphinx's Chinese search indexes Chinese words (it needs jieba, from the docs extra)."""
    # In a child: jieba leaves its dictionary file open, which pytest would report here.
    code = "from sphinx.search.zh import SearchChinese as S; print(S({}).split('线程和进程'))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert "'线程'" in done.stdout and "'进程'" in done.stdout, (
        f"split into {done.stdout}: without jieba Sphinx indexes no Chinese word at all"
    )
