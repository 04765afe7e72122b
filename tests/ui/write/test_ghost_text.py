"""Pure helpers behind ghost text: word acceptance, UTF-16 positions, provenance ranges, token newlines."""

from __future__ import annotations

import pytest

from studio.ui.write.ghost_text import (
    ProvenanceRanges,
    next_word,
    normalize_tokens,
    py_to_qt_index,
    qt_to_py_index,
    utf16_len,
)


@pytest.mark.parametrize(
    ("suggestion", "word"),
    [
        (" hello world", " hello"),
        ("hello world", "hello"),
        (", and more", ","),
        ("\n\nNext", "\n\nNext"),
        (" don't stop", " don't"),
        ("   ", "   "),
        ("...", "..."),
    ],
)
def test_next_word(suggestion: str, word: str) -> None:
    assert next_word(suggestion) == word


def test_utf16_positions_round_trip() -> None:
    text = "a😀b\nc"
    assert utf16_len(text) == 6
    assert qt_to_py_index(text, 3) == 2  # after the emoji
    assert py_to_qt_index(text, 2) == 3
    assert qt_to_py_index("plain", 3) == 3


def test_provenance_ranges_follow_changes() -> None:
    ranges = ProvenanceRanges()
    ranges.add(10, 20)
    ranges.add(20, 25)  # touching ranges merge
    assert ranges.ranges() == [(10, 25)]

    assert ranges.apply_change(0, 0, 5)  # insert before: shift
    assert ranges.ranges() == [(15, 30)]
    assert not ranges.apply_change(30, 0, 3)  # insert right after: not AI text
    assert not ranges.apply_change(40, 2, 0)  # change after: untouched
    ranges.apply_change(15, 0, 2)  # insert at the start: shift, the new text is not AI
    assert ranges.ranges() == [(17, 32)]
    ranges.apply_change(20, 0, 4)  # insert inside: split
    assert ranges.ranges() == [(17, 20), (24, 36)]
    ranges.apply_change(18, 8, 0)  # delete across the gap
    assert ranges.ranges() == [(17, 18), (18, 28)]
    ranges.apply_change(10, 30, 1)  # replace everything
    assert ranges.ranges() == []
    assert not ranges


def test_normalize_tokens_joins_split_crlf() -> None:
    text, after_cr = normalize_tokens("a\r", False)
    assert (text, after_cr) == ("a\n", True)
    text, after_cr = normalize_tokens("\nb\r\nc", after_cr)
    assert (text, after_cr) == ("b\nc", False)
    assert normalize_tokens("\n", False) == ("\n", False)
