"""Remote LLM servers the user connected to, remembered in the model registry (engine ``server``).

A server entry's ``path`` is the server's canonical URL and its ``name`` the model last used there; its
``details`` keep the API-key environment variable name (never the key), the model and the models the server
listed, so "Connect to Server…" can offer them again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from studio.engines.remote_requests import ConnectServerRequest, ServerUrlError, parse_server_url
from studio.models.registry import SERVER, ModelEntry, ModelRegistry


@dataclass(frozen=True)
class ServerChoice:
    """A server to connect to: ``url``, the environment variable holding its API key ("" for none: the
    keyring is asked) and the model (empty: the first the server lists)."""

    url: str
    api_key_env: str = ""
    model: str = ""

    @property
    def host(self) -> str:
        """``host:port`` of the URL (the URL itself when it cannot be parsed)."""
        try:
            address = parse_server_url(self.url)
        except ServerUrlError:
            return self.url
        return f"{address.host}:{address.port}{address.base_path}"

    @property
    def model_label(self) -> str:
        """The model for people: a GGUF path (llama.cpp's servers name models by their file) as its file name."""
        if self.model.lower().endswith(".gguf"):
            return self.model.replace("\\", "/").rsplit("/", 1)[-1]
        return self.model or "first model"

    @property
    def status_name(self) -> str:
        """What the status bar calls the active model: ``Server: <model> @ host``."""
        return f"Server: {self.model_label} @ {self.host}"

    def request(self, job_id: str) -> ConnectServerRequest:
        return ConnectServerRequest(job_id, url=self.url, api_key_env=self.api_key_env, model=self.model)

    def connected_to(self, model: str) -> ServerChoice:
        """This choice with the model the server actually serves."""
        return replace(self, model=model or self.model)


def server_choice(entry: ModelEntry) -> ServerChoice:
    """The remembered server ``entry`` as a choice."""
    details = entry.details
    return ServerChoice(entry.path, str(details.get("api_key_env", "")), str(details.get("model", "")))


def server_models(entry: ModelEntry) -> list[str]:
    """The models the server listed when Studio last connected."""
    listed = entry.details.get("models", [])
    return [str(model) for model in listed] if isinstance(listed, list) else []


def recent_servers(registry: ModelRegistry) -> list[ModelEntry]:
    """Remembered servers, most recently used first."""
    return registry.entries(SERVER)


def record_server(
    registry: ModelRegistry, server: ServerChoice, models: tuple[str, ...] | list[str], model_kind: str
) -> ModelEntry:
    """Remember a successful connection to ``server`` (now used)."""
    details: dict[str, Any] = {
        "api_key_env": server.api_key_env,
        "model": server.model,
        "models": list(models),
        "model_kind": model_kind,
    }
    return registry.record(server.url, SERVER, name=server.model, **details)
