"""The faster paths of issue 20 give the answers the slower ones gave: the same lines
rejected with the same reasons, the same keys restored, the same read model rebuilt."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from casework.transfer.importing import invalid_utf8


def invalid_utf8_by_loop(text: str) -> str | None:
    """The check as it was, one character at a time in Python."""
    for column, char in enumerate(text, start=1):
        if "\udc80" <= char <= "\udcff":
            return f"not valid UTF-8 (byte 0x{ord(char) - 0xDC00:02x} at character {column})"
    return None


ESCAPED_BYTES = st.integers(0x80, 0xFF).map(lambda byte: chr(0xDC00 + byte))
SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)


@given(st.lists(st.one_of(st.text(), ESCAPED_BYTES, SURROGATES)).map("".join))
def test_the_utf8_check_says_what_the_loop_over_characters_said(text: str) -> None:
    assert invalid_utf8(text) == invalid_utf8_by_loop(text)


def test_a_line_read_from_bytes_that_are_not_utf8_names_the_first_bad_byte() -> None:
    line = b'{"id": "caf\xc3\xa9 \xff\xfe"}\n'.decode("utf-8", errors="surrogateescape")
    assert invalid_utf8(line) == "not valid UTF-8 (byte 0xff at character 14)"
    assert invalid_utf8('{"id": "café"}') is None
