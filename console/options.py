"""The options commands share, and turning what they say into the engine's values."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import click

from casework import Actor, Casework, StorageError
from casework.application import ORGANISATION_VAR
from casework.calendar_files import office_zone
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


def actor_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--role", "roles", multiple=True, metavar="ROLE",
        help="A role the actor acts in (repeat, or separate with commas).",
    )(command)
    return click.option(
        "--actor", metavar="ID[@UNIT]", default=None,
        help="Who acts; with @UNIT, bound to that unit: they see and act only on cases at it "
             'or below it. Env: CASEWORK_ACTOR, as "id", "id:role,role" or "id@unit:role,role".',
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


def make_actor(actor: str | None, roles: Iterable[str]) -> Actor:
    from_env = current_settings().actor_text() or ""  # --actor before the command, env, file
    env_actor, _, env_roles = from_env.partition(":")
    given = (actor or env_actor or os.environ.get("USER") or "cli").strip()
    actor_id, _, unit = given.partition("@")
    chosen = [r.strip() for group in roles for r in group.split(",") if r.strip()]
    if not chosen and (not actor or actor == env_actor):
        chosen = [r.strip() for r in env_roles.split(",") if r.strip()]
    return Actor(actor_id.strip(), roles=chosen, unit=unit.strip().strip("/") or None)


def open_app(db: str | None, create: bool = False) -> Casework:
    """The engine on ``db``. Only commands that add cases (open, import, demo) may create a
    database: anywhere else a mistyped path must not quietly give an empty one."""
    url = db or current_settings().database.value
    storage = Storage.from_url(url)
    if not create and not storage.exists():
        raise StorageError(_("no database at {url} (casework open, import and demo create "
                             "one)").format(url=storage.display_url))
    return Casework(url)


def parse_fields(pairs: Iterable[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="fields")
        fields[name.strip()] = value
    return fields


def parse_when(value: str | None, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value, office_zone(os.environ.get(ORGANISATION_VAR)))
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=what) from None
