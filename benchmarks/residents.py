"""Petitions as residents bring them: each with the petitioner's name, phone and address
(personal fields, encrypted under a key of that resident's own), recorded through the engine.

The NYC 311 sample has no personal data (the city does not publish who called), so the
stores of the memory, rebuild, sweep and history figures are made here instead: a year of
Guanlan petitions, one new resident each, taken as far through their life as the figure
needs. Drawn from a counter, not a random generator: the same count gives the same cases.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from casework import Actor, Casework
from casework.batch import Batch

SHENZHEN = timezone(timedelta(hours=8))
YEAR_START = datetime(2024, 1, 1, 8, 0, tzinfo=SHENZHEN)
YEAR_MINUTES = 365 * 24 * 60 - 7 * 24 * 60
"""Openings spread over the year, the last a week before it ends (closed by then)."""
CLERK = Actor("intake-desk", roles=["intake", "assessor", "dispatcher"])
HANDLER = Actor("handler", roles=["handler"])
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国红玉梅"
COMMUNITIES = ("guancheng", "xinlan", "junzibu", "kukeng", "dashuikeng", "guihua",
               "songyuansha", "niuhu", "liguang", "zhangkengjing")
"""Guanlan's ten communities (workflows/organisation/guanlan.csv)."""
CATEGORIES = ("road_facilities", "sanitation", "noise", "housing", "parking", "drainage")
BATCH_CASES = 500
"""Cases per transaction while a store is made."""
EVENTS_OPEN, EVENTS_CLOSED = 4, 6
"""The events of a petition left in progress, and of one closed."""


def resident(n: int) -> dict[str, str]:
    """The personal fields of resident ``n``: as long and as varied as real ones."""
    surname = SURNAMES[n % len(SURNAMES)]
    given = GIVEN[(n // 7) % len(GIVEN)] + GIVEN[(n // 11) % len(GIVEN)]
    community = COMMUNITIES[n % len(COMMUNITIES)]
    return {"petitioner": surname + given,
            "phone": f"1{3 + n % 7}{(n * 7_919) % 10**9:09d}",
            "address": f"观澜街道{community}社区{n % 60 + 1}栋{n % 30 + 1:02d}{n % 4 + 1:02d}室"}


def record_petitions(app: Casework, count: int, *, still_open: Callable[[int], bool],
                     start: int = 0, progress: Callable[[int], None] | None = None) -> int:
    """Record ``count`` petitions through the engine's batches, each from a new resident;
    petition ``n`` stays in progress (and long overdue by 2025) when ``still_open(n)``,
    else it is resolved and closed (due a revisit). Returns how many events were stored."""
    events = 0
    batch = app.batch(size=BATCH_CASES)
    for n in range(start, start + count):
        events += _petition(batch, n, still_open(n))
        if progress is not None:
            progress(1)
    batch.commit()
    return events


def _petition(batch: Batch, n: int, still_open: bool) -> int:
    community = f"guanlan/{COMMUNITIES[n % len(COMMUNITIES)]}"
    at = YEAR_START + timedelta(minutes=(n * 7_907) % YEAR_MINUTES)
    category = CATEGORIES[n % len(CATEGORIES)]
    case_id = batch.open_case("petition", CLERK, at, channel="hotline",
                              title=f"{category} near building {n % 60 + 1}",
                              location=community, **resident(n))
    batch.fire(case_id, "assess", CLERK, at + timedelta(minutes=5), grade="B",
               category=category)
    batch.fire(case_id, "dispatch", CLERK, at + timedelta(minutes=10), unit=community)
    handler = Actor(HANDLER.id, roles=HANDLER.roles, unit=community)
    batch.fire(case_id, "accept", handler, at + timedelta(minutes=30))
    if still_open:
        return EVENTS_OPEN
    batch.fire(case_id, "resolve", handler, at + timedelta(days=1), resolution="done")
    batch.fire(case_id, "close", CLERK, at + timedelta(days=2), confirmed_by="petitioner")
    return EVENTS_CLOSED
