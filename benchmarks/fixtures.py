"""The data the figures run on, made once per run in a temporary folder.

The import figure replays the NYC 311 sample (replicated with new keys) through the engine's
own importer. Every other store holds petitions as residents bring them, with the
petitioner's name, phone and address encrypted under a key of each one's own
(``benchmarks.residents``), recorded through the engine's batches; the memory figures' JSONL
file is the export of such a store. Copies of a fixture (for jobs that change it) are plain
file copies of a checkpointed SQLite database.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from casework import Casework
from casework.transfer.jsonl import export_jsonl
from casework.transfer.nyc311 import case_id_of, import_nyc311
from projections.read_model import ReadModel

from .residents import EVENTS_CLOSED, EVENTS_OPEN, record_petitions

CLOSED_SHARE = 4
"""In a store of petitions, every fourth is still in progress, the others closed."""
REVISIT_SHARE = 10
"""In a sweep's store, every tenth petition is closed and due a revisit; the others are in
progress and long overdue."""

SAMPLE = (Path(__file__).resolve().parents[2] / "shared" / "data" / "nyc311"
          / "311_nyc_sample.csv")
"""The NYC 311 sample (999 requests of 2011, 41 columns), where the tests find it too;
``$CASEWORK_NYC311_SAMPLE`` points elsewhere."""


def sample_path() -> Path:
    return Path(os.environ.get("CASEWORK_NYC311_SAMPLE", SAMPLE))


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


@dataclass
class Sample:
    """The sample's importable rows, and what importing each one stores.

    ``rows`` keeps only requests the engine imports (the sample has a request closed before
    it was created, which is rightly rejected), so that N replicated rows make N cases.
    ``events`` is how many events each row's petition has; ``stored`` the stored rows
    (version, topic, state) of each, which the raw-insert baseline writes again."""

    header: list[str]
    rows: list[list[str]]
    events: list[int]
    stored: list[list[tuple[int, str, bytes]]]

    @classmethod
    def load(cls, folder: Path) -> Sample:
        with sample_path().open(newline="", encoding="utf-8") as file:
            reader = csv.reader(file)
            header = next(reader)
            rows = list(reader)
        template = folder / "template.db"
        app = Casework(url_of(template))
        with sample_path().open(newline="", encoding="utf-8") as file:
            import_nyc311(app, file)
        app.close()
        key = header.index("Unique Key")
        by_case: dict[str, list[tuple[int, str, bytes]]] = {}
        with contextlib.closing(sqlite3.connect(template)) as db:
            for case_id, version, topic, state in db.execute(
                    "SELECT originator_id, originator_version, topic, state FROM stored_events "
                    "ORDER BY rowid"):
                by_case.setdefault(case_id, []).append((version, topic, state))
        kept, stored, seen = [], [], set()
        for row in rows:
            case_id = case_id_of(row[key]).hex if len(row) > key else ""
            if case_id in by_case and case_id not in seen:
                seen.add(case_id)
                kept.append(row)
                stored.append(by_case[case_id])
        return cls(header, kept, [len(s) for s in stored], stored)

    def rows_for_events(self, events: int) -> int:
        """How many replicated rows store at least ``events`` events."""
        total, rows = 0, 0
        while total < events:
            total += self.events[rows % len(self.rows)]
            rows += 1
        return rows

    def lines(self, count: int, *, still_open: bool = False) -> Iterator[str]:
        """A CSV of ``count`` requests: the sample's rows again and again, each copy with new
        Unique Keys; ``still_open`` makes every request one the city has not closed yet."""
        key = self.header.index("Unique Key")
        status, closed = self.header.index("Status"), self.header.index("Closed Date")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.header)
        yield out.getvalue()
        for n in range(count):
            row = list(self.rows[n % len(self.rows)])
            row[key] = f"{row[key]}.{n // len(self.rows)}"
            if still_open:
                row[status], row[closed] = "Open", ""
            out.seek(0)
            out.truncate()
            writer.writerow(row)
            yield out.getvalue()

    def replica_keys(self, count: int) -> list[str]:
        """The case ids (hex, as stored) of ``lines(count)``'s requests, in order."""
        key = self.header.index("Unique Key")
        return [case_id_of(f"{self.rows[n % len(self.rows)][key]}.{n // len(self.rows)}").hex
                for n in range(count)]


class Fixtures:
    """Stores made on demand and kept for the rest of the run."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._sample: Sample | None = None
        self._made: dict[str, Path] = {}

    @property
    def sample(self) -> Sample:
        if self._sample is None:
            self._sample = Sample.load(self.folder)
        return self._sample

    def fresh(self, name: str) -> Path:
        """A path for a new database, nothing there yet."""
        path = self.folder / f"{name}.db"
        remove(path)
        return path

    def imported(self, events: int) -> Path:
        """A store of at least ``events`` events of imported NYC 311 requests."""
        name = f"imported-{events}"
        if name not in self._made:
            path = self.fresh(name)
            app = Casework(url_of(path))
            import_nyc311(app, self.sample.lines(self.sample.rows_for_events(events)))
            app.close()
            self._made[name] = checkpointed(path)
        return self._made[name]

    def petitions(self, events: int) -> Path:
        """A store of at least ``events`` events of residents' petitions, each with its
        personal fields (no read model): three in four closed, the others in progress."""
        name = f"petitions-{events}"
        if name not in self._made:
            path = self.fresh(name)
            app = Casework(url_of(path))
            record_petitions(app, petitions_for_events(events),
                             still_open=lambda n: n % CLOSED_SHARE == 0)
            app.close()
            self._made[name] = checkpointed(path)
        return self._made[name]

    def exported(self, events: int) -> Path:
        """``petitions(events)`` exported as JSON lines, with the persons' keys."""
        name = f"export-{events}"
        if name not in self._made:
            app = Casework(url_of(self.petitions(events)))
            path = self.folder / f"{name}.jsonl"
            with path.open("w", encoding="utf-8") as out:
                export_jsonl(app, out)
            app.close()
            self._made[name] = path
        return self._made[name]

    def open_cases(self, cases: int) -> Path:
        """A store of ``cases`` residents' petitions for the sweep, read model up to date:
        nine in ten in progress and long overdue, the others closed and due a revisit."""
        name = f"open-{cases}"
        if name not in self._made:
            path = self.fresh(name)
            app = Casework(url_of(path))
            record_petitions(app, cases, still_open=lambda n: n % REVISIT_SHARE != 0)
            with ReadModel(app) as read_model:
                read_model.catch_up()
            app.close()
            self._made[name] = checkpointed(path)
        return self._made[name]

    def copy(self, source: Path, name: str) -> Path:
        target = self.fresh(name)
        shutil.copyfile(source, target)
        return target


def petitions_for_events(events: int) -> int:
    """How many petitions of a ``petitions`` store make at least ``events`` events."""
    per_cycle = EVENTS_OPEN + (CLOSED_SHARE - 1) * EVENTS_CLOSED  # of CLOSED_SHARE petitions
    cycles, rest = divmod(events, per_cycle)
    return cycles * CLOSED_SHARE + (0 if rest == 0 else CLOSED_SHARE)


def revisits_due(cases: int) -> int:
    """How many of ``open_cases(cases)`` are closed and due a revisit."""
    return len(range(0, cases, REVISIT_SHARE))


def checkpointed(path: Path) -> Path:
    """Fold the write-ahead log into the file, so that the file alone is the database."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
