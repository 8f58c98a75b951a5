"""Workflow definitions are checked when they are loaded; the organisation too.

Every problem in a definition is reported as ``FILE: ENTRY: what is wrong``, so a user can
go straight to the line to fix.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from casework import Organisation, OrganisationError, WorkflowDefinitionError
from casework.compiler import compile_workflow, load_workflow
from casework.workflow import Workflow
from workflows import DEFINITIONS, ORGANISATION, SAMPLE_ORGANISATION

VALID = """\
name = "errand"
version = 1
initial = "todo"

[states]
todo = { stage = "collect" }
doing = { stage = "follow_up" }
done = { stage = "close", outcome = "resolved", terminal = true }

[[triggers]]
name = "open"
to = "todo"
roles = ["clerk"]
fields.title = { type = "string", required = true }

[[triggers]]
name = "start"
from = ["todo"]
to = "doing"
roles = ["clerk"]

[[triggers]]
name = "finish"
from = ["doing"]
to = "done"
roles = ["clerk"]
"""


def edited(old: str, new: str) -> str:
    """VALID with one piece replaced (the piece must be there)."""
    assert old in VALID, old
    return VALID.replace(old, new, 1)


def compile_text(text: str, tmp_path: Path) -> Workflow:
    return compile_workflow(tomllib.loads(text), source="x.toml")


def load_text(text: str, tmp_path: Path) -> Workflow:
    path = tmp_path / "x.toml"
    path.write_text(text, encoding="utf-8")
    return load_workflow(path)


LOADERS = pytest.mark.parametrize("build", [compile_text, load_text],
                                  ids=["compile_workflow", "load_workflow"])
Build = Callable[[str, Path], Workflow]


# A valid definition -------------------------------------------------------------------------


@LOADERS
def test_a_minimal_definition_compiles(build: Build, tmp_path: Path) -> None:
    workflow = build(VALID, tmp_path)
    assert (workflow.name, workflow.version, workflow.initial) == ("errand", 1, "todo")
    assert workflow.title == "errand"  # the name, when no title is given
    assert list(workflow.states) == ["todo", "doing", "done"]
    assert workflow.states["done"].terminal
    assert workflow.states["done"].outcome == "resolved"
    assert workflow.opening.name == "open"
    assert workflow.opening.fields["title"].required
    assert sorted(workflow.triggers) == ["finish", "start"]  # the opening trigger is apart
    assert workflow.legal_triggers("todo") == ["start"]
    assert workflow.legal_triggers("done") == []
    assert workflow.source.endswith("x.toml")


@pytest.mark.parametrize("path", sorted(DEFINITIONS.glob("*.toml")), ids=lambda p: p.stem)
def test_the_shipped_definitions_load(path: Path) -> None:
    workflow = load_workflow(path)
    assert path.stem in (workflow.name, f"{workflow.name}_v{workflow.version}")
    assert workflow.source == str(path)


def test_diagram_is_mermaid(tmp_path: Path) -> None:
    diagram = load_text(VALID, tmp_path).diagram()
    assert "stateDiagram-v2" in diagram
    for state in ("todo", "doing", "done"):
        assert state in diagram
    assert "stateDiagram-v2" in load_workflow(DEFINITIONS / "petition.toml").diagram()


# Broken definitions -------------------------------------------------------------------------

BROKEN = [
    # (id, the definition, the entry named, words in the message)
    ("unknown state in to",
     edited('to = "done"', 'to = "dnoe"'),
     "trigger 'finish'", "unknown state 'dnoe' in 'to'"),
    ("unknown state in from",
     edited('from = ["doing"]', 'from = ["doign"]'),
     "trigger 'finish'", "undefined state 'doign'"),
    ("unknown initial state",
     edited('initial = "todo"', 'initial = "tdo"'),
     "initial", "unknown state 'tdo'"),
    ("unreachable state",
     edited('done = {', 'limbo = { stage = "follow_up", terminal = true }\ndone = {'),
     "state 'limbo'", "unreachable from the initial state 'todo'"),
    ("non-terminal dead end",
     edited(", terminal = true }", " }"),
     "state 'done'", "dead end"),
    ("undefined guard",
     edited('to = "done"', 'to = "done"\nguards = ["is_tuesday"]'),
     "trigger 'finish'", "undefined guard 'is_tuesday'"),
    ("undefined effect",
     edited('to = "done"', 'to = "done"\neffects = ["confetti"]'),
     "trigger 'finish'", "undefined effect 'confetti'"),
    ("duplicate trigger",
     VALID + '\n[[triggers]]\nname = "start"\nfrom = ["doing"]\nto = "todo"\nroles = ["clerk"]\n',
     "trigger 'start'", "duplicate trigger"),
    ("field of unknown type",
     edited('type = "string"', 'type = "str"'),
     "trigger 'open', field 'title'", "unknown type 'str'"),
    ("unknown key in a trigger",
     edited('to = "done"', 'to = "done"\ngaurds = []'),
     "trigger 'finish'", "unknown key 'gaurds'"),
    ("unknown key at the top",
     edited("version = 1", "version = 1\ntitel = 'Errands'"),
     "top level", "unknown key 'titel'"),
    ("unknown key in a state",
     edited('todo = { stage = "collect" }', 'todo = { stage = "collect", termnial = false }'),
     "state 'todo'", "unknown key 'termnial'"),
    ("unknown key in a field",
     edited("required = true", "requried = true"),
     "trigger 'open', field 'title'", "unknown key 'requried'"),
    ("unknown stage",
     edited('stage = "collect"', 'stage = "intake"'),
     "state 'todo'", "stage 'intake' is not one of"),
    ("trigger without roles",
     edited('to = "doing"\nroles = ["clerk"]', 'to = "doing"'),
     "trigger 'start'", "needs 'roles'"),
    ("no opening trigger",
     edited('name = "open"', 'name = "begin"'),
     "triggers", "no 'open' trigger"),
]


@LOADERS
@pytest.mark.parametrize(("text", "entry", "words"), [case[1:] for case in BROKEN],
                         ids=[case[0] for case in BROKEN])
def test_a_broken_definition_is_refused_naming_file_and_entry(
    build: Build, tmp_path: Path, text: str, entry: str, words: str
) -> None:
    with pytest.raises(WorkflowDefinitionError) as raised:
        build(text, tmp_path)
    message = str(raised.value)
    assert f"x.toml: {entry}: " in message
    assert words in message


def test_every_problem_is_reported_at_once() -> None:
    text = edited('to = "done"', 'to = "done"\nguards = ["is_tuesday"]').replace(
        'type = "string"', 'type = "str"')
    with pytest.raises(WorkflowDefinitionError) as raised:
        compile_workflow(tomllib.loads(text), source="x.toml")
    lines = str(raised.value).splitlines()
    assert len(lines) == 2
    assert all(line.startswith("x.toml: ") for line in lines)


def test_invalid_toml_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text(VALID + "\n[[triggers]\nname = \n", encoding="utf-8")
    with pytest.raises(WorkflowDefinitionError) as raised:
        load_workflow(path)
    assert str(raised.value).startswith(f"{path}: not valid TOML")


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(WorkflowDefinitionError, match=r"absent\.toml"):
        load_workflow(path)


# The organisation ---------------------------------------------------------------------------


def test_the_sample_organisation_is_shaped_like_guanlan() -> None:
    org = Organisation.load(SAMPLE_ORGANISATION)
    assert len(org.units_at("subdistrict")) == 1
    assert len(org.units_at("community")) == 10
    assert len(org.units_at("block")) == 60
    assert len(org.units_at("grid")) == 304
    assert len(org.units_at("building_grid")) == 840
    assert len(org.units_at("department")) == 11
    assert org["guanlan/guancheng"].level == "community"
    assert org.parent("guanlan/guancheng/b1/g1/bg1") == "guanlan/guancheng/b1/g1"
    assert org.parent("guanlan/urban-management") == "guanlan"
    assert org.parent("guanlan") is None
    assert org.ancestor_at("guanlan/guancheng/b1/g1/bg1", "community") == "guanlan/guancheng"


HEADER = "path,level,name\n"
GOOD_ROWS = "top,subdistrict,Top\ntop/c1,community,C1\n"

MALFORMED = [
    ("missing column", "path,name\ntop,Top\n", "needs the columns path, level, name"),
    ("empty file", "", "needs the columns"),
    ("unknown level", HEADER + GOOD_ROWS + "top/c1/x,village,X\n", "unknown level 'village'"),
    ("parent not listed", HEADER + GOOD_ROWS + "top/c9/b1,block,B1\n",
     "its parent top/c9 is not listed"),
    ("level above its parent", HEADER + GOOD_ROWS + "top/c1/s,subdistrict,S\n",
     "cannot stand under the community"),
    ("same level as its parent", HEADER + GOOD_ROWS + "top/c1/c2,community,C2\n",
     "cannot stand under"),
]


@pytest.mark.parametrize(("text", "words"), [case[1:] for case in MALFORMED],
                         ids=[case[0] for case in MALFORMED])
def test_a_malformed_organisation_is_refused(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "org.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(OrganisationError) as raised:
        Organisation.load(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert words in str(raised.value)


def test_a_well_formed_small_organisation_loads(tmp_path: Path) -> None:
    path = tmp_path / "org.csv"
    path.write_text(HEADER + GOOD_ROWS, encoding="utf-8")
    org = Organisation.load(path)
    assert len(org) == 2
    assert "top/c1" in org


def test_a_missing_organisation_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OrganisationError, match=r"nowhere\.csv"):
        Organisation.load(tmp_path / "nowhere.csv")


def test_the_default_organisation_is_guanlan_and_new_york_side_by_side() -> None:
    org = Organisation.load(ORGANISATION)
    assert sorted(unit.path for unit in org if org.parent(unit.path) is None) == ["guanlan", "nyc"]
    assert len(org.units_at("community")) == 10 + 5  # Guanlan's communities, New York's boroughs
    assert org["nyc/manhattan"].level == "community"
    assert org["nyc/nypd"].level == "department"
    assert org.parent("nyc/nypd") == "nyc"
    assert org.ancestor_at("guanlan/guancheng/b1/g1/bg1", "subdistrict") == "guanlan"


def test_several_files_make_one_organisation(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(HEADER + GOOD_ROWS, encoding="utf-8")
    (tmp_path / "b.csv").write_text(HEADER + "city,subdistrict,City\ncity/d,department,D\n",
                                    encoding="utf-8")
    org = Organisation.load(tmp_path)
    assert len(org) == 4
    assert org.parent("city/d") == "city"
    assert len(Organisation.load(tmp_path / "a.csv", tmp_path / "b.csv")) == 4


def test_a_unit_listed_in_two_files_is_refused_naming_both(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(HEADER + GOOD_ROWS, encoding="utf-8")
    (tmp_path / "b.csv").write_text(HEADER + GOOD_ROWS, encoding="utf-8")
    with pytest.raises(OrganisationError) as raised:
        Organisation.load(tmp_path)
    assert str(raised.value) == f"{tmp_path / 'b.csv'}: unit top is also listed in " \
                                f"{tmp_path / 'a.csv'}"


def test_each_file_is_a_whole_tree(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(HEADER + GOOD_ROWS, encoding="utf-8")
    (tmp_path / "b.csv").write_text(HEADER + "top/c1/b1,block,B1\n", encoding="utf-8")
    with pytest.raises(OrganisationError, match=r"b\.csv: unit top/c1/b1: its parent top/c1"):
        Organisation.load(tmp_path)


def test_a_directory_without_organisation_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OrganisationError, match="no organisation files"):
        Organisation.load(tmp_path)
