"""A case of ten thousand events: loading it, seeing it as it was, reading its history.

| figure | baseline | target |
|---|---|---|
| load it (snapshots every 50; 49 events after the last) | the same without snapshots | ≤ 5 ms |
| ``get_case(as_of=...)`` at times across its life | ``get_case()`` now | ≤ 5 ms |
| a page of its history (``history(after=, limit=)``) | ``get_case()`` now | ≤ 5 ms |
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from casework import Casework

from .figures import CLERK, HANDLER, LIFECYCLE, OPENING, Log
from .fixtures import Fixtures, url_of
from .harness import Result, Sample, Scale, alternate, compare, median, timed
from .residents import YEAR_START

PAGE = 50
"""Entries in a page of the history: what ``casework history --page`` shows."""
MOMENTS = 10
"""Business times at which the case is seen, spread over its life."""


def long_case(scale: Scale, fixtures: Fixtures, log: Log) -> list[Result]:
    path = fixtures.fresh("long-case")
    app = Casework(url_of(path))
    events = scale.load_events + 49  # 49 events after the last snapshot: the most replayed
    case_id = _record(app, events)
    plain = Casework(url_of(path), snapshot_interval=None)
    assert app.get_case(case_id).events == events

    def repeatedly(action: Callable[[], object]) -> Callable[[], Sample]:
        def run() -> Sample:
            samples = [timed(action) for _ in range(scale.loads)]
            return Sample(median([s.value for s in samples]) * 1e3,
                          median([s.cpu or 0.0 for s in samples]) * 1e3)
        return run

    now = repeatedly(lambda: app.get_case(case_id))
    results = []
    ours, theirs = alternate(scale.reps, now, lambda: Sample(*(
        1e3 * x for x in _pair(timed(lambda: plain.get_case(case_id))))))
    results.append(compare(
        f"load a case of {events:,} events (snapshots every 50; 49 after the last)",
        "the same without snapshots", ours, theirs, "ms", "time", "≤ 5 ms",
        lambda value: value <= 5.0, on=lambda value: value))

    moments = [YEAR_START + timedelta(minutes=events * k // MOMENTS + 0.5)
               for k in range(MOMENTS)]
    ours, theirs = alternate(scale.reps, repeatedly(
        lambda: [app.get_case(case_id, as_of=moment) for moment in moments]), now)
    ours = [Sample(s.value / MOMENTS, (s.cpu or 0.0) / MOMENTS) for s in ours]
    results.append(compare(
        f"get_case(as_of=) of the same case, at {MOMENTS} times across its life",
        "get_case() now", ours, theirs, "ms", "time", "≤ 5 ms",
        lambda value: value <= 5.0, on=lambda value: value))

    middle = events // 2
    whole = timed(lambda: app.history(case_id)).value
    ours, theirs = alternate(scale.reps, repeatedly(
        lambda: app.history(case_id, after=middle, limit=PAGE)), now)
    results.append(compare(
        f"a page of its history ({PAGE} entries after entry {middle:,})", "get_case() now",
        ours, theirs, "ms", "time", "≤ 5 ms", lambda value: value <= 5.0,
        f"the whole history at once: {whole * 1e3:.0f} ms", on=lambda value: value))
    app.close()
    plain.close()
    for result in results:
        log(f"long case: {result.figure}: {result.value:.2f} ms vs "
            f"{result.baseline_value:.2f} ms")
    return results


def _pair(sample: Sample) -> tuple[float, float]:
    return sample.value, sample.cpu or 0.0


def _record(app: Casework, events: int) -> object:
    """A resident's petition in progress, then notes: an event a minute from YEAR_START."""
    def at(n: int) -> object:
        return YEAR_START + timedelta(minutes=n)

    case_id = app.open_case("petition", CLERK, at(0), **OPENING)
    for n, (trigger, actor, fields) in enumerate(LIFECYCLE[:3], start=1):
        app.fire(case_id, trigger, actor, at(n), **fields)
    batch = app.batch()
    for n in range(4, events):
        batch.fire(case_id, "note", HANDLER, at(n), note=f"call {n}")
    batch.commit()
    return case_id
