"""The options commands share, and turning what they say into the engine's values."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from casework import Actor, Casework, StorageError
from casework.errors import SettingsError
from casework.settings import parse_actor
from casework.storage import Storage
from casework.timestamps import parse_time
from projections.i18n import _

from .settings import current_settings


def db_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--db", metavar="URL", default=None,
        help="Database URL: sqlite:///FILE (default sqlite:///casework.db) or "
             "postgresql://USER@HOST/DB. Env: CASEWORK_DB; or `database` in casework.toml.",
    )(command)


def json_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(command)


def at_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--at", metavar="TIME",
                        help="Business time (ISO 8601); default now.")(command)


def actor_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--role", "roles", multiple=True, metavar="ROLE",
        help="A role the actor acts in (repeat, or separate with commas).",
    )(command)
    return click.option(
        "--actor", metavar="ID[@UNIT][:ROLES]", default=None,
        help="Who acts, as ID[@UNIT][:ROLE,ROLE]; with @UNIT, bound to that unit: they see "
             "and act only on cases at it or below it. Commands that record something need "
             'one. Env: CASEWORK_ACTOR, in the same form; or actor in casework.toml.',
    )(command)


def workers_option(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--dry-run", is_flag=True,
                           help="List what would change; write nothing.")(command)
    return click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
                        help="Processes to share the work (cases are split by id).")(command)


def job_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--job", metavar="NAME",
        help="Name the run: workers started with the same name against the same database, "
             "on any machine, share its cases; after a crash the same name resumes it.",
    )(command)


def make_actor(actor: str | None, roles: Iterable[str], acting: bool = True) -> Actor:
    """Who the command acts as: ``--actor`` (``ID[@UNIT][:ROLE,ROLE]``), else the settings'
    actor (``--actor`` before the command, ``CASEWORK_ACTOR``, casework.toml). A command
    that records something must be told who acts; one that only reads (``acting=False``)
    reads as the login name, unbound, without roles, when nobody is named."""
    settings = current_settings()
    if actor is not None:
        actor_id, unit, own_roles = parse_actor(actor, "--actor")
        if not own_roles and actor_id == settings.actor.value:
            own_roles = settings.roles.value
    elif settings.actor.value:
        actor_id, unit, own_roles = (settings.actor.value, settings.unit.value,
                                     settings.roles.value)
    elif acting:
        raise SettingsError(_("who acts? name the actor: --actor ID (or CASEWORK_ACTOR, or "
                              "actor in casework.toml); the history records who did what"))
    else:
        actor_id, unit, own_roles = os.environ.get("USER") or "reader", None, []
    chosen = [r.strip() for group in roles for r in group.split(",") if r.strip()]
    return Actor(actor_id, roles=chosen or own_roles, unit=unit)


def named_actor(actor: str | None, roles: Iterable[str]) -> Actor | None:
    """The actor a reading command was given (a flag or the settings), else ``None``: a list
    that nobody is named for is not narrowed to anybody's reach."""
    if actor is None and not roles and not current_settings().actor.value:
        return None
    return make_actor(actor, roles)


def open_app(db: str | None, create: bool = False) -> Casework:
    """The engine on ``db``. Only commands that add cases (open, import, demo) may create a
    database: anywhere else a mistyped path must not quietly give an empty one."""
    url = db or current_settings().database.value
    storage = Storage.from_url(url)
    if not create and not storage.exists():
        raise StorageError(_("no database at {url} (casework open, import and demo create "
                             "one)").format(url=storage.display_url))
    app = Casework(url)
    context = click.get_current_context(silent=True)
    if context is not None:  # closed with the command, however it ends (click's own hook)
        context.call_on_close(app.close)
    return app


def check_writable(path: str | os.PathLike[str], option: str) -> None:
    """``click.BadParameter`` (exit 2) naming the user's path when a file cannot be written
    there: checked before the store is touched, so that a command never does its work and
    then fails on its output (or names a temporary file of its own)."""
    if str(path) == "-":
        return
    target = Path(path)
    folder = target.parent
    if target.is_dir():
        raise click.BadParameter(_("{path} is a folder, not a file").format(path=path),
                                 param_hint=option)
    if not folder.is_dir():
        raise click.BadParameter(_("cannot write {path}: there is no folder {folder}").format(
            path=path, folder=folder), param_hint=option)
    if not can_create_in(folder) or (target.exists() and not os.access(target, os.W_OK)):
        raise click.BadParameter(_("cannot write {path}: permission denied").format(path=path),
                                 param_hint=option)


def can_create_in(folder: Path) -> bool:
    """Whether a file can be created in ``folder``, by creating one: ``os.access`` says yes to
    root on a read-only file system (or /proc), where the atomic write would then fail."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def parse_fields(pairs: Iterable[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(_("{pair!r} is not NAME=VALUE").format(pair=pair),
                                     param_hint="fields")
        fields[name.strip()] = value
    return fields


def parse_when(value: str | None, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        # The zone of the settings (--timezone, CASEWORK_TIMEZONE, casework.toml, else the
        # office's): the zone times are shown in is the one a time without an offset means.
        return parse_time(value, current_settings().zone)
    except ValueError as error:
        problem = str(error)
        if problem.endswith(" is not an ISO 8601 time (e.g. 2024-05-26T09:30)"):  # the usual
            problem = _("{time} is not an ISO 8601 time (e.g. 2024-05-26T09:30)").format(
                time=repr(value.strip()))
        raise click.BadParameter(problem, param_hint=what) from None
