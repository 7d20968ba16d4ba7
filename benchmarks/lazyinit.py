"""Spawn workers with the package as shipped against a prototype whose ``__init__`` is lazy.

A spawned child imports ``concur_lab._child``, and Python imports the package's ``__init__``
first, which imports every public name (the engine, the counter, the thread runner...) although
the child needs only a few modules. The prototype copies the installed package to a temporary
folder and replaces ``__init__`` with one that imports each public name on first use (PEP 562
module ``__getattr__``), generated from the real ``__init__``, so it follows its changes.
Each configuration runs the spawn rows of item 1 (engine against hand-written, interleaved) in
its own process; processes of the two configurations alternate.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import concur_lab

__all__ = ["child_main", "lazy_init_source", "measure_lazy_init"]

_TIMEOUT = 600.0
_ROOT = Path(__file__).resolve().parents[1]


def lazy_init_source(init_source: str) -> str:
    """Return a lazy ``__init__`` with the same public names as *init_source*.

    :param init_source: The text of the package's ``__init__.py``.
    :returns: Module source that imports ``concur_lab._x`` only when a name of it is used.
    :raises ValueError: If *init_source* has no literal ``__all__``.
    """
    tree = ast.parse(init_source)
    names: dict[str, str] = {}
    all_names: list[str] | None = None
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("concur_lab."):
                names.update({a.asname or a.name: node.module for a in node.names})
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            all_names = list(ast.literal_eval(node.value))
    if all_names is None:
        raise ValueError("the package __init__ has no literal __all__ to copy")
    return (
        '"""Benchmark-local prototype: concur_lab with a lazy package __init__ (PEP 562)."""\n\n'
        "import importlib\n\n"
        f"_LAZY = {names!r}\n"
        f"__all__ = {all_names!r}\n"
        f"__version__ = {getattr(concur_lab, '__version__', '0')!r}\n\n\n"
        "def __getattr__(name):\n"
        "    module = _LAZY.get(name)\n"
        "    if module is None:\n"
        "        raise AttributeError(f\"module 'concur_lab' has no attribute {name!r}\")\n"
        "    value = getattr(importlib.import_module(module), name)\n"
        "    globals()[name] = value\n"
        "    return value\n"
    )


def _run(lazy_dir: Path | None, cwd: Path, sizes: Sequence[int], rounds: int) -> dict[str, Any]:
    paths = [str(lazy_dir)] if lazy_dir is not None else []
    paths += [str(_ROOT), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p))
    # "-c", not "-m": spawned children re-import a main module given by name or path, which
    # would make the hand-written children import concur_lab too.
    code = f"from benchmarks.lazyinit import child_main; child_main({list(sizes)!r}, {rounds})"
    command = [sys.executable, "-c", code]
    proc = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        output = proc.stdout[-2000:] + proc.stderr[-3000:]
        raise RuntimeError(f"the lazy-init probe failed:\n{output}")
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if (lazy_dir is not None) != data["package"].startswith(str(lazy_dir)):
        raise RuntimeError(f"the child used the wrong concur_lab: {data['package']}")
    return data


def measure_lazy_init(sizes: Sequence[int], rounds: int, pairs: int) -> list[dict[str, Any]]:
    """Spawn rows of item 1 with the package as shipped and with a lazy ``__init__``.

    :param sizes: Worker counts.
    :param rounds: Interleaved rounds inside each process.
    :param pairs: How many (shipped, lazy) process pairs, alternating which goes first.
    :returns: One row per (configuration, n): engine/hand median, min and max over every round
        of every process of that configuration, and the median times.
    """
    package = Path(concur_lab.__file__).resolve().parent
    samples: dict[tuple[str, int], dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="concur-bench-lazy-") as tmp:
        lazy_dir = Path(tmp) / "lazy"
        # Not the repository: "-c" puts the working folder first on sys.path, before the copy.
        cwd = Path(tmp) / "cwd"
        cwd.mkdir()
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(package, lazy_dir / "concur_lab", ignore=ignore)
        init = lazy_dir / "concur_lab" / "__init__.py"
        init.write_text(lazy_init_source((package / "__init__.py").read_text()))
        for i in range(pairs):
            order: list[Path | None] = [None, lazy_dir] if i % 2 == 0 else [lazy_dir, None]
            for where in order:
                config = "shipped" if where is None else "lazy __init__"
                for row in _run(where, cwd, sizes, rounds)["rows"]:
                    bucket = samples.setdefault((config, row["n"]), {})
                    for key in ("engine", "hand", "ratio"):
                        bucket.setdefault(key, []).extend(row[key])
    rows = []
    for (config, n), bucket in samples.items():
        rows.append(
            {
                "config": config,
                "n": n,
                "rounds": len(bucket["ratio"]),
                "engine_ms": statistics.median(bucket["engine"]) * 1e3,
                "hand_ms": statistics.median(bucket["hand"]) * 1e3,
                "engine_vs_hand": {
                    "median": statistics.median(bucket["ratio"]),
                    "min": min(bucket["ratio"]),
                    "max": max(bucket["ratio"]),
                },
            }
        )
    return sorted(rows, key=lambda r: (r["n"], r["config"] != "shipped"))


def child_main(sizes: Sequence[int], rounds: int) -> None:
    """In the probe process: time spawn runs, engine and hand-written, and print JSON."""
    from benchmarks._baselines import hand_processes, trivial
    from benchmarks._stats import interleave
    from concur_lab import run_workers

    rows = []
    for n in sizes:
        samples = interleave(
            {
                "engine": functools.partial(
                    run_workers, trivial, n, mode="process:spawn", timeout=120.0
                ),
                "hand": functools.partial(hand_processes, "spawn", n),
            },
            rounds,
        )
        ratio = [e / h for e, h in zip(samples["engine"], samples["hand"], strict=True)]
        rows.append({"n": n, "engine": samples["engine"], "hand": samples["hand"], "ratio": ratio})
    print(json.dumps({"package": str(Path(concur_lab.__file__).resolve()), "rows": rows}))
