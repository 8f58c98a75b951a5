"""The typed fields a trigger takes, and how raw input becomes a stored value.

Input arrives as Python values (the library) or as text (the CLI, imports); ``FieldSpec.coerce``
accepts both and returns the one canonical value stored in the event, or raises InvalidField
naming the field and what is allowed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from .errors import InvalidField
from .organisation import Organisation
from .timestamps import parse_time

FIELD_TYPES = ("string", "text", "integer", "number", "boolean", "choice", "datetime", "unit",
               "case")
MAX_LENGTH = {"string": 200, "text": 4000}
"""Documented size limits of free text, in characters."""

_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    required: bool = False
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    personal: bool = False
    """It identifies a person: stored encrypted under their key (see casework.personal)."""
    contact: bool = False
    """How to reach the petitioner: listed for the revisit team (see casework.jobs.sweep)."""
    description: str = ""

    def describe(self) -> str:
        """What the field accepts, in words, for help and error messages."""
        if self.type == "choice":
            return "one of " + ", ".join(self.choices)
        if self.type in ("integer", "number") and (self.min is not None
                                                   or self.max is not None):
            low = "" if self.min is None else str(self.min)
            high = "" if self.max is None else str(self.max)
            return f"{'an integer' if self.type == 'integer' else 'a number'} {low}..{high}"
        if self.type in MAX_LENGTH:
            return f"text of at most {MAX_LENGTH[self.type]} characters"
        return {
            "integer": "an integer",
            "number": "a number",
            "boolean": "true or false",
            "datetime": "an ISO 8601 time",
            "unit": "a unit path of the organisation",
            "case": "a case id (UUID)",
        }[self.type]

    def coerce(self, value: Any, organisation: Organisation | None = None) -> Any:
        try:
            return _COERCERS[self.type](self, value, organisation)
        except InvalidField:
            raise
        except (ValueError, TypeError) as error:
            raise InvalidField(self.name, f"{error}; expected {self.describe()}") from None


_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
"""Unicode's control characters (category Cc) and lone surrogates (Cs): one search per
value instead of a category lookup per character (a tenth of an import's time)."""
_FORBIDDEN_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
"""The same, but free text keeps its tabs and line breaks."""


def forbidden_character(text: str, *, free_text: bool = False) -> str | None:
    """The first control character or lone surrogate in ``text``, or None; ``free_text``
    may keep its tabs and line breaks."""
    found = (_FORBIDDEN_IN_TEXT if free_text else _FORBIDDEN).search(text)
    return None if found is None else found.group()


def _text(spec: FieldSpec, value: Any, _: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not text")
    limit = MAX_LENGTH.get(spec.type, MAX_LENGTH["string"])
    if len(value) > limit:
        raise ValueError(f"{len(value)} characters is over the limit of {limit}")
    forbidden = forbidden_character(value, free_text=spec.type == "text")
    if forbidden is not None:
        raise ValueError(f"control or invalid character {forbidden!r}")
    if spec.required and not value.strip():
        raise ValueError("must not be blank")
    return value


def _integer(spec: FieldSpec, value: Any, _: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{value!r} is not an integer")
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:  # Python's "invalid literal for int() with base 10" says less
            raise ValueError(f"{value!r} is not a whole number") from None
    if not isinstance(value, int):
        raise TypeError(f"{value!r} is not an integer")
    if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
        raise ValueError(f"{value} is out of range")
    if not -2**63 <= value < 2**63:  # what a database integer holds, whatever the workflow says
        raise ValueError("out of range: more than 64 bits")
    return value


def _number(spec: FieldSpec, value: Any, _: Any) -> float:
    """A decimal number (coordinates, amounts), stored as a float: finite, within range."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"{value!r} is not a number")
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except OverflowError:  # an integer too big for a float
        raise ValueError("out of range: too large for a number") from None
    except ValueError:  # Python's "could not convert string to float" says less
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    if (spec.min is not None and number < spec.min) or (spec.max is not None
                                                         and number > spec.max):
        raise ValueError(f"{number} is out of range")
    return number


def _boolean(spec: FieldSpec, value: Any, _: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"{value!r} is not a boolean")


def _choice(spec: FieldSpec, value: Any, _: Any) -> str:
    if not isinstance(value, str) or value not in spec.choices:
        raise ValueError(f"{value!r} is not allowed")
    return value


def _datetime(spec: FieldSpec, value: Any, _: Any) -> Any:
    return parse_time(value)


def _unit(spec: FieldSpec, value: Any, organisation: Organisation | None) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not a unit path")
    path = value.strip().strip("/")
    if organisation is not None and path not in organisation:
        raise InvalidField(spec.name, organisation.unknown(value))
    return path


def _case(spec: FieldSpec, value: Any, _: Any) -> str:
    if isinstance(value, UUID):
        return str(value)
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not a case id")
    try:
        return str(UUID(value.strip()))
    except ValueError:  # Python's "badly formed hexadecimal UUID string" says less
        raise ValueError(f"{value!r} is not a case id (a UUID)") from None


_COERCERS = {
    "string": _text,
    "text": _text,
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "choice": _choice,
    "datetime": _datetime,
    "unit": _unit,
    "case": _case,
}


def coerce_fields(
    specs: Mapping[str, FieldSpec],
    given: Mapping[str, Any],
    organisation: Organisation | None,
    trigger: str,
) -> dict[str, Any]:
    """Check ``given`` against ``specs``: unknown names, missing required fields, types."""
    unknown = sorted(set(given) - set(specs))
    if unknown:
        allowed = ", ".join(specs) or "no fields"
        raise InvalidField(unknown[0], f"{trigger} takes no such field (it takes {allowed})")
    values = {}
    for name, spec in specs.items():
        value = given.get(name)
        if value is None or (isinstance(value, str) and value == "" and spec.type != "text"):
            if spec.required:
                raise InvalidField(name, f"{trigger} requires it ({spec.describe()})")
            continue
        values[name] = spec.coerce(value, organisation)
    return values
