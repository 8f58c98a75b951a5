"""The demo: a simulated month (or a district's year), and its report."""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import click

from casework import Casework
from casework.application import ORGANISATION_VAR
from casework.city import (
    SUBDISTRICTS,
    YEAR_START,
    CityPlan,
    city_organisation,
    write_organisation,
)
from casework.demo import Simulation, SimulationResult
from casework.storage import Storage
from projections import ReadModel
from projections.i18n import Names, _, language
from projections.rendering import ranking_text, report_text
from projections.report import Report, report
from projections.report_page import InPageCases, render_report_page

from .options import check_writable, json_option, open_app
from .output import fail, history_table, to_json
from .progress import progress_bar
from .settings import command_line, current_settings

DEMO_DB = "casework-demo.db"
CITY_DB = "casework-city.db"
DEMO_PAGE = "casework-demo.html"
PAGE_BY = "community"
"""The demo's page ranks the communities: what a subdistrict's monthly meeting compares."""


@click.command("demo")
@click.option("--db", metavar="URL", default=None,
              help=f"Where to write (default: a fresh ./{DEMO_DB}, or ./{CITY_DB} with "
                   "--scale city, replaced on each run). A database given here must have no "
                   "events yet.")
@click.option("--seed", default=2024, show_default=True, help="The same seed, the same month.")
@click.option("--petitions", default=3000, type=click.IntRange(0), show_default=True)
@click.option("--enterprise-requests", default=650, type=click.IntRange(0), show_default=True)
@click.option("--volunteer-tasks", default=300, type=click.IntRange(0), show_default=True)
@click.option("--scale", type=click.Choice(["month", "city"]), default="month",
              show_default=True,
              help="month: Guanlan's month. city: a year of a district of --subdistricts "
                   "Guanlan-shaped subdistricts, each receiving every month the cases the "
                   "three counts above say.")
@click.option("--subdistricts", default=SUBDISTRICTS, type=click.IntRange(1, 99),
              show_default=True, help="With --scale city: how many.")
@click.option("--html", "html", metavar="FILE", type=click.Path(dir_okay=False),
              help=f"Where to write the month's report page (default: beside a SQLite "
                   f"database, with .html for .db; else ./{DEMO_PAGE}). With --scale city, "
                   "only when given.")
@json_option
def demo_command(db: str | None, seed: int, petitions: int, enterprise_requests: int,
                 volunteer_tasks: int, scale: str, subdistricts: int, html: str | None,
                 as_json: bool) -> None:
    """Simulate a month in a Guanlan-shaped subdistrict (or a district's year), then report.

    Thousands of petitions, enterprise requests and volunteer tasks arrive through hotline,
    mini-program, door-to-door visits, service stations and sensors; they are graded,
    dispatched, escalated, mediated, resolved, closed and revisited through the engine.
    With --scale city, a year of a district: a million cases and some seven million events
    with the defaults (hours; memory stays flat).

    \b
    Example:
      casework demo
      casework demo --seed 7 --petitions 500 --db sqlite:///small.db
      casework demo --scale city --subdistricts 3
    """
    city = scale == "city"
    if html:
        check_writable(html, "--html")
    db = db or command_line().flags.get("database")  # casework --db URL demo: that one
    db = db or _fresh(CITY_DB if city else DEMO_DB)
    organisation = None
    if city:  # written beside the database, for the commands that work on it afterwards
        organisation = write_organisation(city_organisation(subdistricts),
                                          _beside(db, ".organisation.csv"))
    else:
        html = html or _page_beside(Storage.from_url(db))
    run = _simulated(db, organisation, seed, (petitions, enterprise_requests, volunteer_tasks),
                     subdistricts if city else 0, html)
    shown_url = Storage.from_url(db).display_url
    if as_json:
        click.echo(to_json({"database": shown_url, "seed": seed,
                            "commands": run.result.commands, "seconds": round(run.seconds, 1),
                            "peak_mb": round(peak_mb()), "report": run.figures.as_dict(),
                            "html": html}))
        return
    app = Casework(db, organisation=organisation)
    click.echo(_("{where} (seed {seed}): {cases} cases, {commands} commands, in {db}").format(
        where=run.where, seed=seed, cases=run.figures.figures.total,
        commands=run.result.commands, db=shown_url) + "\n")
    if city:
        took = f"{run.seconds:.0f} s" if run.seconds < 120 else f"{run.seconds / 60:.0f} minutes"
        click.echo(f"{app.recorded_events():,} events in {took}; peak memory "
                   f"{peak_mb():.0f} MB. Its organisation: {organisation} (export "
                   f"{ORGANISATION_VAR}={organisation} to work on it)\n")
    _print_month(app, run.simulation, run.figures, db, html, run.ranked)
    if not city:
        click.echo(_("What waits for a handler of Guancheng at the month's end: {command}")
                   .format(command="casework cases mine --actor wang@guanlan/guancheng --role "
                                   f"handler --now {run.result.ends_at.isoformat()} --db {db}"))


@dataclass(frozen=True)
class DemoRun:
    """What a simulation did, and its report at its end (``ranked``: by community, for the
    page)."""

    simulation: Simulation
    result: SimulationResult
    where: str
    figures: Report
    ranked: Report | None
    seconds: float


def _simulated(db: str, organisation: Path | None, seed: int, counts: tuple[int, int, int],
               subdistricts: int, html: str | None) -> DemoRun:
    """Simulate into an empty ``db`` (a city's year with ``subdistricts``), report at the
    simulation's end and write the page to ``html``."""
    shown_url = Storage.from_url(db).display_url
    with written_in_place(db) as working:  # moved into place once simulated and reported
        app = Casework(working, organisation=organisation) if subdistricts \
            else open_app(working, create=True)
        if app.recorded_events():
            fail(_("{db} already has events; the demo needs an empty database").format(
                db=shown_url))
        simulation, where = _simulation(app, seed, counts, subdistricts)
        started = time.perf_counter()
        with progress_bar(sum(simulation.planned.values()),
                          _("simulating {what}").format(what=where.split(", ")[-1])) as bar:
            simulation.progress = bar.update
            result = simulation.run()
        ranked = None
        with ReadModel(app) as read_model:
            figures = report(read_model, by="kind", now=result.ends_at)
            if html:
                ranked = report(read_model, by=PAGE_BY, now=result.ends_at)
                _write_page(read_model, app, html, ranked)
        seconds = time.perf_counter() - started
        app.close()
    return DemoRun(simulation, result, where, figures, ranked, seconds)


@contextmanager
def written_in_place(db: str) -> Iterator[str]:
    """The URL to write the demo to: for a SQLite file, a ``.partial`` file beside it, moved
    into place once the demo is done and removed if it is not (Ctrl-C), so that the file is
    never left half-written; any other database as it is."""
    storage = Storage.from_url(db)
    name = storage.event_store_env.get("SQLITE_DBNAME", "")
    if storage.backend != "sqlite" or "mode=memory" in name:
        yield db
        return
    if Path(name).exists():
        existing = Casework(db)
        try:
            if existing.recorded_events():
                fail(_("{db} already has events; the demo needs an empty database").format(
                    db=storage.display_url))
        finally:
            existing.close()
    partial = f"{name}.partial"
    _remove_sqlite(partial)
    try:
        yield f"sqlite:///{partial}"
    except BaseException:
        _remove_sqlite(partial)
        raise
    _remove_sqlite(name)
    os.replace(partial, name)


def _remove_sqlite(name: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(name + suffix).unlink(missing_ok=True)


def _simulation(app: Casework, seed: int, counts: tuple[int, int, int], subdistricts: int
                ) -> tuple[Simulation, str]:
    """The month's simulation, or with ``subdistricts`` the district's year; and what it is."""
    if not subdistricts:
        return Simulation(app, seed, *counts), _("Guanlan subdistrict, May 2024")
    plan = CityPlan.of(subdistricts, counts)
    simulation = Simulation(app, seed, plan.petitions, plan.enterprise_requests,
                            plan.volunteer_tasks, start=YEAR_START, days=plan.days)
    return simulation, (f"A district of {subdistricts} Guanlan-shaped "
                        f"subdistrict{'s' if subdistricts > 1 else ''}, {YEAR_START.year}")


def _print_month(app: Casework, simulation: Simulation, figures: Report, db: str,
                 html: str | None, ranked: Report | None) -> None:
    names = Names.of(app)
    click.echo(report_text(figures, current_settings().zone, names))
    if ranked is not None:  # the month's three rates per community, as they are ranked
        click.echo("\n" + ranking_text(ranked, names))
    sample = _sample_case(app, simulation)
    if sample is not None:
        click.echo("\n" + _("One petition's history ({command}):").format(
            command=f"casework history {str(sample)[:8]} --db {db}"))
        click.echo(history_table(app.history(sample), names=names))
    click.echo("\n" + _("Next: {report}    {show}").format(
        # judged at the demo's moment, as its report was: at today's, every open case is late
        report=f"casework report --db {db} --by community --now "
               f"{figures.as_of.replace(tzinfo=None):%Y-%m-%dT%H:%M}Z",
        show=f"casework show {str(sample)[:8] if sample else 'CASE'} --db {db}"))
    if html:
        click.echo(_("The report page (charts, rankings, the cases behind each number): {uri}")
                   .format(uri=Path(html).resolve().as_uri()))


def _write_page(read_model: ReadModel, app: Casework, html: str, ranked: Report) -> None:
    page = render_report_page(ranked, language(), organisation=app.organisation,
                              links=InPageCases(read_model, ranked))
    with click.open_file(html, "w", encoding="utf-8", atomic=True) as out:
        out.write(page)


def _fresh(name: str) -> str:
    """The default database, replaced on each run."""
    _remove_sqlite(name)
    return f"sqlite:///{name}"


def _page_beside(storage: Storage) -> str:
    """Beside a SQLite database file (``x.db`` → ``x.html``), else in the working folder."""
    name = storage.event_store_env.get("SQLITE_DBNAME")
    if storage.backend == "sqlite" and name and "mode=memory" not in name:
        return str(Path(name).with_suffix(".html"))
    return DEMO_PAGE


def _beside(db: str, suffix: str) -> Path:
    """A file beside the SQLite database file (for a server's, in the working folder)."""
    storage = Storage.from_url(db)
    name = storage.event_store_env.get("SQLITE_DBNAME", "")
    if storage.backend != "sqlite" or "mode=memory" in name:
        name = CITY_DB
    return Path(name).with_suffix(suffix)


def peak_mb() -> float:
    """This process's peak resident memory (kilobytes on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def _sample_case(app: Casework, simulation: Simulation) -> UUID | None:
    """A petition that went through every stage and was reopened, if the month has one."""
    fallback = None
    for case_id in simulation.petition_ids:
        view = app.get_case(case_id)
        if view.state == "revisited" and fallback is None:
            fallback = case_id
        if view.reopens and view.stage == "revisit":
            return case_id
    return fallback
