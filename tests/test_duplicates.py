"""Likely duplicates (projections.duplicates, casework duplicates, casework open): on real NYC
311 requests, and on cases opened by hand."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from casework import Actor, Casework
from casework.transfer.nyc311 import case_id_of, import_nyc311
from projections import ReadModel
from projections.duplicates import duplicate_pairs, likely_duplicates

from .support import CLERK, DATA, T0, invoke, real_data

# Each pair below was read by hand in the sample: the same address, complaint and
# descriptor, minutes to hours apart, the first still open when the second came in (two
# neighbours calling about one party; one driveway blocked).
INSPECTED_PAIRS = {
    ("19938481", "19938475"),  # Noise - Residential, Loud Music/Party, 453 JEFFERSON AVENUE
    ("19938386", "19938388"),  # Smoking, Smoking Violation, 239 EAST 115 STREET
    ("19942048", "19942049"),  # Blocked Driveway, No Access, 53-02 11 STREET
    ("19941827", "19941865"),  # Noise - Residential, Banging/Pounding, 1654 MONROE AVENUE
}
NOT_A_PAIR = ("19941901", "19938237")
"""865 COLUMBUS AVENUE, a day apart: a parking sign violation, then a noise complaint."""
PLACE = "guanlan/guancheng/b1/g2/bg1"


@real_data
def test_the_nyc_sample_has_twelve_likely_pairs_and_the_ones_read_by_hand_are_among_them(
        tmp_path) -> None:
    app = Casework(f"sqlite:///{tmp_path / 'nyc.db'}")
    with (DATA / "311_nyc_sample.csv").open(newline="", encoding="utf-8") as file:
        import_nyc311(app, file)
    with ReadModel(app) as read_model:
        pairs = {(str(case), str(duplicate.id)) for case, duplicate
                 in duplicate_pairs(read_model)}
    keys = {(str(case_id_of(a)), str(case_id_of(b))) for a, b in INSPECTED_PAIRS}
    assert len(pairs) == 12
    assert keys <= pairs
    later, earlier = (str(case_id_of(key)) for key in NOT_A_PAIR)
    assert (later, earlier) not in pairs and (earlier, later) not in pairs
    app.close()


def test_a_case_just_opened_finds_the_open_case_it_repeats(app: Casework) -> None:
    first = app.open_case("petition", CLERK, T0, channel="hotline",
                          title="Broken manhole cover on Guanping Road", location=PLACE)
    app.open_case("petition", CLERK, T0, channel="hotline", title="Stray dogs at the market",
                  location=PLACE)  # same grid, another matter
    app.open_case("petition", CLERK, T0, channel="hotline", title="Broken manhole cover",
                  location="guanlan/xinlan/b1/g1/bg1")  # another grid
    old = app.open_case("petition", CLERK, T0 - timedelta(days=30), channel="hotline",
                        title="Broken manhole cover on Guanping Road", location=PLACE)
    assert old
    new = app.open_case("petition", CLERK, T0 + timedelta(hours=2), channel="walk_in",
                        title="manhole cover broken, Guanping Rd", location=PLACE)
    with ReadModel(app) as read_model:
        found = likely_duplicates(read_model, new)
        assert [d.id for d in found] == [first]  # not the month-old one: outside the window
        assert found[0].near == "same grid guanlan/guancheng/b1/g2" and found[0].score >= 70
        app.fire(new, "merge", CLERK, T0 + timedelta(hours=3), duplicate_of=str(first))
        assert likely_duplicates(read_model, first) == []  # merged: no longer open


def test_open_prints_the_id_and_lists_likely_duplicates_on_stderr(tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    clerk = ["--actor", "li", "--role", "intake", "--db", db]
    first = invoke("open", "petition", "-f", "channel=hotline", "-f", "place=12 Guanping Road",
                   "-f", "title=Water leaking from the ceiling", *clerk)
    assert first.exit_code == 0 and first.stderr == ""
    again = invoke("open", "petition", "-f", "channel=hotline", "-f", "place=12 Guanping Road",
                   "-f", "title=water leaking from ceiling", *clerk)
    assert again.exit_code == 0
    assert again.stdout.strip() != first.stdout.strip()
    assert len(again.stdout.split()) == 1  # standard output is the id alone, for scripts
    assert first.stdout.strip()[:8] in again.stderr and "same place" in again.stderr
    as_json = json.loads(invoke("open", "petition", "-f", "channel=hotline", "-f",
                                "place=12 Guanping Road", "-f", "title=Ceiling leaks water",
                                "--json", *clerk).stdout)
    assert {d["id"] for d in as_json["likely_duplicates"]} >= {first.stdout.strip()}
    quiet = invoke("open", "petition", "-f", "channel=hotline", "-f", "place=12 Guanping Road",
                   "-f", "title=Water leaking", "-q", *clerk)
    assert quiet.stderr == "" and len(quiet.stdout.split()) == 1
    listed = invoke("duplicates", again.stdout.strip()[:8], "--db", db)
    assert listed.exit_code == 0 and first.stdout.strip()[:8] in listed.stdout


@pytest.mark.parametrize("args", [["duplicates"], ["duplicates", "abcd1234", "--all"]])
def test_duplicates_needs_a_case_or_all(tmp_path, args: list[str]) -> None:
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    Casework(db).open_case("petition", Actor("li", ["intake"]), channel="hotline", title="x")
    result = invoke(*args, "--db", db)
    assert result.exit_code == 2 and "give a CASE or --all" in result.stderr
