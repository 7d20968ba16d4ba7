"""The entry point: choose the language, parse, run the command, map failures to statuses."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence

from concur_lab._i18n import gettext as _
from concur_lab._i18n import language_from_environment, use_language
from concur_lab.cli._arguments import UsageError, language_choice
from concur_lab.cli._parser import PROG, argparse_speaks, check_command, make_parser

__all__ = ["main"]


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Run the ``concur-lab`` command line.

    :param argv: The arguments, without the program name; default ``sys.argv[1:]``.
    :param prog: The program name for usage lines; default ``concur-lab``.
    :returns: The exit status: 0 success, 1 a demo broke, 2 usage error, 130 interrupted.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    with use_language(_chosen_language(arguments, os.environ)), argparse_speaks():
        return _main(arguments, prog)


def _chosen_language(argv: Sequence[str], environ: Mapping[str, str]) -> str:
    """Return the language of ``--lang`` in *argv*, else the locale's (English if unknown).

    The language is needed before the parser is built (its help is translated), so ``--lang``
    is looked for first; a value that is no language is left for the parser to refuse, in the
    locale's language.
    """
    for i, word in enumerate(argv):
        if word == "--":
            break
        name, equals, value = word.partition("=")
        if len(name) >= 3 and "--lang".startswith(name):
            if not equals:
                value = argv[i + 1] if i + 1 < len(argv) else ""
            with contextlib.suppress(argparse.ArgumentTypeError):
                return language_choice(value)
    return language_from_environment(environ)


def _main(arguments: list[str], prog: str | None) -> int:
    parser = make_parser(prog or PROG)
    try:
        check_command(parser, arguments)
        args = parser.parse_args(arguments)
        handler: Callable[[argparse.Namespace], int] = args.handler
        try:
            return handler(args)
        except UsageError as exc:
            command: argparse.ArgumentParser = args.parser
            command.error(str(exc))
    except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
        return _exit_status(exc.code)
    except KeyboardInterrupt:
        print("\n" + _("{prog}: interrupted").format(prog=parser.prog), file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`concur-lab list | head`): stop quietly, without a second
        # error when Python flushes stdout at exit.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    return code if isinstance(code, int) else 1
