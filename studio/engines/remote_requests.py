"""Requests and results of a remote LLM: an OpenAI-compatible server (llama.cpp's ``llama-server``,
llama-cpp-python's server, vLLM, Ollama, LM Studio) that serves Studio's completion and chat requests.

Plain picklable data, free of Qt and llama_cpp: the GUI and the CLI build these. After a
:class:`ConnectServerRequest` succeeds, the LLM engine sends the same
:class:`~studio.engines.text_requests.CompletionRequest` and :class:`~studio.engines.text_requests.ChatRequest`
that a local model serves to the server instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

from studio.engines.protocol import EngineRequest
from studio.engines.results import ServerLoadResult

log = logging.getLogger(__name__)

KEYRING_SERVICE = "studio-llm-server"
"""The system keyring's service name of server API keys; the user name is the server's URL."""

MODEL_KINDS = ("", "instruct", "base")


@dataclass(frozen=True, slots=True)
class ConnectServerRequest(EngineRequest[ServerLoadResult]):
    """Use the OpenAI-compatible server at ``url`` (``http://host:port``, with or without ``/v1``) instead of
    a local model.

    ``api_key_env`` names an environment variable holding the API key; without it the system keyring is
    asked (service :data:`KEYRING_SERVICE`, user the URL) when the ``keyring`` package is installed.
    ``model`` picks one of the server's models (empty: the first it lists). ``model_kind`` is ``instruct``
    (chat requests use ``/v1/chat/completions``), ``base`` (chat becomes a plain transcript completion) or
    empty: ask the server (llama.cpp says whether the model has a chat template; others count as instruct).
    ``timeout`` is how long to wait for the server's next bytes, in seconds.
    """

    engine_kind: ClassVar[str] = "llm"
    url: str = ""
    api_key_env: str = ""
    model: str = ""
    model_kind: str = ""
    timeout: float = 300.0


class ServerUrlError(ValueError):
    """A server URL Studio cannot use; the message says why."""


@dataclass(frozen=True, slots=True)
class ServerAddress:
    """Where a server listens: ``base_path`` is what precedes ``/v1`` (usually empty)."""

    scheme: str
    host: str
    port: int
    base_path: str

    @property
    def url(self) -> str:
        """The canonical URL (no ``/v1``, no trailing slash): what the keyring and the user see."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.base_path}"

    def path(self, endpoint: str) -> str:
        """The request path of ``endpoint`` (``models``, ``completions``, ``chat/completions``)."""
        return f"{self.base_path}/v1/{endpoint}"


def parse_server_url(url: str) -> ServerAddress:
    """``http://host:port``, ``host:port``, ``https://host/v1`` ... as a :class:`ServerAddress`.

    Raises :class:`ServerUrlError` with a message for the user when ``url`` is no usable http(s) URL.
    """
    text = url.strip()
    if not text:
        raise ServerUrlError("No server URL given (for example http://127.0.0.1:8080).")
    if "://" not in text:
        text = f"http://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ServerUrlError(f"{url!r} is not a server URL: {exc}.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ServerUrlError(f"{url!r} is not an http:// or https:// URL.")
    if not parts.hostname:
        raise ServerUrlError(f"{url!r} names no host (for example http://127.0.0.1:8080).")
    if parts.username or parts.password:
        raise ServerUrlError("Put the API key in an environment variable or the keyring, not in the URL.")
    base_path = parts.path.rstrip("/")
    if base_path.endswith("/v1"):
        base_path = base_path[: -len("/v1")]
    return ServerAddress(scheme, parts.hostname, port or (443 if scheme == "https" else 80), base_path)


def keyring_api_key(url: str) -> str:
    """The API key the system keyring holds for the server at ``url`` ("" when none, or no keyring)."""
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        return ""
    try:
        return keyring.get_password(KEYRING_SERVICE, parse_server_url(url).url) or ""
    except (KeyringError, ServerUrlError, RuntimeError) as exc:
        log.debug("no API key from the keyring for %s: %s", url, exc)
        return ""


def store_api_key(url: str, key: str) -> None:
    """Keep ``key`` for the server at ``url`` in the system keyring (``ImportError``: no ``keyring``
    package; ``keyring.errors.KeyringError``: no usable keyring backend)."""
    import keyring

    keyring.set_password(KEYRING_SERVICE, parse_server_url(url).url, key)
