"""Build the documentation site: English at OUT/, Chinese at OUT/zh_CN/.

Usage, from the project's root::

    python docs/build_site.py OUT [--locale-dir DIR] [-D name=value ...]

Each edition is one ``sphinx-build -W --keep-going -n -b html -D language=...``. Both run in this
one process, so a demo runs once and both editions show the same run (the runs are cached per
process by ``_ext/concur_docs.py``). The catalogs are copied to a scratch folder first: Sphinx
compiles them to ``.mo`` files next to the ``.po`` files, and the source tree stays untouched.
``--locale-dir`` builds from other catalogs (a translator's work in progress, for instance);
``-D`` passes a setting to both builds (``-D concur_run_demos=0`` skips running the demos).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

from concur_editions import EDITIONS  # noqa: E402  (found through the line above)

__all__ = ["build_site", "main"]


def build_site(out: Path, locale_dir: Path | None = None, defines: Sequence[str] = ()) -> int:
    """Build every edition into its folder of *out*; return 0 if all of them built cleanly."""
    from sphinx.cmd.build import build_main

    status = 0
    with tempfile.TemporaryDirectory(prefix="concur-docs-") as scratch:
        catalogs = Path(scratch, "locale")
        shutil.copytree(locale_dir or DOCS / "locale", catalogs)
        for edition in EDITIONS:
            args = ["-W", "--keep-going", "-n", "-q", "-b", "html"]
            args += ["-d", str(Path(scratch, "doctrees", edition.language))]
            args += ["-D", f"language={edition.language}", "-D", f"locale_dirs={catalogs}"]
            for define in defines:
                args += ["-D", define]
            args += [str(DOCS), str(out / edition.folder)]
            print(f"build_site: {edition.label} ({edition.language}) -> {out / edition.folder}")
            status = max(status, build_main(args))
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and build the site."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the site (created if need be)")
    parser.add_argument(
        "--locale-dir", type=Path, help="catalogs to build from (default: docs/locale)"
    )
    parser.add_argument(
        "-D", dest="defines", action="append", default=[], metavar="NAME=VALUE",
        help="a Sphinx setting for both builds, as sphinx-build -D",
    )  # fmt: skip
    args = parser.parse_args(argv)
    status = build_site(args.out.resolve(), args.locale_dir, args.defines)
    if status == 0:
        for edition in EDITIONS:
            print(f"build_site: {edition.label}: {args.out / edition.folder / 'index.html'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
