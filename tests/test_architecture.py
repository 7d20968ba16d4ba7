"""The layout the architecture page shows holds in the code: checked, so that neither can drift."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "explanation" / "architecture.rst"
PACKAGES = ("concur_lab", "pytest_concur")

MAX_ROOT_MODULES = 8
MAX_LINES = 600


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(package: str) -> Iterator[tuple[str, Path]]:
    for path in sorted((ROOT / package.replace(".", "/")).rglob("*.py")):
        yield _module_name(path), path


def _imports(name: str, path: Path) -> set[str]:
    """Every module *path* imports anywhere in it, lazy imports included, by absolute name.

    ``from a import b`` counts as importing ``a`` and ``a.b``: ``b`` may be a submodule.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _is_in(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _crossings(sources: Callable[[str], bool], forbidden: tuple[str, ...]) -> list[str]:
    """Return ``"importer -> imported"`` for each import by a *sources* module from *forbidden*."""
    found = []
    for package in PACKAGES:
        for name, path in _modules(package):
            if sources(name):
                imported = sorted(_imports(name, path))
                found += [f"{name} -> {m}" for m in imported if _is_in(m, forbidden)]
    return found


def _inside(*packages: str) -> Callable[[str], bool]:
    return lambda name: _is_in(name, packages)


def _subpackage_modules(package: str) -> list[str]:
    return [name for name, _path in _modules(package)]


def test_the_engine_knows_no_reader_and_no_pytest() -> None:
    """concur_lab.engine imports nothing from cli, demos, timeline, pytest_concur or pytest."""
    assert _subpackage_modules("concur_lab.engine"), "there is no concur_lab/engine/ package"
    forbidden = (
        "concur_lab.cli", "concur_lab.demos", "concur_lab.timeline", "pytest_concur", "pytest",
        "_pytest",
    )
    assert _crossings(_inside("concur_lab.engine"), forbidden) == []


def test_the_counter_knows_no_reader_and_no_pytest() -> None:
    """concur_lab.counter imports nothing from cli, demos, pytest_concur or pytest."""
    assert _subpackage_modules("concur_lab.counter"), "there is no concur_lab/counter/ package"
    forbidden = ("concur_lab.cli", "concur_lab.demos", "pytest_concur", "pytest", "_pytest")
    assert _crossings(_inside("concur_lab.counter"), forbidden) == []


def test_the_demos_never_import_the_cli() -> None:
    """concur_lab.demos imports nothing from concur_lab.cli: the command line renders demos."""
    assert _crossings(_inside("concur_lab.demos"), ("concur_lab.cli",)) == []


def test_the_plugin_never_imports_the_cli_or_the_demos() -> None:
    """pytest_concur imports nothing from concur_lab.cli or concur_lab.demos."""
    assert _crossings(_inside("pytest_concur"), ("concur_lab.cli", "concur_lab.demos")) == []


def test_the_timeline_knows_only_spans() -> None:
    """concur_lab.timeline imports nothing from the cli, the demos or pytest_concur."""
    forbidden = ("concur_lab.cli", "concur_lab.demos", "pytest_concur")
    assert _crossings(_inside("concur_lab.timeline"), forbidden) == []


def test_only_main_imports_the_cli() -> None:
    """Outside the cli package, only ``python -m concur_lab`` (__main__) imports concur_lab.cli."""
    outside = _inside("concur_lab.cli", "concur_lab.__main__")
    assert _crossings(lambda name: not outside(name), ("concur_lab.cli",)) == []


# -- the page ----------------------------------------------------------------------------------

_DOTTED = re.compile(r"(?<![\w./])((?:concur_lab|pytest_concur)(?:\.[A-Za-z_]\w*)*)")
_PATH = re.compile(r"(?<![\w./])((?:concur_lab|pytest_concur|docs|tests)/[\w./-]*)")


_ROLE = re.compile(r":\w+:`[^`]*`")


def _named_on_the_page() -> list[str]:
    """The modules and paths the page names; a role's target is Sphinx's to check (``-n``)."""
    text = _ROLE.sub("", PAGE.read_text(encoding="utf-8"))
    return sorted(set(_DOTTED.findall(text)) | {p.rstrip(".") for p in _PATH.findall(text)})


def _exists(named: str) -> bool:
    if "/" in named:
        return (ROOT / named).exists()
    path = ROOT / named.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def test_the_page_is_in_the_explanations() -> None:
    """The architecture page is listed in the explanations' toctree."""
    index = (ROOT / "docs" / "index.rst").read_text(encoding="utf-8")
    assert re.search(r"^\s+explanation/architecture$", index, re.MULTILINE)


@pytest.mark.parametrize(
    "subpackage",
    sorted(
        _module_name(path.parent)
        for path in (ROOT / "concur_lab").glob("*/__init__.py")
    ),
)
def test_every_subpackage_is_on_the_page(subpackage: str) -> None:
    """Each subpackage of concur_lab is named on the architecture page."""
    assert subpackage in _named_on_the_page()


@pytest.mark.parametrize("named", _named_on_the_page())
def test_every_module_the_page_names_exists(named: str) -> None:
    """Each module or path the architecture page names is in the tree."""
    assert _exists(named)


# -- sizes -------------------------------------------------------------------------------------


def test_few_modules_at_the_package_root() -> None:
    """At most eight modules sit at concur_lab's root; the rest live in subpackages."""
    root = sorted(path.name for path in (ROOT / "concur_lab").glob("*.py"))
    assert len(root) <= MAX_ROOT_MODULES, root


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_is_over_600_lines(package: str) -> None:
    """No module of the package is longer than 600 lines."""
    long = {
        name: lines
        for name, path in _modules(package)
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
