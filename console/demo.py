"""The demo: a simulated month, and its report."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import click

from casework import Casework
from casework.demo import Simulation
from projections import ReadModel
from projections.rendering import report_text
from projections.report import report
from projections.report_page import LANGUAGES, InPageCases, render_report_page

from .options import json_option, open_app
from .output import fail, history_table, to_json
from .progress import progress_bar
from .settings import command_line, current_settings

DEMO_DB = "casework-demo.db"
DEMO_PAGE = "casework-demo.html"
PAGE_BY = "community"
"""The demo's page ranks the communities: what a subdistrict's monthly meeting compares."""


@click.command("demo")
@click.option("--db", metavar="URL", default=None,
              help=f"Where to write (default: a fresh ./{DEMO_DB}, replaced on each run). "
                   "A database given here must have no events yet.")
@click.option("--seed", default=2024, show_default=True, help="The same seed, the same month.")
@click.option("--petitions", default=3000, type=click.IntRange(0), show_default=True)
@click.option("--enterprise-requests", default=650, type=click.IntRange(0), show_default=True)
@click.option("--volunteer-tasks", default=300, type=click.IntRange(0), show_default=True)
@click.option("--html", "html", metavar="FILE", type=click.Path(dir_okay=False),
              help=f"Where to write the month's report page (default: beside a SQLite "
                   f"database, with .html for .db; else ./{DEMO_PAGE}).")
@click.option("--lang", type=click.Choice(LANGUAGES), default="en", show_default=True,
              help="The language of the report page.")
@json_option
def demo_command(db: str | None, seed: int, petitions: int, enterprise_requests: int,
                 volunteer_tasks: int, html: str | None, lang: str, as_json: bool) -> None:
    """Simulate a month in a Guanlan-shaped subdistrict, then report on it.

    Thousands of petitions, enterprise requests and volunteer tasks arrive through hotline,
    mini-program, door-to-door visits, service stations and sensors; they are graded,
    dispatched, escalated, mediated, resolved, closed and revisited through the engine.

    \b
    Example:
      casework demo
      casework demo --seed 7 --petitions 500 --db sqlite:///small.db
    """
    db = db or command_line().flags.get("database")  # casework --db URL demo: that one
    if db is None:
        for suffix in ("", "-wal", "-shm"):
            Path(DEMO_DB + suffix).unlink(missing_ok=True)
        db = f"sqlite:///{DEMO_DB}"
    app = open_app(db, create=True)
    if app.recorded_events():
        fail(f"{app.storage.display_url} already has events; the demo needs an empty database")
    simulation = Simulation(app, seed=seed, petitions=petitions,
                            enterprise_requests=enterprise_requests,
                            volunteer_tasks=volunteer_tasks)
    with progress_bar(petitions + enterprise_requests + volunteer_tasks,
                      "simulating May 2024") as bar:
        simulation.progress = bar.update
        result = simulation.run()
    html = html or _page_beside(app)
    with ReadModel(app) as read_model:
        figures = report(read_model, by="kind", now=result.ends_at)
        ranked = report(read_model, by=PAGE_BY, now=result.ends_at)
        page = render_report_page(ranked, lang, organisation=app.organisation,
                                  links=InPageCases(read_model, ranked))
    with click.open_file(html, "w", encoding="utf-8", atomic=True) as out:
        out.write(page)
    if as_json:
        click.echo(to_json({"database": app.storage.display_url, "seed": seed,
                            "commands": result.commands, "report": figures.as_dict(),
                            "html": html}))
        return
    click.echo(f"Guanlan subdistrict, May 2024 (seed {seed}): {figures.figures.total} cases, "
               f"{result.commands} commands, in {app.storage.display_url}\n")
    click.echo(report_text(figures, current_settings().zone))
    sample = _sample_case(app, simulation)
    if sample is not None:
        click.echo(f"\nOne petition's history (casework history {str(sample)[:8]} --db {db}):")
        click.echo(history_table(app.history(sample)))
    click.echo(f"\nNext: casework report --db {db} --by community    "
               f"casework show {str(sample)[:8] if sample else 'CASE'} --db {db}")
    click.echo(f"What waits for a handler of Guancheng at the month's end: casework cases mine "
               f"--actor wang@guanlan/guancheng --role handler --now {result.ends_at.isoformat()}"
               f" --db {db}")
    click.echo(f"The month's report page (charts, rankings, the cases behind each number): "
               f"{Path(html).resolve().as_uri()}")


def _page_beside(app: Casework) -> str:
    """Beside a SQLite database file (``x.db`` → ``x.html``), else in the working folder."""
    name = app.storage.event_store_env.get("SQLITE_DBNAME")
    if app.storage.backend == "sqlite" and name and "mode=memory" not in name:
        return str(Path(name).with_suffix(".html"))
    return DEMO_PAGE


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
