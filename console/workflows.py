"""The workflow definitions: list, show, diagram."""

from __future__ import annotations

import click

from casework import WorkflowRegistry
from casework.workflow import Workflow
from projections.i18n import ENGLISH, Names, _, language
from projections.rendering import table

from .completion import complete_kind
from .options import json_option
from .output import to_json


@click.group("workflows")
def workflows_group() -> None:
    """The workflow definitions: list them, show one, draw one.

    \b
    Examples:
      casework workflows list
      casework workflows show petition
      casework workflows diagram petition > petition.mmd
    """


@workflows_group.command("list")
@json_option
def workflows_list(as_json: bool) -> None:
    """Every workflow and its versions.

    \b
    Example:
      casework workflows list
    """
    rows = [{"name": w.name, "version": w.version, "title": w.title, "states": len(w.states),
             "triggers": len(w.triggers) + 1, "source": w.source}
            for w in WorkflowRegistry.default()]
    if as_json:
        click.echo(to_json(rows))
        return
    click.echo(table([[r["name"], str(r["version"]), r["title"], str(r["states"]),
                       str(r["triggers"])] for r in rows],
                     ["name", "version", "title", "states", "triggers"]))


@workflows_group.command("show")
@click.argument("name", shell_complete=complete_kind)
@click.option("--version", "version", type=int, help="A version (default: the latest).")
@json_option
def workflows_show(name: str, version: int | None, as_json: bool) -> None:
    """States, grades and triggers of a workflow: what each trigger does, from and to which
    states (and its branches), who may fire it, and its fields with their choices and ranges.

    \b
    Example:
      casework workflows show petition
    """
    workflow = WorkflowRegistry.default().get(name, version)
    if as_json:
        click.echo(to_json(workflow.as_dict()))
        return
    click.echo(workflow_text(workflow))


def workflow_text(workflow: Workflow) -> str:
    """States, then each trigger: what it does, from where to where (and its branches), who
    may fire it, and what it takes (types, choices, ranges)."""
    lines = [f"{workflow.name} v{workflow.version}: {workflow.title}"]
    if workflow.description:
        lines.append(workflow.description)
    names = Names([workflow])
    titled = language() != ENGLISH  # the names people read beside the names they type
    lines += ["", "states", table(
        [[s.name, s.stage, s.outcome or "", "yes" if s.terminal else ""]
         + ([names.state(s.name)] if titled else []) for s in workflow.states.values()],
        ["state", "stage", "outcome", "terminal"] + ([_("name")] if titled else []))]
    if workflow.grades:
        lines += ["", "grades   " + " · ".join(
            f"{g.name} resolve {g.resolve}"
            + (f", contact {g.contact}" if g.contact else "") + f", at least {g.min_level}"
            for g in workflow.grades.values())]
    lines += ["", "triggers"]
    for t in (workflow.opening, *workflow.triggers.values()):
        title = f" ({names.trigger(t.name)})" if titled and names.trigger(t.name) != t.name \
            else ""
        lines.append(f"  {t.name}{title}: {','.join(t.sources) or '(opens a case)'} → {t.to}"
                     f"   roles {', '.join(t.roles)}")
        if t.description:
            lines.append(f"      {t.description}")
        for branch in t.branches:
            lines.append(f"      → {branch.to} instead when {branch.when}"
                         + (f" ({', '.join(branch.effects)})" if branch.effects else ""))
        extras = [f"guards {', '.join(t.guards)}"] if t.guards else []
        extras += [f"effects {', '.join(t.effects)}"] if t.effects else []
        extras += [f"spawns a {t.spawns}"] if t.spawns else []
        if t.assignee:
            whom = "whoever fires it" if t.assignee == "actor" else f"its {t.assignee}"
            extras.append(f"assigns the case to {whom}")
        if extras:
            lines.append(f"      {'; '.join(extras)}")
        for f in t.fields.values():
            lines.append(f"      {f.name}{' (required)' if f.required else ''}: "
                         f"{f.describe()}{', personal' if f.personal else ''}"
                         + (f" — {f.description}" if f.description else ""))
    return "\n".join(lines)


@workflows_group.command("diagram")
@click.argument("name")
@click.option("--version", "version", type=int, help="A version (default: the latest).")
@click.option("--format", "fmt", type=click.Choice(["mermaid"]), default="mermaid",
              show_default=True)
def workflows_diagram(name: str, version: int | None, fmt: str) -> None:
    """A state diagram to paste into a mermaid viewer.

    \b
    Example:
      casework workflows diagram petition > petition.mmd
    """
    click.echo(WorkflowRegistry.default().get(name, version).diagram())
