"""Recovery snapshots and session locks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from studio import paths
from studio.documents.recovery import (
    LockFile,
    LockInfo,
    RecoveryEntry,
    RecoveryStore,
    RecoveryWriter,
    new_document_id,
)


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_snapshot_list_discard(tmp_path: Path) -> None:
    crashed = RecoveryStore()
    crashed.start_session()
    doc_id = new_document_id()
    entry = crashed.snapshot(doc_id, "Chapter 1\nIt was… 😀\n", original_path=tmp_path / "ch1.md")
    assert entry.text_file.parent == paths.recovery_dir()
    assert entry.title == "ch1.md"
    meta = json.loads(entry.meta_file.read_text(encoding="utf-8"))
    assert meta["original_path"] == str(tmp_path / "ch1.md")
    assert meta["saved_at"] > 0

    # While the session that wrote it runs (this process), nobody else is offered the snapshot.
    later = RecoveryStore()
    assert later.recoverable() == []

    crashed._lock = None  # the process "dies" without releasing its lock...
    lock = paths.recovery_dir() / f"session-{crashed.session_id}.lock"
    payload = json.loads(lock.read_text())
    payload["pid"] = _dead_pid()
    lock.write_text(json.dumps(payload))

    [found] = later.recoverable()
    assert found.doc_id == doc_id
    assert found.read_text() == "Chapter 1\nIt was… 😀\n"
    assert found.original_path == str(tmp_path / "ch1.md")

    later.discard(doc_id)
    assert later.recoverable() == []
    assert not entry.text_file.exists()
    assert not entry.meta_file.exists()


def test_snapshot_replaces_older_copy_and_clean_exit_makes_it_recoverable(tmp_path: Path) -> None:
    store = RecoveryStore(tmp_path)
    store.start_session()
    store.snapshot("doc1", "v1")
    store.snapshot("doc1", "v2", title="Untitled 1")
    assert [e.read_text() for e in store.entries()] == ["v2"]
    assert store.recoverable() == []  # our own session's snapshots are never offered to ourselves
    store.end_session()

    other = RecoveryStore(tmp_path)
    other.start_session()
    [entry] = other.recoverable()
    assert entry.title == "Untitled 1"
    assert entry.original_path is None
    adopted = other.adopt(entry)
    assert adopted.session_id == other.session_id
    assert RecoveryStore(tmp_path).recoverable() == []  # now owned by a live session


def test_corrupt_metadata_is_skipped(tmp_path: Path) -> None:
    store = RecoveryStore(tmp_path)
    store.snapshot("good", "text")
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "orphan.json").write_text(json.dumps({"doc_id": "orphan", "saved_at": 1}))
    assert [e.doc_id for e in store.entries()] == ["good"]


def test_lock_file_blocks_live_holder_and_takes_over_dead_one(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    first = LockFile(path)
    assert first.acquire()
    info = first.read()
    assert info is not None
    assert (info.host, info.pid) == (socket.gethostname(), os.getpid())
    assert not LockFile(path).acquire()

    path.write_text(json.dumps({"host": socket.gethostname(), "pid": _dead_pid(), "created_at": 0}))
    second = LockFile(path)
    assert second.acquire()
    holder = second.read()
    assert holder is not None and holder.pid == os.getpid()
    second.release()
    assert not path.exists()


def test_starting_a_session_deletes_the_locks_of_ended_sessions_with_nothing_to_recover(
    tmp_path: Path,
) -> None:
    def dead_lock(session_id: str) -> Path:
        path = tmp_path / f"session-{session_id}.lock"
        path.write_text(json.dumps({"host": socket.gethostname(), "pid": _dead_pid(), "created_at": 0}))
        return path

    crashed = RecoveryStore(tmp_path, session_id="crashed")
    crashed.snapshot("doc1", "unsaved words")
    crashed_lock, empty_lock = dead_lock("crashed"), dead_lock("empty")
    running = RecoveryStore(tmp_path, session_id="running")
    running.start_session()
    store = RecoveryStore(tmp_path)
    store.start_session()
    try:
        assert not empty_lock.exists()
        assert crashed_lock.exists()  # its snapshot is still offered for recovery
        assert [entry.doc_id for entry in store.recoverable()] == ["doc1"]
        assert (tmp_path / "session-running.lock").exists() and store._lock_path(store.session_id).exists()
    finally:
        store.end_session()
        running.end_session()


def test_foreign_host_lock_goes_stale_with_age() -> None:
    assert LockInfo("other-host", 1, created_at=1000.0).is_alive(now=1000.0 + 60)
    assert not LockInfo("other-host", 1, created_at=1000.0).is_alive(now=1000.0 + 3 * 24 * 3600)


class GatedStore(RecoveryStore):
    """A real store whose snapshots wait for ``gate``, so a test can hold a write in progress."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.written: list[str] = []

    def snapshot(self, doc_id: str, text: str, **meta: Any) -> RecoveryEntry:
        self.entered.set()
        assert self.gate.wait(30)
        entry = super().snapshot(doc_id, text, **meta)
        self.written.append(text)
        return entry


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_writer_writes_in_the_background_and_the_newest_text_wins(tmp_path: Path) -> None:
    store = GatedStore(tmp_path)
    results: list[tuple[str, int, OSError | None]] = []
    writer = RecoveryWriter(store, lambda doc_id, token, error: results.append((doc_id, token, error)))
    writer.submit("doc", "one", token=1, title="Notes")
    assert store.entered.wait(30)  # "one" is being written...
    writer.submit("doc", "two", token=2)
    writer.submit("doc", "three", token=3, title="Notes")  # ...and replaces "two", which never gets written
    assert writer.queued() == ["doc"]
    store.gate.set()
    assert writer.close(30)
    assert store.written == ["one", "three"]
    assert results == [("doc", 1, None), ("doc", 3, None)]
    [entry] = store.entries()
    assert (entry.read_text(), entry.title) == ("three", "Notes")


def test_writer_discard_waits_for_the_write_in_progress_and_drops_queued_ones(tmp_path: Path) -> None:
    store = GatedStore(tmp_path)
    writer = RecoveryWriter(store)
    writer.submit("doc", "old")
    assert store.entered.wait(30)
    writer.submit("doc", "newer")
    discarding = threading.Thread(target=writer.discard, args=("doc",))
    discarding.start()
    _wait_for(lambda: writer.queued() == [])  # the discard dropped "newer" and waits for "old"
    assert discarding.is_alive()
    store.gate.set()
    discarding.join(30)
    assert writer.close(30)
    assert store.written == ["old"]
    assert store.entries() == []  # the late write of "old" did not bring the snapshot back
    assert list(tmp_path.glob("doc.*")) == []


def test_writer_reports_failures_and_keeps_writing_other_documents(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the recovery folder's parent should be")
    results: list[tuple[str, int, OSError | None]] = []
    writer = RecoveryWriter(
        RecoveryStore(blocker / "recovery"),
        lambda doc_id, token, error: results.append((doc_id, token, error)),
    )
    writer.submit("doc", "text", token=7)
    assert writer.flush(30)
    [(doc_id, token, error)] = results
    assert (doc_id, token) == ("doc", 7)
    assert isinstance(error, OSError)
    with pytest.raises(OSError):
        writer.write("doc", "text")

    good = RecoveryWriter(RecoveryStore(tmp_path / "ok"))
    good.submit("a", "A")
    good.submit("b", "B")
    assert good.close(30)
    assert good.write("c", "C").read_text() == "C"
    assert sorted(e.read_text() for e in RecoveryStore(tmp_path / "ok").entries()) == ["A", "B", "C"]
