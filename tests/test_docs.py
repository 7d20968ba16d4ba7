"""The docs build cleanly (html and doctest, warnings as errors) and document every public name."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# The HTML build runs every demo in both modes (in fresh interpreters), so it gets a long leash.
BUILD_TIMEOUT = 1200

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("sphinx") is None,
    reason='sphinx is not installed: it comes with the docs extra (pip install -e ".[docs]")',
)


def _sphinx(builder: str, outdir: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q",
        "-b", builder, "-d", str(outdir / ".doctrees"), str(DOCS), str(outdir),
    ]  # fmt: skip
    return subprocess.run(
        command, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False, cwd=ROOT
    )


@pytest.fixture(scope="module")
def html(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Build the HTML docs once for this module; return the output dir and the build's messages."""
    outdir = tmp_path_factory.mktemp("html")
    # Recorded for test_the_build_writes_nothing_into_the_source_tree.
    (outdir.parent / "html-build-started").write_text(repr(time.time()), encoding="utf-8")
    done = _sphinx("html", outdir)
    return outdir, f"exit status {done.returncode}\n{done.stdout}\n{done.stderr}"


def _inventory(outdir: Path) -> dict[str, set[str]]:
    """Read objects.inv: object type (``py:function``, ``std:cmdoption``...) -> names."""
    from sphinx.util.inventory import InventoryFile

    with (outdir / "objects.inv").open("rb") as stream:
        data = InventoryFile.load(stream, "", lambda base, uri: uri)
    return {kind: set(entries) for kind, entries in data.items()}


def _names(inventory: dict[str, set[str]], *kinds: str) -> set[str]:
    return set().union(*(inventory.get(kind, set()) for kind in kinds))


def _pytest_output(*args: str, plugin: bool, cwd: Path) -> str:
    """Run pytest with only our plugin (or none) and return its output."""
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "COLUMNS": "200"}
    env.pop("PYTEST_ADDOPTS", None)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    if plugin:
        command[3:3] = ["-p", "concur"]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, cwd=cwd, env=env
    )
    return done.stdout


def _added_by_plugin(pattern: str, *args: str, cwd: Path) -> set[str]:
    """Names matching *pattern* in pytest's output with the plugin loaded, but not without it."""
    regex = re.compile(pattern, re.MULTILINE)
    with_plugin = set(regex.findall(_pytest_output(*args, plugin=True, cwd=cwd)))
    without = set(regex.findall(_pytest_output(*args, plugin=False, cwd=cwd)))
    return with_plugin - without


def test_html_build_passes_with_warnings_as_errors(html: tuple[Path, str]) -> None:
    """sphinx-build -W --keep-going -n -b html succeeds."""
    outdir, messages = html
    assert (outdir / "index.html").exists(), messages
    assert messages.startswith("exit status 0\n"), messages


def test_doctest_build_passes(tmp_path: Path) -> None:
    """sphinx-build -W --keep-going -n -b doctest succeeds: every example in the docs runs."""
    done = _sphinx("doctest", tmp_path)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "0 failures in tests" in (tmp_path / "output.txt").read_text(encoding="utf-8")


#: Every module whose public names the API reference documents.
DOCUMENTED_MODULES = ["concur_lab", "pytest_concur", "concur_lab.demos", "concur_lab.timeline"]


def _descriptions(outdir: Path) -> dict[str, str]:
    """Map each object documented on the API page to the text of its description.

    The description is the paragraphs directly in the entry's body: its docstring, without the
    parameter and return fields that autodoc writes from the signature even for an empty one.
    """
    import pickle

    from docutils import nodes
    from sphinx import addnodes

    with (outdir / ".doctrees" / "api.doctree").open("rb") as stream:
        doctree = pickle.load(stream)
    found: dict[str, str] = {}
    for desc in doctree.findall(addnodes.desc):
        content = next(c for c in desc.children if isinstance(c, addnodes.desc_content))
        text = " ".join(
            child.astext()
            for child in content.children
            if isinstance(child, nodes.paragraph | nodes.container | nodes.block_quote)
        ).strip()
        for signature in desc.children:
            if isinstance(signature, addnodes.desc_signature):
                for ident in signature["ids"]:
                    found[ident] = text
    return found


def _public_members(cls: type) -> list[str]:
    """The public methods and properties *cls* defines itself (``__call__`` counts as public)."""
    import functools
    import inspect

    members = []
    for name, value in vars(cls).items():
        if name.startswith("_") and name != "__call__":
            continue
        kinds = (property, functools.cached_property, classmethod, staticmethod)
        if isinstance(value, kinds) or inspect.isfunction(value):
            members.append(name)
    return members


def _expected_entries(package: str) -> list[str]:
    """Dotted names the reference must describe: ``__all__`` and the members of its classes.

    A class that is the very object of a ``concur_lab`` name (a re-export) is documented there,
    so only the alias itself is expected here.
    """
    import inspect

    module = importlib.import_module(package)
    core = importlib.import_module("concur_lab")
    expected = []
    for name in module.__all__:
        obj = getattr(module, name)
        expected.append(f"{package}.{name}")
        if package != "concur_lab" and getattr(core, name, None) is obj:
            continue
        if inspect.isclass(obj):
            expected += [f"{package}.{name}.{member}" for member in _public_members(obj)]
    return expected


@pytest.mark.parametrize("package", DOCUMENTED_MODULES)
def test_every_public_name_is_in_the_api_reference(html: tuple[Path, str], package: str) -> None:
    """Each public name, and each public method and property of a public class, is documented."""
    outdir, messages = html
    inventory = _inventory(outdir)
    documented = _names(inventory, *(kind for kind in inventory if kind.startswith("py:")))
    missing = [name for name in _expected_entries(package) if name not in documented]
    assert not missing, f"not in the API reference: {missing}\n{messages}"


@pytest.mark.parametrize("package", DOCUMENTED_MODULES)
def test_every_public_name_has_a_description(html: tuple[Path, str], package: str) -> None:
    """No entry of the API reference is only a signature: each has a docstring's text."""
    outdir, messages = html
    descriptions = _descriptions(outdir)
    empty = [name for name in _expected_entries(package) if not descriptions.get(name)]
    assert not empty, f"documented without a description: {empty}\n{messages}"


def test_every_plugin_option_is_documented(html: tuple[Path, str], tmp_path: Path) -> None:
    """Every command-line option the plugin adds has a ``.. option::`` entry."""
    options = _added_by_plugin(r"^\s+(--[\w-]+)", "--help", cwd=tmp_path)
    assert options, "found no option added by the plugin: is it installed?"
    documented = _names(_inventory(html[0]), "std:cmdoption")
    assert sorted(options - documented) == []


def test_every_plugin_ini_key_is_documented(html: tuple[Path, str], tmp_path: Path) -> None:
    """Every ini key the plugin adds has a ``.. confval::`` entry."""
    keys = _added_by_plugin(r"^  (\w+) \([\w |]+\):", "--help", cwd=tmp_path)
    assert keys, "found no ini key added by the plugin: is it installed?"
    documented = _names(_inventory(html[0]), "std:confval")
    assert sorted(keys - documented) == []


def test_every_plugin_marker_is_documented(html: tuple[Path, str], tmp_path: Path) -> None:
    """Every marker the plugin registers has a ``.. marker::`` entry."""
    markers = _added_by_plugin(r"^@pytest\.mark\.(\w+)", "--markers", cwd=tmp_path)
    assert markers, "found no marker registered by the plugin: is it installed?"
    documented = _names(_inventory(html[0]), "std:marker")
    assert sorted(markers - documented) == []


def test_every_plugin_fixture_is_documented(html: tuple[Path, str], tmp_path: Path) -> None:
    """Every fixture the plugin defines has a ``.. fixture::`` entry."""
    fixtures = _added_by_plugin(r"^(\w+)(?: \[\w+ scope\])? -- ", "--fixtures", cwd=tmp_path)
    assert fixtures, "found no fixture defined by the plugin: is it installed?"
    documented = _names(_inventory(html[0]), "std:fixture")
    assert sorted(fixtures - documented) == []


def test_every_demo_has_a_page_with_both_modes(html: tuple[Path, str]) -> None:
    """Each demo of the catalogue has a generated page showing its thread and process runs."""
    from concur_lab.demos import all_demos

    outdir, messages = html
    for demo in all_demos():
        page = outdir / "demos" / f"{demo.slug}.html"
        assert page.exists(), f"no page for demo {demo.slug}\n{messages}"
        text = page.read_text(encoding="utf-8")
        assert "demo-observations" in text, f"{demo.slug}: no observations table"
        assert ">thread<" in text, f"{demo.slug}: no thread-mode column"
        assert ">process[" in text, f"{demo.slug}: no process-mode column"


def test_tutorial_is_one_path_through_the_gil(html: tuple[Path, str]) -> None:
    """The tutorial reaches the GIL with real output, one line per mode, code before next."""
    outdir, messages = html
    text = (outdir / "tutorial.html").read_text(encoding="utf-8")
    assert "$ python cpu_bound.py" in text and "$ python io_bound.py" in text, messages
    assert "demo-summaries" in text
    assert 'class="demo-observations' not in text  # no key = value tables on the path
    assert text.index("the same with concur-lab") < text.index("Where next")
    assert text.index("multiprocess</span></code>") > text.index("hello from a thread")


def _extension(name: str = "concur_docs") -> ModuleType:
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(DOCS / "_ext"))


def test_observation_keys_only_one_mode_reports_sit_with_their_siblings() -> None:
    """Merging key orders puts a process-only key next to the keys of the same group."""
    merged = _extension()._merge_orders(
        [["class", "args.returned", "life.alive"], ["class", "args.raised", "life.alive", "pid"]]
    )
    assert merged == ["class", "args.returned", "args.raised", "life.alive", "pid"]


def test_nested_observations_become_dotted_rows() -> None:
    """Nested dicts are flattened two levels deep; deeper values stay whole."""
    flat = _extension()._flatten({"a": {"b": {"c": {"d": 1}}}, "e": [1, 2]})
    assert flat == {"a.b.c": {"d": 1}, "e": [1, 2]}


def test_observed_values_render_as_python_literals() -> None:
    """None, booleans and nested containers appear as Python prints them, not as JSON."""
    rendered = _extension()._render_value([None, True, {"alive": False}])
    assert rendered == "[None, True, {'alive': False}]"


def test_small_records_are_one_line_each_with_repeats_counted() -> None:
    """Per-worker records of one or two fields read as key=value lines; a repeated line once."""
    rendered = _extension()._render_value([{"saw": 4}] * 3 + [{"raised": "NameError"}])
    assert rendered == "saw=4  (×3)\nraised='NameError'"


def test_keys_become_labels_without_trailing_dots() -> None:
    """Observation keys show as words, a group as its name alone, seconds as '(s)'."""
    label = _extension()._label
    assert [label("late_set"), label("from_zero.caller_after"), label("wall_s")] == [
        "late set", "from zero: caller after", "wall (s)",
    ]


def test_busy_build_says_so_in_plain_words() -> None:
    """A run that found the machine busy gets a note with the cores taken and the tries."""
    note = _extension()._busy_note(
        "gil-cpu-bound",
        {"thread": {"machine_busy": False, "others_cores": 0.1, "cores": 2},
         "process[fork]": {"machine_busy": True, "others_cores": 1.4, "cores": 2}},
        3,
    )
    assert note is not None
    assert "other programs used 1.4 of 2 cores during the process[fork] run" in note
    assert "after trying 3 times" in note


def test_busy_note_without_a_core_count() -> None:
    """A demo that does not report its cores (gil-timeline) gets the machine's count."""
    runs = {"process[fork]": {"machine_busy": True, "others_cores": 1.0}}
    note = _extension()._busy_note("gil-timeline", runs, 1)
    assert note is not None
    assert f"1.0 of {os.cpu_count()} cores" in note


def test_quiet_build_has_no_busy_note() -> None:
    """No run found the machine busy: no note."""
    runs = {"thread": {"machine_busy": False, "others_cores": 0.0, "cores": 2}}
    assert _extension()._busy_note("gil-cpu-bound", runs, 1) is None


def test_busy_runs_are_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A busy run is repeated up to the retry count, and a quiet one ends the retries."""
    ext = _extension()
    answers = iter([{"machine_busy": True}, {"machine_busy": True}, {"machine_busy": False}])
    monkeypatch.setattr(ext, "_observe_once", lambda slug, mode, timeout: next(answers))
    monkeypatch.setattr(ext, "_RUNS", {})
    monkeypatch.setattr(ext, "_TRIES", {})
    assert ext._observe("x", "process", 1.0, retries=5, pause=0.0) == {"machine_busy": False}
    assert ext._TRIES[("x", "process")] == 3


def test_every_demo_has_a_page_source_and_every_page_a_demo() -> None:
    """docs/demos/ holds one stub per demo (and the catalogue), and no stub of a removed demo."""
    from concur_lab.demos import all_demos

    stubs = {path.stem for path in (DOCS / "demos").glob("*.rst")}
    assert stubs == {"index", *(demo.slug for demo in all_demos())}


def test_the_build_writes_nothing_into_the_source_tree(html: tuple[Path, str]) -> None:
    """Building the HTML docs creates or changes no file under docs/ (bytecode aside)."""
    outdir, _ = html
    started = float((outdir.parent / "html-build-started").read_text(encoding="utf-8"))
    touched = [
        str(path.relative_to(DOCS))
        for path in DOCS.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and "_build" not in path.parts
        and path.stat().st_mtime >= started
    ]
    assert touched == []


def test_benchmark_section_stops_at_the_next_heading_of_its_level() -> None:
    """A report section keeps its sub-sections and ends where its sibling begins."""
    text = "# T\n## 1. A\na\n### 1b. B\nb\n## 2. C\nc\n"
    heading, lines = _extension("concur_bench").report_section(text, "1. ")
    assert heading == "1. A"
    assert lines == ["a", "### 1b. B", "b"]


def test_benchmark_markdown_table_becomes_a_list_table() -> None:
    """Pipe tables become list-tables; `code` becomes reST code; empty cells stay cells."""
    rest = _extension("concur_bench").markdown_to_rest(
        ["| a | `b` |", "|---|---:|", "| 1 |  |", "plain `x` text"]
    )
    assert rest == [
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - a",
        "     - ``b``",
        "   * - 1",
        "     - \\ ",
        "",
        "plain ``x`` text",
    ]


def test_performance_page_shows_every_report_section() -> None:
    """Each numbered section of the committed benchmark report is shown on the page."""
    report = (DOCS.parent / "benchmarks" / "results" / "latest.md").read_text(encoding="utf-8")
    page = (DOCS / "performance.rst").read_text(encoding="utf-8")
    numbered = re.findall(r"^## (\d+)\. ", report, flags=re.MULTILINE)
    assert numbered
    for number in numbered:
        assert f".. benchmark-report:: {number}. " in page
