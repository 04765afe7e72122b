"""Requests of the LLM engine. Plain picklable data: the GUI builds these without importing llama_cpp."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from studio.engines.protocol import EngineRequest
from studio.engines.results import CompletionResult, LoadResult, TopTokensResult


@dataclass(frozen=True, slots=True)
class LoadModelRequest(EngineRequest[LoadResult]):
    """Load a GGUF model (an empty ``model_path`` means Studio's embedded default model).

    ``safe_mode`` loads without weight repacking (llama.cpp's extra buffer types), the optimised kernels
    that crash on some CPUs; see :mod:`studio.engines.llm_safe_mode`. A ``chat_template`` makes the model an
    instruct model that chats with it.
    """

    engine_kind: ClassVar[str] = "llm"
    model_path: str = ""
    n_ctx: int = 4096
    n_threads: int = 0  # 0: one per physical CPU core
    safe_mode: bool = False
    chat_template: str = ""  # overrides the model's own (Jinja, rendered in llama-cpp-python's sandbox)


@dataclass(frozen=True, slots=True)
class CompletionRequest(EngineRequest[CompletionResult]):
    """Continue ``prompt``; ``suffix`` is the text after the cursor, used for fill-in-the-middle when the
    model has FIM tokens."""

    engine_kind: ClassVar[str] = "llm"
    prompt: str = ""
    suffix: str = ""
    max_tokens: int = 32
    temperature: float = 0.7
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    seed: int | None = None
    stop: tuple[str, ...] = ()
    reuse_cache: bool = True  # False: forget the cached prompt first (benchmarks)


@dataclass(frozen=True, slots=True)
class ChatRequest(EngineRequest[CompletionResult]):
    """A chat turn: ``messages`` are (role, content) pairs; instruct models render them with their own
    template, base models get a plain transcript."""

    engine_kind: ClassVar[str] = "llm"
    messages: tuple[tuple[str, str], ...] = ()
    max_tokens: int = 256
    temperature: float = 0.7
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class TopTokensRequest(EngineRequest[TopTokensResult]):
    """The ``k`` most likely next tokens after ``prompt`` (token choices), from the last logits at
    temperature 1. Evaluated on the cached prefix, so asking right after a completion of the same text
    costs only the tokens that differ. ``suffix`` is the text after the cursor (fill-in-the-middle models).
    """

    engine_kind: ClassVar[str] = "llm"
    prompt: str = ""
    suffix: str = ""
    k: int = 10
