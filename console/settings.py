"""The office's settings on the command line: options that may stand before the subcommand
(``casework --db x report``) or after it, carried on click's context object, and
``casework config``, which shows each setting and where it came from.

The settings themselves (files, environment, precedence) are ``casework.settings``; this
module only gathers the flags and asks it, once per command.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from casework import CaseworkError
from casework.settings import LANGUAGES, Settings, load_settings, settings_files
from projections.i18n import ENGLISH, use_language

from .output import to_json

APP_NAME = "casework"


@dataclass
class CommandLine:
    """What the flags said, wherever they stood; the settings, once asked for."""

    flags: dict[str, Any] = field(default_factory=dict)
    config: str | None = None
    quiet: bool = False
    settings: Settings | None = None

    def resolved(self) -> Settings:
        if self.settings is None:
            files = settings_files(Path.cwd(), user_folder(), self.config, os.environ)
            self.settings = load_settings(self.flags, os.environ, files)
        return self.settings


def user_folder() -> Path:
    """The user's configuration folder for casework, as click finds it on each system
    ($XDG_CONFIG_HOME/casework or ~/.config/casework on Linux)."""
    return Path(click.get_app_dir(APP_NAME))


def command_line() -> CommandLine:
    """The state of the command being run (a fresh one outside a command: the library's
    defaults, as in tests that call helpers directly)."""
    context = click.get_current_context(silent=True)
    if context is None:
        return CommandLine()
    return context.find_root().ensure_object(CommandLine)


def current_settings() -> Settings:
    return command_line().resolved()


def quiet() -> bool:
    """--quiet: print only what a script needs (ids), or nothing."""
    return command_line().quiet


def _remember(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(context: click.Context, _: click.Parameter, value: Any) -> None:
        state = context.find_root().ensure_object(CommandLine)
        if name == "config":
            state.config = value if value is not None else state.config
        elif name == "quiet":
            state.quiet = state.quiet or bool(value)
        elif value not in (None, ()):
            state.flags[name] = list(value) if isinstance(value, tuple) else value
        state.settings = None
    return callback


def _option(*names: str, remember: str, **kwargs: Any) -> click.Option:
    return click.Option(list(names), expose_value=False, callback=_remember(remember),
                        is_eager=remember == "config", **kwargs)


def global_options() -> list[click.Option]:
    """The options of the group, which may stand before the subcommand."""
    return [
        _option("--config", remember="config", metavar="FILE",
                help="Read settings from FILE only (default: ./casework.toml, then "
                     f"{user_folder() / 'casework.toml'}). Env: CASEWORK_CONFIG."),
        _option("--db", remember="database", metavar="URL",
                help="Database URL (as every command's --db). Env: CASEWORK_DB."),
        _option("--actor", remember="actor", metavar="ID[@UNIT]",
                help="Who acts (as every acting command's --actor). Env: CASEWORK_ACTOR."),
        _option("--role", remember="roles", multiple=True, metavar="ROLE",
                help="A role the actor acts in (repeat)."),
        *shared_options(),
    ]


def shared_options() -> list[click.Option]:
    """Options every command takes too, after its name."""
    return [
        _option("--timezone", "--tz", remember="timezone", metavar="ZONE",
                help="The office's time zone, e.g. Asia/Shanghai: what a time without an offset "
                     "means, and the zone times are shown in (default: the office's, from "
                     "office.toml). Env: CASEWORK_TIMEZONE."),
        _option("--lang", remember="language", type=click.Choice(LANGUAGES),
                help="Language of the output and of the --html report page (default: "
                     "the locale's, LANG=zh_CN.UTF-8 gives zh; else en). Env: CASEWORK_LANG."),
        _option("--quiet", "-q", remember="quiet", is_flag=True, default=False,
                help="Print only what a script needs (ids), or nothing."),
    ]


def add_shared_options(command: click.Command) -> None:
    """Give ``command`` (and, for a group, each of its commands) every global option it
    lacks, so that each may also stand after the subcommand's name."""
    known = {name for param in command.params for name in param.opts}
    if command.callback is not None and not hasattr(command.callback, "in_its_language"):
        command.callback = _in_its_language(command.callback)
    for option in global_options():
        if not set(option.opts) & known:
            command.params.append(option)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_shared_options(sub)


def _in_its_language(callback: Callable[..., Any]) -> Callable[..., Any]:
    """``callback`` run in the language of the settings: set when every option is parsed
    (--lang may stand after the subcommand), before the command prints anything."""
    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        speak_the_settings_language()
        return callback(*args, **kwargs)
    run.in_its_language = True  # type: ignore[attr-defined]
    return run


def speak_the_settings_language() -> None:
    """Print in the settings' language from now on. Settings that cannot be read leave
    English: the command that needs them says what is wrong with them."""
    try:
        use_language(current_settings().language.value)
    except CaseworkError:
        use_language(ENGLISH)


@click.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def config_command(as_json: bool) -> None:
    """Each setting, its value and where it came from: a flag, the environment, a settings
    file, or the default. Flags win over the environment, the environment over files, the
    working directory's casework.toml over the user's.

    \b
    Settings files (TOML), e.g. ./casework.toml:
      database = "sqlite:///office.db"
      actor = "li.na"
      unit = "guanlan/guancheng"
      roles = ["intake", "assessor", "dispatcher"]
      timezone = "Asia/Shanghai"
      language = "en"

    \b
    Examples:
      casework config
      casework --db sqlite:///other.db config --json
    """
    settings = current_settings()
    if as_json:
        click.echo(to_json(settings.as_dict()))
        return
    for setting in settings:
        value = setting.value
        shown = (", ".join(value) or "-") if isinstance(value, list) else ("-" if value is None
                                                                 else str(value))
        click.echo(f"{setting.name:<9} {shown:<32} ({setting.source})")
    files = ", ".join(map(str, settings.files)) or f"none (looked for ./casework.toml and " \
        f"{user_folder() / 'casework.toml'})"
    click.echo(f"files     {files}")
