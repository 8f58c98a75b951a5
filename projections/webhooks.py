"""Webhooks: each event, as JSON, to the URLs that subscribed to it, signed, retried until
delivered.

A projection like the read model: an *outbox* follows the notification log with its own
tracking (``webhook_tracking``), and in the same transaction as the position it writes one
delivery row per matching subscription, with an id derived from the subscription and the
event (``delivery_id``). A crash before that commit writes nothing and the page is read again;
so no event is lost, and none gets two deliveries. A *sender* then claims due rows (a lease,
``FOR UPDATE SKIP LOCKED`` on PostgreSQL), POSTs them, and marks them delivered; one that
dies after sending and before marking sends it again later, with the same delivery id, which
receivers use to drop repeats (delivery is at least once). A failed attempt (no answer, or not
2xx) is tried again after a backoff that doubles, up to ``Backoff.attempts``; then it is given
up, and listed with the failing ones by ``casework webhooks failures``.

Each POST carries ``Casework-Delivery`` (the id), ``Casework-Event`` (``kind.trigger``) and
``Casework-Signature: sha256=HEX``, the HMAC-SHA256 of the body under the subscription's
secret. Personal fields are never stored in the outbox (only their ciphertext, as in the
events); a subscription made ``--personal`` (an SMS or e-mail notifier) gets them decrypted
when sent, or ``[erased]``.

The tables have their own MetaData, apart from the read models': rebuilding those must not
send every event again.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import secrets
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from casework import Casework, CaseworkError, InvalidField
from casework.jsonable import json_default
from casework.personal import is_encrypted

from .read_model import decoded

PAGE_SIZE = 500
LEASE = timedelta(seconds=60)
TIMEOUT_SECONDS = 10.0
TRACKING = "webhooks"

metadata = MetaData()
webhook_subscriptions = Table(
    "webhook_subscriptions", metadata,
    Column("id", String(16), primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("events", String(2000), nullable=False),  # patterns, comma-separated
    Column("secret", String(200), nullable=False),
    Column("personal", Boolean, nullable=False),
    Column("after", Integer, nullable=False),  # the events before it are not for it
    Column("created_at", DateTime, nullable=False),
)
webhook_deliveries = Table(
    "webhook_deliveries", metadata,
    Column("id", String(36), primary_key=True),
    Column("subscription", String(16), nullable=False, index=True),
    Column("notification_id", Integer, nullable=False),
    Column("event", String(200), nullable=False),
    Column("payload", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_try", DateTime, nullable=False, index=True),
    Column("lease_until", DateTime),
    Column("delivered_at", DateTime),
    Column("gave_up", Boolean, nullable=False),
    Column("last_error", String(500)),
)
webhook_tracking = Table(
    "webhook_tracking", metadata,
    Column("name", String(40), primary_key=True),
    Column("notification_id", Integer, nullable=False),
)


class UnknownSubscription(CaseworkError):
    exit_code = 3


@dataclass(frozen=True)
class Backoff:
    """How long after the n-th failed attempt the next one is: ``first × 2ⁿ⁻¹``, at most
    ``longest``; after ``attempts`` failures the delivery is given up."""

    first: float = 2.0
    longest: float = 3600.0
    attempts: int = 15

    def after(self, failures: int) -> timedelta:
        return timedelta(seconds=min(self.first * 2 ** (failures - 1), self.longest))


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def delivery_id(subscription: str, notification_id: int) -> str:
    """The same event to the same subscription: always the same id."""
    return str(uuid5(NAMESPACE_URL, f"casework-webhook:{subscription}:{notification_id}"))


def signature(secret: str, body: bytes) -> str:
    """What ``Casework-Signature`` says: a receiver computes it too, and compares."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def matches(patterns: str, event: str) -> bool:
    """``petition.resolve`` against ``petition.*,*.open`` and the like (``*``: every one)."""
    return any(fnmatch.fnmatchcase(event, p.strip()) for p in patterns.split(",") if p.strip())


class Webhooks:
    """The subscriptions, outbox and sender of one Casework application's database."""

    def __init__(self, app: Casework, backoff: Backoff | None = None) -> None:
        self.app = app
        self.backoff = backoff or Backoff()
        self.engine = app.storage.sqlalchemy_engine(writer=True)
        self._kinds: dict[Any, str] = {}
        app.storage.change_tables(self.engine, self._create)

    def _create(self, conn: Connection) -> None:
        metadata.create_all(conn)
        if conn.execute(select(webhook_tracking.c.name)).first() is None:
            conn.execute(insert(webhook_tracking).values(name=TRACKING, notification_id=0))

    def close(self) -> None:
        self.engine.dispose()

    # Subscriptions -------------------------------------------------------------------

    def add(self, url: str, events: str = "*", secret: str | None = None,
            personal: bool = False) -> dict[str, Any]:
        """Subscribe ``url`` to the events recorded from now on that match ``events``."""
        if not url.startswith(("http://", "https://")) or len(url) > 2000 \
                or not url.isprintable():
            raise InvalidField("url", f"not an http(s) URL: {url!r}")
        if not events.strip() or len(events) > 2000 or not events.isprintable():
            raise InvalidField("--events",
                               f"not event patterns: {events!r} (e.g. 'petition.*,*.open')")
        row = {"id": secrets.token_hex(4), "url": url, "events": events,
               "secret": secret or secrets.token_urlsafe(32), "personal": personal,
               "after": self.app.recorded_events(), "created_at": _now()}
        with self.engine.begin() as conn:
            conn.execute(insert(webhook_subscriptions).values(**row))
        return row

    def subscriptions(self) -> list[dict[str, Any]]:
        with self.engine.begin() as conn:
            return [dict(r._mapping) for r in conn.execute(
                select(webhook_subscriptions).order_by(webhook_subscriptions.c.created_at))]

    def remove(self, subscription: str) -> None:
        """Unsubscribe; its deliveries not made yet are dropped."""
        with self.engine.begin() as conn:
            gone = conn.execute(delete(webhook_subscriptions).where(
                webhook_subscriptions.c.id == subscription))
            if gone.rowcount != 1:
                raise UnknownSubscription(f"unknown subscription {subscription}")
            conn.execute(delete(webhook_deliveries).where(
                webhook_deliveries.c.subscription == subscription,
                webhook_deliveries.c.delivered_at.is_(None)))

    # The outbox ----------------------------------------------------------------------

    def catch_up(self) -> int:
        """Write the deliveries of every event not looked at yet; returns how many."""
        written = 0
        while True:
            count, done = self._next_page()
            written += count
            if done:
                return written

    def _next_page(self) -> tuple[int, bool]:
        c = webhook_tracking.c
        with self.engine.begin() as conn:
            position = int(conn.execute(select(c.notification_id).where(
                c.name == TRACKING).with_for_update()).scalar() or 0)
            notifications = self.app.recorder.select_notifications(
                start=position, limit=PAGE_SIZE, inclusive_of_start=False)
            if not notifications:
                return 0, True
            subscriptions = conn.execute(select(webhook_subscriptions)).all()
            rows = []
            for notification in notifications:
                if not subscriptions:
                    break
                event = decoded(self.app, notification)
                name = f"{self._kind(event)}.{event.trigger}"
                rows += [self._delivery(s, notification.id, name, event)
                         for s in subscriptions
                         if notification.id > s.after and matches(s.events, name)]
            if rows:
                conn.execute(insert(webhook_deliveries), rows)
            conn.execute(update(webhook_tracking).where(c.name == TRACKING).values(
                notification_id=notifications[-1].id))
        return len(rows), len(notifications) < PAGE_SIZE

    def _kind(self, event: Any) -> str:
        kind = getattr(event, "kind", None)
        if kind is None:
            kind = self._kinds.get(event.originator_id)
            if kind is None:
                first = self.app.recorder.select_events(event.originator_id, limit=1)
                kind = decoded(self.app, first[0]).kind
        if len(self._kinds) > 10_000:
            self._kinds.clear()
        self._kinds[event.originator_id] = kind
        return kind

    def _delivery(self, subscription: Any, notification_id: int, name: str, event: Any
                  ) -> dict[str, Any]:
        identifier = delivery_id(subscription.id, notification_id)
        fields = {k: v for k, v in event.fields.items() if not is_encrypted(v)}
        payload = {
            "delivery_id": identifier, "subscription": subscription.id, "event": name,
            "notification_id": notification_id, "case": str(event.originator_id),
            "kind": name.partition(".")[0], "sequence": event.originator_version,
            "trigger": event.trigger, "from_state": getattr(event, "from_state", None),
            "to_state": event.to_state, "stage": event.to_stage, "at": event.at,
            "recorded_at": event.timestamp, "actor": event.actor_id, "role": event.role,
            "fields": fields, "changes": dict(event.changes),
            "personal": {k: v for k, v in event.fields.items() if is_encrypted(v)},
        }
        return {"id": identifier, "subscription": subscription.id,
                "notification_id": notification_id, "event": name,
                "payload": json.dumps(payload, default=json_default, ensure_ascii=False),
                "attempts": 0, "next_try": _now(), "lease_until": None,
                "delivered_at": None, "gave_up": False, "last_error": None}

    # Sending -------------------------------------------------------------------------

    def deliver_due(self, limit: int = 50) -> int:
        """Send the deliveries due now (claimed under a lease); returns how many were
        tried."""
        claimed = self._claim(limit)
        for row, subscription in claimed:
            error = self._post(row, subscription)
            self._record(row, error)
        return len(claimed)

    def _claim(self, limit: int) -> list[tuple[Any, Any]]:
        d = webhook_deliveries.c
        now = _now()
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(webhook_deliveries)
                .where(d.delivered_at.is_(None), d.gave_up.is_(False), d.next_try <= now,
                       or_(d.lease_until.is_(None), d.lease_until < now))
                .order_by(d.next_try, d.notification_id).limit(limit)
                .with_for_update(skip_locked=True)).all()
            if not rows:
                return []
            conn.execute(update(webhook_deliveries).where(d.id.in_([r.id for r in rows]))
                         .values(lease_until=now + LEASE))
            subscriptions = {s.id: s for s in conn.execute(select(webhook_subscriptions))}
        return [(row, subscriptions[row.subscription]) for row in rows
                if row.subscription in subscriptions]

    def body(self, row: Any, subscription: Any) -> bytes:
        payload = json.loads(row.payload)
        encrypted = payload.pop("personal")
        if subscription.personal and encrypted:
            self.app.personal.drop_cache()  # a person forgotten meanwhile reads as erased
            payload["fields"].update(self.app.personal.reveal(encrypted))
        return json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()

    def _post(self, row: Any, subscription: Any) -> str | None:
        """None when the receiver took it (2xx); else what went wrong."""
        body = self.body(row, subscription)
        request = urllib.request.Request(subscription.url, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": "casework-webhooks",
            "Casework-Delivery": row.id, "Casework-Event": row.event,
            "Casework-Signature": signature(subscription.secret, body)})
        try:
            with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
                response.read()
            return None
        except urllib.error.HTTPError as error:
            return f"HTTP {error.code}"
        except (OSError, ValueError) as error:  # refused, reset, timed out, bad URL
            return f"{type(error).__name__}: {getattr(error, 'reason', error)}"[:500]

    def _record(self, row: Any, error: str | None) -> None:
        d = webhook_deliveries.c
        now = _now()
        if error is None:
            values: dict[str, Any] = {"delivered_at": now, "lease_until": None,
                                      "attempts": row.attempts + 1}
        else:
            failures = row.attempts + 1
            values = {"attempts": failures, "last_error": error, "lease_until": None,
                      "next_try": now + self.backoff.after(failures),
                      "gave_up": failures >= self.backoff.attempts}
        with self.engine.begin() as conn:
            conn.execute(update(webhook_deliveries).where(d.id == row.id).values(**values))

    def failures(self) -> list[dict[str, Any]]:
        """Deliveries not made that failed at least once: retrying, or given up."""
        d = webhook_deliveries.c
        with self.engine.begin() as conn:
            return [dict(r._mapping) for r in conn.execute(
                select(d.id, d.subscription, d.event, d.notification_id, d.attempts,
                       d.next_try, d.gave_up, d.last_error)
                .where(d.delivered_at.is_(None), d.attempts > 0)
                .order_by(d.notification_id))]

    def retry(self) -> int:
        """Try every given-up delivery again from now; returns how many."""
        d = webhook_deliveries.c
        with self.engine.begin() as conn:
            return conn.execute(update(webhook_deliveries).where(d.gave_up.is_(True)).values(
                gave_up=False, attempts=0, next_try=_now())).rowcount

    def pending(self) -> int:
        d = webhook_deliveries.c
        with self.engine.begin() as conn:
            return int(conn.execute(select(func.count()).where(
                d.delivered_at.is_(None), d.gave_up.is_(False))).scalar() or 0)

    def follow(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Catch up and send, again and again, until ``stop`` is set."""
        while not stop.is_set():
            self.catch_up()
            if not self.deliver_due():
                stop.wait(interval)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a receiver that redirects has not taken the delivery


_OPENER = urllib.request.build_opener(_NoRedirect)
