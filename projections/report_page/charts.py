"""Vega-Lite specifications of the page's charts, as plain dictionaries.

The specs are small and few, so they are written as the JSON Vega-Lite reads, without
Altair on the install path; the tests validate every one against Altair's copy of the
Vega-Lite schema. Every chart fills its container's width, draws in SVG, and names its
values in a tooltip.
"""

from __future__ import annotations

from typing import Any

from .bundle import SCHEMA

FONT = ('system-ui, -apple-system, "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", '
        '"WenQuanYi Micro Hei", sans-serif')
HEIGHT = 220
CONFIG: dict[str, Any] = {
    "font": FONT,
    "view": {"stroke": None},
    "axis": {"labelFontSize": 11, "titleFontSize": 12, "labelLimit": 160},
    "legend": {"labelFontSize": 11, "titleFontSize": 12, "orient": "bottom",
               "direction": "horizontal", "columns": 3, "labelLimit": 110},
}
VERDICT_COLOURS = ["#4c9a2a", "#f0a202", "#d62828"]
"""Met, late, open overdue."""


def chart(values: list[dict[str, Any]], mark: dict[str, Any], encoding: dict[str, Any],
          description: str, height: int = HEIGHT) -> dict[str, Any]:
    """One chart over inline ``values``: as wide as its container, ``height`` pixels high."""
    return {
        "$schema": SCHEMA,
        "description": description,
        "data": {"values": values},
        "mark": mark,
        "encoding": encoding,
        "width": "container",
        "height": height,
        "autosize": {"type": "fit-x", "contains": "padding"},
        "config": CONFIG,
    }


def field(name: str, kind: str, title: str, **more: Any) -> dict[str, Any]:
    return {"field": name, "type": kind, "title": title, **more}


def bars(values: list[dict[str, Any]], category: tuple[str, str], count: tuple[str, str],
         description: str, *, horizontal: bool = False, order: list[str] | None = None,
         height: int = HEIGHT) -> dict[str, Any]:
    """Bars of one count per category: ``category`` and ``count`` are (field, title); the
    categories keep their order in ``values`` unless ``order`` is given."""
    name, name_title = category
    number, number_title = count
    axis = {"labelAngle": 0} if not horizontal else {}
    along = field(name, "nominal", name_title, sort=order or None, axis=axis)
    amount = field(number, "quantitative", number_title)
    encoding = {"y": along, "x": amount} if horizontal else {"x": along, "y": amount}
    encoding["tooltip"] = [field(name, "nominal", name_title),
                           field(number, "quantitative", number_title)]
    if horizontal:
        height = max(height, 22 * len(values))
    return chart(values, {"type": "bar"}, encoding, description, height)
