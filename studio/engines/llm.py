"""The LLM engine on llama-cpp-python. Imported only inside the engine process."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp import llama_chat_format

from studio.cpu import default_threads
from studio.engines import protocol
from studio.engines.gguf_check import GgufError, GgufInfo, check_gguf
from studio.engines.llm_safe_mode import weight_repacking
from studio.engines.protocol import (
    CancelToken,
    EngineError,
    EngineEvent,
    EngineRequest,
    ErrorInfo,
    EventKind,
    StartInfo,
)
from studio.engines.remote_llm import RemoteLlmBackend
from studio.engines.remote_requests import ConnectServerRequest
from studio.engines.results import CANCELLED_FINISH, CompletionResult, LoadResult, TopTokensResult
from studio.engines.text_requests import (
    ChatRequest,
    CompletionRequest,
    LoadModelRequest,
    TopTokensRequest,
)
from studio.models.default_model import ensure_default_model

log = logging.getLogger(__name__)
llama_log = logging.getLogger("studio.llama_cpp")


# Set while the abort callback is stopping a decode because the user cancelled: llama.cpp then reports the
# aborted decode at ERROR level, but a cancel is no error.
_user_abort = threading.Event()


@llama_cpp.llama_log_callback
def _route_llama_log(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
    # llama.cpp's own messages go to logging instead of the process's stderr; ggml_log_level 4 is ERROR
    if level == 4 and not _user_abort.is_set():
        llama_log.error(text.decode("utf-8", errors="replace").rstrip())
    else:
        llama_log.debug(text.decode("utf-8", errors="replace").rstrip())


llama_cpp.llama_log_set(_route_llama_log, ctypes.c_void_p(0))


# Prompt tokens are decoded in chunks aligned to multiples of this many positions. llama.cpp's CPU kernels
# give slightly different results for the same row in batches of different shapes, so a prompt's KV cache
# is only bit-reproducible when it was decoded in the same chunks.
ALIGNED_CHUNK = 128

# Decoded once inside every load job (see LlmEngine._warm_up): a batch of several tokens and one on its own
# run llama.cpp's matrix-matrix and matrix-vector kernels, the code that crashes on some CPUs.
WARM_UP_TEXT = b"Once upon a time, in a quiet town by the sea,"

TEST_CRASH_ENV = "STUDIO_TEST_CRASH_ON_FIRST_DECODE"
"""Test hook: ``1`` makes the warm-up decode die of SIGSEGV unless the load is in safe mode, ``always``
makes it die in safe mode too (simulates llama.cpp crashing on this CPU)."""


class RepackChoosingLlama(llama_cpp.Llama):
    """A ``Llama`` whose weight repacking can be switched off: ``use_extra_bufts=False`` loads like llama.cpp
    CLI's ``--no-repack`` (what AMX CPUs need, see :func:`studio.engines.llm_safe_mode.weight_repacking`)."""

    def __init__(self, *args: Any, use_extra_bufts: bool = True, **kwargs: Any) -> None:
        self._use_extra_bufts = use_extra_bufts
        super().__init__(*args, **kwargs)

    # Llama.__init__ has no argument for use_extra_bufts: it builds ``self.model_params`` and loads the
    # model in one go. Assigning that attribute is the one point in between, so the flag is set there.
    @property
    def model_params(self) -> llama_cpp.llama_model_params:
        return self._model_params

    @model_params.setter
    def model_params(self, params: llama_cpp.llama_model_params) -> None:
        params.use_extra_bufts = self._use_extra_bufts
        self._model_params = params


class _CountingLlama(RepackChoosingLlama):
    """A ``Llama`` that records how many tokens each ``eval`` processed and decodes reproducibly.

    Prompts are decoded in position-aligned chunks and the last prompt token on its own; ``clean_upto``
    is the end of the cached prefix that was decoded exactly as a fresh run would decode it. Reusing the
    cache only up to there makes the same prompt and seed give the same text, cached or not.
    """

    eval_sizes: list[int]
    clean_upto: int

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.eval_sizes = []
        self.clean_upto = 0
        super().__init__(*args, **kwargs)

    def eval(self, tokens: Sequence[int]) -> None:
        tokens = list(tokens)
        self.eval_sizes.append(len(tokens))
        self.clean_upto = min(self.clean_upto, self.n_tokens)
        body, last = (tokens[:-1], tokens[-1:]) if len(tokens) > 1 else (tokens, [])
        index = 0
        while index < len(body):
            position = self.n_tokens
            size = min(ALIGNED_CHUNK - position % ALIGNED_CHUNK, len(body) - index)
            super().eval(body[index : index + size])
            if size == ALIGNED_CHUNK and position == self.clean_upto:
                self.clean_upto = position + size
            index += size
        if last:
            super().eval(last)


def _common_prefix(cached: Sequence[int], tokens: Sequence[int]) -> int:
    """How many leading tokens ``cached`` and ``tokens`` share."""
    count = 0
    for have, want in zip(cached, tokens, strict=False):
        if have != want:
            break
        count += 1
    return count


def fit_to_context(tokens: list[int], budget: int, keep_head: int, chunk: int) -> list[int]:
    """Drop tokens after the first ``keep_head`` so that at most ``budget`` remain.

    Tokens are dropped in whole ``chunk``\\s, so the cut point stays put while text is appended and the
    engine can keep reusing its cached prefix.
    """
    if len(tokens) <= budget:
        return tokens
    excess = len(tokens) - budget
    chunk = max(1, chunk)
    drop = -(-excess // chunk) * chunk
    return tokens[:keep_head] + tokens[keep_head + drop :]


class LlmEngine:
    """Loads one GGUF model and serves completion and chat requests, streaming tokens."""

    def __init__(self) -> None:
        self._llm: _CountingLlama | None = None
        self._info: GgufInfo | None = None
        self._model_kind = ""
        self._active_cancel: CancelToken | None = None
        self._abort_callback: Any = None
        self._fim_tokens: tuple[int, int, int] | None = None
        self._remote: RemoteLlmBackend | None = None  # serves completions and chats after a connect

    def handle(self, request: EngineRequest, cancel: CancelToken) -> Iterator[EngineEvent]:
        if isinstance(request, ConnectServerRequest):
            yield from self._connect(request, cancel)
        elif isinstance(request, LoadModelRequest):
            yield from self._load(request, cancel)
        elif self._remote is not None and isinstance(request, (CompletionRequest, ChatRequest)):
            yield from self._remote.handle(request, cancel)
        elif self._remote is not None and isinstance(request, TopTokensRequest):
            raise EngineError(
                "Token choices are not supported by this server (they need a local model's logits); "
                "load a local model to see them."
            )
        elif isinstance(request, TopTokensRequest):
            yield from self._top_tokens(request, cancel)
        elif isinstance(request, CompletionRequest):
            yield from self._complete(request, cancel)
        elif isinstance(request, ChatRequest):
            yield from self._chat(request, cancel)
        else:
            raise EngineError(f"the LLM engine cannot handle {type(request).__name__}")

    def close(self) -> None:
        if self._remote is not None:
            self._remote.close()
            self._remote = None
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    # loading

    def _connect(self, request: ConnectServerRequest, cancel: CancelToken) -> Iterator[EngineEvent]:
        """Serve the next completions and chats from an OpenAI-compatible server instead of a local model;
        a failed connect keeps what served before (``model_kept``)."""
        backend = RemoteLlmBackend()
        try:
            for event in backend.handle(request, cancel):
                if event.kind is EventKind.RESULT:
                    self.close()  # frees the local model; a later LoadModelRequest loads one again
                    self._info = None
                    self._remote = backend
                yield event
        except EngineError as exc:
            backend.close()
            yield self._load_failed(request.job_id, str(exc))

    def _load(self, request: LoadModelRequest, cancel: CancelToken) -> Iterator[EngineEvent]:
        job_id = request.job_id
        yield protocol.started(job_id, StartInfo(model_path=request.model_path))
        if request.model_path:
            path = Path(request.model_path)
        else:
            yield protocol.progress(job_id, 0.05, "Preparing the default model")
            try:
                path = ensure_default_model()
            except (OSError, ValueError) as exc:
                yield self._load_failed(job_id, f"Cannot prepare the default model: {exc}")
                return
        yield protocol.progress(job_id, 0.1, f"Checking {path.name}")
        try:
            info = check_gguf(path)
        except GgufError as exc:
            yield self._load_failed(job_id, f"Cannot load {path.name}: {exc}")
            return
        if cancel.is_cancelled:
            yield protocol.cancelled(job_id)
            return
        self.close()
        self._info = None
        yield protocol.progress(job_id, 0.2, f"Loading {info.name}")
        n_ctx = request.n_ctx if request.n_ctx > 0 else (info.context_length or 4096)
        if info.context_length:
            n_ctx = min(n_ctx, info.context_length)
        n_threads = default_threads(request.n_threads)
        repack = weight_repacking(request.safe_mode)
        started_at = time.perf_counter()
        try:
            llm = _CountingLlama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                n_batch=512,
                use_mmap=True,
                verbose=False,
                use_extra_bufts=repack,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            yield self._load_failed(job_id, f"llama.cpp could not load {path.name}: {exc}")
            return
        if request.chat_template:
            problem = self._use_chat_template(llm, request.chat_template)
            if problem is not None:
                llm.close()
                yield self._load_failed(job_id, f"The chat template for {path.name} is broken: {problem}")
                return
        yield protocol.progress(job_id, 0.9, f"Warming up {info.name}")
        try:
            self._warm_up(llm, request.safe_mode)
        except RuntimeError as exc:
            llm.close()
            yield self._load_failed(job_id, f"llama.cpp could not run {path.name}: {exc}")
            return
        self._llm = llm
        self._info = info
        has_template = request.chat_template or llm.metadata.get("tokenizer.chat_template")
        self._model_kind = "instruct" if has_template else "base"
        self._install_abort_callback(llm)
        self._fim_tokens = self._find_fim_tokens(llm)
        loaded = LoadResult(
            model_path=str(path),
            model_name=info.name,
            model_kind=self._model_kind,
            architecture=info.architecture,
            n_ctx=llm.n_ctx(),
            n_threads=n_threads,
            supports_fim=self._fim_tokens is not None,
            safe_mode=request.safe_mode,
            weight_repacking=repack,
            load_seconds=time.perf_counter() - started_at,
        )
        yield protocol.result(job_id, loaded)

    @staticmethod
    def _use_chat_template(llm: _CountingLlama, template: str) -> str | None:
        """Make ``template`` the chat handler of ``llm`` (rendered in llama-cpp-python's Jinja sandbox, like
        a template from the GGUF header); returns why it cannot be one, or None."""
        from jinja2 import TemplateError

        eos, bos = llm.token_eos(), llm.token_bos()
        try:
            formatter = llama_chat_format.Jinja2ChatFormatter(
                template=template,
                eos_token=llm._model.token_get_text(eos) if eos != -1 else "",
                bos_token=llm._model.token_get_text(bos) if bos != -1 else "",
                stop_token_ids=[eos],
            )
        except TemplateError as exc:
            return str(exc)
        llm.chat_handler = formatter.to_chat_handler()
        return None

    @staticmethod
    def _warm_up(llm: _CountingLlama, safe_mode: bool) -> None:
        """Decode a few tokens, then forget them: the model's first decode happens inside the load job, so a
        CPU-specific crash in llama.cpp's kernels is a crash of the load (which Studio retries in safe mode)."""
        crash_hook = os.environ.get(TEST_CRASH_ENV, "")
        if crash_hook == "always" or (crash_hook == "1" and not safe_mode):
            with contextlib.suppress(ImportError, ValueError, OSError):
                import resource

                resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a simulated crash leaves no core file
            os.kill(os.getpid(), signal.SIGSEGV)
        llm.eval(llm.tokenize(WARM_UP_TEXT, add_bos=True, special=False))
        llm.reset()
        llm.eval_sizes = []
        llm.clean_upto = 0

    def _load_failed(self, job_id: str, message: str) -> EngineEvent:
        """The error event of a failed load; ``model_kept`` says whether the previous model still serves."""
        remote = self._remote.server if self._remote is not None else None
        kept = (self._llm is not None and self._info is not None) or remote is not None
        name = remote.model_name if remote is not None else (self._info.name if kept and self._info else "")
        return protocol.error(job_id, message, ErrorInfo(model_kept=kept, model_name=name))

    def _install_abort_callback(self, llm: _CountingLlama) -> None:
        def should_abort(_data: ctypes.c_void_p) -> bool:
            token = self._active_cancel
            aborting = token is not None and token.is_cancelled
            if aborting:
                _user_abort.set()
            return aborting

        self._abort_callback = llama_cpp.ggml_abort_callback(should_abort)
        llama_cpp.llama_set_abort_callback(llm._ctx.ctx, self._abort_callback, None)

    @staticmethod
    def _find_fim_tokens(llm: _CountingLlama) -> tuple[int, int, int] | None:
        model = llm._model
        pre, suf, mid = model.token_prefix(), model.token_suffix(), model.token_middle()
        if min(pre, suf, mid) < 0:
            return None
        return pre, suf, mid

    def _require_model(self) -> _CountingLlama:
        if self._llm is None:
            raise EngineError("No language model is loaded yet.")
        return self._llm

    # completion

    def _prompt_tokens(
        self, llm: _CountingLlama, request: CompletionRequest | TopTokensRequest, max_tokens: int
    ) -> tuple[list[int], bool]:
        budget = llm.n_ctx() - max(1, max_tokens) - 1
        if budget < 16:
            raise EngineError("The context is too small for this request; raise the context size.")
        add_bos = llm._model.add_bos_token()
        bos = [llm.token_bos()] if add_bos else []
        prefix = llm.tokenize(request.prompt.encode("utf-8"), add_bos=False, special=False)
        if self._fim_tokens is not None and request.suffix.strip():
            pre, suf, mid = self._fim_tokens
            suffix = llm.tokenize(request.suffix.encode("utf-8"), add_bos=False, special=False)
            suffix = suffix[: budget // 4]
            head = [*bos, pre]
            tail = [suf, *suffix, mid]
            prefix = fit_to_context(prefix, budget - len(head) - len(tail), 0, budget // 4)
            return head + prefix + tail, True
        tokens = bos + prefix
        return fit_to_context(tokens, budget, len(bos), budget // 4), False

    def _complete(self, request: CompletionRequest, cancel: CancelToken) -> Iterator[EngineEvent]:
        llm = self._require_model()
        job_id = request.job_id
        prompt_tokens, used_fim = self._prompt_tokens(llm, request, request.max_tokens)
        if not request.reuse_cache:
            llm.reset()
        elif request.seed is not None:
            # keep only whole chunks that were decoded cleanly and match this prompt: decoding then resumes at a
            # chunk boundary, so this prompt's chunks are clean too (a later seed reuses them)
            common = _common_prefix(llm.input_ids[: llm.n_tokens].tolist(), prompt_tokens)
            llm.n_tokens = min(llm.clean_upto, common // ALIGNED_CHUNK * ALIGNED_CHUNK)
        yield protocol.started(job_id, StartInfo(prompt_tokens=len(prompt_tokens), used_fim=used_fim))
        stream = llm.create_completion(
            prompt=prompt_tokens,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            top_k=request.top_k,
            top_p=request.top_p,
            min_p=request.min_p,
            repeat_penalty=request.repeat_penalty,
            seed=request.seed,
            stop=list(request.stop) or None,
            stream=True,
        )
        yield from self._stream(
            llm,
            job_id,
            cancel,
            stream,
            lambda chunk: chunk["choices"][0].get("text") or "",
            len(prompt_tokens),
        )

    def _top_tokens(self, request: TopTokensRequest, cancel: CancelToken) -> Iterator[EngineEvent]:
        """Evaluate the prompt on the cached prefix and read the last logits (``llama_get_logits_ith``; no
        ``logits_all``): the top ``k`` of their softmax at temperature 1."""
        llm = self._require_model()
        job_id = request.job_id
        if not request.prompt:
            raise EngineError("Token choices need some text before the word.")
        prompt_tokens, used_fim = self._prompt_tokens(llm, request, 1)
        yield protocol.started(job_id, StartInfo(prompt_tokens=len(prompt_tokens), used_fim=used_fim))
        started_at = time.perf_counter()
        reuse = _common_prefix(llm.input_ids[: llm.n_tokens].tolist(), prompt_tokens)
        reuse = min(reuse, len(prompt_tokens) - 1)  # the last token is decoded again: its logits are read
        llm.n_tokens = reuse
        self._active_cancel = cancel
        try:
            llm.eval(prompt_tokens[reuse:])
        except RuntimeError as exc:
            if cancel.is_cancelled:
                yield protocol.cancelled(job_id)
                return
            raise EngineError(f"Evaluating the prompt failed: {exc}") from None
        finally:
            self._active_cancel = None
            _user_abort.clear()
        if cancel.is_cancelled:
            yield protocol.cancelled(job_id)
            return
        n_vocab = llm.n_vocab()
        pointer = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
        logits = np.ctypeslib.as_array(pointer, shape=(n_vocab,)).astype(np.float64)
        exp = np.exp(logits - logits.max())
        probabilities = exp / exp.sum()
        k = max(1, min(request.k, n_vocab))
        top = np.argpartition(-probabilities, k - 1)[:k]
        top = top[np.argsort(-probabilities[top], kind="stable")]
        tokens = tuple(
            (
                llm.detokenize([int(token)]).decode("utf-8", errors="replace"),
                float(probabilities[token]),
            )
            for token in top
        )
        yield protocol.result(
            job_id,
            TopTokensResult(
                tokens=tokens,
                prompt_tokens=len(prompt_tokens),
                prompt_tokens_evaluated=len(prompt_tokens) - reuse,
                seconds=time.perf_counter() - started_at,
            ),
        )

    def _chat(self, request: ChatRequest, cancel: CancelToken) -> Iterator[EngineEvent]:
        llm = self._require_model()
        job_id = request.job_id
        yield protocol.started(job_id, StartInfo(model_kind=self._model_kind))
        if self._model_kind == "instruct":
            stream = llm.create_chat_completion(
                messages=[{"role": role, "content": content} for role, content in request.messages],  # type: ignore[misc]
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                top_k=request.top_k,
                top_p=request.top_p,
                min_p=request.min_p,
                seed=request.seed,
                stream=True,
            )
            yield from self._stream(
                llm,
                job_id,
                cancel,
                stream,
                lambda chunk: chunk["choices"][0]["delta"].get("content") or "",
                0,
            )
            return
        transcript = "".join(f"{role.capitalize()}: {content}\n" for role, content in request.messages)
        plain_stream = llm.create_completion(
            prompt=transcript + "Assistant:",
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            top_k=request.top_k,
            top_p=request.top_p,
            min_p=request.min_p,
            seed=request.seed,
            stop=["\nUser:"],
            stream=True,
        )
        yield from self._stream(
            llm, job_id, cancel, plain_stream, lambda chunk: chunk["choices"][0].get("text") or "", 0
        )

    def _stream(
        self,
        llm: _CountingLlama,
        job_id: str,
        cancel: CancelToken,
        stream: Any,
        text_of: Any,
        prompt_token_count: int,
    ) -> Iterator[EngineEvent]:
        llm.eval_sizes = []
        pieces: list[str] = []
        first_token_at: float | None = None
        finish_reason = "length"
        started_at = time.perf_counter()
        self._active_cancel = cancel
        try:
            for chunk in stream:
                if cancel.is_cancelled:
                    break
                text = text_of(chunk)
                reason = chunk["choices"][0].get("finish_reason")
                if reason:
                    finish_reason = reason
                if text:
                    if first_token_at is None:
                        first_token_at = time.perf_counter()
                    pieces.append(text)
                    yield protocol.tokens(job_id, text)
        except RuntimeError as exc:
            if not cancel.is_cancelled:
                raise EngineError(f"Generation failed: {exc}") from None
        finally:
            self._active_cancel = None
            _user_abort.clear()
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        evaluated = llm.eval_sizes[0] if llm.eval_sizes else 0
        completion_tokens = max(0, len(llm.eval_sizes) - 1) + (1 if pieces else 0)
        elapsed = time.perf_counter() - started_at
        generating = time.perf_counter() - first_token_at if first_token_at is not None else 0.0
        completed = CompletionResult(
            text="".join(pieces),
            finish_reason=CANCELLED_FINISH if cancel.is_cancelled else finish_reason,
            prompt_tokens=prompt_token_count,
            prompt_tokens_evaluated=evaluated,
            cached_tokens=llm.n_tokens,
            completion_tokens=completion_tokens,
            seconds_to_first_token=(first_token_at - started_at) if first_token_at else elapsed,
            tokens_per_second=(
                (completion_tokens - 1) / generating if generating > 0 and completion_tokens > 1 else 0.0
            ),
        )
        if cancel.is_cancelled:
            yield protocol.cancelled(job_id, completed)  # the text so far, with its counts
            return
        yield protocol.result(job_id, completed, text=completed.text)
