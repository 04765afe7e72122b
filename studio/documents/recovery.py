"""Crash recovery: autosaved copies of unsaved documents, and the lock that says whose they are.

Each open document with unsaved changes gets two files in the recovery folder, both written atomically:
``<id>.txt`` (its text, UTF-8) and ``<id>.json`` (where it came from and when it was saved). A running
Studio holds a session lock (``session-<id>.lock``: host, pid, time); snapshots of a session whose process is
still alive are not offered for recovery, so two running instances never steal each other's documents.
:class:`RecoveryWriter` writes snapshots on a background thread, newest text first, in order per document.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio import paths
from studio.fileio import atomic_write_bytes

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
FOREIGN_LOCK_STALE_S = 24 * 3600
"""A lock written on another host counts as abandoned when it is older than this."""

_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def new_document_id() -> str:
    """A fresh id for a document's recovery snapshot."""
    return uuid.uuid4().hex


def _check_id(value: str) -> str:
    if not _ID_PATTERN.fullmatch(value):
        raise ValueError(f"Invalid recovery id: {value!r}")
    return value


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class LockInfo:
    """Who holds a lock file: host name, process id and when it was taken (Unix time)."""

    host: str
    pid: int
    created_at: float

    @classmethod
    def current(cls) -> LockInfo:
        """Lock info for this process, now."""
        return cls(socket.gethostname(), os.getpid(), time.time())

    def is_alive(self, now: float | None = None) -> bool:
        """True when the holder may still be running.

        On this host that means its process exists; for another host (a shared home folder) we cannot tell, so
        the lock counts as alive until :data:`FOREIGN_LOCK_STALE_S` has passed.
        """
        if self.host == socket.gethostname():
            return _pid_alive(self.pid)
        return (now if now is not None else time.time()) - self.created_at < FOREIGN_LOCK_STALE_S


class LockFile:
    """A lock file holding :class:`LockInfo` as JSON; a dead process's lock can be taken over."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._held = False

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._held

    def read(self) -> LockInfo | None:
        """The current holder, or None when there is no (readable) lock file."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return LockInfo(str(raw["host"]), int(raw["pid"]), float(raw["created_at"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def acquire(self) -> bool:
        """Take the lock; False when a live process holds it. A stale or unreadable lock is replaced."""
        if self._held:
            return True
        payload = json.dumps(_lock_payload(LockInfo.current())).encode("utf-8")
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = self.read()
                if holder is not None and holder.is_alive():
                    return False
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                continue
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
            self._held = True
            return True
        return False

    def release(self) -> None:
        """Give the lock up (removes the file if it is still ours)."""
        if not self._held:
            return
        self._held = False
        holder = self.read()
        if holder is None or (holder.pid == os.getpid() and holder.host == socket.gethostname()):
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


def _lock_payload(info: LockInfo) -> dict[str, Any]:
    return {"host": info.host, "pid": info.pid, "created_at": info.created_at}


@dataclass(frozen=True, slots=True)
class RecoveryEntry:
    """One recoverable snapshot.

    ``original_path`` is the file the document belonged to (None for a never-saved document); ``saved_at`` is
    the Unix time of the snapshot; ``encoding`` and ``newline`` record the original file's format when known.
    """

    doc_id: str
    original_path: str | None
    title: str
    saved_at: float
    session_id: str
    text_file: Path
    meta_file: Path
    encoding: str | None = None
    newline: str | None = None

    def read_text(self) -> str:
        """The snapshot's text (``\\n`` line endings)."""
        return self.text_file.read_bytes().decode("utf-8", errors="surrogatepass")


class RecoveryStore:
    """Autosave snapshots of unsaved documents into a folder (default :func:`studio.paths.recovery_dir`).

    Call :meth:`start_session` once at start-up (takes the session lock) and :meth:`end_session` on a clean
    exit. :meth:`recoverable` lists snapshots left behind by sessions that are no longer running.
    """

    def __init__(
        self, directory: str | os.PathLike[str] | None = None, session_id: str | None = None
    ) -> None:
        self._directory = Path(directory) if directory is not None else None
        self.session_id = _check_id(session_id or uuid.uuid4().hex)
        self._lock: LockFile | None = None

    @property
    def directory(self) -> Path:
        """The recovery folder (created on demand)."""
        if self._directory is None:
            return paths.recovery_dir()
        self._directory.mkdir(parents=True, exist_ok=True)
        return self._directory

    def _lock_path(self, session_id: str) -> Path:
        return self.directory / f"session-{session_id}.lock"

    def start_session(self) -> None:
        """Take this session's lock so other instances leave our snapshots alone, and delete the locks that
        ended sessions left behind with nothing to recover."""
        if self._lock is None:
            self._lock = LockFile(self._lock_path(self.session_id))
        self._lock.acquire()
        self.remove_stale_locks()

    def end_session(self) -> None:
        """Release this session's lock (snapshots that remain become recoverable)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def snapshot(
        self,
        doc_id: str,
        text: str,
        *,
        original_path: str | os.PathLike[str] | None = None,
        title: str = "",
        encoding: str | None = None,
        newline: str | None = None,
    ) -> RecoveryEntry:
        """Save ``text`` as the recovery copy of document ``doc_id`` (replacing any older copy).

        Raises OSError when the folder cannot be written.
        """
        _check_id(doc_id)
        directory = self.directory
        text_file = directory / f"{doc_id}.txt"
        meta_file = directory / f"{doc_id}.json"
        saved_at = time.time()
        original = os.fspath(original_path) if original_path is not None else None
        meta = {
            "version": FORMAT_VERSION,
            "doc_id": doc_id,
            "original_path": original,
            "title": title or (Path(original).name if original else "Untitled"),
            "saved_at": saved_at,
            "saved_at_iso": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(saved_at)),
            "session_id": self.session_id,
            "encoding": encoding,
            "newline": newline,
            "chars": len(text),
        }
        # Text first: a metadata file never points at a missing or older text file.
        atomic_write_bytes(text_file, text.encode("utf-8", errors="surrogatepass"))
        atomic_write_bytes(meta_file, json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8"))
        entry = _entry_from_meta(meta, text_file, meta_file)
        assert entry is not None
        return entry

    def discard(self, doc_id: str) -> None:
        """Delete the recovery copy of ``doc_id`` (after a clean save or close); missing copies are fine."""
        _check_id(doc_id)
        for suffix in (".json", ".txt"):
            with contextlib.suppress(FileNotFoundError):
                (self.directory / f"{doc_id}{suffix}").unlink()

    def entries(self) -> list[RecoveryEntry]:
        """Every readable snapshot in the folder, newest first, whoever wrote it."""
        found: list[RecoveryEntry] = []
        for meta_file in self.directory.glob("*.json"):
            try:
                meta = json.loads(meta_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            entry = _entry_from_meta(meta, meta_file.with_suffix(".txt"), meta_file)
            if entry is not None and entry.text_file.is_file():
                found.append(entry)
        found.sort(key=lambda entry: entry.saved_at, reverse=True)
        return found

    def recoverable(self) -> list[RecoveryEntry]:
        """Snapshots left by sessions that are no longer running (never this session's own), newest first."""
        alive: dict[str, bool] = {}
        result = []
        for entry in self.entries():
            if entry.session_id == self.session_id:
                continue
            if entry.session_id not in alive:
                holder = LockFile(self._lock_path(entry.session_id)).read()
                alive[entry.session_id] = holder is not None and holder.is_alive()
            if not alive[entry.session_id]:
                result.append(entry)
        return result

    def adopt(self, entry: RecoveryEntry) -> RecoveryEntry:
        """Make ``entry`` this session's own (so no other instance offers it) and return the updated entry."""
        return self.snapshot(
            entry.doc_id,
            entry.read_text(),
            original_path=entry.original_path,
            title=entry.title,
            encoding=entry.encoding,
            newline=entry.newline,
        )

    def remove_stale_locks(self) -> None:
        """Delete lock files of sessions that are no longer running and own no snapshots."""
        in_use = {entry.session_id for entry in self.entries()}
        for lock_path in self.directory.glob("session-*.lock"):
            session = lock_path.stem.removeprefix("session-")
            holder = LockFile(lock_path).read()
            dead = holder is None or not holder.is_alive()
            if session != self.session_id and session not in in_use and dead:
                with contextlib.suppress(FileNotFoundError):
                    lock_path.unlink()


@dataclass(frozen=True, slots=True)
class _Snapshot:
    text: str
    token: int
    meta: dict[str, Any] = field(default_factory=dict)


WriteCallback = Callable[[str, int, OSError | None], None]
"""Called as ``(doc_id, token, error)`` on the writer thread after each background snapshot (error None: written);
:meth:`RecoveryWriter.flush` returns only after the calls for what it waited for."""


class RecoveryWriter:
    """Writes snapshots to a :class:`RecoveryStore` on one background thread, so the caller never waits for a disk.

    The newest text wins: a snapshot still queued when a newer one (or a discard) of the same document arrives is
    dropped. Everything done to one document happens in the order it was asked for, one thing at a time, so an
    older text never replaces a newer one and a discarded snapshot never comes back. :meth:`write` and
    :meth:`discard` run on the caller's thread (and raise OSError) once the document's earlier work is done.
    The thread starts when there is work and ends when there is none.
    """

    def __init__(self, store: RecoveryStore, on_written: WriteCallback | None = None) -> None:
        self._store = store
        self._on_written = on_written
        self._pending: dict[str, _Snapshot] = {}  # insertion order: the order documents are written in
        self._busy: set[str] = set()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._running = False

    def submit(self, doc_id: str, text: str, *, token: int = 0, **meta: Any) -> None:
        """Queue ``text`` as ``doc_id``'s snapshot (``meta``: :meth:`RecoveryStore.snapshot`'s keywords) and
        return at once; ``token`` is handed back to ``on_written``."""
        _check_id(doc_id)
        with self._condition:
            self._pending[doc_id] = _Snapshot(text, token, meta)
            if not self._running:
                self._running = True
                self._thread = threading.Thread(target=self._run, name="recovery-writer", daemon=True)
                self._thread.start()

    def write(self, doc_id: str, text: str, **meta: Any) -> RecoveryEntry:
        """Write ``text`` as ``doc_id``'s snapshot now, on this thread (a queued older text is dropped).

        Raises OSError when the folder cannot be written.
        """
        with self._exclusive(doc_id):
            return self._store.snapshot(doc_id, text, **meta)

    def discard(self, doc_id: str) -> None:
        """Delete ``doc_id``'s snapshot now, on this thread, after a write in progress ends (a queued one is
        dropped). Raises OSError when the files cannot be deleted."""
        with self._exclusive(doc_id):
            self._store.discard(doc_id)

    def queued(self) -> list[str]:
        """The documents whose snapshot waits to be written, in the order they will be."""
        with self._condition:
            return list(self._pending)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued snapshot is written; False when ``timeout`` (seconds) ran out first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            while self._pending or self._busy:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._condition.wait(remaining)
        return True

    def close(self, timeout: float | None = None) -> bool:
        """Write what is queued and wait for the thread to end; False when ``timeout`` ran out first."""
        if not self.flush(timeout):
            return False
        with self._condition:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            return not thread.is_alive()
        return True

    @contextlib.contextmanager
    def _exclusive(self, doc_id: str) -> Iterator[None]:
        _check_id(doc_id)
        with self._condition:
            self._pending.pop(doc_id, None)
            while doc_id in self._busy:
                self._condition.wait()
            self._busy.add(doc_id)
        try:
            yield
        finally:
            with self._condition:
                self._busy.discard(doc_id)
                self._condition.notify_all()

    def _run(self) -> None:
        while True:
            with self._condition:
                doc_id = next((doc for doc in self._pending if doc not in self._busy), None)
                while doc_id is None:
                    if not self._pending:
                        self._running = False
                        self._condition.notify_all()
                        return
                    self._condition.wait()
                    doc_id = next((doc for doc in self._pending if doc not in self._busy), None)
                job = self._pending.pop(doc_id)
                self._busy.add(doc_id)
            try:
                self._write(doc_id, job)
            finally:
                with self._condition:
                    self._busy.discard(doc_id)
                    self._condition.notify_all()

    def _write(self, doc_id: str, job: _Snapshot) -> None:
        error: OSError | None = None
        try:
            self._store.snapshot(doc_id, job.text, **job.meta)
        except OSError as exc:
            error = exc
        except Exception as exc:  # a bug must not stop the journal of every other document
            log.exception("recovery snapshot of %s failed", doc_id)
            error = OSError(str(exc))
        if self._on_written is not None:
            try:
                self._on_written(doc_id, job.token, error)
            except Exception:
                log.exception("recovery write callback failed")


def _entry_from_meta(meta: Any, text_file: Path, meta_file: Path) -> RecoveryEntry | None:
    try:
        doc_id = _check_id(str(meta["doc_id"]))
        original = meta.get("original_path")
        return RecoveryEntry(
            doc_id=doc_id,
            original_path=str(original) if original else None,
            title=str(meta.get("title") or "Untitled"),
            saved_at=float(meta["saved_at"]),
            session_id=str(meta.get("session_id", "")),
            text_file=text_file,
            meta_file=meta_file,
            encoding=meta.get("encoding"),
            newline=meta.get("newline"),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
