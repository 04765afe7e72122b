"""The selection actions (Rewrite, Shorten, ... and free instructions) and the user's saved actions."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from studio import paths
from studio.fileio import atomic_write_text

log = logging.getLogger(__name__)

TONES = ("formal", "casual", "confident", "friendly")
SENSES = ("sight", "sound", "smell", "touch", "taste")
USER_ACTIONS_FILE = "writing_actions.json"


@dataclass(frozen=True, slots=True)
class WritingAction:
    """What to do with a selection: the prompt template ``template`` filled with ``values``.

    ``name`` is the command-line name (``shorten``, ``tone-formal``); ``asks_for`` names a value the user
    must give first (``language`` for Translate); ``growth`` is how long the result may be relative to
    the selection (it sizes ``max_tokens``); ``user`` marks an action the user saved.
    """

    name: str
    label: str
    template: str
    values: tuple[tuple[str, str], ...] = ()
    asks_for: str = ""
    growth: float = 1.6
    user: bool = False
    group: str = field(default="", compare=False)

    def with_value(self, key: str, value: str) -> WritingAction:
        """This action with ``key`` set (Translate with its language); the label names the value."""
        values = (*((k, v) for k, v in self.values if k != key), (key, value))
        label = self.label.rstrip("…") + f" {value}" if self.asks_for == key else self.label
        return WritingAction(self.name, label, self.template, values, "", self.growth, self.user, self.group)

    def value_map(self) -> dict[str, str]:
        return dict(self.values)


def _builtin_actions() -> tuple[WritingAction, ...]:
    actions = [
        WritingAction("rewrite", "Rewrite", "rewrite"),
        WritingAction("shorten", "Shorten", "shorten", growth=1.0),
        WritingAction("expand", "Expand", "expand", growth=3.0),
        WritingAction("simplify", "Simplify", "simplify", growth=1.3),
        WritingAction("fix-spelling", "Fix Spelling and Grammar", "fix-spelling", growth=1.3),
    ]
    actions += [
        WritingAction(f"tone-{tone}", tone.capitalize(), "tone", (("tone", tone),), group="Change Tone")
        for tone in TONES
    ]
    actions += [
        WritingAction("translate", "Translate to…", "translate", asks_for="language", growth=2.5),
        WritingAction("summarize", "Summarize", "summarize", growth=0.8),
    ]
    actions += [
        WritingAction(
            f"describe-{sense}",
            sense.capitalize(),
            "describe",
            (("sense", sense),),
            growth=3.0,
            group="Describe",
        )
        for sense in SENSES
    ]
    return tuple(actions)


BUILTIN_ACTIONS: tuple[WritingAction, ...] = _builtin_actions()


def builtin_action(name: str) -> WritingAction:
    """The built-in action called ``name``; ``KeyError`` lists the names when there is none."""
    for action in BUILTIN_ACTIONS:
        if action.name == name:
            return action
    raise KeyError(
        f"No action called {name!r}; the actions are: {', '.join(a.name for a in BUILTIN_ACTIONS)}"
    )


def instruction_action(instruction: str, label: str = "", name: str = "instruction") -> WritingAction:
    """A free instruction (Ctrl+K, ``studio edit "..."``) as an action."""
    instruction = " ".join(instruction.split())
    return WritingAction(
        name,
        label or instruction,
        "instruction",
        (("instruction", instruction),),
        growth=2.0,
        user=bool(label),
    )


def slug(text: str) -> str:
    """A command-line name for ``text``: lower case words joined by ``-``."""
    return re.sub(r"[^0-9a-z]+", "-", text.lower()).strip("-") or "action"


class UserActions:
    """Free instructions the user saved as actions, in ``<data folder>/writing_actions.json``.

    The file is a JSON list of ``{"label": ..., "instruction": ...}``; it is written atomically, and a
    missing or unreadable file is an empty list (an unreadable one is logged and left in place until the
    next save replaces it).
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.data_dir() / USER_ACTIONS_FILE
        self.error = ""

    def _entries(self) -> list[dict[str, str]]:
        self.error = ""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            self.error = f"Cannot read your saved actions ({self.path}): {exc}"
            log.warning("%s", self.error)
            return []
        if not isinstance(data, list):
            self.error = f"Your saved actions ({self.path}) are not a list"
            return []
        return [
            {"label": str(item["label"]), "instruction": str(item["instruction"])}
            for item in data
            if isinstance(item, dict) and item.get("label") and item.get("instruction")
        ]

    def actions(self) -> list[WritingAction]:
        """The saved actions, oldest first; their names start with ``my-``."""
        return [
            instruction_action(entry["instruction"], entry["label"], name=f"my-{slug(entry['label'])}")
            for entry in self._entries()
        ]

    def save(self, label: str, instruction: str) -> WritingAction:
        """Save ``instruction`` under ``label`` (replacing a saved action of the same label)."""
        label, instruction = " ".join(label.split()), " ".join(instruction.split())
        if not label or not instruction:
            raise ValueError("A saved action needs a name and an instruction")
        entries = [e for e in self._entries() if e["label"].casefold() != label.casefold()]
        entries.append({"label": label, "instruction": instruction})
        self._write(entries)
        return instruction_action(instruction, label, name=f"my-{slug(label)}")

    def remove(self, label: str) -> bool:
        """Forget the saved action ``label``; False when there was none."""
        entries = self._entries()
        kept = [e for e in entries if e["label"].casefold() != label.casefold()]
        if len(kept) == len(entries):
            return False
        self._write(kept)
        return True

    def _write(self, entries: list[dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, json.dumps(entries, ensure_ascii=False, indent=2) + "\n")


def find_action(name: str, user_actions: UserActions | None = None) -> WritingAction:
    """A built-in or saved action by its command-line name."""
    try:
        return builtin_action(name)
    except KeyError:
        pass
    saved = (user_actions or UserActions()).actions()
    for action in saved:
        if action.name == name:
            return action
    names = [a.name for a in BUILTIN_ACTIONS] + [a.name for a in saved]
    raise KeyError(f"No action called {name!r}; the actions are: {', '.join(names)}")
