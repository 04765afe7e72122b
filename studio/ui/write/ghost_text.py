"""Ghost-text continuation: the provider interface the editor talks to, and the small pure helpers it uses.

The editor never talks to an engine directly. It calls :meth:`ContinuationProvider.start_continuation` with
the text before and after the cursor; the provider streams new text through ``on_tokens`` and ends with
exactly one of ``on_finished`` or ``on_failed``. All callbacks must arrive on the GUI thread. Once the
editor calls :meth:`ContinuationHandle.cancel` it ignores any further callbacks of that request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol


class ContinuationHandle(Protocol):
    """A running continuation request."""

    def cancel(self) -> None:
        """Stop generating; may be called more than once and after the request ended."""
        ...


class ContinuationProvider(Protocol):
    """Something that continues text: the lead implements it on top of the engine job runner."""

    def start_continuation(
        self,
        prefix: str,
        suffix: str,
        on_tokens: Callable[[str], None],
        on_finished: Callable[[], None],
        on_failed: Callable[[str], None],
    ) -> ContinuationHandle:
        """Start continuing ``prefix`` (the text before the cursor; ``suffix`` is the text after it).

        ``on_tokens(text)`` receives each new piece of the suggestion, ``on_finished()`` or
        ``on_failed(message)`` ends the request. All callbacks arrive on the GUI thread.
        """
        ...


class SuggestionState(StrEnum):
    """What the editor's suggestion machinery is doing, for the status bar."""

    IDLE = "idle"
    """No request is running (a finished suggestion may still be shown)."""
    WAITING = "waiting"
    """A request is running and no text has arrived yet."""
    STREAMING = "streaming"
    """Suggestion text is arriving."""
    EMPTY = "empty"
    """The last request returned nothing but whitespace, so nothing is shown (until the next request)."""


_WORD = re.compile(r"\s*(?:\w+(?:['’-]\w+)*|[^\w\s]+)?")


def next_word(suggestion: str) -> str:
    """What accept-word takes from ``suggestion``: leading whitespace plus one word (or punctuation run)."""
    match = _WORD.match(suggestion)
    return match.group(0) if match and match.group(0) else suggestion[:1]


def utf16_len(text: str) -> int:
    """The length of ``text`` in UTF-16 code units, the unit of Qt text positions."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def qt_to_py_index(text: str, qt_position: int) -> int:
    """Convert a Qt (UTF-16) position in ``text`` to a Python string index."""
    if qt_position <= 0:
        return 0
    if text.isascii():
        return min(qt_position, len(text))
    head = text.encode("utf-16-le", "surrogatepass")[: 2 * qt_position]
    return len(head.decode("utf-16-le", "surrogatepass"))


def py_to_qt_index(text: str, index: int) -> int:
    """Convert a Python string index in ``text`` to a Qt (UTF-16) position."""
    return index if text.isascii() else utf16_len(text[:index])


class ProvenanceRanges:
    """Half-open ranges ``[start, end)`` of document positions whose text came from accepted suggestions.

    :meth:`apply_change` keeps them in step with edits: text inserted inside a range splits it (the user
    wrote that part), removed text shrinks it, and empty ranges disappear.
    """

    def __init__(self) -> None:
        self._ranges: list[tuple[int, int]] = []

    def __bool__(self) -> bool:
        return bool(self._ranges)

    def ranges(self) -> list[tuple[int, int]]:
        """The ranges, sorted and non-overlapping."""
        return list(self._ranges)

    def clear(self) -> None:
        """Forget every range."""
        self._ranges.clear()

    def add(self, start: int, end: int) -> None:
        """Mark ``[start, end)``, merging with ranges it touches or overlaps."""
        if end <= start:
            return
        merged: list[tuple[int, int]] = []
        for low, high in sorted([*self._ranges, (start, end)]):
            if merged and low <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], high))
            else:
                merged.append((low, high))
        self._ranges = merged

    def apply_change(self, position: int, removed: int, added: int) -> bool:
        """Update for ``removed`` characters replaced by ``added`` at ``position``; True if anything moved."""
        if not self._ranges:
            return False
        delta = added - removed
        change_end = position + removed
        updated: list[tuple[int, int]] = []
        for start, end in self._ranges:
            if change_end <= start:
                updated.append((start + delta, end + delta))
            elif position >= end:
                updated.append((start, end))
            else:
                if start < position:
                    updated.append((start, position))
                if change_end < end:
                    updated.append((position + added, end + delta))
        cleaned = [(s, e) for s, e in updated if e > s]
        changed = cleaned != self._ranges
        self._ranges = cleaned
        return changed


def normalize_tokens(text: str, after_cr: bool) -> tuple[str, bool]:
    """Turn streamed text into editor text (``\\n`` newlines), even when ``\\r\\n`` is split across pieces.

    ``after_cr`` says whether the previous piece ended with ``\\r``; returns the text and the new flag.
    """
    if after_cr and text.startswith("\n"):
        text, after_cr = text[1:], False
    if not text:
        return "", after_cr
    ends_cr = text.endswith("\r")
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2029", "\n").replace("\x00", "")
    return text, ends_cr
