"""Word-level differences between a selection and its revision, for the inline diff."""

from __future__ import annotations

import difflib
import re
from typing import Literal

Op = Literal["equal", "delete", "insert"]

_TOKEN = re.compile(r"\s+|\w+(?:['’]\w+)*|[^\w\s]")


def tokens(text: str) -> list[str]:
    """``text`` cut into words, runs of whitespace and single punctuation marks (joined, they give it back)."""
    return _TOKEN.findall(text)


def word_diff(old: str, new: str) -> list[tuple[Op, str]]:
    """The edit from ``old`` to ``new`` as ``(op, text)`` pieces: joining the ``equal`` and ``delete`` pieces
    gives ``old``, joining the ``equal`` and ``insert`` pieces gives ``new``."""
    a, b = tokens(old), tokens(new)
    pieces: list[tuple[Op, str]] = []

    def add(op: Op, text: str) -> None:
        if not text:
            return
        if pieces and pieces[-1][0] == op:
            pieces[-1] = (op, pieces[-1][1] + text)
        else:
            pieces.append((op, text))

    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            add("equal", "".join(a[i1:i2]))
        else:
            add("delete", "".join(a[i1:i2]))
            add("insert", "".join(b[j1:j2]))
    return pieces
