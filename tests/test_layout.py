"""The import graph keeps its one-way flow: checked against the code, so it cannot drift."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import concur_lab
import concur_lab.demos

PACKAGE = Path(concur_lab.__file__).parent
DEMOS = Path(concur_lab.demos.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


# The message catalog's markers (N_, gettext): the demos' texts and the command line's share
# one catalog, and it is not part of the engine the demos must reach only through public names.
_SHARED_WITH_THE_CLI = {"concur_lab._i18n"}


def test_demos_import_only_public_engine_names() -> None:
    """No demo imports a private module of concur_lab; their own _helpers are theirs."""
    private = {
        f"{path.name}: {module}"
        for path in sorted(DEMOS.glob("*.py"))
        for module in _imported_modules(path)
        if module.startswith("concur_lab.")
        and not module.startswith("concur_lab.demos.")
        and any(part.startswith("_") for part in module.split(".")[1:])
        and module not in _SHARED_WITH_THE_CLI
    }
    assert not private, sorted(private)


# The package's own entry points; everything else lives in a subpackage that says what it is.
def test_every_subpackage_says_its_job() -> None:
    """Each subpackage of concur_lab has a module docstring (its job and its boundary)."""
    undocumented = [
        init.parent.name
        for init in sorted(PACKAGE.glob("*/__init__.py"))
        if not ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
    ]
    assert not undocumented


def test_thread_runs_and_the_plugin_import_no_process_machinery() -> None:
    """Loading the plugin and running threads never imports dill or multiprocess."""
    code = (
        "import sys, pytest_concur.plugin\n"
        "from concur_lab import run_outcomes\n"
        "assert run_outcomes(lambda: 1, 2)[0].value == 1\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'dill', 'multiprocess'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
