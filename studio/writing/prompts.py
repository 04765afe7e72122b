"""Prompt templates of the selection actions: TOML files shipped in ``studio/resources/prompts/``, with user
copies in ``<data folder>/prompts/`` taking precedence."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from studio import paths
from studio.fileio import atomic_write_text

BUILTIN_PROMPTS_DIR = Path(__file__).resolve().parent.parent / "resources" / "prompts"
COMMON = "common"

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class PromptError(ValueError):
    """A prompt template is missing or malformed; the message names the file and what is wrong."""


@dataclass(frozen=True, slots=True)
class Example:
    """One few-shot example: the text, its revision and, when it differs from the action's, the
    instruction it was revised by."""

    text: str
    result: str
    instruction: str = ""


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    """An action's template; ``instruction`` may hold ``{placeholders}`` (``{tone}``, ``{language}``...)."""

    name: str
    instruction: str
    examples: tuple[Example, ...]
    source: Path


@dataclass(frozen=True, slots=True)
class CommonPrompt:
    """What every action shares: the chat system message, the labels of the chat user message, and the
    first line of the base-model few-shot prompt."""

    system: str
    context_label: str
    text_label: str
    base_intro: str
    source: Path


def user_prompts_dir() -> Path:
    """Where the user's own copies of the templates go (``<data folder>/prompts``; not created here)."""
    return paths.data_dir() / "prompts"


def template_path(name: str) -> Path:
    """The file that defines template ``name``: the user's copy if there is one, else the shipped one."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
        raise PromptError(f"{name!r} is not a prompt template name")
    user = user_prompts_dir() / f"{name}.toml"
    if user.is_file():
        return user
    builtin = BUILTIN_PROMPTS_DIR / f"{name}.toml"
    if not builtin.is_file():
        raise PromptError(f"There is no prompt template called {name!r}")
    return builtin


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace the ``{name}`` placeholders of ``values`` in ``text``; other braces stay as they are."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _read(name: str) -> tuple[dict[str, object], Path]:
    path = template_path(name)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptError(f"Cannot read the prompt template {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PromptError(f"The prompt template {path} is not valid TOML: {exc}") from None
    return data, path


def _string(data: Mapping[str, object], key: str, path: Path, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise PromptError(f"The prompt template {path} needs a text value for {key!r}")
    return value


def load_template(name: str) -> PromptTemplate:
    """Read template ``name`` (user copy first); raises :class:`PromptError` with the file's path."""
    data, path = _read(name)
    raw_examples = data.get("examples", [])
    if not isinstance(raw_examples, list):
        raise PromptError(f"The prompt template {path} has 'examples' that are not a list of tables")
    examples = []
    for number, raw in enumerate(raw_examples, start=1):
        if not isinstance(raw, dict):
            raise PromptError(f"Example {number} of the prompt template {path} is not a table")
        examples.append(
            Example(
                text=_string(raw, "text", path),
                result=_string(raw, "result", path),
                instruction=_string(raw, "instruction", path, ""),
            )
        )
    return PromptTemplate(
        name=name,
        instruction=_string(data, "instruction", path),
        examples=tuple(examples),
        source=path,
    )


def load_common() -> CommonPrompt:
    """Read the shared part (``common.toml``, user copy first)."""
    data, path = _read(COMMON)
    return CommonPrompt(
        system=_string(data, "system", path),
        context_label=_string(data, "context_label", path),
        text_label=_string(data, "text_label", path),
        base_intro=_string(data, "base_intro", path),
        source=path,
    )


def copy_to_user_folder(name: str) -> Path:
    """Put an editable copy of the shipped template ``name`` in the user's prompts folder (kept if one is
    already there) and return its path."""
    target = user_prompts_dir() / f"{name}.toml"
    if not target.exists():
        source = BUILTIN_PROMPTS_DIR / f"{name}.toml"
        if not source.is_file():
            raise PromptError(f"There is no prompt template called {name!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, source.read_text(encoding="utf-8"))
    return target
