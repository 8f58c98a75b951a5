"""The language people read, and how each thing is named in it.

Three sources, each where the words belong: the words of the code (headings, labels,
messages) are gettext messages, in the catalogues of ``locale/`` (domain ``casework``;
``_`` marks them for Babel); what a workflow's states and triggers are called comes from its
file (``titles = { zh = "已受理" }``); a unit's name from the organisation file. Values
stored in cases that no workflow names (stages, channels, categories, levels, grades) take
the report page's tables (``report_page/labels``), so the text report and the page agree.

The language is chosen once per command (the command line sets it from its settings:
``--lang``, ``CASEWORK_LANG``, ``casework.toml``, the locale) and held in a context variable:
whoever does not choose (the HTTP service, a test calling a renderer) gets English, the
messages as written in the code.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterable
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from casework import Casework
from casework.organisation import Organisation
from casework.settings import LANGUAGES
from casework.workflow import Workflow

from .report_page.labels import NONE, Labels

DOMAIN = "casework"
LOCALE = Path(__file__).resolve().parent / "locale"
ENGLISH = "en"

_language: ContextVar[str] = ContextVar("casework_language", default=ENGLISH)


@cache
def catalogue(lang: str) -> gettext.NullTranslations:
    """The compiled messages of ``lang`` (English: none, the messages are the code's)."""
    return gettext.translation(DOMAIN, LOCALE, languages=[lang], fallback=True)


def use_language(lang: str) -> None:
    """From now on (in this thread or task), speak ``lang``."""
    if lang not in LANGUAGES:
        raise ValueError(f"no language {lang!r} (choose from {', '.join(LANGUAGES)})")
    _language.set(lang)


def language() -> str:
    return _language.get()


def _(message: str) -> str:
    """``message`` in the current language."""
    if not message:  # gettext gives the catalogue's header for ""
        return message
    return catalogue(_language.get()).gettext(message)


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue where it is defined (a table of headers);
    ``_`` translates it where it is shown."""
    return message


def ngettext(singular: str, plural: str, count: int) -> str:
    return catalogue(_language.get()).ngettext(singular, plural, count)


class Names:
    """What states, triggers, units and stored values are called in the current language;
    in English, what they are called in the files (the names people type)."""

    def __init__(self, workflows: Iterable[Workflow] = (),
                 organisation: Organisation | None = None) -> None:
        self.workflows = list(workflows)
        self.organisation = organisation

    @classmethod
    def of(cls, app: Casework) -> Names:
        """The names of ``app``'s workflows and organisation."""
        return cls(app.workflows, app.organisation)

    def state(self, name: str, kind: str | None = None) -> str:
        lang = language()
        if lang == ENGLISH:
            return name
        for workflow in self._of(kind):
            state = workflow.states.get(name)
            if state is not None and lang in state.titles:
                return state.titles[lang]
        return name

    def trigger(self, name: str, kind: str | None = None) -> str:
        lang = language()
        if lang == ENGLISH:
            return name
        for workflow in self._of(kind):
            trigger = workflow.opening if name == workflow.opening.name else \
                workflow.triggers.get(name)
            if trigger is not None and lang in trigger.titles:
                return trigger.titles[lang]
        return name

    def unit(self, path: str | None) -> str:
        """The unit's name in Chinese (the organisation file's), its path otherwise."""
        if not path or language() == ENGLISH or self.organisation is None \
                or path not in self.organisation:
            return path or "-"
        return self.organisation[path].name

    def value(self, kind: str, value: str | None) -> str:
        """A stored value of ``kind`` (stage, channel, category, grade, level, kind, unit,
        community, state): its name in the current language, else as stored."""
        if value is None:
            return "-"
        if value == NONE and language() != ENGLISH:
            return Labels(language()).text("none")
        if kind == "state":
            return self.state(value)
        if kind in ("unit", "community"):
            return self.unit(value)
        if language() == ENGLISH:
            return value
        return Labels(language(), self.organisation).value(kind, value)

    def _of(self, kind: str | None) -> list[Workflow]:
        """The workflows that may name it: the kind's (newest version first), then all."""
        mine = sorted((w for w in self.workflows if w.name == kind),
                      key=lambda w: -w.version)
        return mine + [w for w in self.workflows if w.name != kind]
