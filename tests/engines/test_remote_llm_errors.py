"""The remote LLM backend against servers that misbehave: nothing listening, garbage, HTTP errors, a strict
OpenAI clone, a server that never answers. Each is a small real HTTP server on loopback (stdlib
``http.server``), so the backend's real sockets, parsing and cancel run; no model needed."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from studio.engines.host import run_job
from studio.engines.protocol import CancelToken, EngineEvent, EngineRequest, EventKind
from studio.engines.remote_llm import EXTRA_COMPLETION_FIELDS, RemoteLlmBackend
from studio.engines.remote_requests import (
    KEYRING_SERVICE,
    ConnectServerRequest,
    ServerUrlError,
    keyring_api_key,
    parse_server_url,
    store_api_key,
)
from studio.engines.results import CANCELLED_FINISH, CompletionResult, ServerLoadResult
from studio.engines.text_requests import ChatRequest, CompletionRequest

Route = Callable[["StubHandler"], None]


class StubHandler(BaseHTTPRequestHandler):
    server: StubServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.server.seen.append((self.command, self.path, dict(self.headers), body))
        self.server.client_ports.append(self.client_address[1])
        route = self.server.routes.get((self.command, self.path))
        if route is None:
            self.answer(404, b'{"detail": "Not Found"}')
        else:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client hung up: fine
                route(self)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def events(self, *payloads: str) -> None:
        """Stream ``data:`` events (HTTP/1.0: the body ends when the connection closes)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for payload in payloads:
            self.wfile.write(f"data: {payload}\n\n".encode())
            self.wfile.flush()


class StubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes: dict[tuple[str, str], Route], keep_alive: bool = False) -> None:
        handler = (
            type("KeepAliveHandler", (StubHandler,), {"protocol_version": "HTTP/1.1"})
            if keep_alive
            else StubHandler
        )
        super().__init__(("127.0.0.1", 0), handler)
        self.routes = routes
        self.seen: list[tuple[str, str, dict[str, str], Any]] = []
        self.client_ports: list[int] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


def models(handler: StubHandler) -> None:
    handler.answer(
        200, json.dumps({"object": "list", "data": [{"id": "stub-model", "object": "model"}]}).encode()
    )


def chunk(text: str, finish: str | None = None) -> str:
    return json.dumps({"choices": [{"index": 0, "text": text, "finish_reason": finish}]})


def good_completion(handler: StubHandler) -> None:
    handler.events(chunk("Hello"), chunk(" world", "stop"), "[DONE]")


@pytest.fixture
def stub() -> Iterator[Callable[[dict[tuple[str, str], Route]], StubServer]]:
    servers: list[StubServer] = []

    def start(routes: dict[tuple[str, str], Route], keep_alive: bool = False) -> StubServer:
        server = StubServer(routes, keep_alive)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def run(
    backend: RemoteLlmBackend, request: EngineRequest, cancel: CancelToken | None = None
) -> list[EngineEvent]:
    return list(run_job(backend, request, cancel or CancelToken()))


def connect_error(url: str, **options: Any) -> str:
    events = run(RemoteLlmBackend(), ConnectServerRequest("connect", url=url, **options))
    assert events[-1].kind is EventKind.ERROR, events[-1]
    return events[-1].text


def connected(server: StubServer, **options: Any) -> RemoteLlmBackend:
    backend = RemoteLlmBackend()
    events = run(backend, ConnectServerRequest("connect", url=server.url, **options))
    assert events[-1].kind is EventKind.RESULT, events[-1]
    return backend


def completion_error(server: StubServer) -> str:
    events = run(connected(server), CompletionRequest("c", prompt="Hi", max_tokens=4))
    assert events[-1].kind is EventKind.ERROR, events[-1]
    return events[-1].text


# addresses


def test_server_urls_are_normalised() -> None:
    plain = parse_server_url("127.0.0.1:8080")
    assert plain.url == "http://127.0.0.1:8080"
    assert plain.path("models") == "/v1/models"
    assert parse_server_url("http://localhost:8080/v1/").url == "http://localhost:8080"
    behind_proxy = parse_server_url("https://gpu.example.org/llm/v1")
    assert behind_proxy.url == "https://gpu.example.org:443/llm"
    assert behind_proxy.path("chat/completions") == "/llm/v1/chat/completions"
    assert parse_server_url("http://[::1]:11434").url == "http://[::1]:11434"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "No server URL given"),
        ("ftp://example.org", "not an http:// or https:// URL"),
        ("http://:8080", "names no host"),
        ("http://host:99999", "not a server URL"),
        ("http://user:secret@host:8080", "not in the URL"),
    ],
)
def test_unusable_urls_are_refused_with_a_reason(url: str, message: str) -> None:
    with pytest.raises(ServerUrlError, match=message):
        parse_server_url(url)
    assert message in connect_error(url)


def test_nothing_listening_is_a_refused_connection(free_port: Callable[[], int]) -> None:
    port = free_port()
    message = connect_error(f"127.0.0.1:{port}")
    assert message.startswith(
        f"Cannot reach the server at http://127.0.0.1:{port}: the connection was refused"
    )


def test_an_unknown_host_is_named() -> None:
    assert "the host 'no-such-host.invalid' is unknown" in connect_error("http://no-such-host.invalid:8080")


def test_requests_before_a_connect_are_refused() -> None:
    events = run(RemoteLlmBackend(), CompletionRequest("c", prompt="Hi"))
    assert events[-1].kind is EventKind.ERROR
    assert events[-1].text == "No server is connected yet."


# garbage and HTTP errors while connecting


def test_a_non_json_model_list_is_garbage(stub: Callable[..., StubServer]) -> None:
    server = stub({("GET", "/v1/models"): lambda h: h.answer(200, b"<html>It works!</html>", "text/html")})
    message = connect_error(server.url)
    assert "does not answer like an OpenAI-compatible server: /v1/models did not answer JSON" in message
    assert "It works!" in message


def test_a_model_list_of_the_wrong_shape_is_garbage(stub: Callable[..., StubServer]) -> None:
    server = stub({("GET", "/v1/models"): lambda h: h.answer(200, b'{"models": ["a"]}')})
    assert "/v1/models has no 'data' list" in connect_error(server.url)


def test_a_server_without_models_says_so(stub: Callable[..., StubServer]) -> None:
    server = stub({("GET", "/v1/models"): lambda h: h.answer(200, b'{"data": []}')})
    assert "serves no model" in connect_error(server.url)


def test_http_errors_carry_the_servers_message(stub: Callable[..., StubServer]) -> None:
    server = stub(
        {
            ("GET", "/v1/models"): lambda h: h.answer(
                500, b'{"error": {"message": "model exploded", "code": 500}}'
            )
        }
    )
    message = connect_error(server.url)
    assert message == f"The server at {server.url} answered HTTP 500 Internal Server Error: model exploded."


def test_a_refused_api_key_gets_a_hint(
    stub: Callable[..., StubServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = stub({("GET", "/v1/models"): lambda h: h.answer(401, b'{"error": "invalid api key"}')})
    monkeypatch.setenv("STUDIO_TEST_KEY", "wrong")
    message = connect_error(server.url, api_key_env="STUDIO_TEST_KEY")
    assert "HTTP 401 Unauthorized: invalid api key." in message
    assert "--api-key-env" in message


def test_the_api_key_comes_from_the_named_variable(
    stub: Callable[..., StubServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = stub({("GET", "/v1/models"): models, ("POST", "/v1/completions"): good_completion})
    monkeypatch.setenv("STUDIO_TEST_KEY", "s3cret")
    backend = RemoteLlmBackend()
    loaded = run(backend, ConnectServerRequest("connect", url=server.url, api_key_env="STUDIO_TEST_KEY"))[
        -1
    ].result
    assert isinstance(loaded, ServerLoadResult)
    assert loaded.api_key_source == "env:STUDIO_TEST_KEY"
    assert run(backend, CompletionRequest("c", prompt="Hi"))[-1].kind is EventKind.RESULT
    assert [headers.get("Authorization") for _, _, headers, _ in server.seen] == ["Bearer s3cret"] * len(
        server.seen
    )


def test_an_unset_api_key_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STUDIO_TEST_KEY", raising=False)
    message = connect_error("http://127.0.0.1:9", api_key_env="STUDIO_TEST_KEY")
    assert message == "The environment variable STUDIO_TEST_KEY holds no API key (it is not set or empty)."


def test_a_llama_cpp_server_reports_its_context_and_template(stub: Callable[..., StubServer]) -> None:
    props = {"default_generation_settings": {"n_ctx": 8192}, "chat_template": ""}
    server = stub(
        {
            ("GET", "/v1/models"): models,
            ("GET", "/props"): lambda h: h.answer(200, json.dumps(props).encode()),
        }
    )
    loaded = run(RemoteLlmBackend(), ConnectServerRequest("connect", url=server.url))[-1].result
    assert isinstance(loaded, ServerLoadResult)
    assert (loaded.server_kind, loaded.n_ctx, loaded.model_kind) == ("llama.cpp", 8192, "base")


# garbage and failures while streaming


def test_a_non_json_event_is_garbage(stub: Callable[..., StubServer]) -> None:
    server = stub(
        {("GET", "/v1/models"): models, ("POST", "/v1/completions"): lambda h: h.events("<<oops>>")}
    )
    assert "an event is not JSON ('<<oops>>')" in completion_error(server)


def test_an_answer_without_choices_is_garbage(stub: Callable[..., StubServer]) -> None:
    server = stub(
        {
            ("GET", "/v1/models"): models,
            ("POST", "/v1/completions"): lambda h: h.answer(200, b'{"result": 1}'),
        }
    )
    assert "an answer has no 'choices'" in completion_error(server)


def test_a_server_error_mid_stream_is_reported(stub: Callable[..., StubServer]) -> None:
    def failing(handler: StubHandler) -> None:
        handler.events(chunk("Hello"), json.dumps({"error": {"message": "the context is full"}}))

    server = stub({("GET", "/v1/models"): models, ("POST", "/v1/completions"): failing})
    events = run(connected(server), CompletionRequest("c", prompt="Hi"))
    assert [event.kind for event in events] == [EventKind.STARTED, EventKind.TOKENS, EventKind.ERROR]
    assert events[-1].text == f"The server at {server.url} reported an error: the context is full"


def test_a_stream_that_breaks_off_is_a_dead_server(stub: Callable[..., StubServer]) -> None:
    server = stub(
        {("GET", "/v1/models"): models, ("POST", "/v1/completions"): lambda h: h.events(chunk("Hello"))}
    )
    message = completion_error(server)
    assert "closed the connection in the middle of the answer, after 1 pieces of text" in message


def test_a_plain_text_500_is_shown(stub: Callable[..., StubServer]) -> None:
    server = stub(
        {
            ("GET", "/v1/models"): models,
            ("POST", "/v1/completions"): lambda h: h.answer(500, b"Internal Server Error", "text/plain"),
        }
    )
    assert (
        completion_error(server)
        == f"The server at {server.url} answered HTTP 500 Internal Server Error: Internal Server Error."
    )


def test_a_server_that_ignores_stream_still_answers(stub: Callable[..., StubServer]) -> None:
    whole = {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Paris."}, "finish_reason": "stop"}
        ]
    }
    server = stub(
        {
            ("GET", "/v1/models"): models,
            ("POST", "/v1/chat/completions"): lambda h: h.answer(200, json.dumps(whole).encode()),
        }
    )
    events = run(connected(server), ChatRequest("chat", messages=(("user", "Capital of France?"),)))
    assert [event.kind for event in events] == [EventKind.STARTED, EventKind.TOKENS, EventKind.RESULT]
    assert events[-1].result.text == "Paris."
    _method, _path, _headers, body = server.seen[-1]
    assert body["messages"] == [{"role": "user", "content": "Capital of France?"}]
    assert body["model"] == "stub-model" and body["stream"] is True


def test_a_strict_server_gets_only_openai_fields(stub: Callable[..., StubServer]) -> None:
    def strict(handler: StubHandler) -> None:
        body = handler.server.seen[-1][3]
        extra = sorted(set(body) & set(EXTRA_COMPLETION_FIELDS))
        if extra:
            message = f"Unrecognized request argument supplied: {extra[0]}"
            handler.answer(400, json.dumps({"error": {"message": message}}).encode())
        else:
            good_completion(handler)

    server = stub({("GET", "/v1/models"): models, ("POST", "/v1/completions"): strict})
    backend = connected(server)
    for job in ("first", "second"):
        events = run(backend, CompletionRequest(job, prompt="Hi", top_k=20))
        assert events[-1].kind is EventKind.RESULT, events[-1]
        assert events[-1].result.text == "Hello world"
    posted = [body for method, _path, _headers, body in server.seen if method == "POST"]
    assert len(posted) == 3  # refused once, then plain OpenAI fields from then on
    assert "cache_prompt" in posted[0] and "top_k" in posted[0]
    assert not set(posted[1]) & set(EXTRA_COMPLETION_FIELDS)
    assert not set(posted[2]) & set(EXTRA_COMPLETION_FIELDS)


def test_a_bad_request_is_not_mistaken_for_strictness(stub: Callable[..., StubServer]) -> None:
    too_long = b'{"error": {"message": "the request exceeds the available context size"}}'
    server = stub(
        {("GET", "/v1/models"): models, ("POST", "/v1/completions"): lambda h: h.answer(400, too_long)}
    )
    assert "exceeds the available context size" in completion_error(server)
    assert sum(method == "POST" for method, *_ in server.seen) == 1


def test_cancel_ends_a_read_the_server_never_answers(stub: Callable[..., StubServer]) -> None:
    received = threading.Event()
    release = threading.Event()

    def silent(handler: StubHandler) -> None:
        received.set()
        release.wait(60)  # like a server stuck in a long prompt: no byte until released
        good_completion(handler)

    server = stub({("GET", "/v1/models"): models, ("POST", "/v1/completions"): silent})
    backend = connected(server)
    cancel = CancelToken()

    def cancel_once_waiting() -> None:
        received.wait(60)
        cancel.cancel()

    threading.Thread(target=cancel_once_waiting, daemon=True).start()
    try:
        events = run(backend, CompletionRequest("c", prompt="Hi"), cancel)
        answered = release.is_set()
    finally:
        release.set()
    assert not answered  # the job ended while the server still held its answer back
    assert events[-1].kind is EventKind.CANCELLED
    assert isinstance(events[-1].result, CompletionResult)
    assert events[-1].result.finish_reason == CANCELLED_FINISH
    assert events[-1].result.text == ""


def test_a_dropped_keep_alive_connection_is_reopened_once(stub: Callable[..., StubServer]) -> None:
    whole = json.dumps({"choices": [{"index": 0, "text": "Hello", "finish_reason": "stop"}]}).encode()

    def answer_then_hang_up(handler: StubHandler) -> None:
        handler.answer(200, whole)
        handler.close_connection = True  # without telling the client, as an idle timeout does

    server = stub(
        {("GET", "/v1/models"): models, ("POST", "/v1/completions"): answer_then_hang_up}, keep_alive=True
    )
    backend = connected(server)
    for job in ("first", "second"):
        events = run(backend, CompletionRequest(job, prompt="Hi"))
        assert events[-1].kind is EventKind.RESULT, events[-1]
        assert events[-1].result.text == "Hello"
    models_port, props_port, first_port, second_port = server.client_ports
    assert models_port == props_port == first_port  # one kept-alive connection
    assert second_port != first_port  # the dropped one was replaced, and the request sent once more
    assert [method for method, *_ in server.seen] == ["GET", "GET", "POST", "POST"]


def test_long_prompts_are_cut_to_the_servers_context_at_a_stable_point(
    stub: Callable[..., StubServer],
) -> None:
    props = {"default_generation_settings": {"n_ctx": 64}, "chat_template": "{{ messages }}"}

    def counting(handler: StubHandler) -> None:
        prompt = handler.server.seen[-1][3]["prompt"]
        usage = json.dumps(
            {"choices": [], "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": 1}}
        )
        handler.events(chunk("!", "length"), usage, "[DONE]")

    server = stub(
        {
            ("GET", "/v1/models"): models,
            ("GET", "/props"): lambda h: h.answer(200, json.dumps(props).encode()),
            ("POST", "/v1/completions"): counting,
        }
    )
    backend = connected(server)
    document = "".join(f"Sentence {i} of a long story. " for i in range(100))
    sent: list[str] = []
    for job, prompt in enumerate((document, document + "And", document + "And then")):
        events = run(backend, CompletionRequest(str(job), prompt=prompt, max_tokens=16))
        assert events[-1].kind is EventKind.RESULT, events[-1]
        sent.append(server.seen[-1][3]["prompt"])
        assert prompt.endswith(sent[-1])
    # 64 tokens of context - 16 to answer - 8 spare = 40 tokens, about 3 characters each at first
    assert len(sent[0]) <= 120
    # the server counted 4 characters a token: later prompts keep 90 % of that, 144 characters
    assert 120 < len(sent[1]) <= 144
    assert len(document + "And") - len(sent[1]) == len(document + "And then") - len(sent[2])  # same cut point
    events = run(backend, CompletionRequest("no-cache", prompt="Hi", reuse_cache=False))
    assert server.seen[-1][3]["cache_prompt"] is False


@pytest.fixture
def memory_keyring() -> Iterator[Any]:
    """The system keyring replaced by one in memory for the test (the ``keyring`` package is optional)."""
    pytest.importorskip("keyring")
    from studio.testing.memory_keyring import MemoryKeyring, keyring_backend

    with keyring_backend(MemoryKeyring()) as memory:
        yield memory


def test_the_api_key_comes_from_the_keyring(stub: Callable[..., StubServer], memory_keyring: Any) -> None:
    server = stub({("GET", "/v1/models"): models, ("POST", "/v1/completions"): good_completion})
    store_api_key(f"{server.url}/v1/", "from-the-keyring")  # kept under the canonical URL
    assert memory_keyring.passwords == {(KEYRING_SERVICE, server.url): "from-the-keyring"}
    backend = RemoteLlmBackend()
    loaded = run(backend, ConnectServerRequest("connect", url=server.url.removeprefix("http://")))[-1].result
    assert isinstance(loaded, ServerLoadResult) and loaded.api_key_source == "keyring"
    assert run(backend, CompletionRequest("c", prompt="Hi"))[-1].kind is EventKind.RESULT
    assert {headers.get("Authorization") for _, _, headers, _ in server.seen} == {"Bearer from-the-keyring"}


def test_a_named_variable_wins_over_the_keyring(
    stub: Callable[..., StubServer], memory_keyring: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = stub({("GET", "/v1/models"): models})
    store_api_key(server.url, "from-the-keyring")
    monkeypatch.setenv("STUDIO_TEST_KEY", "from-the-environment")
    loaded = run(RemoteLlmBackend(), ConnectServerRequest("c", url=server.url, api_key_env="STUDIO_TEST_KEY"))
    assert loaded[-1].result.api_key_source == "env:STUDIO_TEST_KEY"
    assert {headers.get("Authorization") for _, _, headers, _ in server.seen} == {
        "Bearer from-the-environment"
    }


def test_without_a_usable_keyring_no_key_is_sent(stub: Callable[..., StubServer]) -> None:
    pytest.importorskip("keyring")
    from keyring.backends import fail

    from studio.testing.memory_keyring import keyring_backend

    with keyring_backend(fail.Keyring()):  # what a machine without a keyring service has
        server = stub({("GET", "/v1/models"): models})
        assert keyring_api_key(server.url) == ""
        loaded = run(RemoteLlmBackend(), ConnectServerRequest("c", url=server.url))[-1].result
    assert isinstance(loaded, ServerLoadResult) and loaded.api_key_source == ""
    assert {headers.get("Authorization") for _, _, headers, _ in server.seen} == {None}
