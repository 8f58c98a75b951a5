"""Shell completion (click's own): case ids, kinds, states, triggers and unit paths.

Enable it once per shell, e.g. for bash:
``eval "$(_CASEWORK_COMPLETE=bash_source casework)"`` (zsh: ``zsh_source``, fish:
``fish_source``). A completion never fails: whatever goes wrong offers nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import click
from click.shell_completion import CompletionItem

from casework import Casework, Organisation, WorkflowRegistry
from workflows import ORGANISATION

SHOWN = 50


def _quietly(complete: Callable[[click.Context, str], list[CompletionItem]]
             ) -> Callable[[click.Context, click.Parameter, str], list[CompletionItem]]:
    def callback(context: click.Context, _: click.Parameter, incomplete: str
                 ) -> list[CompletionItem]:
        try:
            return complete(context, incomplete)[:SHOWN]
        except Exception:  # a completion that fails offers nothing, never a traceback
            return []
    return callback


@_quietly
def complete_kind(_: click.Context, incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(name) for name in WorkflowRegistry.default().names()
            if name.startswith(incomplete)]


@_quietly
def complete_state(_: click.Context, incomplete: str) -> list[CompletionItem]:
    states = {state for workflow in WorkflowRegistry.default() for state in workflow.states}
    return [CompletionItem(state) for state in sorted(states) if state.startswith(incomplete)]


@_quietly
def complete_unit(_: click.Context, incomplete: str) -> list[CompletionItem]:
    """The next segment of a path: the units one level below what is typed."""
    organisation = Organisation.load(ORGANISATION)
    depth = incomplete.count("/")
    return [CompletionItem(unit.path, help=unit.name) for unit in organisation
            if unit.path.startswith(incomplete) and unit.path.count("/") == depth]


def _app(context: click.Context) -> Casework:
    from .options import open_app

    return open_app(context.params.get("db"))


@_quietly
def complete_case(context: click.Context, incomplete: str) -> list[CompletionItem]:
    from projections.case_ids import ids_starting_with

    return [CompletionItem(case_id) for case_id in
            ids_starting_with(_app(context), incomplete.lower(), limit=SHOWN)]


@_quietly
def complete_trigger(context: click.Context, incomplete: str) -> list[CompletionItem]:
    """The triggers legal from the case's state (any trigger before a case is given)."""
    from projections.case_ids import expand_case_id

    case = context.params.get("case")
    if case:
        app = _app(context)
        view = app.get_case(expand_case_id(app, case))
        names = app.workflows.get(view.kind, view.version).legal_triggers(view.state)
    else:
        names = sorted({name for workflow in WorkflowRegistry.default()
                        for name in workflow.triggers})
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]
