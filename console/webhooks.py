"""Webhooks: subscribe URLs to events, list them, see the failing deliveries, deliver."""

from __future__ import annotations

import contextlib
import signal
import threading

import click

from projections.i18n import N_, _
from projections.rendering import table
from projections.webhooks import Webhooks

from .options import db_option, json_option, open_app
from .output import to_json, when

SUBSCRIPTION_HEADERS = [N_("id"), N_("url"), N_("events"), N_("personal"), N_("since")]
FAILURE_HEADERS = [N_("delivery"), N_("subscription"), N_("event"), N_("attempts"),
                   N_("status"), N_("error")]


@click.group("webhooks")
def webhooks_group() -> None:
    """Send each event, as signed JSON, to the URLs that subscribed to it.

    Deliveries are made by `casework serve` (unless --no-webhooks) or by `casework webhooks
    deliver --follow`; either may run in several processes at once.
    """


@webhooks_group.command("add")
@click.argument("url")
@click.option("--events", default="*", show_default=True, metavar="PATTERNS",
              help="Which events, as KIND.TRIGGER patterns, comma-separated: "
                   "'petition.*', '*.resolve,*.close', '*'.")
@click.option("--secret", metavar="TEXT", help="The signing secret; default a random one.")
@click.option("--personal", is_flag=True,
              help="Include personal fields, decrypted (an SMS or e-mail notifier).")
@db_option
@json_option
def add_command(url: str, events: str, secret: str | None, personal: bool, db: str | None,
                as_json: bool) -> None:
    """Subscribe URL to the events recorded from now on.

    \b
    Example:
      casework webhooks add https://notify.example.org/casework --events 'petition.*'
    """
    hooks = Webhooks(open_app(db, create=True))
    row = hooks.add(url, events, secret, personal)
    hooks.close()
    if as_json:
        click.echo(to_json({k: row[k] for k in ("id", "url", "events", "secret", "personal")}))
    else:
        click.echo(_("subscription {id}: {url} ({events})").format(id=row["id"], url=url,
                                                                   events=events))
        click.echo(_("secret {secret} (signs each body: Casework-Signature)").format(
            secret=row["secret"]))


@webhooks_group.command("list")
@db_option
@json_option
def list_command(db: str | None, as_json: bool) -> None:
    """The subscriptions (not their secrets)."""
    hooks = Webhooks(open_app(db))
    rows = hooks.subscriptions()
    hooks.close()
    shown = [{k: r[k] for k in ("id", "url", "events", "personal", "created_at")}
             for r in rows]
    if as_json:
        click.echo(to_json(shown))
        return
    click.echo(table([[r["id"], r["url"], r["events"], _("yes") if r["personal"] else _("no"),
                       when(r["created_at"])] for r in shown],
                     [_(header) for header in SUBSCRIPTION_HEADERS]))


@webhooks_group.command("remove")
@click.argument("subscription")
@db_option
def remove_command(subscription: str, db: str | None) -> None:
    """Unsubscribe; its deliveries not made yet are dropped."""
    hooks = Webhooks(open_app(db))
    hooks.remove(subscription)
    hooks.close()
    click.echo(_("removed subscription {subscription}").format(subscription=subscription))


@webhooks_group.command("failures")
@click.option("--retry", is_flag=True, help="Try the given-up deliveries again.")
@db_option
@json_option
def failures_command(retry: bool, db: str | None, as_json: bool) -> None:
    """Deliveries that failed at least once: still retrying (next try), or given up."""
    hooks = Webhooks(open_app(db))
    if retry:
        click.echo(_("{count} given-up deliveries will be tried again").format(
            count=hooks.retry()), err=True)
    rows = hooks.failures()
    hooks.close()
    if as_json:
        click.echo(to_json(rows))
        return
    click.echo(table([[r["id"], r["subscription"], r["event"], str(r["attempts"]),
                       _("given up") if r["gave_up"] else _("next {time}").format(
                           time=f"{r['next_try']:%H:%M:%S}"),
                       r["last_error"] or ""] for r in rows],
                     [_(header) for header in FAILURE_HEADERS]))


@webhooks_group.command("deliver")
@click.option("--follow", is_flag=True, help="Keep delivering until interrupted.")
@click.option("--interval", default=1.0, show_default=True, type=click.FloatRange(0.05, 3600),
              help="Seconds between looks when there is nothing to do.")
@db_option
def deliver_command(follow: bool, interval: float, db: str | None) -> None:
    """Write the deliveries of new events and send those due (once, or --follow)."""
    hooks = Webhooks(open_app(db))
    if follow:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            hooks.follow(stop, interval)
    else:
        written = hooks.catch_up()
        sent = hooks.deliver_due(limit=10_000)
        click.echo(_("{written} new deliveries; {sent} tried; {pending} pending").format(
            written=written, sent=sent, pending=hooks.pending()))
    hooks.close()
