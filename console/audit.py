"""Has anything been changed behind the engine's back? audit."""

from __future__ import annotations

import click

from casework.audit import audit, audit_digest
from casework.digest import same_digest
from projections import ReadModel
from projections.audit import ReadModelCheck
from projections.case_ids import expand_case_id
from projections.i18n import _

from .options import db_option, json_option, open_app
from .output import case_count, event_count, fail, finding_count, finding_line, to_json


@click.command("audit")
@click.argument("cases", nargs=-1, metavar="[CASE]...")
@click.option("--kind", help="Only cases of this kind.")
@click.option("--digest", "show_digest", is_flag=True,
              help="Also print the store's digest, as the last line: keep it elsewhere.")
@click.option("--expect-digest", metavar="DIGEST",
              help="Fail (exit 1) unless the store's digest is still DIGEST.")
@db_option
@json_option
def audit_command(cases: tuple[str, ...], kind: str | None, show_digest: bool,
                  expect_digest: str | None, db: str | None, as_json: bool) -> int:
    """Replay cases and check them: hash chain, versions, transitions, read model.

    Every case (or each CASE: an id or a unique prefix) is replayed against the workflow
    version it ran under. Each finding is one line, case and event first: an illegal
    transition, a missing or repeated event, a hash that does not link (an event edited in
    the database), an event that cannot be read, a read-model row or a unit's ledger entry
    (by event and unit) that disagrees with the events. Exit status 0 when clean, 1 with
    findings.

    The digest covers the latest hash of every case, whatever CASEs are given: a store whose
    chains were recomputed after an edit passes the chain checks, but not --expect-digest.

    \b
    Examples:
      casework audit
      casework audit 7931a699 --json
      casework audit --digest | tail -1 > digest.txt
      casework audit --expect-digest "$(cat digest.txt)"
    """
    app = open_app(db)
    if kind is not None:
        app.workflows.get(kind)  # an unknown kind is a typo, not an empty audit
    selected = [expand_case_id(app, case) for case in cases] or None
    with ReadModel(app) as read_model:
        result = audit(app, selected, kind=kind, also=[ReadModelCheck(read_model)])
    digest = audit_digest(app) if show_digest or expect_digest else None
    if as_json:
        click.echo(to_json({**result.as_dict(), **({"digest": digest} if digest else {})}))
    else:
        for finding in result.findings:
            click.echo(finding_line(finding))
        verdict = _("no findings") if result.clean else finding_count(len(result.findings))
        click.echo(_("audited {cases}, {events}: {verdict}").format(
            cases=case_count(result.cases), events=event_count(result.events),
            verdict=verdict), err=True)
        if show_digest:
            click.echo(digest)
    if expect_digest is not None and not same_digest(expect_digest, digest or ""):
        fail(_("the store no longer matches digest {expected}: it is now {digest}").format(
            expected=expect_digest.strip(), digest=digest), 1)
    return 0 if result.clean else 1
