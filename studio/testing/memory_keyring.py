"""A keyring backend that keeps passwords in this process, for tests of server API keys kept in the system
keyring (test machines have no keyring service). Needs the optional ``keyring`` package."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TypeVar

import keyring
from keyring.backend import KeyringBackend

BackendT = TypeVar("BackendT", bound=KeyringBackend)


class MemoryKeyring(KeyringBackend):
    """Passwords in a dict: ``passwords[(service, username)]``."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.passwords.pop((service, username), None)


@contextlib.contextmanager
def keyring_backend(backend: BackendT) -> Iterator[BackendT]:
    """``backend`` is the process's keyring inside the block; the previous one is again afterwards."""
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)
