"""The typed results of engine jobs: what a ``result`` event carries in ``EngineEvent.result``.

Plain frozen dataclasses, Qt-, torch- and llama_cpp-free, so the GUI and the CLI read them by attribute; each
request class names its result type (``EngineRequest[ResultT]``), so ``JobRunner.run`` hands callbacks the
right one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class LoadResult:
    """A loaded GGUF model. ``model_kind`` is ``instruct`` (it has a chat template) or ``base``;
    ``weight_repacking`` False means loaded in safe mode or without llama.cpp's repacked weights."""

    model_path: str
    model_name: str
    model_kind: str
    architecture: str
    n_ctx: int
    n_threads: int
    supports_fim: bool
    safe_mode: bool
    weight_repacking: bool
    load_seconds: float


@dataclass(frozen=True, slots=True)
class ServerLoadResult(LoadResult):
    """A connected server (the result of a ``ConnectServerRequest``): a :class:`LoadResult` (``model_path`` is
    the server's URL, ``architecture`` ``remote``, ``n_ctx`` 0 when the server does not say) plus what only a
    server has.

    ``models`` are the ids the server lists; ``server_kind`` is ``llama.cpp`` when it answered llama.cpp's
    ``/props`` (and so reuses cached prompt prefixes with ``cache_prompt``), else ``openai-compatible``;
    ``api_key_source`` says where the API key came from (``env:VAR``, ``keyring`` or empty: none).
    """

    server_url: str
    models: tuple[str, ...]
    server_kind: str
    api_key_source: str


CANCELLED_FINISH = "cancelled"
"""The ``finish_reason`` of the partial :class:`CompletionResult` a cancelled completion or chat sends."""


@dataclass(frozen=True, slots=True)
class CompletionResult:
    """A finished completion or chat turn (or, on a ``cancelled`` event, the part made before the cancel).

    ``prompt_tokens_evaluated`` is how many prompt tokens were decoded (the rest came from the cache);
    ``cached_tokens`` how many tokens the context holds afterwards.
    """

    text: str
    finish_reason: str | None
    prompt_tokens: int
    prompt_tokens_evaluated: int
    cached_tokens: int
    completion_tokens: int
    seconds_to_first_token: float
    tokens_per_second: float


@dataclass(frozen=True, slots=True)
class TopTokensResult:
    """The model's most likely next tokens after a prompt: ``tokens`` are ``(text, probability)`` pairs, most
    likely first. Probabilities are a softmax of the last logits at temperature 1 (no top-k/top-p/min-p or
    repeat penalty), so they sum to at most 1. ``prompt_tokens_evaluated`` is how many prompt tokens were
    decoded (the rest came from the cache)."""

    tokens: tuple[tuple[str, float], ...]
    prompt_tokens: int = 0
    prompt_tokens_evaluated: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class PipelineLoadResult:
    """A loaded diffusion model: ``model`` is its name, ``model_hash`` the short form of ``model_sha256``,
    ``default_size`` its native side in pixels; ``taesd_error`` says why the optional TAESD previewer failed.
    ``precision`` is the dtype of the loaded weights (``bfloat16`` or ``float32``), ``precision_label`` the
    text shown with the model (``"bfloat16 (auto)"``), ``precision_reason`` why (the Settings choice and
    whether the CPU has native bfloat16)."""

    model: str
    model_path: str
    model_hash: str
    model_sha256: str
    model_family: str
    family_name: str
    source: str
    default_size: int
    inpainting_model: bool
    taesd: bool
    taesd_error: str
    pipeline: str
    precision: str = "float32"
    precision_label: str = ""
    precision_reason: str = ""


@dataclass(frozen=True, slots=True)
class ImageResult:
    """The images of a generation job, in candidate order: ``images`` are PNG bytes, ``candidates`` one
    parameter mapping per image (its own ``seed``, ``width``, ``sampler`` ...), ``parameters`` the first
    candidate's A1111 parameters text."""

    images: tuple[bytes, ...]
    candidates: tuple[Mapping[str, Any], ...]
    parameters: str = ""

    @property
    def first(self) -> Mapping[str, Any]:
        """The first candidate's parameters (empty without images)."""
        return self.candidates[0] if self.candidates else {}
