"""The languages of the command line: gettext catalogs, the current language, the locale's choice.

English is the source language: every message is written in English in the code and marked for
extraction, ``_("...")`` (translated when it is said) or ``N_("...")`` (a module-level constant,
translated where it is shown). One catalog domain, ``concur_lab``, covers the command line and the
demos; its compiled ``.mo`` files ship in the wheel under ``concur_lab/locale`` (see
``concur_lab/locale/README.md`` for how the catalogs are updated).

The current language is process-wide and English until the command line (or the docs build)
picks another, so the library API and the demos' observations stay English for every other
caller, whatever the locale says. Only the command line consults the environment, through
:func:`language_from_environment`.
"""

from __future__ import annotations

import contextlib
import functools
import gettext as _gettext
from collections.abc import Iterator, Mapping
from pathlib import Path

__all__ = [
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "current_language",
    "gettext",
    "language_from_environment",
    "ngettext",
    "set_language",
    "translations",
    "use_language",
]

DOMAIN = "concur_lab"
"""The gettext domain of every message of the command line and the demos."""

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
"""Where the compiled catalogs live: ``<LOCALE_DIR>/<locale>/LC_MESSAGES/concur_lab.mo``."""

LANGUAGES: Mapping[str, str] = {"en": "en", "zh": "zh_CN"}
"""The languages ``--lang`` accepts, with the catalog folder each one reads (``en`` has none)."""

# The locale variables that name the messages' language, most important first (POSIX).
_LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")

_current = "en"


def N_(message: str) -> str:
    """Mark *message* for extraction without translating it: translate it where it is shown."""
    return message


@functools.cache
def translations(language: str) -> _gettext.NullTranslations:
    """Return the catalog of *language* (a key of :data:`LANGUAGES`); English has none.

    :raises KeyError: If *language* is not one of :data:`LANGUAGES`.
    :raises FileNotFoundError: If the language's compiled catalog is missing from the install.
    """
    folder = LANGUAGES[language]
    if language == "en":
        return _gettext.NullTranslations()
    return _gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[folder])


def current_language() -> str:
    """Return the language messages are translated into now (``"en"`` unless one was set)."""
    return _current


def set_language(language: str) -> None:
    """Translate every following message into *language*, a key of :data:`LANGUAGES`.

    :raises KeyError: If *language* is not one of :data:`LANGUAGES`.
    """
    global _current
    translations(language)  # fail early, before any message is said in the wrong language
    _current = language


@contextlib.contextmanager
def use_language(language: str) -> Iterator[None]:
    """Translate messages into *language* inside the block, and restore the previous language."""
    previous = _current
    set_language(language)
    try:
        yield
    finally:
        set_language(previous)


def gettext(message: str) -> str:
    """Return *message* in the current language (itself if the catalog has no translation).

    The empty string stays empty (gettext would answer with the catalog's header).
    """
    return translations(_current).gettext(message) if message else message


def ngettext(singular: str, plural: str, count: int) -> str:
    """Return the singular or plural message for *count*, in the current language."""
    return translations(_current).ngettext(singular, plural, count)


def _language_of(locale_name: str) -> str | None:
    """Return the key of :data:`LANGUAGES` a locale name (``zh_CN.UTF-8``, ``zh``) asks for."""
    code = locale_name.split(".")[0].split("@")[0].replace("-", "_").lower()
    primary = code.split("_")[0]
    return primary if primary in LANGUAGES else None


def language_from_environment(environ: Mapping[str, str]) -> str:
    """Return the language the locale variables of *environ* ask for, as GNU gettext reads them.

    The locale is the first set one of ``LC_ALL``, ``LC_MESSAGES`` and ``LANG``. ``LANGUAGE``, a
    colon-separated list of preferences, overrides it unless the locale is ``C``/``POSIX`` or
    unset (then gettext ignores ``LANGUAGE`` too); its first entry this package has a catalog
    for wins. A language without a catalog (``fr_FR.UTF-8``) falls back to English, silently.
    """
    locale_name = next((environ[v] for v in _LOCALE_VARIABLES if environ.get(v)), "")
    if locale_name.split(".")[0] in ("", "C", "POSIX"):
        return "en"
    for preference in environ.get("LANGUAGE", "").split(":"):
        found = _language_of(preference) if preference else None
        if found is not None:
            return found
    return _language_of(locale_name) or "en"
