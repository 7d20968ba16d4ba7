"""Local Sphinx extension for the concur-lab docs.

It does four things:

* registers the object types the plugin reference needs: ``fixture`` and ``marker`` (and
  ``confval`` on a Sphinx older than 7.4, which has no built-in one), so that every fixture,
  marker and ini key gets an index entry and a line in ``objects.inv`` that tests can check;
* makes one page per demo of :func:`concur_lab.demos.all_demos` with the ``demo-page`` and
  ``demo-catalogue`` directives. Each page's source in ``demos/`` is a committed two-line stub
  (``python docs/_ext/concur_docs.py`` writes missing ones), so the build never writes into the
  source tree; a demo without a page, or a page without a demo, makes the build warn;
* provides the directives those pages and the tutorial use: ``demo-lesson`` (the module
  docstring), ``demo-observations`` (the demo run in thread and process mode *while the docs are
  built*, each run in a fresh interpreter with a timeout) and ``demo-timeline`` (the Gantt chart
  of the scheduling demos, drawn by :func:`concur_lab.timeline.plot_gantt`);
* provides ``autopublic`` (autodoc of every name in a module's ``__all__``), ``pytest-run`` (an
  example test file run with the plugin, output shown), ``concur-cli`` (a command's output) and
  ``concur-unsafe-rules`` (the plugin's built-in unsafe-detection rules, as a table).

Which observations are rows, in what order and under which label, is the demos' observation model
(``concur_lab/demos/_observations.py``), the one the command line renders too. The labels and the
mode names come from the command line's own gettext catalog (domain ``concur_lab``, see
``concur_lab/locale/README.md``): in a build whose ``language`` is ``zh_CN`` they are Chinese, the
same words ``python -m concur_lab --lang zh run`` shows; the observed values stay as the demos
report them.

Demos run only for HTML builders (``concur_run_demos = "auto"``); other builders, such as the
doctest builder, get a one-line placeholder, so checking the examples does not run every demo.
A demo that raises, hangs or returns something that is not JSON makes the build warn (an error
under ``-W``), with the traceback or the stacks of its threads: a broken demo is a real failure.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.domains.std import StandardDomain
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

__all__ = ["setup"]

_LOG = logging.getLogger(__name__)

#: Folder (relative to the source dir) that receives the generated demo pages.
DEMO_DIR = "demos"
#: First line of every demo stub page: the page itself is made by a directive at build time.
_STUB = ".. Made by a directive of docs/_ext/concur_docs.py: edit the demo module instead."
#: Stands for "this mode did not report that key".
_MISSING = object()
#: Longest rendering of one observed value before it is shortened in the table.
_MAX_VALUE_CHARS = 1200

# One run per (slug, mode) per build process, so the tutorial and the demo page show the same run.
_RUNS: dict[tuple[str, str], dict[str, Any] | DemoRunError] = {}


# --------------------------------------------------------------------------- object types


def _parse_call_signature(prefix: str) -> Any:
    """Return a ``parse_node`` for signatures like ``name(args)``, stored under *name*."""

    def parse(env: BuildEnvironment, sig: str, signode: addnodes.desc_signature) -> str:
        text = sig.strip()
        name, paren, rest = text.partition("(")
        name = name.strip()
        if prefix:
            signode += addnodes.desc_addname(prefix, prefix)
        signode += addnodes.desc_name(name, name)
        if paren:
            params = "(" + rest
            signode += nodes.inline(params, params, classes=["sig-params"])
        return name

    return parse


# --------------------------------------------------------------------------- demo pages


def _demos() -> tuple[Any, ...]:
    # Imported lazily: conf.py must load even when the package is half written, and the
    # import error then surfaces as a build error that names it.
    from concur_lab.demos import all_demos

    return all_demos()


def _heading(text: str, char: str) -> str:
    return f"{text}\n{char * len(text)}\n"


def _demo_page(demo: Any, srcdir: Path, timeline_themes: list[str]) -> str:
    source = Path(demo.module.__file__).resolve()
    rel = os.path.relpath(source, srcdir / DEMO_DIR)
    slug = demo.slug
    return "\n".join(
        [
            f".. _demo-{slug}:",
            "",
            _heading(demo.title, "="),
            f".. rst-class:: demo-meta\n\n   ``{slug}`` · :ref:`theme-{demo.theme}`",
            "",
            f".. demo-lesson:: {slug}",
            "",
            _heading("Run it yourself", "-"),
            ".. code-block:: console",
            "",
            f"   $ python -m concur_lab run {slug} --mode both",
            *(
                [f"   $ python -m concur_lab run {slug} --plot {slug}.png"]
                if demo.theme in timeline_themes
                else []
            ),
            "",
            _heading("What happened when these docs were built", "-"),
            f".. demo-timeline:: {slug}",
            "",
            f".. demo-observations:: {slug}",
            "",
            _heading("The code", "-"),
            f"The whole module, as shipped in ``{demo.module.__name__}``:",
            "",
            f".. literalinclude:: {rel}",
            "   :language: python",
            "   :linenos:",
            "",
        ]
    )


def _index_page(demos: tuple[Any, ...]) -> str:
    from concur_lab.demos import THEMES

    lines = [
        ".. _demo-index:",
        "",
        _heading("Demo catalogue", "="),
        "Every demo runs the same code in thread mode and in process mode and returns what it",
        "observed as data.",
        "Each page shows the lesson, the outcome in both modes *as recorded when these pages were",
        "built*, and the code.",
        "Run any of them yourself with ``python -m concur_lab run SLUG --mode both``,",
        "or all of them with ``python -m concur_lab tour``.",
        "",
    ]
    for theme, heading in THEMES.items():
        members = [d for d in demos if d.theme == theme]
        if not members:
            continue
        lines += [f".. _theme-{theme}:", "", _heading(heading, "-")]
        lines += [".. list-table::", "   :class: demo-list", "   :widths: 35 65", ""]
        for demo in members:
            lines += [f"   * - :ref:`demo-{demo.slug}`", f"     - {demo.lesson}"]
        lines += ["", ".. toctree::", "   :hidden:", ""]
        lines += [f"   {demo.slug}" for demo in members]
        lines.append("")
    return "\n".join(lines)


def _stub(slug: str) -> str:
    """The committed source file of one demo page (``index`` for the catalogue)."""
    directive = ".. demo-catalogue::" if slug == "index" else f".. demo-page:: {slug}"
    return f"{_STUB}\n\n{directive}\n"


def _check_demo_stubs(app: Sphinx) -> None:
    """Warn (an error under ``-W``) when a demo has no page in ``demos/`` or a page no demo.

    The pages are tiny committed files whose directive makes the whole page while the docs are
    built, so the build never writes into the source tree. ``python docs/_ext/concur_docs.py``
    writes the missing ones.
    """
    folder = Path(app.srcdir) / DEMO_DIR
    wanted = {"index", *(demo.slug for demo in _demos())}
    present = {path.stem for path in folder.glob("*.rst")}
    for slug in sorted(wanted - present):
        _LOG.warning(
            "demo %r has no page: run python docs/_ext/concur_docs.py to write %s/%s.rst",
            slug, DEMO_DIR, slug,
        )
    for slug in sorted(present - wanted):
        _LOG.warning(
            "%s/%s.rst is the page of no demo in concur_lab.demos: delete it", DEMO_DIR, slug
        )


def write_demo_stubs(docs: Path) -> list[Path]:
    """Write the page of each demo that has none yet into *docs*/demos; return what was written."""
    folder = docs / DEMO_DIR
    folder.mkdir(exist_ok=True)
    written = []
    for slug in ["index", *(demo.slug for demo in _demos())]:
        path = folder / f"{slug}.rst"
        if not path.exists():
            path.write_text(_stub(slug), encoding="utf-8")
            written.append(path)
    return written


class _GeneratedPage(SphinxDirective):
    """Parse generated reStructuredText, titles included, in place of the directive."""

    def parse(self, text: str, source: str) -> list[nodes.Node]:
        holder = nodes.section()
        holder.document = self.state.document
        content = StringList(text.splitlines(), source=source)
        nested_parse_with_titles(self.state, content, holder)
        return list(holder.children)


class DemoPage(_GeneratedPage):
    """The whole page of one demo: lesson, how to run it, what it observed, and its code."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        from concur_lab.demos import get_demo

        slug = self.arguments[0]
        try:
            demo = get_demo(slug)
        except KeyError:
            raise self.error(f"no demo with slug {slug!r} in concur_lab.demos") from None
        srcdir = Path(self.env.srcdir)
        text = _demo_page(demo, srcdir, self.config.concur_timeline_themes)
        return self.parse(text, f"<demo-page {demo.slug}>")


class DemoCatalogue(_GeneratedPage):
    """The catalogue page: every demo by theme, with its lesson, and the toctree of their pages."""

    def run(self) -> list[nodes.Node]:
        demos = _demos()
        for demo in demos:
            self.env.note_dependency(str(Path(demo.module.__file__).resolve()))
        return self.parse(_index_page(demos), "<demo-catalogue>")


# --------------------------------------------------------------------------- running demos


def _should_run(app: Sphinx) -> bool:
    setting = app.config.concur_run_demos
    if setting == "auto":
        return app.builder.format == "html"
    # -D concur_run_demos=0 arrives as the string "0".
    if isinstance(setting, str):
        return setting.strip().lower() not in ("", "0", "false", "no", "off")
    return bool(setting)


# Runs one demo in one mode in a fresh interpreter and writes the observations as JSON to a file.
# A separate process keeps the build safe from a demo that hangs or crashes (it is killed at the
# timeout, with every thread's stack dumped first) and starts every demo from a clean state.
_RUNNER = """
import faulthandler, json, sys, traceback
slug, mode, out, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
faulthandler.dump_traceback_later(max(timeout - 10.0, 1.0), exit=False)
from concur_lab import _i18n
from concur_lab.demos import get_demo
_i18n.set_language(sys.argv[5])  # the demos' summaries in the build's language
try:
    result = {"observed": get_demo(slug).observe(mode)}
    json.dumps(result)
except BaseException:
    result = {"error": traceback.format_exc()}
with open(out, "w", encoding="utf-8") as handle:
    json.dump(result, handle)
"""


def _tail(output: bytes, limit: int = 8000) -> str:
    text = output.decode(errors="replace")
    return text if len(text) <= limit else "[...]\n" + text[-limit:]


class DemoRunError(Exception):
    """A demo failed, hung or returned something that is not JSON while the docs were built."""


# How many times each (slug, mode) ran, for the demos that found the machine busy.
_TRIES: dict[tuple[str, str], int] = {}


def _was_busy(observed: object) -> bool:
    return isinstance(observed, dict) and observed.get("machine_busy") is True


def _observe(
    slug: str, mode: str, timeout: float, *, retries: int = 0, pause: float = 0.0
) -> dict[str, Any] | DemoRunError:
    """Run demo *slug* in *mode* (once per build process) and return its observations.

    A run that found the machine busy (``machine_busy``) is tried again up to *retries* times,
    *pause* seconds apart, so that a build on a shared machine gets the lesson if it can; the
    pages then say how many tries it took (:func:`_busy_note`).
    """
    import time

    key = (slug, mode)
    if key in _RUNS:
        return _RUNS[key]
    result = _observe_once(slug, mode, timeout)
    tries = 1
    while _was_busy(result) and tries <= retries:
        _LOG.info("concur_docs: machine busy, trying %s in %s mode again", slug, mode)
        time.sleep(pause)
        result = _observe_once(slug, mode, timeout)
        tries += 1
    _RUNS[key] = result
    _TRIES[key] = tries
    return result


def _busy_note(slug: str, runs: dict[str, dict[str, Any]], tries: int) -> str | None:
    """Say that the pages were built on a busy machine, or return ``None`` if it was not."""
    busy = [
        f"{observed['others_cores']:.1f} of {observed.get('cores') or os.cpu_count() or 1} "
        f"cores during the {label} run"
        for label, observed in runs.items()
        if _was_busy(observed) and isinstance(observed.get("others_cores"), int | float)
    ]
    if not busy:
        return None
    times = "once" if tries == 1 else f"{tries} times"
    return (
        f"The machine that built these pages was busy: other programs used {', '.join(busy)}, "
        f"after trying {times}. So what is shown here is weaker than on an idle machine, "
        f"where the lesson holds; run python -m concur_lab run {slug} to see it on yours."
    )


def _observe_once(slug: str, mode: str, timeout: float) -> dict[str, Any] | DemoRunError:
    """Run demo *slug* in *mode* in a fresh interpreter and return its observations."""
    import subprocess

    _LOG.info("concur_docs: running demo %s in %s mode", slug, mode)
    with tempfile.TemporaryDirectory(prefix="concur-docs-") as tmp:
        out = Path(tmp) / "observed.json"
        from concur_lab import _i18n

        command = [
            sys.executable, "-c", _RUNNER, slug, mode, str(out), str(timeout),
            _i18n.current_language(),
        ]
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        ) as proc:
            try:
                output, _ = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                # The whole session: the demo's own worker processes go too.
                os.killpg(proc.pid, 9)
                output, _ = proc.communicate()
                result: dict[str, Any] | DemoRunError = DemoRunError(
                    f"did not finish within {timeout:.0f} s; its threads' stacks:\n"
                    + _tail(output)
                )
            else:
                if proc.returncode == 0 and out.exists():
                    data = json.loads(out.read_text(encoding="utf-8"))
                    error = data.get("error")
                    result = DemoRunError(error) if error else data["observed"]
                else:
                    result = DemoRunError(
                        f"the interpreter running it exited with status {proc.returncode}:\n"
                        + _tail(output)
                    )
    return result


def _modes_for(config: Any, slug: str) -> list[str]:
    """The modes demo *slug* runs in: its own list in ``concur_demo_modes_by_slug``, or the default.

    Demos whose lesson depends on the start method list each method, so spawn and forkserver are
    shown, not only described.
    """
    modes = config.concur_demo_modes_by_slug.get(slug, config.concur_demo_modes)
    return list(modes)


def _speak_build_language(app: Sphinx) -> None:
    """Translate labels into the build's language, if the command line's catalog has it."""
    from concur_lab import _i18n

    language = (app.config.language or "en").replace("-", "_").split("_")[0].lower()
    _i18n.set_language(language if language in _i18n.LANGUAGES else "en")


def _translated(text: str) -> str:
    """*text* in the build's language, from the ``concur_lab`` catalog (itself if absent)."""
    from concur_lab import _i18n

    return _i18n.gettext(text)


def _english_mode_label(mode: str) -> str:
    from concur_lab import Mode

    return str(Mode.parse(mode).label)


def _mode_label(mode: str) -> str:
    """The mode's name in the build's language: ``thread``/``process[fork]``, 线程/进程[fork]."""
    return str(_model().mode_label(mode))


def _model() -> Any:
    """The demos' observation model, which the command line renders too: one name per key."""
    from concur_lab.demos import _observations

    return _observations


def _py(value: Any) -> str:
    """Render an observed value as Python would print it (``None``, ``True``, ``'text'``).

    Observations travel as JSON, but readers of a Python tutorial should see Python literals;
    long containers are laid out one item per line, as :func:`pprint.pformat` does.
    """
    import pprint

    text = pprint.pformat(value, width=72, sort_dicts=False)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 1] + "…"
    return text


def _render_value(value: Any) -> str:
    """A table cell: top-level strings as they are (they are messages), the rest as literals."""
    if isinstance(value, str):
        return value if len(value) <= _MAX_VALUE_CHARS else value[: _MAX_VALUE_CHARS - 1] + "…"
    # Lines of output (a traceback, stderr): one per line reads better than a list literal.
    strings = isinstance(value, list) and len(value) > 1 and all(isinstance(v, str) for v in value)
    if strings and any(" " in v for v in value):
        return "\n".join(value)
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        # Small records, one line each: ``saw=4`` or ``raised='NameError', message=...``,
        # and a run of identical ones once, with its count.
        lines = [", ".join(f"{k}={_py(v)}" for k, v in r.items()) for r in value]
        runs: list[list[Any]] = []
        for line in lines:
            if runs and runs[-1][0] == line:
                runs[-1][1] += 1
            else:
                runs.append([line, 1])
        return "\n".join(line if n == 1 else f"{line}  (×{n})" for line, n in runs)
    return _py(value)


def _is_records(value: Any) -> bool:
    """Whether *value* is a list of records (dicts) with more than two fields, shown as a table.

    Smaller records (``{"saw": 4}`` per worker) read better as one line each, in the cell.
    """
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) for v in value)
        and any(len(v) > 2 for v in value)
    )


def _split_key(key: str) -> tuple[str, str]:
    """Split a dotted key into its group and its own name: ``a.b.c`` -> ``("a.b", "c")``."""
    group, _, name = key.rpartition(".")
    return group, name


def _label(key: str) -> str:
    """An observation key as a label: ``wall_s`` is ``wall (s)``, ``a.b_c`` is ``a: b c``."""
    return str(_model().dotted_label(key, _translated(": ")))


def _merge_orders(orders: list[list[str]]) -> list[str]:
    """Merge key orders so that a key only one mode reports sits next to its neighbours."""
    return list(_model().merge_orders(orders, dotted=True))


def _flatten(observed: dict[str, Any]) -> dict[str, Any]:
    """Turn nested dicts into dotted keys (``lifecycle.after_join.exitcode``), two levels."""
    return dict(_model().flatten(observed, depth=2))


class _DemoDirective(SphinxDirective):
    required_arguments = 1
    has_content = False

    def observe(self, slug: str, mode: str) -> dict[str, Any] | DemoRunError:
        """Run demo *slug* in *mode* with this build's timeout and busy-machine retries."""
        config = self.config
        return _observe(
            slug, mode, config.concur_demo_timeout,
            retries=config.concur_busy_retries, pause=config.concur_busy_pause,
        )

    def busy_notes(self, slug: str, runs: dict[str, dict[str, Any]]) -> list[nodes.Node]:
        """A warning box if a run found the machine busy, saying so in plain words."""
        tries = max((_TRIES.get((slug, mode), 1) for mode in self.config.concur_demo_modes),
                    default=1)
        text = _busy_note(slug, runs, tries)
        # Once per page: a demo page has the chart and the table of the same runs.
        noted = self.env.temp_data.setdefault("concur_busy_noted", set())
        if text is None or slug in noted:
            return []
        noted.add(slug)
        return [nodes.warning("", nodes.paragraph(text=text), classes=["busy-build"])]

    def demo(self) -> Any:
        from concur_lab.demos import get_demo

        slug = self.arguments[0]
        try:
            demo = get_demo(slug)
        except KeyError:
            raise self.error(f"no demo with slug {slug!r} in concur_lab.demos") from None
        self.env.note_dependency(str(Path(demo.module.__file__).resolve()))
        return demo


class DemoLesson(_DemoDirective):
    """Insert a demo's module docstring (its lesson in full), parsed as reStructuredText."""

    def run(self) -> list[nodes.Node]:
        demo = self.demo()
        text = textwrap.dedent(demo.doc).strip()
        if not text:
            raise self.error(f"demo {demo.slug!r} has no module docstring (its lesson)")
        container = nodes.container(classes=["demo-lesson"])
        lines = StringList(text.splitlines(), source=demo.module.__file__)
        self.state.nested_parse(lines, self.content_offset, container)
        return [container]


class DemoObservations(_DemoDirective):
    """Run a demo in each configured mode and show what it observed, side by side."""

    option_spec: ClassVar[dict[str, Any]] = {
        "modes": directives.unchanged,
        "keys": directives.unchanged,
        "summary": directives.flag,
    }

    def run(self) -> list[nodes.Node]:
        demo = self.demo()
        if not _should_run(self.env.app):
            para = nodes.paragraph(
                text="(The HTML build runs this demo and shows what it observed here.)"
            )
            return [para]
        modes = (self.options.get("modes") or " ".join(_modes_for(self.config, demo.slug))).split()
        runs: dict[str, dict[str, Any]] = {}
        result: list[nodes.Node] = []
        for mode in modes:
            observed = self.observe(demo.slug, mode)
            if isinstance(observed, DemoRunError):
                detail = str(observed).rstrip()
                _LOG.warning(
                    "demo %r failed in %s mode while the docs were built:\n%s",
                    demo.slug,
                    mode,
                    detail,
                    location=self.get_location(),
                )
                result.append(nodes.error("", nodes.literal_block(detail, detail)))
                continue
            runs[_mode_label(mode)] = observed
        if runs and "summary" in self.options:
            # What a learner reads first: one line per mode, the full table one click away.
            result.extend(self._summaries(runs))
            result.extend(self.busy_notes(demo.slug, runs))
            result.append(self._more(demo.slug))
        elif runs:
            result.extend(self._summaries(runs))
            result.extend(self.busy_notes(demo.slug, runs))
            result.append(self._legend(runs))
            flat, keys = self._flat(runs)
            if not keys or not all(
                _is_records(v) for f in flat.values() for k, v in f.items() if k in keys
            ):
                result.append(self._table(runs))
            result.extend(self._record_tables(runs))
            result.extend(self._varies(runs))
        return result

    def _more(self, slug: str) -> nodes.paragraph:
        """A line pointing to the demo's own page, which has every observation."""
        para = nodes.paragraph(classes=["demo-more"])
        para += nodes.Text("Every observation, the lesson in full and the code: ")
        ref = addnodes.pending_xref(
            "", refdomain="std", reftype="ref", reftarget=f"demo-{slug}", refexplicit=False,
            refwarn=True,
        )
        ref += nodes.inline(slug, slug)
        para += ref
        para += nodes.Text(".")
        return para

    @staticmethod
    def _legend(runs: dict[str, dict[str, Any]]) -> nodes.paragraph:
        text = (
            "Each mode ran in a fresh interpreter of its own, so process IDs (such as "
            "caller pid) differ between the columns even where the behaviour is the same."
        )
        if len(runs) > 1:
            text = "A bar on the left marks the observations where the modes differ. " + text
        return nodes.paragraph(text=text, classes=["demo-legend"])

    def _summaries(self, runs: dict[str, dict[str, Any]]) -> list[nodes.Node]:
        items = nodes.bullet_list(classes=["demo-summaries"])
        for label, observed in runs.items():
            summary = observed.get("summary")
            if not summary:
                continue
            para = nodes.paragraph()
            para += nodes.strong(text=f"{label}: ")
            para += nodes.Text(str(summary))
            items += nodes.list_item("", para)
        return [items] if len(items) else []

    def _varies(self, runs: dict[str, dict[str, Any]]) -> list[nodes.Node]:
        reasons = {str(r["varies"]) for r in runs.values() if r.get("varies")}
        if not reasons:
            return []
        note = nodes.note()
        for reason in sorted(reasons):
            para = nodes.paragraph()
            para += nodes.strong(text="Varies: ")
            para += nodes.Text(reason)
            note += para
        return [note]

    def _flat(self, runs: dict[str, dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """Flatten each mode's observations; return them and the keys to show, in order."""
        wanted = (self.options.get("keys") or "").split()
        flat = {
            label: _flatten({k: v for k, v in observed.items() if k not in _model().SPECIAL_KEYS})
            for label, observed in runs.items()
        }
        keys = _merge_orders([list(observed) for observed in flat.values()])
        if wanted:
            keys = [k for k in keys if any(k == w or k.startswith(w + ".") for w in wanted)]
        return flat, keys

    def _table(self, runs: dict[str, dict[str, Any]]) -> nodes.table:
        flat, keys = self._flat(runs)
        labels = list(runs)
        # "colwidths-given" makes the HTML writer emit the widths, so every table lines up.
        table = nodes.table(classes=["demo-observations", "colwidths-given"])
        group = nodes.tgroup(cols=len(labels) + 1)
        table += group
        group += nodes.colspec(colwidth=30)
        for _ in labels:
            group += nodes.colspec(colwidth=70 // len(labels))
        head = nodes.thead()
        group += head
        head += self._header_row(["observed", *labels])
        body = nodes.tbody()
        group += body
        # Rows sharing a dotted prefix (``lifecycle.before_start``) go under one sub-heading
        # row instead of repeating the prefix in each row.
        groups = [_split_key(k)[0] for k in keys]
        current: str | None = None
        for key, prefix in zip(keys, groups, strict=True):
            values = [flat[label].get(key, _MISSING) for label in labels]
            shown_key = key
            if prefix and groups.count(prefix) > 1:
                if prefix != current:
                    body += self._group_row(prefix, len(labels) + 1)
                shown_key = _split_key(key)[1]
                current = prefix
            elif current and key.startswith(current + "."):
                # A lone deeper key (``worker_saw.kwargs.flag``) stays in its parent's group.
                shown_key = key[len(current) + 1 :]
            else:
                current = None
            if any(_is_records(v) for v in values):
                cells = [
                    "—" if v is _MISSING else f"{len(v)} records: in the table below"
                    if _is_records(v) else _render_value(v)
                    for v in values
                ]
            else:
                cells = ["—" if v is _MISSING else _render_value(v) for v in values]
            row = self._value_row(_label(shown_key), cells, indent=shown_key != key)
            if len({json.dumps(v, sort_keys=True, default=str) for v in values}) > 1:
                row["classes"].append("differs")
            body += row
        return table

    def _record_tables(self, runs: dict[str, dict[str, Any]]) -> list[nodes.Node]:
        """Tables for the observations that are lists of records (one per case or worker)."""
        flat, keys = self._flat(runs)
        labels = list(runs)
        result: list[nodes.Node] = []
        for key in keys:
            per_mode = {label: flat[label].get(key) for label in labels}
            per_mode = {label: v for label, v in per_mode.items() if _is_records(v)}
            if not per_mode:
                continue
            fields = _merge_orders([list(r) for v in per_mode.values() for r in v])
            first = fields[0]
            firsts = [[r.get(first) for r in v] for v in per_mode.values()]
            # Named cases (``case: "sys.exit(256)"``) line up across the modes: one row per case,
            # one column per mode, as in the table above. Anything else (numbered workers) gets
            # a table per mode with a column per field.
            if all(f == firsts[0] for f in firsts) and all(isinstance(f, str) for f in firsts[0]):
                result.append(self._cases_table(key, first, per_mode))
            else:
                for label, records in per_mode.items():
                    result.append(self._fields_table(key, label, fields, records))
        return result

    def _cases_table(
        self, key: str, first: str, per_mode: dict[str, list[dict[str, Any]]]
    ) -> nodes.table:
        labels = list(per_mode)
        table = self._records_frame(
            key, "one row per record", [_label(first), *labels],
            [30] + [70 // len(labels)] * len(labels),
        )
        body = table[-1][-1]
        for i, name in enumerate(next(iter(per_mode.values()))):
            values = []
            for records in per_mode.values():
                record = {k: v for k, v in records[i].items() if k != first}
                values.append("\n".join(f"{_label(k)}: {_py(v)}" for k, v in record.items()))
            body += self._value_row(str(name[first]), values, indent=False)
        return table

    def _fields_table(
        self, key: str, label: str, fields: list[str], records: list[dict[str, Any]]
    ) -> nodes.table:
        table = self._records_frame(key, f"in {label} mode", [_label(f) for f in fields], None)
        body = table[-1][-1]
        for record in records:
            row = nodes.row()
            for field in fields:
                row += self._cell(_render_value(record[field]) if field in record else "—")
            body += row
        return table

    def _records_frame(
        self, key: str, caption: str, columns: list[str], widths: list[int] | None
    ) -> nodes.table:
        """An empty table for records: a caption naming the observation, a header, a body.

        Without *widths* the browser sizes the columns to their contents.
        """
        classes = ["demo-observations", "demo-records"]
        if widths is not None:
            classes.append("colwidths-given")
        table = nodes.table(classes=classes)
        title = nodes.title()
        title += nodes.Text(f"{_label(key)}: {caption}")
        table += title
        group = nodes.tgroup(cols=len(columns))
        table += group
        for width in widths or [1] * len(columns):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        head += self._header_row(columns)
        group += nodes.tbody()
        return table


    @staticmethod
    def _cell(text: str, *, literal: bool = True) -> nodes.entry:
        entry = nodes.entry()
        if not literal or text == "—":
            entry += nodes.paragraph(text=text)
        elif "\n" in text or len(text) > 60:
            entry += nodes.literal_block(text, text, language="text", classes=["demo-value"])
        else:
            entry += nodes.paragraph("", "", nodes.literal(text, text, classes=["demo-value"]))
        return entry

    @staticmethod
    def _header_row(cells: list[str]) -> nodes.row:
        row = nodes.row()
        for text in cells:
            entry = nodes.entry()
            entry += nodes.paragraph(text=text)
            row += entry
        return row

    @staticmethod
    def _group_row(prefix: str, span: int) -> nodes.row:
        row = nodes.row(classes=["demo-group"])
        entry = nodes.entry(morecols=span - 1)
        entry += nodes.paragraph(text=_label(prefix))
        row += entry
        return row

    def _value_row(self, key: str, cells: list[str], *, indent: bool) -> nodes.row:
        row = nodes.row(classes=["demo-grouped"] if indent else [])
        entry = nodes.entry()
        entry += nodes.paragraph(text=key)
        row += entry
        for text in cells:
            if text.endswith("records: in the table below"):
                row += self._cell(text, literal=False)
            else:
                row += self._cell(text)
        return row


class DemoTimeline(_DemoDirective):
    """Draw the timeline of a demo whose observations include one (the GIL demos)."""

    def run(self) -> list[nodes.Node]:
        demo = self.demo()
        if not _should_run(self.env.app):
            return []
        if demo.theme not in self.config.concur_timeline_themes:
            # Spans of a demo that is not about scheduling make a misleading picture (a few
            # specks of "running"); the command line still draws them for the curious.
            return []
        runs = {}
        for mode in self.config.concur_demo_modes:
            observed = self.observe(demo.slug, mode)
            if isinstance(observed, dict) and observed.get("timeline"):
                # Figures keep English text in every edition: no CJK font ships with matplotlib.
                runs[_english_mode_label(mode)] = observed
        if not runs:
            return []
        png = _plot_timeline(demo, runs)
        if png is None:
            # Not an error: the docs extra does not require matplotlib (the "plot" extra does).
            _LOG.info("concur_docs: matplotlib missing, no timeline figure for %s", demo.slug)
            return [
                nodes.paragraph(
                    text="(This demo recorded a timeline; install the plot extra, "
                    'pip install "concur-lab[plot]", to see it drawn here.)'
                )
            ]
        # The PNG is kept in the environment and written next to the pages when the build
        # finishes (see _write_figures), so the page links to a real file a reader can open at
        # full size, and a rebuild that reuses this doctree still has the file.
        name = f"timeline-{demo.slug}.png"
        figures = _figures(self.env)
        figures[(self.env.docname, name)] = png
        url = "../" * self.env.docname.count("/") + f"{_FIGURE_DIR}/{name}"
        alt = f"Timeline of the {demo.slug} demo: one lane per worker, thread vs process mode"
        html = (
            '<figure class="demo-timeline">'
            f'<a href="{url}" title="Open the full-size image"><img src="{url}" alt="{alt}"/></a>'
            f"<figcaption>{alt}. Select the image to open it at full size.</figcaption></figure>"
        )
        return [*self.busy_notes(demo.slug, runs), nodes.raw("", html, format="html")]


#: Folder of the HTML output that receives the timeline figures.
_FIGURE_DIR = "_images/concur"


def _figures(env: BuildEnvironment) -> dict[tuple[str, str], bytes]:
    """The figures drawn so far, by (document, file name); kept in the pickled environment."""
    if not hasattr(env, "concur_figures"):
        env.concur_figures = {}  # type: ignore[attr-defined]
    return env.concur_figures  # type: ignore[attr-defined, no-any-return]


def _purge_figures(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    figures = _figures(env)
    for key in [key for key in figures if key[0] == docname]:
        del figures[key]


def _merge_figures(
    app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment
) -> None:
    _figures(env).update(
        {key: png for key, png in _figures(other).items() if key[0] in docnames}
    )


def _write_figures(app: Sphinx, exception: BaseException | None) -> None:
    """Write every timeline figure into the HTML output, where the pages link to them."""
    if exception is not None or app.builder.format != "html":
        return
    folder = Path(app.outdir) / _FIGURE_DIR
    for (_, name), png in _figures(app.env).items():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(png)


def _plot_timeline(demo: Any, runs: dict[str, dict[str, Any]]) -> bytes | None:
    """Return a PNG of the timelines in *runs*, or ``None`` if matplotlib is missing.

    The chart itself is :func:`concur_lab.timeline.plot_gantt`'s: one panel per mode, the same
    picture ``python -m concur_lab run SLUG --plot FILE.png`` draws.
    """
    from concur_lab import timeline

    timelines = [
        timeline.ModeTimeline.from_observations(label, observed) for label, observed in runs.items()
    ]
    with tempfile.TemporaryDirectory(prefix="concur-docs-") as tmp:
        path = Path(tmp) / f"{demo.slug}.png"
        try:
            timeline.plot_gantt(path, timelines, subtitle=demo.lesson)
        except timeline.PlotUnavailableError:
            return None
        return path.read_bytes()


# --------------------------------------------------------------------------- pytest runs


class PytestRun(SphinxDirective):
    """Run pytest on an example test file while the docs are built, and show its output.

    ``.. pytest-run:: examples/isolation_example.py`` with ``:args: --concur-mode=both``: the file
    is copied into an empty folder as ``test_<name>.py`` and run there in a fresh interpreter, so
    the output on the page is what a reader gets (only times and addresses differ).
    """

    required_arguments = 1
    option_spec: ClassVar[dict[str, Any]] = {"args": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        import shlex
        import subprocess

        _, source = self.env.relfn2path(self.arguments[0], self.env.docname)
        self.env.note_dependency(source)
        args = shlex.split(self.options.get("args", ""))
        name = "test_" + Path(source).stem.removesuffix("_example") + ".py"
        shown = " ".join(["$ python -m pytest", *map(shlex.quote, args), name])
        if not _should_run(self.env.app):
            return [nodes.literal_block(shown, shown, language="console")]
        with tempfile.TemporaryDirectory(prefix="concur-docs-") as tmp:
            Path(tmp, name).write_text(Path(source).read_text(encoding="utf-8"), encoding="utf-8")
            # Only this plugin, as a reader with just concur-lab installed would have it.
            env = {
                **os.environ,
                "COLUMNS": "88",
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            }
            env.pop("PYTEST_ADDOPTS", None)
            command = [sys.executable, "-m", "pytest", "-p", "concur", "-p", "no:cacheprovider"]
            command += [*args, name]
            try:
                done = subprocess.run(
                    command, cwd=tmp, env=env, capture_output=True, text=True, timeout=300,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise self.error(f"pytest on {self.arguments[0]} did not finish in 300 s") from None
        output = (done.stdout + done.stderr).rstrip().replace(tmp, "/tmp/example")
        if done.returncode not in (0, 1):  # 1 is "some tests failed", which examples may show
            _LOG.warning(
                "pytest on %s exited with status %s:\n%s",
                self.arguments[0], done.returncode, output, location=self.get_location(),
            )
        text = f"{shown}\n{output}"
        return [nodes.literal_block(text, text, language="text", classes=["pytest-output"])]


class ConcurCli(SphinxDirective):
    """Show the output of ``python -m concur_lab ARGS``, run while the docs are built.

    ``.. concur-cli:: run --help``. Commands other than ``--help`` run demos, so like the demo
    directives they run only for HTML builders.
    """

    required_arguments = 1
    final_argument_whitespace = True

    def run(self) -> list[nodes.Node]:
        import shlex
        import subprocess

        args = shlex.split(self.arguments[0])
        shown = " ".join(["$ python -m concur_lab", *map(shlex.quote, args)])
        if "--help" not in args and not _should_run(self.env.app):
            return [nodes.literal_block(shown, shown, language="console")]
        env = {**os.environ, "COLUMNS": "80", "PYTHONDONTWRITEBYTECODE": "1"}
        # The output is in the build's language, whatever the locale of the machine building it.
        from concur_lab import _i18n

        env["LANGUAGE"] = ""
        env["LC_ALL"] = "zh_CN.UTF-8" if _i18n.current_language() == "zh" else "C.UTF-8"
        try:
            done = subprocess.run(
                [sys.executable, "-m", "concur_lab", *args],
                capture_output=True, text=True, timeout=600, check=False, env=env,
            )
        except subprocess.TimeoutExpired:
            raise self.error(f"python -m concur_lab {self.arguments[0]} took over 600 s") from None
        output = (done.stdout + done.stderr).rstrip()
        if done.returncode != 0:
            _LOG.warning(
                "python -m concur_lab %s exited with status %s:\n%s",
                self.arguments[0], done.returncode, output, location=self.get_location(),
            )
        text = f"{shown}\n{output}"
        return [nodes.literal_block(text, text, language="text", classes=["cli-output"])]


class RunExample(SphinxDirective):
    """Show an example script and the output of running it while the docs are built.

    ``.. run-example:: tutorial/examples/whoami.py`` with ``:args: forkserver``: the script runs
    as ``python whoami.py forkserver`` in an empty folder, in a fresh interpreter, with unbuffered
    output (so lines appear in the order a terminal shows them). ``:output-only:`` leaves out the
    code, for a second run of a script already shown. The examples are plain standard-library
    code, what a learner would write, rather than the instrumented demos.
    """

    required_arguments = 1
    option_spec: ClassVar[dict[str, Any]] = {
        "args": directives.unchanged,
        "output-only": directives.flag,
    }

    def run(self) -> list[nodes.Node]:
        import shlex
        import subprocess

        rel, source = self.env.relfn2path(self.arguments[0], self.env.docname)
        self.env.note_dependency(source)
        name = Path(source).name
        args = shlex.split(self.options.get("args", ""))
        result: list[nodes.Node] = []
        if "output-only" not in self.options:
            text = Path(source).read_text(encoding="utf-8")
            code = nodes.literal_block(text, text, language="python", source=source)
            caption = nodes.caption(name, "", nodes.literal(name, name))
            result.append(nodes.container("", caption, code, classes=["literal-block-wrapper"]))
            result[-1]["literal_block"] = True
        shown = " ".join(["$ python", name, *map(shlex.quote, args)])
        if not _should_run(self.env.app):
            result.append(nodes.literal_block(shown, shown, language="console"))
            return result
        with tempfile.TemporaryDirectory(prefix="concur-docs-") as tmp:
            Path(tmp, name).write_text(Path(source).read_text(encoding="utf-8"), encoding="utf-8")
            env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
            try:
                done = subprocess.run(
                    [sys.executable, name, *args], cwd=tmp, env=env, stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT, text=True, timeout=120, check=False,
                )
            except subprocess.TimeoutExpired:
                raise self.error(f"{rel} did not finish within 120 s") from None
        output = done.stdout.rstrip().replace(tmp, "/tmp/example")
        if done.returncode != 0:
            _LOG.warning(
                "%s exited with status %s:\n%s", rel, done.returncode, output,
                location=self.get_location(),
            )
        text = f"{shown}\n{output}"
        result.append(
            nodes.literal_block(text, text, language="text", classes=["example-output"])
        )
        return result


# --------------------------------------------------------------------------- public API


def _attribute_doc(package: str, name: str) -> tuple[str, list[str]] | None:
    """Find the ``#:`` comment or string documenting module-level *name* in *package*'s modules.

    A constant such as ``THREAD = Mode.thread()`` is documented where it is defined (a private
    module) and only re-exported by the package, so its docstring is looked up there.
    """
    from sphinx.errors import PycodeError
    from sphinx.pycode import ModuleAnalyzer

    candidates = sorted(m for m in list(sys.modules) if m == package or m.startswith(package + "."))
    for modname in candidates:
        try:
            docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
        except PycodeError:
            continue
        if ("", name) in docs:
            return modname, list(docs[("", name)])
    return None


class AutoPublic(SphinxDirective):
    """Document every name in a module's ``__all__``, grouped by kind.

    ``.. autopublic:: concur_lab`` expands to ``autofunction``, ``autoclass``, ``autoexception``
    and data entries, so a name added to ``__all__`` is documented without touching the docs.
    With ``:aliases-of: other_module``, a name that is the very same object as
    ``other_module.<name>`` is listed as an alias instead of being documented twice.
    """

    required_arguments = 1
    option_spec: ClassVar[dict[str, Any]] = {"aliases-of": directives.unchanged}
    _KINDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("function", "Functions"),
        ("class", "Classes"),
        ("exception", "Exceptions"),
        ("data", "Constants"),
        ("module", "Modules"),
    )

    def run(self) -> list[nodes.Node]:
        import importlib
        import inspect
        import types

        modname = self.arguments[0]
        module = importlib.import_module(modname)
        names = getattr(module, "__all__", None)
        if names is None:
            raise self.error(f"{modname} has no __all__: its public names are not declared")
        alias_module = None
        if "aliases-of" in self.options:
            alias_module = importlib.import_module(self.options["aliases-of"])
        groups: dict[str, list[str]] = {kind: [] for kind, _ in self._KINDS}
        lines: list[str] = []
        for name in names:
            obj = getattr(module, name)
            if alias_module is not None and getattr(alias_module, name, None) is obj:
                groups["class" if inspect.isclass(obj) else "data"].append(
                    self._alias(modname, name, obj, alias_module.__name__)
                )
                continue
            if isinstance(obj, types.ModuleType):
                kind, text = "module", f"* :mod:`{obj.__name__}`"
            elif inspect.isclass(obj) and issubclass(obj, BaseException):
                kind, text = "exception", f".. autoexception:: {modname}.{name}\n   :members:"
                text += self._bases(obj)
            elif inspect.isclass(obj):
                kind, text = "class", f".. autoclass:: {modname}.{name}\n   :members:"
                text += self._bases(obj)
                if "__call__" in vars(obj):
                    # A callable object's call is its main API: show it with the methods.
                    text += "\n   :special-members: __call__"
            elif callable(obj):
                kind, text = "function", f".. autofunction:: {modname}.{name}"
            else:
                kind, text = "data", self._data(modname, name, obj)
            groups[kind].append(text)
        for kind, heading in self._KINDS:
            if not groups[kind]:
                continue
            lines += [heading, "~" * len(heading), ""]
            for text in groups[kind]:
                lines += [*text.splitlines(), ""]
        holder = nodes.section()
        holder.document = self.state.document
        content = StringList(lines, source=f"<autopublic {modname}>")
        nested_parse_with_titles(self.state, content, holder)
        return list(holder.children)

    @staticmethod
    def _bases(cls: type) -> str:
        """The option that lists *cls*'s bases, unless the only one is ``object`` (says nothing)."""
        return "" if cls.__bases__ == (object,) else "\n   :show-inheritance:"

    @staticmethod
    def _alias(modname: str, name: str, obj: Any, target_mod: str) -> str:
        import inspect

        directive = "py:exception" if inspect.isclass(obj) and issubclass(obj, BaseException) else (
            "py:class" if inspect.isclass(obj) else "py:data"
        )
        role = {"py:exception": "exc", "py:class": "class", "py:data": "data"}[directive]
        return (
            f".. {directive}:: {name}\n   :module: {modname}\n\n"
            f"   The same object as :{role}:`{target_mod}.{name}`, re-exported here so that "
            f"test code can import it from ``{modname}``."
        )

    def _data(self, modname: str, name: str, obj: Any) -> str:
        found = _attribute_doc(modname.split(".")[0], name)
        if found is None:
            raise self.error(
                f"{modname}.{name} is public (in __all__) but has no docstring: document it "
                "with a string literal right after its assignment"
            )
        _, doc = found
        body = "\n".join(f"   {line}" if line else "" for line in doc)
        type_name = type(obj).__qualname__
        public_type = getattr(sys.modules.get(modname), type_name, None) is type(obj)
        owner = modname if public_type else type(obj).__module__
        # A builtin type is written as Python writes it (``dict``, not ``builtins.dict``).
        type_ref = type_name if owner == "builtins" else f"{owner}.{type_name}"
        return f".. py:data:: {name}\n   :module: {modname}\n   :type: {type_ref}\n\n{body}"


# --------------------------------------------------------------------------- autodoc hooks


def _ivars_to_attributes(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """Turn a class's ``:ivar x: text`` fields into ``py:attribute`` entries with their types.

    The fields stay where the code documents them (the class docstring, next to the dataclass
    fields), but an attribute entry shows the field's annotation, gets a line in ``objects.inv``
    and can be cross-referenced (:attr:`WorkerOutcome.status`), which an ``:ivar:`` cannot.
    """
    import re
    import typing

    from sphinx.util.typing import stringify_annotation

    if what not in ("class", "exception"):
        return
    try:
        hints = typing.get_type_hints(obj)
    except Exception:  # an unresolvable annotation only costs the type
        hints = {}
    field = re.compile(r"^:ivar (\w+):\s*(.*)$")
    kept: list[str] = []
    attributes: list[list[str]] = []
    current: list[str] | None = None
    for line in lines:
        match = field.match(line)
        if match:
            attr, text = match.groups()
            current = [f".. py:attribute:: {attr}"]
            if attr in hints:
                current.append(f"   :type: {stringify_annotation(hints[attr], 'smart')}")
            current += ["", f"   {text}"]
            attributes.append(current)
        elif current is not None and line.startswith((" ", "\t")) and line.strip():
            current.append(f"   {line.strip()}")
        else:
            current = None
            kept.append(line)
    if not attributes:
        return
    while kept and not kept[-1].strip():
        kept.pop()
    lines[:] = kept
    for block in attributes:
        lines += ["", *block]
    lines.append("")


def _drop_class_return_type(
    app: Sphinx, domain: str, objtype: str, content: addnodes.desc_content
) -> None:
    """Drop the "Return type" autodoc adds to a class from its ``__new__``: it is the class."""
    if domain != "py" or objtype not in ("class", "exception"):
        return
    for field_list in [c for c in content.children if isinstance(c, nodes.field_list)]:
        for field in list(field_list.children):
            if field[0].astext().strip() == "rtype":
                field_list.remove(field)
        if not field_list.children:
            content.remove(field_list)


class UnsafeRules(SphinxDirective):
    """The built-in unsafe-detection rules, as a table made from ``pytest_concur._unsafe``.

    Each row is one of :func:`pytest_concur._unsafe.iter_rule_rows`: the kind of rule (a fixture
    the test uses, or a call it makes), its name, the modes it applies in and why, so the table
    cannot drift from the code.
    """

    def run(self) -> list[nodes.Node]:
        from pytest_concur import _unsafe

        self.env.note_dependency(str(Path(_unsafe.__file__).resolve()))
        table = nodes.table(classes=["concur-unsafe-rules"])
        group = nodes.tgroup(cols=4)
        table += group
        for width in (10, 30, 20, 40):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        body = nodes.tbody()
        group += body

        def row(cells: tuple[str, ...], literal: tuple[bool, ...]) -> nodes.row:
            line = nodes.row()
            for text, code in zip(cells, literal, strict=True):
                entry = nodes.entry()
                para = nodes.paragraph()
                para += nodes.literal(text, text) if code else nodes.Text(text)
                entry += para
                line += entry
            return line

        head += row(("rule", "name", "unsafe in", "why"), (False,) * 4)
        for kind, name, modes, why in _unsafe.iter_rule_rows():
            body += row((kind, name, modes, why), (False, True, False, False))
        return [table]


# --------------------------------------------------------------------------- setup


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the object types, the demo directives and the page generator."""
    app.add_config_value("concur_demo_modes", ["thread", "process"], "env", types=[list])
    app.add_config_value("concur_demo_modes_by_slug", {}, "env", types=[dict])
    app.add_config_value("concur_run_demos", "auto", "env", types=[str, bool])
    app.add_config_value("concur_demo_timeout", 180.0, "env", types=[float, int])
    app.add_config_value("concur_timeline_themes", ["performance"], "env", types=[list])
    app.add_config_value("concur_busy_retries", 2, "env", types=[int])
    app.add_config_value("concur_busy_pause", 10.0, "env", types=[float, int])
    app.add_object_type(
        "fixture",
        "fixture",
        indextemplate="pair: %s; fixture",
        parse_node=_parse_call_signature(""),
        objname="pytest fixture",
    )
    app.add_object_type(
        "marker",
        "marker",
        indextemplate="pair: %s; marker",
        parse_node=_parse_call_signature("pytest.mark."),
        objname="pytest marker",
    )
    if "confval" not in StandardDomain.object_types:  # Sphinx < 7.4 has no built-in confval
        app.add_object_type("confval", "confval", indextemplate="pair: %s; configuration value")
    app.add_directive("autopublic", AutoPublic)
    app.add_directive("pytest-run", PytestRun)
    app.add_directive("concur-cli", ConcurCli)
    app.add_directive("concur-unsafe-rules", UnsafeRules)
    app.add_directive("run-example", RunExample)
    app.add_directive("demo-lesson", DemoLesson)
    app.add_directive("demo-observations", DemoObservations)
    app.add_directive("demo-timeline", DemoTimeline)
    app.add_directive("demo-page", DemoPage)
    app.add_directive("demo-catalogue", DemoCatalogue)
    app.connect("builder-inited", _check_demo_stubs)
    app.connect("builder-inited", _speak_build_language)
    app.connect("autodoc-process-docstring", _ivars_to_attributes)
    # After autodoc's own handler (priority 500), which adds the types.
    app.connect("object-description-transform", _drop_class_return_type, priority=600)
    app.connect("env-purge-doc", _purge_figures)
    app.connect("env-merge-info", _merge_figures)
    app.connect("build-finished", _write_figures)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    for written in write_demo_stubs(Path(__file__).resolve().parents[1]):
        print(f"wrote {written}")
