"""Cases in and out: export, import."""

from __future__ import annotations

import click

from casework.transfer.files import STDIN, FileImport
from casework.transfer.formats import FORMATS, export, exportable, importable, recognised
from casework.transfer.importing import ImportResult, RejectFile, rejects_path_for
from projections.i18n import _

from .options import check_writable, db_option, json_option, open_app
from .output import case_count, line_count, listed, one_line, to_json
from .progress import progress_bar

SHOWN_REJECTS = 10


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(exportable()), default="jsonl",
              show_default=True, help="jsonl: one case per line, with its full history.")
@click.option("--output", "-o", metavar="FILE", default="-",
              help="Write here (default: standard output); the file appears once complete.")
@click.option("--without-keys", is_flag=True,
              help="Leave out the persons' keys: personal fields read as [erased] where the "
                   "file is imported.")
@db_option
def export_command(fmt: str, output: str, without_keys: bool, db: str | None) -> None:
    """Write every case with its full event history, to import elsewhere.

    One JSON object per case and line, in the order of the case ids: id, kind, and its
    events with every attribute (type, version, recorded time, business time, actor, role,
    trigger, states, fields, changes, hash), times in ISO 8601. casework import recreates
    exactly the same events. Personal fields stay encrypted; the persons' keys come first,
    one line each (unless --without-keys), with who was forgotten: keep a file with keys as
    safe as the database. The last line counts the lines before it and gives the digest of
    the cases (what casework audit --digest prints): casework import checks the file
    against it before it stores anything.

    \b
    Examples:
      casework export -o cases.jsonl
      casework export --db sqlite:///old.db | casework import - --db sqlite:///new.db
    """
    check_writable(output, "--output")
    app = open_app(db)
    with (
        click.open_file(output, "w", encoding="utf-8", atomic=output != "-") as out,
        progress_bar(app.recorded_events(), _("exporting")) as bar,
    ):
        exported = export(app, fmt, out, progress=bar.update, with_keys=not without_keys)
    done = _("exported {cases}") if output == "-" else _("exported {cases} to {file}")
    click.echo(done.format(cases=case_count(exported), file=output), err=True)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(importable()), default="jsonl",
              show_default=True,
              help="; ".join(f"{name}: {f.description}" for name, f in FORMATS.items()) + ".")
@click.option("--rejects", "rejects_path", metavar="FILE",
              help="Where rejected rows go (default: NAME.rejects.EXT in the working "
                   "directory, e.g. cases.rejects.jsonl).")
@click.option("--dry-run", is_flag=True,
              help="Check every row and report; store nothing and write no reject file.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Processes to share the import (cases are split by id; each reads the "
                   "file). Standard input and dry runs are read by one process.")
@click.option("--expect-digest", metavar="DIGEST",
              help="Refuse the file (exit 1, nothing stored) unless its cases give DIGEST: "
                   "casework audit --digest of the store it was exported from.")
@db_option
@json_option
def import_command(file: str, fmt: str, rejects_path: str | None, dry_run: bool,
                   workers: int, expect_digest: str | None, db: str | None,
                   as_json: bool) -> int:
    """Import cases from FILE (- for standard input); bad rows are set aside, not fatal.

    Each case is checked as casework audit checks it (hash chain, versions, transitions, a
    known workflow) and stored all or nothing; a case already stored exactly as given is
    skipped, so importing a file twice adds nothing. Rejected rows are written to the reject
    file as they were read, to fix and import again (the first 10 are listed on stderr with
    their line numbers and reasons, all of them with --json); the rest is imported. The
    summary accounts for every line of the file. Exit status 0 when nothing was rejected, 8
    otherwise.

    An export is first checked whole against its closing line (and --expect-digest): a file
    cut short, joined, reordered or edited is refused, exit 1, and nothing is stored. A file
    with neither an opening nor a closing line (exported by an older casework) is imported
    without that check, and the import says so.

    With --format nyc311 each row of an NYC Open Data 311 CSV becomes a petition, opened,
    graded, dispatched to its agency (nyc/nypd, ...), accepted, and resolved and closed when
    the request was; its Unique Key is the idempotency key (see casework/transfer/nyc311.py).

    \b
    Examples:
      casework import cases.jsonl --db sqlite:///copy.db
      casework import cases.jsonl --rejects bad.jsonl
      casework import 311.csv --format nyc311 --rejects 311-bad.csv
      casework import 311.csv --format nyc311 --dry-run
      casework import 311.csv --format nyc311 --workers 2 --db postgresql://...
      casework import old-export.jsonl --expect-digest "$(cat digest.txt)"
    """
    if expect_digest is not None and FORMATS[fmt].check is None:
        raise click.BadParameter(_("a {format} file has no digest to check (only an export "
                                   "has)").format(format=fmt), param_hint="--expect-digest")
    _check_format(file, fmt)
    rejects = RejectFile(rejects_path or rejects_path_for(file))
    if file != STDIN and rejects.path.exists() and rejects.path.samefile(file):
        raise click.BadParameter(_("it is the file being imported"), param_hint="--rejects")
    if not dry_run:  # before the store is touched: not after every row is stored
        check_writable(rejects.path, "--rejects")
    app = open_app(db, create=True)
    plan = FileImport(file, fmt, workers, dry_run, expect_digest)
    with progress_bar(plan.bytes_to_read(), _("importing {file}").format(file=file)) as bar:
        try:
            result = plan.run(app, rejects, bar.update)
        finally:
            rejects.close()
    if plan.checked and not result.checked:
        click.echo(_("note: {file} has no closing line, so nothing checked that it is whole "
                     "(exported by an older casework, or edited); --expect-digest checks it "
                     "against casework audit --digest of its source").format(file=file),
                   err=True)
    _report_import(result, rejects, as_json, dry_run)
    return 8 if result.rejected else 0


def _check_format(file: str, fmt: str) -> None:
    """Refuse a file whose first line says it is in another format (a 311 CSV imported as
    an export would reject every line), before anything is stored or a reject file written."""
    if file == STDIN:
        return
    with open(file, encoding="utf-8", errors="replace", newline="") as text:
        first = text.readline()
    found = recognised(first)
    if found is not None and found != fmt:
        raise click.BadParameter(_("{file} looks like {description}, not {format}: did you "
                                   "mean --format {found}?").format(
            file=file, description=FORMATS[found].description, format=fmt, found=found),
            param_hint="--format")


def _report_import(result: ImportResult, rejects: RejectFile, as_json: bool,
                   dry_run: bool = False) -> None:
    where = str(rejects.path) if rejects.written else None
    for line, reason in result.rejected[:SHOWN_REJECTS]:
        click.echo(_("line {line}: {reason}").format(line=line, reason=one_line(reason)),
                   err=True)
    if len(result.rejected) > SHOWN_REJECTS:
        more = len(result.rejected) - SHOWN_REJECTS
        click.echo((_("... and {count} more (all in {file})").format(count=more, file=where)
                    if where else
                    _("... and {count} more (all in the summary of --json)").format(
                        count=more)), err=True)
    if as_json:
        click.echo(to_json({**result.as_dict(), "rejects_file": where, "dry_run": dry_run}))
        return
    click.echo(import_summary(result, dry_run, where))


def import_summary(result: ImportResult, dry_run: bool, where: str | None) -> str:
    """One line that accounts for every line of the file."""
    verb = _("would import {cases}") if dry_run else _("imported {cases}")
    summary = verb.format(cases=case_count(result.imported))
    if result.keys:
        summary += _(" (and {count} persons' keys)").format(count=result.keys)
    summary += _(", skipped {count} already present").format(count=result.skipped)
    if result.keys_skipped:
        summary += _(" (and {count} persons' keys)").format(count=result.keys_skipped)
    if result.rejected:
        summary += _(", rejected {count}").format(count=len(result.rejected))
        summary += _(" (written to {file})").format(file=where) if where else ""
    others = [(result.header, _("{count} header")), (result.blank, _("{count} blank")),
              (result.continued, _("{count} continuing a record")),
              (result.closing, _("{count} closing"))]
    described = listed([what.format(count=count) for count, what in others if count])
    summary += _("; {lines}").format(lines=line_count(result.lines))
    summary += _(" ({described})").format(described=described) if described else ""
    if result.checked:
        summary += _(", checked whole")
    return summary
