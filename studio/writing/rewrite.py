"""Turn a selection action into an engine request, and the model's output back into clean text.

Base models (no chat template, like the default Gemma 270M) get a few-shot completion prompt that ends
where the revision starts, inside triple quotes, and stop at the closing quotes. Instruct models get a
:class:`ChatRequest`, rendered by their own chat template in the engine. Both paths go through
:func:`clean_output`, so the result never carries an echoed label, quotes or a chatty preamble.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from studio.engines.protocol import new_job_id
from studio.engines.text_requests import ChatRequest, CompletionRequest
from studio.models.model_settings import Sampling
from studio.writing.actions import WritingAction
from studio.writing.prompts import CommonPrompt, PromptTemplate, fill, load_common, load_template

BASE = "base"
INSTRUCT = "instruct"
DELIMITER = '"""'
BASE_STOPS = (DELIMITER, "\nInstruction:", "\nText:", "\nRevision:")
CONTEXT_CHARS = 1200
"""How much text around the selection an instruct model sees, on each side."""
MAX_TOKENS_CAP = 1024

_CAREFUL_TEMPLATES = {"fix-spelling": 0.2, "translate": 0.3}
_LABEL_ECHO = re.compile(
    r"^\s*(?:\"{3})?\s*(?:revision|revised text|result|rewritten text|text|output|answer)\s*:\s*(?:\"{3})?",
    re.IGNORECASE,
)
_CHATTY_LEAD = re.compile(
    r"^\s*(?:sure|certainly|of course|okay|ok|here(?:'s| is| are)\b)[^\n]{0,120}?:\s*\n", re.IGNORECASE
)
_FENCE = re.compile(r"^\s*```[\w-]*\s*\n(.*?)(?:\n\s*```\s*)?$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class RewritePlan:
    """An engine request for one action on one selection, and how to turn its output into the text that
    replaces the selection (:meth:`result`)."""

    request: CompletionRequest | ChatRequest
    action: WritingAction
    model_kind: str
    selected: str
    instruction: str

    def result(self, raw: str) -> str:
        """The replacement text for the model's output ``raw`` (finished or partial while streaming): cleaned,
        with the selection's own leading and trailing whitespace kept. "" when the model gave nothing."""
        core = clean_output(raw, self.model_kind)
        if not core:
            return ""
        stripped = self.selected.strip()
        if not stripped:
            return core
        head = self.selected[: len(self.selected) - len(self.selected.lstrip())]
        tail = self.selected[len(self.selected.rstrip()) :]
        return head + core + tail


def instruction_of(action: WritingAction, template: PromptTemplate | None = None) -> str:
    """The action's instruction with its values filled in (``Translate the text into French...``)."""
    template = template or load_template(action.template)
    return fill(template.instruction, action.value_map()).strip()


def max_tokens_for(selected: str, action: WritingAction) -> int:
    """A generous token budget for the revision of ``selected`` (about 3.5 characters per token)."""
    estimate = len(selected.strip()) / 3.5
    return max(24, min(MAX_TOKENS_CAP, int(estimate * action.growth * 1.2) + 16))


def build_rewrite(
    action: WritingAction,
    selected: str,
    *,
    before: str = "",
    after: str = "",
    model_kind: str = BASE,
    seed: int | None = None,
    job_id: str | None = None,
    sampling: Sampling | None = None,
) -> RewritePlan:
    """The request that applies ``action`` to ``selected``; ``before`` and ``after`` are the document text
    around it (instruct models see some of it as context). Raises :class:`~studio.writing.prompts.PromptError`
    for a broken template and ``ValueError`` for an empty selection or an action still missing a value.
    ``sampling``: the model's own settings (when ``own``, its temperature, capped for careful actions like
    spelling fixes; its top-k, top-p and min-p always)."""
    if not selected.strip():
        raise ValueError("Select some text first")
    if action.asks_for and action.asks_for not in action.value_map():
        raise ValueError(f"{action.label.rstrip('…')} needs a {action.asks_for}")
    template = load_template(action.template)
    common = load_common()
    instruction = instruction_of(action, template)
    sampling = sampling or Sampling()
    temperature = _CAREFUL_TEMPLATES.get(action.template, 0.8)
    if sampling.own:
        temperature = (
            min(temperature, sampling.temperature)
            if action.template in _CAREFUL_TEMPLATES
            else sampling.temperature
        )
    max_tokens = max_tokens_for(selected, action)
    request: CompletionRequest | ChatRequest
    if model_kind == INSTRUCT:
        request = ChatRequest(
            job_id or new_job_id(),
            messages=chat_messages(common, instruction, selected.strip(), before, after),
            max_tokens=max_tokens,
            temperature=temperature,
            top_k=sampling.top_k,
            top_p=sampling.top_p,
            min_p=sampling.min_p,
            seed=seed,
        )
    else:
        request = CompletionRequest(
            job_id or new_job_id(),
            prompt=base_prompt(common, template, action, instruction, selected.strip()),
            max_tokens=max_tokens,
            temperature=temperature,
            top_k=sampling.top_k,
            top_p=sampling.top_p,
            min_p=sampling.min_p,
            # a corrected text repeats most of its input on purpose
            repeat_penalty=1.0 if action.template == "fix-spelling" else 1.1,
            seed=seed,
            # a one-line selection gets a one-line revision, like the examples: small models ramble on
            stop=BASE_STOPS if "\n" in selected.strip() else (*BASE_STOPS, "\n"),
        )
    return RewritePlan(request, action, BASE if model_kind != INSTRUCT else INSTRUCT, selected, instruction)


def _quoted(text: str) -> str:
    # the delimiter inside the text would end the revision early
    return text.replace(DELIMITER, "\u201d\u201d\u201d")


def base_prompt(
    common: CommonPrompt, template: PromptTemplate, action: WritingAction, instruction: str, text: str
) -> str:
    """The few-shot completion prompt; it ends right where the revision starts."""
    values = action.value_map()
    blocks = [common.base_intro.strip()]
    for example in template.examples:
        example_instruction = (
            fill(example.instruction, values).strip() if example.instruction else instruction
        )
        blocks.append(
            f"Instruction: {example_instruction}\n"
            f"Text: {DELIMITER}{_quoted(example.text.strip())}{DELIMITER}\n"
            f"Revision: {DELIMITER}{_quoted(example.result.strip())}{DELIMITER}"
        )
    blocks.append(
        f"Instruction: {instruction}\nText: {DELIMITER}{_quoted(text)}{DELIMITER}\nRevision: {DELIMITER}"
    )
    return "\n\n".join(blocks)


def chat_messages(
    common: CommonPrompt, instruction: str, text: str, before: str, after: str
) -> tuple[tuple[str, str], ...]:
    """One user turn: the system text, the instruction, the context around the selection, the selection.

    The system text goes into the user turn because some chat templates (Gemma's) reject a system role.
    """
    parts = [common.system.strip(), instruction]
    before, after = before[-CONTEXT_CHARS:], after[:CONTEXT_CHARS]
    if before.strip() or after.strip():
        parts.append(f"{common.context_label.strip()}\n{before}[…]{after}".rstrip())
    parts.append(f"{common.text_label.strip()}\n{text}")
    return (("user", "\n\n".join(parts)),)


_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+[\"'”’)]*|\n+|$)\s*")


def drop_repeats(text: str) -> str:
    """Cut ``text`` before the first sentence it already said (small models loop)."""
    seen: set[str] = set()
    end = 0
    for match in _SENTENCE.finditer(text):
        key = " ".join(match.group(0).split()).casefold()
        if not key:
            continue
        if key in seen and len(key) > 3:
            return text[:end].rstrip()
        seen.add(key)
        end = match.end()
    return text


def clean_output(raw: str, model_kind: str = BASE) -> str:
    """The revision in the model's output: cut at the closing delimiter, without echoed labels, quotes,
    code fences or a chatty first line; surrounding whitespace stripped."""
    text = raw.replace("\r\n", "\n")
    if model_kind == INSTRUCT:
        text = _CHATTY_LEAD.sub("", text, count=1)
        fenced = _FENCE.match(text)
        if fenced:
            text = fenced.group(1)
    previous = None
    while previous != text:
        previous = text
        text = _LABEL_ECHO.sub("", text, count=1)
    if model_kind != INSTRUCT:
        text = text.lstrip().split(DELIMITER, 1)[0]
        for stop in BASE_STOPS[1:]:
            text = text.split(stop, 1)[0]
    text = drop_repeats(text.strip())
    if DELIMITER in text:
        text = text.replace(DELIMITER, "").strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'" and text.count(text[0]) == 2:
        text = text[1:-1].strip()
    return text
