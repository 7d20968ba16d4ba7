"""Run the ``concur-lab`` command line as ``python -m concur_lab``."""

from __future__ import annotations

import sys

from concur_lab.cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m concur_lab"))
