"""Model-file jobs in their engine processes (``models`` and ``downloads``), as the Models window runs them."""

from __future__ import annotations

import hashlib
import queue
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from studio import paths
from studio.engines.client import EngineClient
from studio.engines.protocol import EngineEvent, EventKind, new_job_id
from studio.models import hub
from studio.models.registry import ModelKind
from studio.models.requests import DownloadModelRequest, InspectModelRequest, ListRepoFilesRequest


class Engine:
    """One engine process of ``kind`` and the events it sent."""

    def __init__(self, kind: str) -> None:
        self.events: queue.Queue[EngineEvent] = queue.Queue()
        self.client = EngineClient(kind, self.events.put)

    def until_end(self, job_id: str) -> tuple[EngineEvent, list[EngineEvent]]:
        seen = []
        while True:
            event = self.events.get(timeout=120)
            if event.job_id != job_id:
                continue
            seen.append(event)
            if event.kind.is_terminal:
                return event, seen


@pytest.fixture
def models_engine() -> Iterator[Engine]:
    engine = Engine("models")
    yield engine
    engine.client.shutdown()


@pytest.fixture
def downloads_engine() -> Iterator[Engine]:
    engine = Engine("downloads")
    yield engine
    engine.client.shutdown()


def test_inspect_and_verify_run_in_the_models_engine(
    models_engine: Engine, tiny_gguf: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.gguf"
    copy.write_bytes(tiny_gguf.read_bytes())
    job = models_engine.client.submit(InspectModelRequest(new_job_id(), path=str(copy)))
    end, events = models_engine.until_end(job)
    assert end.kind is EventKind.RESULT and end.result.model_kind is ModelKind.INSTRUCT
    assert end.result.sha256 == hashlib.sha256(copy.read_bytes()).hexdigest()
    assert any(event.kind is EventKind.PROGRESS for event in events)
    copy.write_bytes(copy.read_bytes()[:-1] + b"!")
    job = models_engine.client.submit(InspectModelRequest(new_job_id(), path=str(copy), known=end.result))
    end, _ = models_engine.until_end(job)
    assert end.kind is EventKind.RESULT and "changed" in end.result.problem
    job = models_engine.client.submit(InspectModelRequest(new_job_id(), path=str(tmp_path / "none.gguf")))
    end, _ = models_engine.until_end(job)
    assert end.kind is EventKind.ERROR and "does not exist" in end.text


def test_a_download_job_can_be_cancelled_and_resumed(
    downloads_engine: Engine, stand_in: Any, model_files: ModuleType, tiny_gguf: Path
) -> None:
    slow = model_files.HubFile(tiny_gguf.read_bytes(), pause_at=1_200_000)
    stand_in.files[("acme/tiny", "slow.gguf")] = slow
    request = DownloadModelRequest(new_job_id(), repo_id="acme/tiny", filename="slow.gguf")
    job = downloads_engine.client.submit(request)
    while True:  # the first megabyte has arrived; the stand-in holds the rest back
        event = downloads_engine.events.get(timeout=60)
        assert not event.kind.is_terminal, event.text
        if event.kind is EventKind.PROGRESS and (event.progress or 0) > 0.3:
            break
    downloads_engine.client.cancel(job)
    slow.release.set()
    end, _ = downloads_engine.until_end(job)
    assert end.kind is EventKind.CANCELLED
    part, _ = hub.partial_paths("acme/tiny", "slow.gguf")
    kept = part.stat().st_size
    assert kept > 0 and not any(paths.models_dir().rglob("*.gguf"))

    job = downloads_engine.client.submit(
        DownloadModelRequest(new_job_id(), repo_id="acme/tiny", filename="slow.gguf")
    )
    end, _ = downloads_engine.until_end(job)
    assert end.kind is EventKind.RESULT, end.text
    entry = end.result
    assert (
        entry.downloaded
        and entry.model_kind is ModelKind.INSTRUCT
        and entry.source.startswith("acme/tiny/slow")
    )
    assert Path(entry.path).read_bytes() == tiny_gguf.read_bytes()
    assert stand_in.gets("slow.gguf")[-1] == f"bytes={kept}-"


def test_a_refused_download_and_a_repo_listing(downloads_engine: Engine, stand_in: Any) -> None:
    job = downloads_engine.client.submit(
        DownloadModelRequest(new_job_id(), repo_id="acme/tiny", filename="bad.gguf")
    )
    end, _ = downloads_engine.until_end(job)
    assert end.kind is EventKind.ERROR and "checksum" in end.text
    job = downloads_engine.client.submit(ListRepoFilesRequest(new_job_id(), repo_id="acme/tiny"))
    end, _ = downloads_engine.until_end(job)
    assert end.kind is EventKind.RESULT and "tiny.gguf" in {item.filename for item in end.result}
