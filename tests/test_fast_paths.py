"""The faster paths of issue 20 give the answers the slower ones gave: the same lines
rejected with the same reasons, the same keys restored, the same read model rebuilt."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import insert, inspect, select, update

from casework.audit import _never_recorded, _plainly_fine
from casework.demo import Simulation
from casework.fields import forbidden_character
from casework.person_lines import Restored
from casework.person_table import KEY_BYTES, person_keys
from casework.personal import PersonKeys
from casework.storage import Storage
from casework.timestamps import EARLIEST, LATEST, naive_utc
from casework.transfer.importing import invalid_utf8
from projections.read_model import ReadModel
from projections.tables import case_summary

from .conftest import new_app
from .support import summary_rows


def invalid_utf8_by_loop(text: str) -> str | None:
    """The check as it was, one character at a time in Python."""
    for column, char in enumerate(text, start=1):
        if "\udc80" <= char <= "\udcff":
            return f"not valid UTF-8 (byte 0x{ord(char) - 0xDC00:02x} at character {column})"
    return None


ESCAPED_BYTES = st.integers(0x80, 0xFF).map(lambda byte: chr(0xDC00 + byte))
SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)


@given(st.lists(st.one_of(st.text(), ESCAPED_BYTES, SURROGATES)).map("".join))
def test_the_utf8_check_says_what_the_loop_over_characters_said(text: str) -> None:
    assert invalid_utf8(text) == invalid_utf8_by_loop(text)


def test_a_line_read_from_bytes_that_are_not_utf8_names_the_first_bad_byte() -> None:
    line = b'{"id": "caf\xc3\xa9 \xff\xfe"}\n'.decode("utf-8", errors="surrogateescape")
    assert invalid_utf8(line) == "not valid UTF-8 (byte 0xff at character 14)"
    assert invalid_utf8('{"id": "café"}') is None


# Restoring persons' keys: a batch read with one SELECT, written with one executemany ------

PERSONS = [str(UUID(int=n)) for n in range(1, 4)]
KEYS = [bytes([n]) * KEY_BYTES for n in range(1, 3)]
FORGOTTEN = [{"forgotten_at": datetime(2024, 6, day, tzinfo=UTC), "forgotten_by": "boss",
              "forgotten_role": "supervisor"} for day in (1, 2)]
RECORDS = st.one_of(
    st.builds(lambda person, key: {"person": person, "key": key},
              st.sampled_from(PERSONS), st.sampled_from(KEYS)),
    st.builds(lambda person, forgotten: {"person": person, **forgotten},
              st.sampled_from(PERSONS), st.sampled_from(FORGOTTEN)))


def restore_one_by_one(keys: PersonKeys, records: list[dict[str, Any]]) -> Restored:
    """Restoring as it was: a SELECT, then an INSERT or UPDATE, for each record."""
    restored, c = Restored(), person_keys.c
    with keys.engine.begin() as conn:
        for record in records:
            person = record["person"]
            row = conn.execute(select(person_keys).where(c.person == person)).first()
            outcome: bool | str = True
            if "key" in record:
                if row is None:
                    conn.execute(insert(person_keys).values(
                        person=person, key=record["key"],
                        created_at=naive_utc(datetime.now(UTC))))
                elif row.key is not None and row.key != record["key"]:
                    outcome = f"person {person} has another key in this database"
                else:
                    outcome = False
            else:
                forgotten = {"key": None, "forgotten_at": naive_utc(record["forgotten_at"]),
                             "forgotten_by": record["forgotten_by"],
                             "forgotten_role": record["forgotten_role"]}
                if row is None:
                    conn.execute(insert(person_keys).values(
                        person=person, created_at=forgotten["forgotten_at"], **forgotten))
                elif row.key is not None:
                    conn.execute(update(person_keys).where(c.person == person)
                                 .values(**forgotten))
                else:
                    outcome = False
            if isinstance(outcome, str):
                restored.refused.append((record, outcome))
            elif outcome:
                restored.stored += 1
            else:
                restored.present += 1
    return restored


def table_of(keys: PersonKeys) -> list[tuple[Any, ...]]:
    """Every row, with the time a key was restored left out (it is the time of restoring;
    a forgotten person's row not known before is created at the time they were forgotten)."""
    with keys.reader.connect() as conn:
        return [(row.person, row.key, row.forgotten_at, row.forgotten_by, row.forgotten_role,
                 row.created_at if row.created_at == row.forgotten_at else "restored")
                for row in conn.execute(select(person_keys).order_by(person_keys.c.person))]


@given(st.lists(RECORDS, max_size=4), st.lists(RECORDS, max_size=8))
def test_restoring_a_batch_of_keys_does_what_one_record_at_a_time_did(
        here: list[dict[str, Any]], batch: list[dict[str, Any]]) -> None:
    batched, one_by_one = (PersonKeys(Storage.from_url("sqlite:///:memory:"))
                           for _ in range(2))
    for keys in (batched, one_by_one):
        restore_one_by_one(keys, here)  # what the database held before the import

    before = table_of(batched)
    dry = batched.restore(batch, dry_run=True)
    assert table_of(batched) == before
    restored = batched.restore(batch)

    assert restored == dry == restore_one_by_one(one_by_one, batch)
    assert table_of(batched) == table_of(one_by_one)
    for keys in (batched, one_by_one):
        keys.close()


# Rebuilding the read model: plain rows, and the indexes made at the end ------------------


@pytest.fixture(scope="module")
def simulated_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('fast') / 'simulated.db'}"
    app = new_app(url)
    Simulation(app, petitions=30, enterprise_requests=8, volunteer_tasks=6).run()
    app.close()
    return url


def indexes(read_model: ReadModel) -> set[str]:
    return {index["name"] for index in inspect(read_model.engine).get_indexes("case_summary")}


def test_a_rebuild_gives_the_rows_caught_up_page_by_page_and_every_index(
        simulated_file: str) -> None:
    app = new_app(simulated_file)
    with ReadModel(app, page_size=7) as read_model:  # cases cut across many pages
        read_model.catch_up()
        caught_up = summary_rows(read_model)
    with ReadModel(app) as read_model:
        assert read_model.rebuild() == app.recorded_events()
        assert summary_rows(read_model) == caught_up
        assert indexes(read_model) == {index.name for index in case_summary.indexes}
    app.close()


def test_a_rebuild_stopped_half_way_leaves_rows_the_next_catch_up_completes_with_indexes(
        simulated_file: str) -> None:
    app = new_app(simulated_file)

    def stop(_: int) -> None:
        raise KeyboardInterrupt

    with ReadModel(app, page_size=50) as read_model, pytest.raises(KeyboardInterrupt):
        read_model.rebuild(stop)
    with ReadModel(app) as read_model:  # as the next command makes it
        assert 0 < read_model.position() < app.recorded_events()
        read_model.catch_up()
        assert indexes(read_model) == {index.name for index in case_summary.indexes}
        assert read_model.rebuild() == app.recorded_events()
        rebuilt = summary_rows(read_model)
        read_model.drop()
    with ReadModel(app) as read_model:
        read_model.catch_up()
        assert summary_rows(read_model) == rebuilt
    app.close()


# Checking a history: values the engine never records, found without a call per value ----


def never_recorded_by_call(value: Any) -> tuple[list[str], str] | None:
    """The walk as it was: a call for every value, however plain."""
    if isinstance(value, str):
        if forbidden_character(value, free_text=True) is None:
            return None
        return [], "a control or invalid character"
    if isinstance(value, datetime):
        try:
            within = EARLIEST <= value < LATEST
        except (OverflowError, TypeError):
            within = False
        return None if within else ([], f"{value.isoformat()}, out of range,")
    if isinstance(value, dict | list | tuple):
        for key, item in (value.items() if isinstance(value, dict) else enumerate(value)):
            problem = never_recorded_by_call(item)
            if problem is not None:
                problem[0].append(str(key))
                return problem
    return None


class Text(str):
    """A str subclass: never taken for plain text."""


LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
    st.text(st.characters(codec="utf-8") | st.sampled_from("\x00\x07\t\n\x7f\x85\udc80")),
    st.text(max_size=3).map(Text), st.datetimes(timezones=st.just(UTC)),
    st.datetimes(), st.sampled_from([datetime.max.replace(tzinfo=UTC)]))
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=3), inner, max_size=3)
                      | st.tuples(inner, inner), max_leaves=12)


@given(VALUES)
def test_the_walk_for_values_never_recorded_finds_what_a_call_per_value_found(
        value: Any) -> None:
    assert _never_recorded(value) == never_recorded_by_call(value)
    if _plainly_fine(value):
        assert never_recorded_by_call(value) is None
