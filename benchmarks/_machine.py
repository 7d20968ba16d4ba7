"""The machine and versions a benchmark ran on, for the report header."""

from __future__ import annotations

import datetime
import os
import platform
import sys
from importlib import metadata
from typing import Any

__all__ = ["machine_info"]

_PACKAGES = (
    "concur-lab",
    "pytest",
    "multiprocess",
    "dill",
    "filelock",
    "pytest-xdist",
    "pytest-run-parallel",
    "pytest-forked",
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, Any]:
    """Cores, CPU model, load, OS, Python and the versions of the packages compared.

    :returns: A JSON-serialisable mapping.
    """
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "date_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": _cpu_model(),
        "loadavg_at_start": load,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "gil_enabled": getattr(sys, "_is_gil_enabled", lambda: True)(),
        "packages": {name: _version(name) for name in _PACKAGES},
    }
