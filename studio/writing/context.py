"""Assembling what the model sees: story notes around the text before the cursor, within a token budget.

The layout keeps the head of the prompt stable, so the engine's KV cache (which re-evaluates only from the
first token that differs from the previous prompt) stays reusable while the writer types::

    <memory>                      stable: changes only when the notes do
    <document text ...>           stable: only its start is cut, in large steps (see below)
    [Glossary entries]            near the cursor: a keyword coming or going re-evaluates only these lines
    [Author's note: ...]
    <the last lines>              the cursor's own line and the lines before it, ``depth`` of them
    <cursor>

The glossary entries sit with the author's note, not under the memory: a keyword coming into view near the
cursor then costs a few lines of prompt evaluation instead of the whole document.

When the text does not fit, the start of the document is dropped (memory and the notes block are kept), in
steps of a quarter of the budget and at a line break, so the cut point stays put while text is appended.

Token counts are estimates (the GUI process has no tokenizer): one token per :data:`ASCII_CHARS_PER_TOKEN`
ASCII characters and one per other character. That over-counts English prose (Gemma's tokenizer averages about
four characters a token) and CJK text, so a prompt within the budget also fits the model's context and the
engine never has to cut it a second time (which would cut differently per request and spoil the cache).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

from studio.writing.story_notes import GlossaryEntry, StoryNotes, triggered_entries

ASCII_CHARS_PER_TOKEN = 3.0
SCAN_BEFORE_CHARS = 1500
"""Glossary keywords are looked for this many characters before the cursor..."""
SCAN_AFTER_CHARS = 300
"""...and this many after it."""
MEMORY_SHARE = 0.5
"""Memory never takes more than this share of the budget (the rest of it is cut, with a warning)."""
NOTES_SHARE = 0.25
"""Glossary entries and the author's note together never take more than this share of the budget."""
RESERVED_TOKENS = 16
"""Kept free besides the completion: BOS and FIM control tokens, and slack in the estimate."""


def estimate_tokens(text: str) -> int:
    """A deliberately high estimate of how many tokens ``text`` is (see the module docstring)."""
    if text.isascii():
        return math.ceil(len(text) / ASCII_CHARS_PER_TOKEN)
    other = sum(1 for char in text if ord(char) > 127)
    return math.ceil((len(text) - other) / ASCII_CHARS_PER_TOKEN) + other


def prompt_budget(context_tokens: int, completion_tokens: int) -> int:
    """Tokens a prompt may take in a context of ``context_tokens`` that must leave room to generate
    ``completion_tokens``."""
    return max(16, context_tokens - completion_tokens - RESERVED_TOKENS)


class PartKind(StrEnum):
    """What a piece of the assembled prompt is."""

    MEMORY = "memory"
    TEXT = "text"
    GLOSSARY = "glossary"
    AUTHORS_NOTE = "authors_note"
    RECENT = "recent"


@dataclass(frozen=True, slots=True)
class PromptPart:
    kind: PartKind
    text: str


@dataclass(frozen=True, slots=True)
class AssembledPrompt:
    """A prompt and how it was made: ``parts`` concatenate to ``text``; ``head`` is its stable start (memory
    and the document up to the notes block); ``dropped_chars`` is how much of the document's start was left out
    to fit ``budget_tokens``; ``warnings`` say what was shortened."""

    text: str
    parts: tuple[PromptPart, ...]
    head: str
    estimated_tokens: int
    budget_tokens: int
    glossary: tuple[str, ...] = ()
    dropped_chars: int = 0
    warnings: tuple[str, ...] = ()

    def part(self, kind: PartKind) -> str:
        """The text of the parts of ``kind``, joined."""
        return "".join(part.text for part in self.parts if part.kind is kind)


def format_entry(entry: GlossaryEntry) -> str:
    """A glossary entry as the model sees it."""
    return (
        f"[{entry.name.strip()}: {_one_line(entry.text)}]\n"
        if entry.name.strip()
        else f"[{_one_line(entry.text)}]\n"
    )


def format_authors_note(note: str) -> str:
    """The author's note as the model sees it (KoboldCpp's bracket form)."""
    return f"[Author's note: {_one_line(note)}]\n"


def _one_line(text: str) -> str:
    return re.sub(r"\s*\n\s*", " ", text.strip())


def notes_insertion_index(prefix: str, depth: int) -> int:
    """Where the notes block goes in ``prefix``: the start of the ``depth``-th non-blank line counting back
    from the cursor (the cursor's own line is 1), or 0 when there are fewer lines."""
    starts = [0] + [match.end() for match in re.finditer("\n", prefix)]
    counted = 0
    for start in reversed(starts):
        end = prefix.find("\n", start)
        line = prefix[start : end if end >= 0 else len(prefix)]
        if line.strip() or start == starts[-1]:
            counted += 1
            if counted >= depth:
                return start
    return 0


def glossary_window(prefix: str, suffix: str) -> str:
    """The text near the cursor where glossary keywords are looked for."""
    return prefix[-SCAN_BEFORE_CHARS:] + suffix[:SCAN_AFTER_CHARS]


def assemble_prompt(prefix: str, suffix: str, notes: StoryNotes, budget_tokens: int) -> AssembledPrompt:
    """The prompt that continues ``prefix`` (the text before the cursor) with ``notes``, within
    ``budget_tokens`` estimated tokens. ``suffix`` (the text after the cursor) only triggers glossary entries;
    the engine gets it separately for fill-in-the-middle."""
    warnings: list[str] = []
    memory = notes.memory.strip()
    memory_block = memory + "\n\n" if memory else ""
    memory_limit = int(budget_tokens * MEMORY_SHARE)
    if estimate_tokens(memory_block) > memory_limit:
        memory_block = _cut_to_tokens(memory_block, memory_limit).rstrip() + "\n\n"
        warnings.append("Memory is too long for the context; its end is left out.")

    notes_limit = int(budget_tokens * NOTES_SHARE)
    block_parts: list[PromptPart] = []
    used = 0
    names: list[str] = []
    for entry in triggered_entries(notes.glossary, glossary_window(prefix, suffix)):
        text = format_entry(entry)
        cost = estimate_tokens(text)
        if used + cost > notes_limit:
            warnings.append(
                f"Glossary entry {entry.name or '(unnamed)'} left out: the notes take too much room."
            )
            continue
        block_parts.append(PromptPart(PartKind.GLOSSARY, text))
        names.append(entry.name)
        used += cost
    if notes.authors_note.strip():
        text = format_authors_note(notes.authors_note)
        if used + estimate_tokens(text) > notes_limit:
            text = _cut_to_tokens(text, max(0, notes_limit - used))
            warnings.append("The author's note is too long for the context; its end is left out.")
        if text:
            block_parts.append(PromptPart(PartKind.AUTHORS_NOTE, text))

    fixed = estimate_tokens(memory_block) + sum(estimate_tokens(part.text) for part in block_parts)
    cut = _document_cut(prefix, max(0, budget_tokens - fixed), budget_tokens)
    insert_at = max(cut, notes_insertion_index(prefix, notes.authors_note_depth))
    body, recent = prefix[cut:insert_at], prefix[insert_at:]
    if block_parts and body and not body.endswith("\n"):
        body += "\n"  # the cut landed mid-line before the insertion point: keep the bracket on its own line
    parts = [
        PromptPart(PartKind.MEMORY, memory_block),
        PromptPart(PartKind.TEXT, body),
        *block_parts,
        PromptPart(PartKind.RECENT, recent),
    ]
    parts = [part for part in parts if part.text]
    text = "".join(part.text for part in parts)
    if cut:
        warnings.append(f"The first {cut:,} characters of the document are left out to fit the context.")
    return AssembledPrompt(
        text=text,
        parts=tuple(parts),
        head=memory_block + body,
        estimated_tokens=estimate_tokens(text),
        budget_tokens=budget_tokens,
        glossary=tuple(names),
        dropped_chars=cut,
        warnings=tuple(warnings),
    )


def _cut_to_tokens(text: str, tokens: int) -> str:
    """The longest start of ``text`` estimated at no more than ``tokens``."""
    if estimate_tokens(text) <= tokens:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if estimate_tokens(text[:middle]) <= tokens:
            low = middle
        else:
            high = middle - 1
    return text[:low]


def _document_cut(prefix: str, room: int, budget_tokens: int) -> int:
    """How many characters to drop from the start of ``prefix`` so the rest takes at most ``room`` tokens.

    The cut moves in steps of a quarter of the budget (in characters), then on to the next line start, so
    appending text leaves it where it was until a whole step more is needed.
    """
    excess = estimate_tokens(prefix) - room
    if excess <= 0:
        return 0
    chars_per_token = len(prefix) / max(1, estimate_tokens(prefix))
    step = max(1, int(budget_tokens * chars_per_token / 4))
    excess_chars = math.ceil(excess * chars_per_token)
    cut = min(len(prefix), -(-excess_chars // step) * step)
    while cut < len(prefix) and estimate_tokens(prefix[cut:]) > room:
        cut = min(len(prefix), cut + step)  # non-ASCII text makes the char estimate uneven
    newline = prefix.find("\n", cut)
    if newline >= 0 and newline - cut < step // 2:
        return newline + 1
    space = prefix.find(" ", cut)
    return space + 1 if 0 <= space < cut + 200 else cut


# -- the assistant ---------------------------------------------------------------------------------------------

ASSISTANT_SYSTEM = (
    "You are a helpful editor. Answer the writer's question about their document briefly and concretely. "
    "When asked for text to use (titles, lines, names), give just that text."
)
ASSISTANT_STOP = ("\nQuestion:", "\n###", "\n\n\n")
"""Where a base model's transcript answer ends."""


@dataclass(frozen=True, slots=True)
class AssistantContext:
    """What a question is about: the document (cut to fit the budget), the selection, and ``left_out``
    characters of the document that did not fit."""

    document: str
    selection: str
    left_out: int


def assistant_context(
    document: str, selection: str, notes: StoryNotes, budget_tokens: int, question: str
) -> AssistantContext:
    """Fit ``document`` (with memory, ``selection`` and ``question``) into ``budget_tokens``: the selection is
    kept whole (up to half the budget), then as much of the document's start as fits."""
    selection = _cut_to_tokens(selection, budget_tokens // 2)
    fixed = estimate_tokens(notes.memory + selection + question + ASSISTANT_SYSTEM) + 64
    room = max(0, budget_tokens - fixed)
    kept = _cut_to_tokens(document, room)
    return AssistantContext(kept, selection, len(document) - len(kept))


def _document_block(context: AssistantContext) -> str:
    text = context.document.strip()
    if context.left_out:
        text += f"\n[… the last {context.left_out:,} characters are left out …]"
    return text


def assistant_messages(
    question: str, context: AssistantContext, notes: StoryNotes
) -> tuple[tuple[str, str], ...]:
    """Chat messages for an instruct model (rendered with its own chat template)."""
    parts = []
    if notes.memory.strip():
        parts.append(f"About the work: {notes.memory.strip()}")
    parts.append(f"My document:\n\n{_document_block(context)}")
    if context.selection.strip():
        parts.append(f"The passage I selected:\n\n{context.selection.strip()}")
    parts.append(f"My question: {question.strip()}")
    return (("system", ASSISTANT_SYSTEM), ("user", "\n\n".join(parts)))


def assistant_transcript(question: str, context: AssistantContext, notes: StoryNotes) -> str:
    """A transcript-style prompt for a base model: the document, then a question and the start of an answer."""
    parts = []
    if notes.memory.strip():
        parts.append(f"### About the work\n{notes.memory.strip()}\n")
    parts.append(f"### Document\n{_document_block(context)}\n")
    if context.selection.strip():
        parts.append(f"### Selected passage\n{context.selection.strip()}\n")
    parts.append(
        "### Questions and answers\n"
        "A careful editor answers questions about the document above.\n\n"
        f"Question: {' '.join(question.split())}\nAnswer:"
    )
    return "\n".join(parts)
