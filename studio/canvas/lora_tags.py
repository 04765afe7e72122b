"""AUTOMATIC1111's LoRA prompt tags: ``<lora:name:weight>`` (also ``<lora:name>`` and ``<lyco:…>``).

A1111 (and Forge, SD.Next, and Studio's own A1111 text) name a LoRA in the prompt by its file name without the
suffix. :func:`find_lora_tags` reads them, :func:`match_lora_tags` finds their files among known LoRA paths
(by file stem, case-insensitively), and :func:`remove_lora_tags` takes the found ones out of the prompt.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_TAG = re.compile(r"<(lora|lyco):([^<>]+)>", re.IGNORECASE)
DEFAULT_WEIGHT = 1.0


@dataclass(frozen=True)
class LoraTag:
    """One ``<lora:name:weight>`` tag: the LoRA's ``name``, its ``weight`` and the tag ``text`` as written."""

    name: str
    weight: float
    text: str

    @property
    def key(self) -> str:
        """The name as matched against file stems (case-insensitive)."""
        return self.name.casefold()


def _weight(text: str) -> float:
    """A tag's weight: ``0.8`` or A1111's named ``unet=0.8`` / ``te=0.8`` form; 1 when missing or unreadable."""
    value = text.split("=", 1)[1] if "=" in text else text
    try:
        weight = float(value.strip())
    except ValueError:
        return DEFAULT_WEIGHT
    return weight if math.isfinite(weight) else DEFAULT_WEIGHT


def find_lora_tags(prompt: str) -> list[LoraTag]:
    """The LoRA tags in ``prompt``, in order. ``<lora:name:te:unet>`` takes the first weight; a tag without a
    weight, or with one that is not a number, weighs 1. A name repeated is listed once, at its first place, with its last weight."""
    found: dict[str, LoraTag] = {}
    for match in _TAG.finditer(prompt):
        name, *weights = (part.strip() for part in match.group(2).split(":"))
        if not name:
            continue
        tag = LoraTag(name, _weight(weights[0]) if weights else DEFAULT_WEIGHT, match.group(0))
        found[tag.key] = tag
    return list(found.values())


def remove_lora_tags(prompt: str, names: Collection[str]) -> str:
    """``prompt`` without the LoRA tags naming ``names`` (case-insensitive); the commas and spaces the tags
    leave behind are tidied, the rest of the prompt is kept as it was."""
    wanted = {name.casefold() for name in names}
    removed = False

    def drop(match: re.Match[str]) -> str:
        nonlocal removed
        name = match.group(2).split(":", 1)[0].strip()
        if name.casefold() not in wanted:
            return match.group(0)
        removed = True
        return "\0"  # a marker: only the text around removed tags is tidied

    marked = _TAG.sub(drop, prompt)
    if not removed:
        return prompt
    lines = []
    for line in marked.split("\n"):
        if "\0" in line:
            line = re.sub(r"[ \t]*\0[ \t]*", "\0", line)
            line = re.sub(r"(?:,\0|\0)+(?=,)", "", line)  # "a, <tag>, b" → "a, b"
            line = re.sub(r"\0+", " ", line)
            line = re.sub(r"^[ \t,]+|[ \t,]+$", "", line)
            line = re.sub(r"[ \t]{2,}", " ", line)
        lines.append(line)
    return "\n".join(lines).strip()


def match_lora_tags(
    tags: Iterable[LoraTag], lora_paths: Iterable[str]
) -> tuple[list[tuple[str, float]], list[LoraTag]]:
    """``(path, weight)`` for each tag whose name is the stem of one of ``lora_paths`` (case-insensitive; the
    first path of a stem wins), and the tags with no such file."""
    by_stem: dict[str, str] = {}
    for known in lora_paths:
        by_stem.setdefault(Path(known).stem.casefold(), str(known))
    found: list[tuple[str, float]] = []
    missing: list[LoraTag] = []
    for tag in tags:
        path = by_stem.get(tag.key)
        if path is None:
            missing.append(tag)
        else:
            found.append((path, tag.weight))
    return found, missing


def parse_lora_hashes(text: str) -> dict[str, str]:
    """A1111's ``Lora hashes`` value (``name: hash, name: hash``) by case-folded name."""
    hashes: dict[str, str] = {}
    for pair in text.split(","):
        name, _colon, value = pair.rpartition(":")
        if name.strip() and value.strip():
            hashes[name.strip().casefold()] = value.strip()
    return hashes


def lora_entries_from_prompt(prompt: str, hashes: Mapping[str, str] | None = None) -> list[dict[str, object]]:
    """:attr:`GenerationInfo.loras` entries (``name``, ``weight``, ``tag``, and ``hash`` when ``hashes`` has
    one) for the LoRA tags in an A1111 prompt; no ``path``: the files are found later, on this computer."""
    entries: list[dict[str, object]] = []
    for tag in find_lora_tags(prompt):
        entry: dict[str, object] = {"name": tag.name, "weight": tag.weight, "tag": tag.text}
        if hashes and tag.key in hashes:
            entry["hash"] = hashes[tag.key]
        entries.append(entry)
    return entries


__all__: Sequence[str] = [
    "DEFAULT_WEIGHT",
    "LoraTag",
    "find_lora_tags",
    "lora_entries_from_prompt",
    "match_lora_tags",
    "parse_lora_hashes",
    "remove_lora_tags",
]
