"""Tests for the command line in Chinese: --lang, the locale's default, catalogs, display widths."""

from __future__ import annotations

import gettext
import io
import json
import shutil
import subprocess
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from concur_lab import _display, _i18n, demos
from concur_lab.cli import main
from concur_lab.cli._layout import print_table
from concur_lab.engine._modes import Mode

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "concur_lab" / "locale"
PO = LOCALE / "zh_CN" / "LC_MESSAGES" / "concur_lab.po"
MO = PO.with_suffix(".mo")
LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def chinese_demo(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """A fake demo whose cells are Chinese and differ by mode."""
    shared = mode.kind == "thread"
    return {
        "summary": "线程共享同一个全局变量" if shared else "每个进程各有一份副本，互不影响",
        "values": [1, 2, 3] if shared else [1, 1, 1],
        "note": "中文单元格，" * (3 if shared else 6),
    }


def make_demo(slug: str, run: Callable[..., Any], theme: str = "basics") -> demos.Demo:
    """Build a Demo around *run*, with a real demo's title and lesson (they are in the catalog)."""
    module = types.ModuleType(f"fake_{slug.replace('-', '_')}")
    module.run = run  # type: ignore[attr-defined]
    return demos.Demo(
        slug=slug, title="Five workers bump a module global", theme=theme, order=1,
        lesson="Threads share a module global (1..5); each process bumps its own copy "
        "(1 five times)", module=module,
    )


@pytest.fixture(autouse=True)
def english_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test from an English locale and a 100-column terminal."""
    for variable in LOCALE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("COLUMNS", "100")


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace the demo registry by one fake demo with Chinese cells."""
    monkeypatch.setattr(demos, "_load", lambda: (make_demo("shared-global", chinese_demo),))


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Call main(argv) in-process; return its status, stdout and stderr."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


class TestLanguageChoice:
    def test_lang_zh_prints_chinese_headings(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`list --lang zh` prints the theme headings and the closing line in Chinese."""
        status, out, _ = run_cli(capsys, "--lang", "zh", "list")
        assert status == 0
        assert "进程与线程：博文涉及的基础" in out
        assert "个演示。用 '" in out

    def test_lang_after_the_command(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--lang works after the sub-command too, in its = form."""
        _, out, _ = run_cli(capsys, "list", "--lang=zh")
        assert "竞态条件与丢失更新" in out

    def test_lang_en_overrides_a_chinese_locale(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """--lang en gives English even when LANG asks for Chinese."""
        monkeypatch.setenv("LANG", "zh_CN.UTF-8")
        _, out, _ = run_cli(capsys, "--lang", "en", "list")
        assert "Races and lost updates" in out
        assert "竞态" not in out

    def test_chinese_locale_is_the_default(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """LANG=zh_CN.UTF-8 without --lang gives Chinese."""
        monkeypatch.setenv("LANG", "zh_CN.UTF-8")
        _, out, _ = run_cli(capsys, "list")
        assert "竞态条件与丢失更新" in out

    def test_unknown_locale_falls_back_to_english(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """LANG=fr_FR.UTF-8 gives English, silently."""
        monkeypatch.setenv("LANG", "fr_FR.UTF-8")
        status, out, err = run_cli(capsys, "list")
        assert (status, err) == (0, "")
        assert "Races and lost updates" in out

    def test_unknown_lang_is_a_usage_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--lang fr exits 2 naming the value and the languages available."""
        status, _, err = run_cli(capsys, "--lang", "fr", "list")
        assert status == 2
        assert "unknown language 'fr': the languages are en, zh" in err

    def test_unknown_lang_is_refused_in_the_locales_language(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Under a Chinese locale the refusal of --lang fr is in Chinese."""
        monkeypatch.setenv("LANG", "zh_CN.UTF-8")
        status, _, err = run_cli(capsys, "list", "--lang", "fr")
        assert status == 2
        assert "未知语言 'fr'：可用的语言有 en, zh" in err

    def test_help_is_chinese(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--help in Chinese translates argparse's own words and the commands' help."""
        status, out, _ = run_cli(capsys, "--lang", "zh", "run", "--help")
        assert status == 0
        assert out.startswith("用法：")
        assert "显示此帮助信息并退出" in out
        assert "要运行的演示" in out

    def test_usage_continuation_lines_align_under_the_program(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The wrapped usage lines start under the first option, measured in display columns."""
        monkeypatch.setenv("COLUMNS", "80")
        _, out, _ = run_cli(capsys, "--lang", "zh", "run", "--help")
        first, second = out.splitlines()[:2]
        assert _display.width(first[: first.index("[")]) == len(second) - len(second.lstrip())

    def test_main_restores_english(self, capsys: pytest.CaptureFixture[str]) -> None:
        """After main() returns, the library speaks English again."""
        run_cli(capsys, "--lang", "zh", "list")
        assert _i18n.current_language() == "en"


class TestLocale:
    @pytest.mark.parametrize(
        ("environ", "language"),
        [
            ({"LANG": "zh_CN.UTF-8"}, "zh"),
            ({"LANG": "zh_TW.UTF-8"}, "zh"),
            ({"LANG": "fr_FR.UTF-8"}, "en"),
            ({"LANG": "C.UTF-8"}, "en"),
            ({}, "en"),
            ({"LANG": "en_US.UTF-8", "LC_ALL": "zh_CN.UTF-8"}, "zh"),
            ({"LANG": "zh_CN.UTF-8", "LC_ALL": "en_US.UTF-8"}, "en"),
            ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, "zh"),
            ({"LC_MESSAGES": "zh_CN.UTF-8", "LC_ALL": "en_GB.UTF-8"}, "en"),
            ({"LANG": "en_US.UTF-8", "LANGUAGE": "fr:zh_CN:en"}, "zh"),
            ({"LANG": "zh_CN.UTF-8", "LANGUAGE": "en"}, "en"),
            ({"LANG": "C", "LANGUAGE": "zh_CN"}, "en"),
        ],
    )
    def test_language_from_environment(self, environ: dict[str, str], language: str) -> None:
        """LC_ALL > LC_MESSAGES > LANG name the locale; LANGUAGE overrides it unless it is C."""
        assert _i18n.language_from_environment(environ) == language


class TestJson:
    def test_list_json_keys_are_the_same_and_lessons_translated(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`list --json` has the same keys and slugs in both languages; the lesson is Chinese."""
        _, english, _ = run_cli(capsys, "--lang", "en", "list", "--json")
        _, chinese, _ = run_cli(capsys, "--lang", "zh", "list", "--json")
        en, zh = json.loads(english), json.loads(chinese)
        assert [sorted(e) for e in en] == [sorted(z) for z in zh]
        assert [(e["slug"], e["theme"]) for e in en] == [(z["slug"], z["theme"]) for z in zh]
        shared = next(z for z in zh if z["slug"] == "shared-global")
        assert shared["lesson"].startswith("线程共享同一个模块全局变量")

    @pytest.mark.usefixtures("fakes")
    def test_run_json_observations_stay_english(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`run --json` in Chinese keeps the keys and observed values; only the lesson changes."""
        _, english, _ = run_cli(capsys, "--lang", "en", "run", "shared-global", "--json")
        _, chinese, _ = run_cli(capsys, "--lang", "zh", "run", "shared-global", "--json")
        en, zh = json.loads(english), json.loads(chinese)
        assert sorted(en) == sorted(zh)
        assert [r["observed"] for r in en["runs"]] == [r["observed"] for r in zh["runs"]]
        assert zh["lesson"] != en["lesson"]
        assert zh["lesson"].startswith("线程共享")


def cell_starts(line: str, cells: list[str]) -> list[int]:
    """Return the display column at which each of *cells* starts in *line*."""
    return [_display.width(line[: line.index(cell)]) for cell in cells]


class TestDisplayWidth:
    def test_wide_characters_count_two(self) -> None:
        """A CJK character and a fullwidth comma take two columns each."""
        assert _display.width("线程，a") == 7

    def test_ljust_pads_by_display_width(self) -> None:
        """ljust pads Chinese text to the same display width as ASCII text."""
        assert _display.width(_display.ljust("进程", 10)) == _display.width(
            _display.ljust("ab", 10)
        )

    def test_wrap_breaks_chinese_without_spaces(self) -> None:
        """Chinese text without spaces wraps within the width."""
        lines = _display.wrap("线程共享同一个模块全局变量；每个进程只给自己的副本加一。" * 2, 20)
        assert len(lines) > 1
        assert all(_display.width(line) <= 20 for line in lines)

    def test_side_by_side_columns_align(self) -> None:
        """Chinese and ASCII cells of one column start at the same display column."""
        rows = [("值", [["线程看到的值"], ["abc"]]), ("values", [["1, 2"], ["进程的副本"]])]
        out = io.StringIO()
        print_table(rows, ["线程", "进程[fork]"], 80, out, mark_differences=True)
        lines = out.getvalue().splitlines()
        assert cell_starts(lines[2], ["线程看到的值", "abc"]) == cell_starts(
            lines[3], ["1, 2", "进程的副本"]
        )
        assert cell_starts(lines[0], ["线程", "进程[fork]"]) == cell_starts(
            lines[2], ["线程看到的值", "abc"]
        )

    @pytest.mark.usefixtures("fakes")
    @pytest.mark.parametrize("language", ["en", "zh"])
    @pytest.mark.parametrize("argv", [("tour",), ("list",), ("run", "shared-global")])
    def test_every_line_fits_80_columns(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        language: str, argv: tuple[str, ...],
    ) -> None:
        """At COLUMNS=80 no line is wider than 80 display columns, in either language."""
        monkeypatch.setenv("COLUMNS", "80")
        status, out, _ = run_cli(capsys, "--lang", language, *argv)
        assert status == 0
        assert max(_display.width(line) for line in out.splitlines()) <= 80

    @pytest.mark.parametrize("language", ["en", "zh"])
    def test_real_list_and_help_fit_80_columns(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        language: str,
    ) -> None:
        """The real catalogue's list and every --help fit 80 display columns."""
        monkeypatch.setenv("COLUMNS", "80")
        for argv in (["list"], ["--help"], ["run", "--help"], ["tour", "--help"]):
            _, text, _ = run_cli(capsys, "--lang", language, *argv)
            assert max(_display.width(line) for line in text.splitlines()) <= 80, argv


babel = pytest.importorskip("babel", reason="Babel (with Sphinx, in the docs extra) reads catalogs")


def read_catalog() -> Any:
    from babel.messages.pofile import read_po

    with PO.open("rb") as f:
        return read_po(f)


def messages(translations: Any) -> dict[Any, str]:
    """Return a compiled catalog's messages without its header (which names the compiler)."""
    return {k: v for k, v in translations._catalog.items() if k != ""}


class TestCatalog:
    def test_no_entry_is_untranslated_or_fuzzy(self) -> None:
        """Every message of the zh_CN catalog is translated and none is fuzzy."""
        catalog = read_catalog()
        bad = [
            message.id for message in catalog
            if message.id and (message.fuzzy or not all(
                message.string if isinstance(message.string, tuple) else [message.string]
            ))
        ]
        assert bad == []

    @pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext is not installed")
    def test_msgfmt_check_passes(self, tmp_path: Path) -> None:
        """msgfmt --check accepts the catalog and counts no untranslated or fuzzy entry."""
        done = subprocess.run(
            ["msgfmt", "--check", "--statistics", "-o", str(tmp_path / "x.mo"), str(PO)],
            capture_output=True, text=True, check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "untranslated" not in done.stderr and "fuzzy" not in done.stderr

    def test_catalog_matches_the_sources(self) -> None:
        """The messages extracted from the sources are exactly the catalog's msgids."""
        from babel.messages.extract import extract_from_dir

        keywords = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2)}
        extracted = {
            message[2] if isinstance(message[2], str) else message[2][0]
            for message in extract_from_dir(
                str(ROOT / "concur_lab"), method_map=[("**.py", "python")], keywords=keywords
            )
        }
        catalog = {
            m.id if isinstance(m.id, str) else m.id[0] for m in read_catalog() if m.id
        }
        assert sorted(extracted - catalog) == [], "new messages: run the update in locale/README"
        assert sorted(catalog - extracted) == [], "stale messages: run the update"

    def test_compiled_catalog_is_current(self) -> None:
        """The committed .mo holds exactly the .po's translations."""
        from babel.messages.mofile import write_mo

        compiled = io.BytesIO()
        write_mo(compiled, read_catalog())
        compiled.seek(0)
        with MO.open("rb") as f:
            shipped = gettext.GNUTranslations(f)
        fresh = gettext.GNUTranslations(compiled)
        # The header ("") says which tool compiled it; the messages are what must match.
        assert messages(shipped) == messages(fresh)

    def test_every_demo_title_lesson_and_heading_is_translated(self) -> None:
        """Each demo's title and lesson and each theme heading has a Chinese translation."""
        zh = _i18n.translations("zh")
        texts = [t for d in demos.all_demos() for t in (d.title, d.lesson)]
        texts += list(demos.THEMES.values())
        assert [t for t in texts if zh.gettext(t) == t] == []


@pytest.fixture
def concur_docs(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The docs' extension module, imported from docs/_ext; English restored afterwards."""
    pytest.importorskip("sphinx")
    monkeypatch.syspath_prepend(str(ROOT / "docs" / "_ext"))
    import concur_docs as module

    yield module
    _i18n.set_language("en")


def build(language: str | None) -> Any:
    """A stand-in for a Sphinx application whose configuration names *language*."""
    return types.SimpleNamespace(config=types.SimpleNamespace(language=language))


class TestDocsLabels:
    def test_chinese_build_shows_chinese_labels(self, concur_docs: Any) -> None:
        """With language zh_CN the demo tables' labels come from the same catalog, in Chinese."""
        concur_docs._speak_build_language(build("zh_CN"))
        assert concur_docs._label("from_zero.caller_set") == "从 0 开始：调用方设置的值"
        assert concur_docs._mode_label("thread") == "线程"

    def test_english_build_keeps_english_labels(self, concur_docs: Any) -> None:
        """With language en the labels are the English ones the command line shows."""
        concur_docs._speak_build_language(build("en"))
        assert concur_docs._label("from_zero.wall_s") == "from zero: wall (s)"

    def test_figures_keep_english_mode_names(self, concur_docs: Any) -> None:
        """The timeline figures are labelled in English even in a Chinese build (no CJK font)."""
        concur_docs._speak_build_language(build("zh_CN"))
        assert concur_docs._english_mode_label("thread") == "thread"
