"""The organisation: units."""

from __future__ import annotations

import click

from casework import InvalidField, Organisation
from casework.organisation import Unit
from projections.i18n import Names, _
from projections.rendering import table
from workflows import ORGANISATION

from .completion import complete_unit
from .options import json_option
from .output import to_json
from .settings import quiet


@click.command("units")
@click.argument("prefix", required=False, shell_complete=complete_unit)
@click.option("--tree", is_flag=True, help="Indent each unit under its parent.")
@click.option("--depth", type=click.IntRange(0), metavar="N",
              help="Only N levels below PREFIX (0: PREFIX alone).")
@json_option
def units_command(prefix: str | None, tree: bool, depth: int | None, as_json: bool) -> None:
    """The units of the organisation (PREFIX and below it): path, level, name, parent.

    These are the paths --unit, location=, unit= and --actor ID@UNIT take.

    \b
    Examples:
      casework units --depth 1                  the subdistricts, the city, ...
      casework units guanlan --depth 1          Guanlan's communities and departments
      casework units guanlan/guancheng --tree
      casework units nyc --json
    """
    organisation = Organisation.load(ORGANISATION)
    names = Names(organisation=organisation)
    top = prefix.strip().strip("/") if prefix else None
    if top is not None and top not in organisation:
        raise InvalidField("unit", organisation.unknown(prefix or ""))
    base = 0 if top is None else top.count("/")
    units = [unit for unit in organisation.below(top)
             if depth is None or unit.path.count("/") - base <= depth - (top is None)]
    if as_json:
        click.echo(to_json([_as_dict(unit) for unit in units]))
    elif quiet():
        for unit in units:
            click.echo(unit.path)
    elif tree:
        for unit in _in_tree_order(units):
            indent = "  " * (unit.path.count("/") - base)
            click.echo(f"{indent}{unit.path.rsplit('/', 1)[-1]}  {unit.name}  "
                       f"({names.value('level', unit.level)})")
    else:
        click.echo(table([[unit.path, names.value("level", unit.level), unit.name,
                           unit.parent_path or "-"] for unit in units],
                         [_("path"), _("level"), _("name"), _("parent")]))


def _as_dict(unit: Unit) -> dict[str, str | None]:
    return {"path": unit.path, "level": unit.level, "name": unit.name,
            "parent": unit.parent_path}


def _in_tree_order(units: list[Unit]) -> list[Unit]:
    """Each unit followed by the units under it, in the file's order among siblings."""
    children: dict[str | None, list[Unit]] = {}
    paths = {unit.path for unit in units}
    for unit in units:
        parent = unit.parent_path if unit.parent_path in paths else None
        children.setdefault(parent, []).append(unit)
    ordered: list[Unit] = []

    def visit(parent: str | None) -> None:
        for unit in children.get(parent, []):
            ordered.append(unit)
            visit(unit.path)

    visit(None)
    return ordered
