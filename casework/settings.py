"""An office's settings: which database, who acts (id, unit, roles), its time zone and its
language, and where each came from.

Each setting is taken from the first of: a flag, the environment, a settings file, the
default; the language, before its default, from the locale (``LC_ALL``, ``LC_MESSAGES``,
``LANG``). The files are ``casework.toml`` in the working directory, then the one in the
user's configuration folder (a key the first does not set may come from the second), or
only the file ``--config`` or ``$CASEWORK_CONFIG`` names::

    database = "sqlite:///office.db"
    actor = "li.na"
    unit = "guanlan/guancheng"
    roles = ["intake", "assessor", "dispatcher"]
    timezone = "Asia/Shanghai"
    language = "en"

Who acts is one setting in three parts: the actor, their unit and roles come together from
the first source that names an actor (``CASEWORK_ACTOR`` as ``id@unit:role,role``); a
``--role`` flag replaces the roles, whoever acts.

Nothing here knows the command line: entrypoints pass their flags and the folder where the
user's configuration lives.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .application import ORGANISATION_VAR
from .assessment import AssessmentRules, assessment_rules
from .calendar_files import office_zone
from .errors import SettingsError

FILE_NAME = "casework.toml"
KEYS = ("database", "actor", "unit", "roles", "timezone", "language")
ASSESSMENT = "assessment"
"""The table of how units are assessed (casework.assessment), read from the first file that
has one."""
LANGUAGES = ("en", "zh")
ENVIRONMENT = {"database": "CASEWORK_DB", "actor": "CASEWORK_ACTOR",
               "timezone": "CASEWORK_TIMEZONE", "language": "CASEWORK_LANG"}
CONFIG_ENVIRONMENT = "CASEWORK_CONFIG"
DEFAULT_DATABASE = "sqlite:///casework.db"
DEFAULT = "default"


@dataclass(frozen=True)
class Setting:
    name: str
    value: Any
    source: str
    """Where it came from: "flag --db", "environment CASEWORK_DB", "file PATH", "default"."""


@dataclass(frozen=True)
class Settings:
    database: Setting
    actor: Setting
    unit: Setting
    roles: Setting
    timezone: Setting
    language: Setting
    files: tuple[Path, ...] = field(default=())
    """The settings files read, first the one that wins."""
    assessment: AssessmentRules = field(default_factory=AssessmentRules)

    def __iter__(self) -> Any:
        return iter(getattr(self, name) for name in KEYS)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone.value)

    def actor_text(self) -> str | None:
        """Who acts as ``id@unit:role,role`` (the form of ``CASEWORK_ACTOR``), or None."""
        if not self.actor.value:
            return None
        text = self.actor.value + (f"@{self.unit.value}" if self.unit.value else "")
        return text + (":" + ",".join(self.roles.value) if self.roles.value else "")

    def as_dict(self) -> dict[str, Any]:
        return {setting.name: {"value": setting.value, "source": setting.source}
                for setting in self} | {"files": [str(path) for path in self.files],
                                        ASSESSMENT: self.assessment.as_dict()}


def settings_files(cwd: Path, user_folder: Path | None, explicit: str | None,
                   environ: Mapping[str, str]) -> list[Path]:
    """The files to read, the winning one first: the one named (``--config``, then
    ``$CASEWORK_CONFIG``), which must exist; else those of the working directory and the
    user's folder that exist."""
    named = explicit or environ.get(CONFIG_ENVIRONMENT)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            via = "--config" if explicit else CONFIG_ENVIRONMENT
            raise SettingsError(f"{via}: no settings file {named}")
        return [path]
    candidates = [cwd / FILE_NAME] + ([user_folder / FILE_NAME] if user_folder else [])
    return [path for path in candidates if path.is_file()]


def load_settings(flags: Mapping[str, Any], environ: Mapping[str, str], files: list[Path]
                  ) -> Settings:
    """Each setting from the first source that gives it: ``flags`` (name → value, None when
    not given; the actor's flag may carry ``@unit``; ``roles`` a list), ``environ``, then
    ``files`` in order, else the default."""
    read = [(path, _read(path)) for path in files]
    chosen: dict[str, Setting] = {}
    for name in ("database", "timezone", "language"):
        chosen[name] = _first(name, flags, environ, read)
    chosen.update(_who(flags, environ, read))
    _check(chosen)
    rules = next((assessment_rules(values[ASSESSMENT], str(path)) for path, values in read
                  if ASSESSMENT in values), AssessmentRules())
    return Settings(**chosen, files=tuple(files), assessment=rules)


def _first(name: str, flags: Mapping[str, Any], environ: Mapping[str, str],
           read: list[tuple[Path, dict[str, Any]]]) -> Setting:
    if flags.get(name) is not None:
        return Setting(name, flags[name], f"flag {FLAGS[name]}")
    variable = ENVIRONMENT[name]
    if environ.get(variable):
        return Setting(name, environ[variable], f"environment {variable}")
    for path, values in read:
        if name in values:
            return Setting(name, values[name], f"file {path}")
    if name == "language":
        from_locale = locale_language(environ)
        if from_locale is not None:
            return from_locale
    return Setting(name, _default(name), DEFAULT)


LOCALE_ENVIRONMENT = ("LC_ALL", "LC_MESSAGES", "LANG")
"""Where the locale names its language, the first set one winning (as POSIX reads them)."""


def locale_language(environ: Mapping[str, str]) -> Setting | None:
    """The language of the locale (``LANG=zh_CN.UTF-8`` → zh) when it is one of ours; None
    for C, POSIX or a language without a catalogue (the default then: English)."""
    for variable in LOCALE_ENVIRONMENT:
        value = environ.get(variable)
        if value:
            code = value.split(".", 1)[0].split("_", 1)[0].split("-", 1)[0].lower()
            return Setting("language", code, f"locale {variable}") if code in LANGUAGES \
                else None
    return None


FLAGS = {"database": "--db", "actor": "--actor", "roles": "--role", "timezone": "--timezone",
         "language": "--lang"}


def _default(name: str) -> Any:
    if name == "database":
        return DEFAULT_DATABASE
    if name == "timezone":  # the office's: its days, and what a time without an offset means
        return office_zone(os.environ.get(ORGANISATION_VAR)).key
    return "en"


def _who(flags: Mapping[str, Any], environ: Mapping[str, str],
         read: list[tuple[Path, dict[str, Any]]]) -> dict[str, Setting]:
    """Actor, unit and roles from the first source that names an actor; ``--role`` flags
    replace the roles."""
    found: dict[str, Setting] | None = None
    if flags.get("actor") is not None:  # --actor "" is a mistake, not "nobody"
        found = _parsed(flags["actor"], "flag --actor")
    elif environ.get(ENVIRONMENT["actor"]):
        found = _parsed(environ[ENVIRONMENT["actor"]], f"environment {ENVIRONMENT['actor']}")
    else:
        for path, values in read:
            if "actor" in values:
                source = f"file {path}"
                found = _parsed(values["actor"], source)  # the id, or id@unit:roles
                for name in ("unit", "roles"):
                    if name in values:
                        found[name] = Setting(name, values[name], source)
                break
    if found is None:
        found = {name: Setting(name, None if name != "roles" else [], DEFAULT)
                 for name in ("actor", "unit", "roles")}
    if flags.get("roles"):
        found["roles"] = Setting("roles", list(flags["roles"]), "flag --role")
    return found


ACTOR_FORM = "ID[@UNIT][:ROLE,ROLE]"
_NAME = re.compile(r"[^\s@:,]+")
"""An actor's id, a role or a unit path: no spaces, and none of the separators @ : , of
``ACTOR_FORM``."""


def parse_actor(text: str, source: str) -> tuple[str, str | None, list[str]]:
    """``id[@unit][:role,role]`` as (id, unit, roles); ``SettingsError`` naming ``source``
    when it is not exactly that (an empty id or unit, a space in a name, a second @)."""
    who, colon, role_text = text.strip().partition(":")
    actor, at, unit = who.partition("@")
    unit = unit.strip().strip("/")
    roles = [role.strip() for role in role_text.split(",")] if colon else []
    problem = (
        "no actor id" if not actor.strip()
        else f"{actor!r} is not an id (no spaces, @, : or ,)" if not _NAME.fullmatch(actor)
        else "an empty unit after @" if at and not unit
        else f"{unit!r} is not a unit path" if at and not _NAME.fullmatch(unit)
        else "an empty role" if colon and not all(roles)
        else f"role {next(r for r in roles if not _NAME.fullmatch(r))!r} has a space"
        if not all(_NAME.fullmatch(r) for r in roles) else None
    )
    if problem is not None:
        raise SettingsError(f"{source}: {text!r} is not {ACTOR_FORM}: {problem}")
    return actor, unit or None, roles


def _parsed(text: str, source: str) -> dict[str, Setting]:
    """``id[@unit][:role,role]``."""
    actor, unit, roles = parse_actor(text, source)
    return {"actor": Setting("actor", actor, source),
            "unit": Setting("unit", unit, source),
            "roles": Setting("roles", roles, source)}


def _read(path: Path) -> dict[str, Any]:
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SettingsError(f"{path}: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SettingsError(f"{path}: not valid TOML: {error}") from None
    unknown = sorted(set(values) - {*KEYS, ASSESSMENT})
    if unknown:
        raise SettingsError(f"{path}: unknown setting {unknown[0]!r} "
                            f"(settings: {', '.join(KEYS)})")
    for name, value in values.items():
        if name == ASSESSMENT:
            if not isinstance(value, dict):
                raise SettingsError(f"{path}: {ASSESSMENT} must be a table ([{ASSESSMENT}])")
        elif name == "roles":
            if isinstance(value, str):
                value = [role.strip() for role in value.split(",") if role.strip()]
            if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
                raise SettingsError(f"{path}: roles must be a list of role names")
            values[name] = value
        elif not isinstance(value, str) or not value.strip():
            raise SettingsError(f"{path}: {name} must be text")
    return values


def _check(chosen: dict[str, Setting]) -> None:
    zone = chosen["timezone"]
    try:
        ZoneInfo(zone.value)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"timezone {zone.value!r} ({zone.source}) is not a time zone "
                            "such as Asia/Shanghai or UTC") from None
    language = chosen["language"]
    if language.value not in LANGUAGES:
        raise SettingsError(f"language {language.value!r} ({language.source}) is not one of "
                            f"{', '.join(LANGUAGES)}")
