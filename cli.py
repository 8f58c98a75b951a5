"""The casework command line: the command group, the exit code of every kind of error, and
the commands of ``console/``, one module per family.

Every command takes --db URL (or $CASEWORK_DB); commands that act take --actor and --role
(or $CASEWORK_ACTOR as "id:role,role" or "id@unit:role,role"); commands whose output is data
take --json. Each of these may also stand before the command (``casework --db x report``) or
come from a settings file (``casework config`` tells which); see ``console.settings``.
"""

from __future__ import annotations

import re
import sqlite3
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import click
from eventsourcing.persistence import PersistenceError
from sqlalchemy.exc import SQLAlchemyError

from casework import CaseworkError
from casework.storage import lock_timed_out
from console import (
    audit,
    batch,
    cases,
    demo,
    queues,
    reports,
    serve,
    tokens,
    transfer,
    units,
    webhooks,
    whatif,
    workflows,
)
from console.error_messages import error_message
from console.output import fail
from console.settings import CommandLine, add_shared_options, config_command, global_options
from projections.i18n import _

EXIT_CODES = """\b
Exit codes:
  0  success
  1  audit findings or a digest that no longer matches; an export that is not whole
     (import: nothing stored); a batch job refused some cases; or an error not listed here
  2  bad input: an unknown option or field, a malformed value, a bad definition file,
     a database URL casework cannot use, a malformed setting, no actor where one acts
  3  unknown case, workflow or person, or a shortened case id several cases start with
  4  illegal transition, or a guard refused the trigger
  5  permission denied
  6  concurrency conflict: the case kept changing; try again
  7  database cannot be opened or reached, or another process held it locked longer
     than $CASEWORK_LOCK_TIMEOUT seconds (default 10)
  8  import: some rows were rejected (the first 10 listed on stderr, all kept in the
     reject file)
"""


def installed_version() -> str:
    try:
        return version("casework")
    except PackageNotFoundError:  # run from a checkout without installing
        return "unknown (not installed)"


def joined(message: str) -> str:
    """A message of several lines on one: libpq's "...failed: Connection refused\n\tIs the
    server running..." reads "...refused; Is the server running...", not with a literal \t."""
    return re.sub(r"\s*\n\s*", "; ", message.strip())


def click_message(error: click.ClickException) -> str:
    """Click's message, with its "Invalid value for OPTION:" in the command's language (the
    problem after it is ours, translated where it was raised, or click's own words)."""
    if not isinstance(error, click.BadParameter) or isinstance(error, click.MissingParameter):
        return error.format_message()  # a missing one has no message of its own to translate
    hint = error.param_hint
    if hint is None and error.param is not None:
        hint = error.param.get_error_hint(error.ctx)  # type: ignore[arg-type]
    if hint is None:
        return _("Invalid value: {problem}").format(problem=error.message)
    if not isinstance(hint, str):  # as click joins several names of one option
        hint = " / ".join(repr(name) for name in hint)
    return _("Invalid value for {option}: {problem}").format(option=hint, problem=error.message)


class CaseworkGroup(click.Group):
    """Turns every user mistake into one line on stderr and a documented exit code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.exceptions.Abort:
            fail(_("aborted"), 130)
        except click.ClickException as error:
            hint = "" if isinstance(error, click.BadParameter) else _(" (see casework --help)")
            fail(click_message(error).replace("\n", " ") + hint, error.exit_code)
        except CaseworkError as error:
            fail(joined(error_message(error)), error.exit_code)
        except PersistenceError as error:
            fail(lock_timed_out(error) or joined(f"database error: {error}"), 7)
        except (sqlite3.Error, SQLAlchemyError) as error:
            cause = getattr(error, "orig", None) or error
            fail(lock_timed_out(error)
                 or f"database error: {cause} (is another process holding it?)", 7)
        except BrokenPipeError:
            sys.stderr.close()  # the reader went away (e.g. `| head`): not an error
            sys.exit(0)
        except OSError as error:  # a file to read or write: missing, a folder, not allowed
            fail(f"{error.strerror or error}: {error.filename or ''}".rstrip(": "), 1)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=CaseworkGroup, epilog=EXIT_CODES, params=global_options(),
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=installed_version(), prog_name="casework")
@click.pass_context
def cli(context: click.Context) -> None:
    """casework: event-sourced cases (petitions, enterprise requests, volunteer tasks)
    moving through declarative workflows.

    \b
    Start with:
      casework demo                    simulate a month in a subdistrict (casework-demo.db)
      casework workflows list          the workflows and their versions
      casework report --db casework-demo.db --by community
                                       how the demo's offices are doing
      casework cases mine --db casework-demo.db --actor wang@guanlan/guancheng:handler
                                       what waits for a handler (casework config: yours)
      casework units --depth 2         the units cases go to

    \b
    Settings (database, actor, unit, roles, time zone, language) come from flags, the
    environment, ./casework.toml or the user's casework.toml: see casework config --help.
    Shell completion: eval "$(_CASEWORK_COMPLETE=bash_source casework)" (zsh_source, ...).
    """
    context.ensure_object(CommandLine)


for command in (
    cases.open_command, cases.fire_command, cases.show_command, cases.history_command,
    cases.forget_command,
    reports.report_command, reports.rebuild_command, reports.project_command,
    batch.sweep_command, batch.migrate_command, batch.reprocess_command,
    transfer.export_command, transfer.import_command,
    audit.audit_command,
    workflows.workflows_group,
    demo.demo_command,
    serve.serve_command, tokens.tokens_group, webhooks.webhooks_group,
    queues.cases_command, queues.duplicates_command, units.units_command, config_command,
    whatif.whatif_command,
):
    add_shared_options(command)
    cli.add_command(command)


def main() -> None:
    cli(prog_name="casework")


if __name__ == "__main__":
    main()
