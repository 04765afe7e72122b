"""A remote LLM: Studio's completion and chat requests served by an OpenAI-compatible server.

Works with llama.cpp's ``llama-server``, llama-cpp-python's server, vLLM, Ollama and LM Studio. Completions
go to ``/v1/completions`` (with ``cache_prompt``, so a llama.cpp server reuses the cached prompt prefix the
way the local engine does), chat to ``/v1/chat/completions``; both stream server-sent events that become
``tokens`` events. Cancel closes the connection: a watcher shuts the socket down as soon as the job's
:class:`~studio.engines.protocol.CancelToken` is set, so even a read that waits for a slow prompt ends at once.

Stdlib only (``http.client``), no Qt, no llama_cpp; the LLM engine delegates to :class:`RemoteLlmBackend` after
a :class:`~studio.engines.remote_requests.ConnectServerRequest`, and ``studio text --server`` runs it in-process.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from studio.engines import protocol
from studio.engines.protocol import (
    CancelToken,
    EngineError,
    EngineEvent,
    EngineRequest,
    JobCancelled,
    StartInfo,
)
from studio.engines.remote_requests import (
    ConnectServerRequest,
    ServerAddress,
    ServerUrlError,
    keyring_api_key,
    parse_server_url,
)
from studio.engines.results import CANCELLED_FINISH, CompletionResult, ServerLoadResult
from studio.engines.text_requests import ChatRequest, CompletionRequest

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0  # seconds to open a connection (reads wait ConnectServerRequest.timeout)
CANCEL_POLL = 0.05  # seconds between the cancel watcher's looks at the CancelToken
MAX_LINE = 4 * 1024 * 1024  # longest server-sent-events line accepted
MAX_BODY = 16 * 1024 * 1024  # largest plain JSON answer accepted
MESSAGE_CHARS = 400  # how much of a server's own error message is shown
CHARS_PER_TOKEN = 3.0  # a cautious guess, until the server reports how many tokens a long prompt was
PROMPT_MARGIN = 8  # tokens of the server's context left free besides the prompt and the answer

# Sampling parameters beyond OpenAI's: llama.cpp's servers, vLLM and Ollama read (or ignore) them; a strict
# server that refuses them gets the request again without them.
EXTRA_COMPLETION_FIELDS = ("cache_prompt", "top_k", "min_p", "repeat_penalty", "stream_options")

_DONE = object()


class _ServerGone(Exception):
    """The connection broke while the answer was read (the caller tells cancel from a dying server)."""


@dataclass(slots=True)
class _StreamStats:
    """What a streamed answer said besides its text."""

    finish_reason: str | None = None
    chunks: int = 0
    usage: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)


def _shorten(text: str, limit: int = MESSAGE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def server_message(body: bytes) -> str:
    """The message in a server's error body (OpenAI ``{"error": {"message"}}``, FastAPI ``{"detail"}``, plain
    text), shortened for one line."""
    text = body.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        return _shorten(text)
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return _shorten(str(error["message"]))
        for key in ("error", "detail", "message"):
            if data.get(key):
                value = data[key]
                return _shorten(value if isinstance(value, str) else json.dumps(value))
    return _shorten(text)


def resolve_api_key(address: ServerAddress, api_key_env: str) -> tuple[str, str]:
    """The API key and where it came from (``env:VAR``, ``keyring`` or "" for none).

    A named environment variable must be set; without one the system keyring is asked (when installed).
    """
    if api_key_env:
        key = os.environ.get(api_key_env, "").strip()
        if not key:
            raise EngineError(
                f"The environment variable {api_key_env} holds no API key (it is not set or empty)."
            )
        return key, f"env:{api_key_env}"
    key = keyring_api_key(address.url)
    return (key, "keyring") if key else ("", "")


class _CancelWatcher:
    """While active, shuts the current socket down as soon as ``cancel`` is set, so a blocked read returns."""

    def __init__(self, cancel: CancelToken, current_socket: Callable[[], socket.socket | None]) -> None:
        self._cancel = cancel
        self._current_socket = current_socket
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="remote-llm-cancel", daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(CANCEL_POLL):
            if self._cancel.is_cancelled:
                sock = self._current_socket()
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                return

    def __enter__(self) -> _CancelWatcher:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


class ServerConnection:
    """One keep-alive HTTP connection to a server, reopened after errors and cancels. Not thread-safe."""

    def __init__(self, address: ServerAddress, api_key: str = "", timeout: float = 300.0) -> None:
        self.address = address
        self.timeout = timeout
        self._api_key = api_key
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _socket(self) -> socket.socket | None:
        conn = self._conn
        return conn.sock if conn is not None else None  # type: ignore[no-any-return]

    def _open(self) -> http.client.HTTPConnection:
        address = self.address
        conn: http.client.HTTPConnection
        if address.scheme == "https":
            conn = http.client.HTTPSConnection(
                address.host, address.port, timeout=CONNECT_TIMEOUT, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(address.host, address.port, timeout=CONNECT_TIMEOUT)
        self._conn = conn
        try:
            conn.connect()
        except BaseException:
            self.close()
            raise
        conn.sock.settimeout(self.timeout)
        return conn

    def _unreachable(self, exc: BaseException) -> EngineError:
        url = self.address.url
        if isinstance(exc, ConnectionRefusedError):
            return EngineError(
                f"Cannot reach the server at {url}: the connection was refused. "
                "Is the server running, and is the port right?"
            )
        if isinstance(exc, socket.gaierror):
            return EngineError(
                f"Cannot reach the server at {url}: the host {self.address.host!r} is unknown."
            )
        if isinstance(exc, TimeoutError):
            return EngineError(
                f"Cannot reach the server at {url}: it did not answer within {CONNECT_TIMEOUT:.0f} s."
            )
        if isinstance(exc, ssl.SSLError):
            return EngineError(f"Cannot open a secure connection to {url}: {exc.reason or exc}.")
        return EngineError(f"Cannot reach the server at {url}: {getattr(exc, 'strerror', None) or exc}.")

    def request(
        self, method: str, path: str, body: dict[str, Any] | None, cancel: CancelToken
    ) -> http.client.HTTPResponse:
        """Send one request and return the response once its status line arrived.

        A reused keep-alive connection the server has closed meanwhile is reopened once. Raises
        :class:`EngineError` (unreachable), :class:`JobCancelled`, or :class:`_ServerGone`.
        """
        payload = json.dumps(body).encode("utf-8") if body is not None else None
        headers = {"Accept": "application/json, text/event-stream", "User-Agent": "Studio"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        for attempt in range(2):
            if cancel.is_cancelled:
                raise JobCancelled
            reused = self._conn is not None
            try:
                conn = self._conn if self._conn is not None else self._open()
            except OSError as exc:
                raise self._unreachable(exc) from None
            try:
                conn.request(method, path, body=payload, headers=headers)
                return conn.getresponse()
            except (http.client.HTTPException, OSError) as exc:
                self.close()
                if cancel.is_cancelled:
                    raise JobCancelled from None
                if reused and attempt == 0 and not isinstance(exc, TimeoutError):
                    continue  # the server closed the idle connection: once more on a fresh one
                if isinstance(exc, TimeoutError):
                    raise EngineError(
                        f"The server at {self.address.url} did not answer within {self.timeout:.0f} s."
                    ) from None
                raise _ServerGone(str(exc) or type(exc).__name__) from None
        raise AssertionError("unreachable")

    def http_error(self, response: http.client.HTTPResponse, endpoint: str) -> EngineError:
        """The error for a response with an HTTP error status, with the server's own message."""
        try:
            body = response.read(MAX_BODY)
        except (http.client.HTTPException, OSError):
            body = b""
        self.close()
        message = server_message(body) or "no message"
        status = f"HTTP {response.status} {response.reason}".strip()
        hint = ""
        if response.status in (401, 403):
            hint = " Check the API key (studio text --api-key-env VAR, or the keyring)."
        elif response.status == 404 and endpoint == "models":
            hint = " Is this an OpenAI-compatible server (it has no /v1/models)?"
        return EngineError(f"The server at {self.address.url} answered {status}: {message}.{hint}")

    def get_json(self, endpoint: str, cancel: CancelToken) -> Any:
        """GET ``/v1/<endpoint>`` and parse its JSON answer."""
        with _CancelWatcher(cancel, self._socket):
            try:
                response = self.request("GET", self.address.path(endpoint), None, cancel)
                if response.status >= 400:
                    raise self.http_error(response, endpoint)
                body = response.read(MAX_BODY + 1)
            except (http.client.HTTPException, OSError, _ServerGone) as exc:
                self.close()
                if cancel.is_cancelled:
                    raise JobCancelled from None
                raise EngineError(f"The server at {self.address.url} closed the connection: {exc}") from None
        if len(body) > MAX_BODY or response.will_close:
            self.close()
        try:
            return json.loads(body)
        except ValueError:
            raise self.garbage(f"/v1/{endpoint} did not answer JSON", body) from None

    def garbage(self, what: str, body: bytes | str) -> EngineError:
        text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
        return EngineError(
            f"The server at {self.address.url} does not answer like an OpenAI-compatible server: {what} "
            f"({_shorten(text, 120)!r})."
        )

    def stream(
        self, endpoint: str, body: dict[str, Any], cancel: CancelToken, stats: _StreamStats
    ) -> Iterator[dict[str, Any]]:
        """POST a streaming request and yield the choice of each chunk (``{"text"}`` or ``{"delta"}``).

        Raises :class:`EngineError` for HTTP errors, garbage and a server that goes away mid-answer, and
        :class:`JobCancelled` after a cancel (the connection is closed then).
        """
        watcher = _CancelWatcher(cancel, self._socket)
        finished = False
        with watcher:
            try:
                response = self.request("POST", self.address.path(endpoint), body, cancel)
                if response.status >= 400:
                    raise self.http_error(response, endpoint)
                content_type = response.getheader("Content-Type", "")
                if "text/event-stream" in content_type:
                    for data in self._events(response):
                        if data is _DONE:
                            finished = True
                            break
                        yield from self._choices(data, stats)
                        if cancel.is_cancelled:
                            raise JobCancelled
                    else:
                        finished = stats.finish_reason is not None
                else:  # a server that ignores "stream": one JSON answer
                    answer = response.read(MAX_BODY)
                    try:
                        data = json.loads(answer)
                    except ValueError:
                        raise self.garbage(
                            f"/v1/{endpoint} answered neither events nor JSON", answer
                        ) from None
                    yield from self._choices(data, stats)
                    finished = True
            except (http.client.HTTPException, OSError, _ServerGone) as exc:
                self.close()
                if cancel.is_cancelled:
                    raise JobCancelled from None
                if isinstance(exc, TimeoutError):
                    raise EngineError(
                        f"The server at {self.address.url} stopped answering (nothing for {self.timeout:.0f} s)."
                    ) from None
                raise self._died(stats, exc) from None
            except BaseException:
                self.close()  # a cancel, an error, or the consumer stopped early: the stream can't be reused
                raise
        if cancel.is_cancelled:
            self.close()
            raise JobCancelled
        if not finished:
            self.close()
            raise self._died(stats, None)
        self._drain(response)

    def _drain(self, response: http.client.HTTPResponse) -> None:
        """Read what follows ``[DONE]`` (the end of the chunked body) so the connection can be reused; close
        it instead when that takes long or the server closes it anyway."""
        sock = self._socket()
        try:
            if sock is not None:
                sock.settimeout(1.0)
            response.read(MAX_LINE)
            if sock is not None:
                sock.settimeout(self.timeout)
        except (http.client.HTTPException, OSError):
            self.close()
            return
        if response.will_close or not response.isclosed():
            self.close()

    def _died(self, stats: _StreamStats, exc: BaseException | None) -> EngineError:
        why = f" ({exc})" if exc is not None and str(exc) else ""
        return EngineError(
            f"The server at {self.address.url} closed the connection in the middle of the answer, after "
            f"{stats.chunks} pieces of text{why}. Is it still running?"
        )

    def _events(self, response: http.client.HTTPResponse) -> Iterator[Any]:
        """The parsed ``data`` of each server-sent event; ``_DONE`` for ``[DONE]``; stops at the end of the
        body."""
        data_lines: list[str] = []
        while True:
            line = response.readline(MAX_LINE)
            if not line:
                return
            if len(line) >= MAX_LINE and not line.endswith(b"\n"):
                raise self.garbage("an event line is too long", line[:120])
            line = line.rstrip(b"\r\n")
            if not line:
                if data_lines:
                    payload = "\n".join(data_lines)
                    data_lines = []
                    if payload.strip() == "[DONE]":
                        yield _DONE
                        return
                    try:
                        yield json.loads(payload)
                    except ValueError:
                        raise self.garbage("an event is not JSON", payload) from None
                continue
            if line.startswith(b":"):
                continue  # a comment (keep-alive ping)
            name, _, value = line.partition(b":")
            value = value.removeprefix(b" ")
            if name == b"data":
                data_lines.append(value.decode("utf-8", errors="replace"))
            elif name == b"error":
                raise EngineError(
                    f"The server at {self.address.url} reported an error: {server_message(value)}"
                )

    def _choices(self, data: Any, stats: _StreamStats) -> Iterator[dict[str, Any]]:
        if not isinstance(data, dict):
            raise self.garbage("an answer is not a JSON object", json.dumps(data))
        if data.get("error"):
            raise EngineError(
                f"The server at {self.address.url} reported an error: {server_message(json.dumps(data).encode())}"
            )
        if isinstance(data.get("usage"), dict):
            stats.usage = data["usage"]
        if isinstance(data.get("timings"), dict):
            stats.timings = data["timings"]
        choices = data.get("choices")
        if not isinstance(choices, list) or (not choices and "usage" not in data):
            raise self.garbage("an answer has no 'choices'", json.dumps(data))
        for choice in choices[:1]:
            if not isinstance(choice, dict):
                raise self.garbage("a choice is not a JSON object", json.dumps(data))
            if choice.get("finish_reason"):
                stats.finish_reason = str(choice["finish_reason"])
            yield choice


def choice_text(choice: dict[str, Any]) -> str:
    """The new text of a streamed (``delta`` or ``text``) or whole (``message``) choice."""
    for key in ("delta", "message"):
        part = choice.get(key)
        if isinstance(part, dict):
            content = part.get("content")
            return content if isinstance(content, str) else ""
    text = choice.get("text")
    return text if isinstance(text, str) else ""


def chat_transcript(messages: tuple[tuple[str, str], ...]) -> str:
    """A chat as plain text for a base model (the local engine's format)."""
    return "".join(f"{role.capitalize()}: {content}\n" for role, content in messages) + "Assistant:"


def fit_prompt(prompt: str, max_chars: int) -> str:
    """Drop the start of ``prompt`` so that at most ``max_chars`` characters remain.

    Characters are dropped in whole quarters of ``max_chars``, so the cut point stays put while text is
    appended and the server keeps reusing its cached prompt prefix (the local engine's rule, in characters).
    """
    if len(prompt) <= max_chars:
        return prompt
    chunk = max(1, max_chars // 4)
    drop = -(-(len(prompt) - max_chars) // chunk) * chunk
    return prompt[drop:]


def _as_int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


class RemoteLlmBackend:
    """Serves :class:`ConnectServerRequest`, :class:`CompletionRequest` and :class:`ChatRequest` from an
    OpenAI-compatible server, with the local engine's events and results (the ``handle`` contract of
    :class:`~studio.engines.protocol.Engine`)."""

    def __init__(self) -> None:
        self._connection: ServerConnection | None = None
        self._server: ServerLoadResult | None = None
        self._plain_fields = False  # the server refused EXTRA_COMPLETION_FIELDS once
        self._chars_per_token = CHARS_PER_TOKEN

    @property
    def server(self) -> ServerLoadResult | None:
        """The connected server, or None."""
        return self._server

    def handle(self, request: EngineRequest[Any], cancel: CancelToken) -> Iterator[EngineEvent]:
        if isinstance(request, ConnectServerRequest):
            yield from self._connect(request, cancel)
        elif isinstance(request, CompletionRequest):
            yield from self._complete(request, cancel)
        elif isinstance(request, ChatRequest):
            yield from self._chat(request, cancel)
        else:
            raise EngineError(f"the remote LLM cannot handle {type(request).__name__}")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()

    # connecting

    def _connect(self, request: ConnectServerRequest, cancel: CancelToken) -> Iterator[EngineEvent]:
        job_id = request.job_id
        yield protocol.started(job_id, StartInfo(model_path=request.url))
        if request.model_kind not in ("", "instruct", "base"):
            raise EngineError(f"Unknown model kind {request.model_kind!r} (instruct or base).")
        try:
            address = parse_server_url(request.url)
        except ServerUrlError as exc:
            raise EngineError(str(exc)) from None
        api_key, key_source = resolve_api_key(address, request.api_key_env)
        started_at = time.perf_counter()
        connection = ServerConnection(address, api_key, max(1.0, request.timeout))
        yield protocol.progress(job_id, None, f"Connecting to {address.url}")
        try:
            listing = connection.get_json("models", cancel)
            models = self._model_ids(connection, listing)
            if request.model and request.model not in models:
                raise EngineError(
                    f"The server at {address.url} has no model {request.model!r}; it serves "
                    + ", ".join(repr(m) for m in models)
                    + "."
                )
            model = request.model or models[0]
            entry = next(e for e in listing["data"] if isinstance(e, dict) and e.get("id") == model)
            props = self._llama_cpp_props(connection, cancel)
        except BaseException:
            connection.close()
            raise
        n_ctx = _as_int(props.get("default_generation_settings", {}).get("n_ctx")) if props else 0
        meta = entry.get("meta")
        n_ctx = (
            n_ctx
            or _as_int(entry.get("max_model_len"))
            or (_as_int(meta.get("n_ctx_train")) if isinstance(meta, dict) else 0)
        )
        model_kind = request.model_kind
        if not model_kind:
            # llama.cpp says whether the model has a chat template; other servers serve chat models
            template = props.get("chat_template", "x") if props is not None else "x"
            model_kind = "instruct" if str(template or "").strip() else "base"
        self.close()
        self._connection = connection
        self._plain_fields = False
        self._chars_per_token = CHARS_PER_TOKEN
        self._server = ServerLoadResult(
            model_path=address.url,
            model_name=model,
            model_kind=model_kind,
            architecture="remote",
            n_ctx=n_ctx,
            n_threads=0,
            supports_fim=False,
            safe_mode=False,
            weight_repacking=False,
            load_seconds=time.perf_counter() - started_at,
            server_url=address.url,
            models=tuple(models),
            server_kind="llama.cpp" if props is not None else "openai-compatible",
            api_key_source=key_source,
        )
        yield protocol.result(job_id, self._server)

    @staticmethod
    def _model_ids(connection: ServerConnection, listing: Any) -> list[str]:
        data = listing.get("data") if isinstance(listing, dict) else None
        if not isinstance(data, list):
            raise connection.garbage("/v1/models has no 'data' list", json.dumps(listing))
        models = [str(entry["id"]) for entry in data if isinstance(entry, dict) and entry.get("id")]
        if not models:
            raise EngineError(
                f"The server at {connection.address.url} serves no model (/v1/models is empty)."
            )
        return models

    @staticmethod
    def _llama_cpp_props(connection: ServerConnection, cancel: CancelToken) -> dict[str, Any] | None:
        """llama.cpp server's ``/props`` (context size, chat template), or None from other servers."""
        try:
            with _CancelWatcher(cancel, connection._socket):
                response = connection.request("GET", f"{connection.address.base_path}/props", None, cancel)
                body = response.read(MAX_BODY)
                if response.will_close:
                    connection.close()
        except (_ServerGone, http.client.HTTPException, OSError):
            connection.close()
            return None
        if response.status != 200:
            return None
        try:
            props = json.loads(body) if body else None
        except ValueError:
            return None
        return props if isinstance(props, dict) and "default_generation_settings" in props else None

    def _require_server(self) -> tuple[ServerConnection, ServerLoadResult]:
        if self._connection is None or self._server is None:
            raise EngineError("No server is connected yet.")
        return self._connection, self._server

    # completion and chat

    def _complete(self, request: CompletionRequest, cancel: CancelToken) -> Iterator[EngineEvent]:
        _connection, server = self._require_server()
        prompt = request.prompt
        if server.n_ctx:
            budget = server.n_ctx - max(1, request.max_tokens) - PROMPT_MARGIN
            if budget < 16:
                raise EngineError("The server's context is too small for this request; ask for fewer tokens.")
            prompt = fit_prompt(prompt, int(budget * self._chars_per_token))
        yield protocol.started(request.job_id, StartInfo(used_fim=False))
        body: dict[str, Any] = {
            "model": server.model_name,
            "prompt": prompt,
            "cache_prompt": request.reuse_cache,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "top_k": request.top_k,
            "min_p": request.min_p,
            "repeat_penalty": request.repeat_penalty,
        }
        if request.stop:
            body["stop"] = list(request.stop)
        yield from self._run(request.job_id, "completions", body, request.seed, cancel)

    def _learn_chars_per_token(self, prompt: str, stats: _StreamStats) -> None:
        """Fit prompts by this server's own count: characters per token of a long prompt it reported."""
        prompt_tokens = _as_int(stats.usage.get("prompt_tokens"))
        if prompt_tokens < 25:
            return  # too short to count on (a start-of-text token or two weigh too much)
        observed = 0.9 * len(prompt) / prompt_tokens
        if abs(observed - self._chars_per_token) > 0.1 * self._chars_per_token:
            self._chars_per_token = observed  # moves the cut point, so only on a real change

    def _chat(self, request: ChatRequest, cancel: CancelToken) -> Iterator[EngineEvent]:
        _connection, server = self._require_server()
        yield protocol.started(request.job_id, StartInfo(model_kind=server.model_kind))
        body: dict[str, Any] = {
            "model": server.model_name,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if server.model_kind == "instruct":
            body["messages"] = [{"role": role, "content": content} for role, content in request.messages]
            yield from self._run(request.job_id, "chat/completions", body, request.seed, cancel)
        else:
            body.update(prompt=chat_transcript(request.messages), stop=["\nUser:"])
            yield from self._run(request.job_id, "completions", body, request.seed, cancel)

    def _run(
        self, job_id: str, endpoint: str, body: dict[str, Any], seed: int | None, cancel: CancelToken
    ) -> Iterator[EngineEvent]:
        connection, _server = self._require_server()
        body = {"cache_prompt": True, **body, "stream": True, "stream_options": {"include_usage": True}}
        if seed is not None:
            body["seed"] = seed
        pieces: list[str] = []
        started_at = time.perf_counter()
        first_token_at: float | None = None
        stats = _StreamStats()
        try:
            for attempt in range(2):
                sent = (
                    {k: v for k, v in body.items() if k not in EXTRA_COMPLETION_FIELDS}
                    if self._plain_fields
                    else body
                )
                try:
                    for choice in connection.stream(endpoint, sent, cancel, stats):
                        text = choice_text(choice)
                        if text:
                            stats.chunks += 1
                            if first_token_at is None:
                                first_token_at = time.perf_counter()
                            pieces.append(text)
                            yield protocol.tokens(job_id, text)
                    break
                except EngineError as exc:
                    if attempt == 0 and not pieces and not self._plain_fields and self._refused_extras(exc):
                        self._plain_fields = True
                        continue
                    raise
        except JobCancelled:
            yield protocol.cancelled(job_id, self._completed(pieces, stats, started_at, first_token_at, True))
            return
        if endpoint == "completions":
            self._learn_chars_per_token(body["prompt"], stats)
        completed = self._completed(pieces, stats, started_at, first_token_at, False)
        yield protocol.result(job_id, completed, text=completed.text)

    @staticmethod
    def _refused_extras(exc: EngineError) -> bool:
        """True for a strict server's refusal of the fields beyond OpenAI's (not for other bad requests)."""
        message = str(exc)
        if " HTTP 400 " not in message and " HTTP 422 " not in message:
            return False
        lowered = message.lower()
        return any(name in message for name in EXTRA_COMPLETION_FIELDS) or any(
            word in lowered for word in ("unrecognized", "unexpected", "extra", "not permitted")
        )

    @staticmethod
    def _completed(
        pieces: list[str],
        stats: _StreamStats,
        started_at: float,
        first_token_at: float | None,
        was_cancelled: bool,
    ) -> CompletionResult:
        now = time.perf_counter()
        usage, timings = stats.usage, stats.timings
        completion_tokens = _as_int(usage.get("completion_tokens")) or _as_int(timings.get("predicted_n"))
        completion_tokens = completion_tokens or stats.chunks
        details = usage.get("prompt_tokens_details")
        cached = _as_int(timings.get("cache_n")) or (
            _as_int(details.get("cached_tokens")) if isinstance(details, dict) else 0
        )
        prompt_tokens = _as_int(usage.get("prompt_tokens")) or (_as_int(timings.get("prompt_n")) + cached)
        evaluated = (
            _as_int(timings.get("prompt_n")) if "prompt_n" in timings else max(0, prompt_tokens - cached)
        )
        generating = now - first_token_at if first_token_at is not None else 0.0
        return CompletionResult(
            text="".join(pieces),
            finish_reason=CANCELLED_FINISH if was_cancelled else (stats.finish_reason or "stop"),
            prompt_tokens=prompt_tokens,
            prompt_tokens_evaluated=evaluated,
            cached_tokens=cached,
            completion_tokens=completion_tokens,
            seconds_to_first_token=(first_token_at - started_at) if first_token_at else now - started_at,
            tokens_per_second=(
                (completion_tokens - 1) / generating if generating > 0 and completion_tokens > 1 else 0.0
            ),
        )
