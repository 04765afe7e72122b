"""A tiny Qt-free signal: plain callbacks the UI connects to observe the document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, ParamSpec

P = ParamSpec("P")


class Signal(Generic[P]):
    """Callbacks run synchronously, in connection order, on every :meth:`emit`.

    Callbacks are held strongly: disconnect them when their owner goes away. A callback may connect or
    disconnect others while the signal is emitting; the change takes effect on the next emit.
    """

    __slots__ = ("_callbacks",)

    def __init__(self) -> None:
        self._callbacks: list[Callable[P, object]] = []

    def connect(self, callback: Callable[P, object]) -> Callable[P, object]:
        """Call ``callback`` on every emit; returns it, so this works as a decorator."""
        self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[P, object]) -> None:
        """Stop calling ``callback``; a callback that is not connected is ignored."""
        for index, connected in enumerate(self._callbacks):
            if connected == callback:
                del self._callbacks[index]
                return

    def emit(self, *args: P.args, **kwargs: P.kwargs) -> None:
        """Call every connected callback with these arguments."""
        for callback in list(self._callbacks):
            callback(*args, **kwargs)

    def __len__(self) -> int:
        return len(self._callbacks)
