"""The workflow definitions: list, show, diagram."""

from __future__ import annotations

import click

from casework import WorkflowRegistry
from projections.rendering import table

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
@click.argument("name")
@click.option("--version", "version", type=int, help="A version (default: the latest).")
@json_option
def workflows_show(name: str, version: int | None, as_json: bool) -> None:
    """States (with their stages) and triggers (from, to, roles, fields) of a workflow.

    \b
    Example:
      casework workflows show petition
    """
    workflow = WorkflowRegistry.default().get(name, version)
    if as_json:
        click.echo(to_json(workflow.as_dict()))
        return
    click.echo(f"{workflow.name} v{workflow.version}: {workflow.title}")
    if workflow.description:
        click.echo(workflow.description)
    click.echo("\nstates")
    click.echo(table([[s.name, s.stage, s.outcome or "", "yes" if s.terminal else ""]
                      for s in workflow.states.values()],
                     ["state", "stage", "outcome", "terminal"]))
    click.echo("\ntriggers")
    rows = []
    for t in (workflow.opening, *workflow.triggers.values()):
        fields = ", ".join(f"{f.name}{'*' if f.required else ''}:{f.type}"
                           f"{' (personal)' if f.personal else ''}"
                           for f in t.fields.values())
        rows.append([t.name, ",".join(t.sources) or "·", t.to, ",".join(t.roles), fields])
    click.echo(table(rows, ["trigger", "from", "to", "roles", "fields (* required)"]))


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
