"""The ``concur-lab`` command line: list the demos, run one in both modes, take the tour.

``python -m concur_lab list`` shows every demo's slug and lesson by theme;
``python -m concur_lab run SLUG`` runs one demo in thread mode and in process mode and puts the
observations side by side (``--json`` for a machine-readable object, ``--timeline``/``--plot`` for
pictures); ``python -m concur_lab tour`` runs every demo in both modes and ends with a table of
what differed.

Exit status: 0 on success, 1 if a demo broke (raised or returned malformed observations), 2 for a
usage error (unknown slug, bad option value), 130 after Ctrl-C.

Language: ``--lang zh`` or ``--lang en``, by default the locale's (``LANG=zh_CN.UTF-8`` gives
Chinese, see :func:`concur_lab._i18n.language_from_environment`). Every message, the demos'
titles, lessons and observation labels are translated; ``--json`` keys, slugs and the observed
values stay English, so scripts read one format, and its ``title`` and ``lesson`` are in the
chosen language. Tables are laid out by display width (:mod:`concur_lab._display`).

The package parts by job: ``_main`` (the entry point and exit statuses), ``_parser`` and
``_arguments`` (the commands, their options and usage errors), one module per command
(``_list``, ``_run``, ``_tour``), ``_running`` (one demo in one mode, time-limited), and the
rendering: ``_render`` (observations as cells) and ``_layout`` (tables). Its boundary: it renders
the demos (their catalogue and observation model are :mod:`concur_lab.demos`'s) and draws with
:mod:`concur_lab.timeline`; nothing else in the package imports it but ``__main__``.
"""

from __future__ import annotations

from concur_lab.cli._main import main
from concur_lab.cli._parser import build_parser

__all__ = ["build_parser", "main"]
