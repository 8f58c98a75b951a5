"""JSON for the values the engine holds: times as ISO 8601 text, ids as their usual text."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID


def json_default(value: Any) -> Any:
    """``json.dumps``'s ``default``: what JSON has no type for, as text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def canonical_json(value: Any) -> str:
    """One text for one value, whatever the order of its keys: what a hash is taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=json_default)
