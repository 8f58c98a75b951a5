"""The revisit questionnaire (回访): what a return visit to the petitioner records, and what
its answers mean for the case and for the three rates (三率) units are assessed by.

A revisit's fields (all optional, so that revisits recorded before the questionnaire, with
only a 1–5 score, stay valid events):

- ``valid``: the petitioner was reached and answered (a visit nobody answered is not counted);
- ``contacted``: the petitioner says the unit contacted them (响应);
- ``solved``: the petitioner says the problem is solved (解决);
- ``rating``: satisfaction on the official three levels, ``satisfied`` 满意,
  ``basically_satisfied`` 基本满意, ``unsatisfied`` 不满意;
- ``satisfaction``: the older 1–5 score, mapped onto the three levels by the workflow's
  ``score_levels`` setting when no ``rating`` is given;
- ``comment``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SATISFIED, BASICALLY_SATISFIED, UNSATISFIED = "satisfied", "basically_satisfied", "unsatisfied"
LEVELS = (SATISFIED, BASICALLY_SATISFIED, UNSATISFIED)
"""The official levels 满意, 基本满意, 不满意, best first."""
LEVEL_TITLES = {SATISFIED: "满意", BASICALLY_SATISFIED: "基本满意", UNSATISFIED: "不满意"}
ANSWERS = ("valid", "contacted", "solved", "rating")
"""The questionnaire's own fields: a revisit with none of them is one from before it."""
SCORE_LEVELS_SETTING = "score_levels"
DEFAULT_SCORE_LEVELS = {SATISFIED: 4, BASICALLY_SATISFIED: 3}
"""The lowest 1–5 score of each level (below both: unsatisfied): 4–5 satisfied, 3 basically
satisfied, 1–2 unsatisfied, so that a score of 1 or 2 reopens a case as it always did."""


def satisfaction_level(fields: Mapping[str, Any], settings: Mapping[str, Any]) -> str | None:
    """The level a revisit's answers give: its ``rating``, else its score mapped by the
    workflow's ``score_levels`` (None when it gives neither)."""
    rating = fields.get("rating")
    if rating in LEVELS:
        return str(rating)
    score = fields.get("satisfaction")
    if score is None:
        return None
    lowest = {**DEFAULT_SCORE_LEVELS, **settings.get(SCORE_LEVELS_SETTING, {})}
    if int(score) >= lowest[SATISFIED]:
        return SATISFIED
    return BASICALLY_SATISFIED if int(score) >= lowest[BASICALLY_SATISFIED] else UNSATISFIED


def reached(fields: Mapping[str, Any]) -> bool:
    """Whether the visit reached the petitioner (not marked ``valid = false``)."""
    return fields.get("valid") is not False


def counts_for_rates(fields: Mapping[str, Any]) -> bool:
    """Whether the visit is a valid one for the three rates: the questionnaire was answered
    (it says ``valid``, or answers ``solved``) and the petitioner was reached. A revisit from
    before the questionnaire (a score only) is not: nobody asked whether it was solved."""
    answered = "valid" in fields or "solved" in fields
    return answered and reached(fields)


def sends_back(fields: Mapping[str, Any], settings: Mapping[str, Any]) -> bool:
    """A visit that reached the petitioner sends the case back to the unit that resolved it
    when the problem is not solved or the petitioner is unsatisfied (不满意重办)."""
    if not reached(fields):
        return False
    if fields.get("solved") is False:
        return True
    return satisfaction_level(fields, settings) == UNSATISFIED
