"""Downloads against a local stand-in for the hub: progress, cancel, resume, refusals, nothing half-written
in the models folder, offline again afterwards."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Generator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from studio import paths
from studio.engines.protocol import CancelToken, EngineEvent, EventKind, JobCancelled
from studio.models import hub

T = TypeVar("T")


def drive(
    job: Generator[EngineEvent, None, T], cancel_at: float | None = None, cancel: CancelToken | None = None
) -> tuple[T, list[EngineEvent]]:
    """Run a job generator to its end; with ``cancel_at``, cancel once progress passes that fraction."""
    events: list[EngineEvent] = []
    try:
        while True:
            event = next(job)
            events.append(event)
            if cancel_at is not None and cancel is not None and (event.progress or 0) > cancel_at:
                cancel.cancel()
    except StopIteration as stop:
        return stop.value, events


def models_folder_files() -> list[Path]:
    return sorted(item for item in paths.models_dir().rglob("*") if item.is_file())


def test_download_reports_progress_and_lands_checked_in_the_models_folder(
    stand_in: Any, tiny_gguf: Path
) -> None:
    done, events = drive(hub_download("tiny.gguf"))
    assert done.path == paths.models_dir() / "acme--tiny" / "tiny.gguf"
    assert done.path.read_bytes() == tiny_gguf.read_bytes()
    assert done.sha256 == hashlib.sha256(tiny_gguf.read_bytes()).hexdigest() == done.remote.sha256
    assert done.remote.commit == "0123456789abcdef0123456789abcdef01234567"
    fractions = [event.progress for event in events if event.kind is EventKind.PROGRESS and event.progress]
    assert len(fractions) >= 3 and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("of 3.1 MB" in event.text for event in events)
    assert stand_in.gets("tiny.gguf") == [""]  # one GET, to the CDN, no range
    assert [(method, path) for method, path, _ in stand_in.requests] == [
        ("HEAD", "/acme/tiny/resolve/main/tiny.gguf"),
        ("GET", "/repos/acme/tiny/tiny.gguf"),
    ], "a download asks the hub for that file and nothing else"
    assert models_folder_files() == [done.path]
    assert list(hub_partials()) == []


def hub_download(
    filename: str, cancel: CancelToken | None = None
) -> Generator[EngineEvent, None, hub.DownloadedFile]:
    return hub.download("acme/tiny", filename, "main", "job", cancel or CancelToken())


def hub_partials() -> list[Path]:
    return sorted(hub.downloads_dir().iterdir())


def test_a_plain_git_file_is_checked_against_its_git_blob_hash(stand_in: Any, tiny_gguf: Path) -> None:
    done, _ = drive(hub_download("plain.gguf"))
    assert done.remote.git_sha1 and not done.remote.sha256
    assert done.path.read_bytes() == tiny_gguf.read_bytes()


def test_cancel_keeps_the_partial_file_outside_the_models_folder_and_the_next_download_resumes(
    stand_in: Any, tiny_gguf: Path
) -> None:
    cancel = CancelToken()
    with pytest.raises(JobCancelled):
        drive(hub_download("tiny.gguf", cancel), cancel_at=0.2, cancel=cancel)
    assert models_folder_files() == []
    part, record = _partials("tiny.gguf")
    kept = part.stat().st_size
    assert 0 < kept < tiny_gguf.stat().st_size and record.is_file()
    done, _ = drive(hub_download("tiny.gguf"))
    assert stand_in.gets("tiny.gguf") == ["", f"bytes={kept}-"]
    assert done.path.read_bytes() == tiny_gguf.read_bytes()
    assert hub_partials() == []


def _partials(filename: str) -> tuple[Path, Path]:
    return hub.partial_paths("acme/tiny", filename)


def test_a_server_that_ignores_the_range_gets_the_file_from_the_start(stand_in: Any, tiny_gguf: Path) -> None:
    cancel = CancelToken()
    with pytest.raises(JobCancelled):
        drive(hub_download("tiny.gguf", cancel), cancel_at=0.2, cancel=cancel)
    stand_in.files[("acme/tiny", "tiny.gguf")].ignore_range = True
    done, _ = drive(hub_download("tiny.gguf"))
    assert stand_in.gets("tiny.gguf")[-1].startswith("bytes=")  # asked to resume, got the whole file
    assert done.path.read_bytes() == tiny_gguf.read_bytes()


def test_a_truncated_transfer_is_refused_then_resumed(stand_in: Any, tiny_gguf: Path) -> None:
    with pytest.raises(hub.DownloadError, match="resume"):
        drive(hub_download("cut.gguf"))
    assert models_folder_files() == []
    part, _ = _partials("cut.gguf")
    kept = part.stat().st_size  # the whole chunks that arrived before the connection broke
    assert 0 < kept <= 1_500_000
    done, _ = drive(hub_download("cut.gguf"))
    assert stand_in.gets("cut.gguf") == ["", f"bytes={kept}-"]
    assert done.path.read_bytes() == tiny_gguf.read_bytes()


def test_a_file_that_does_not_match_the_hubs_checksum_is_deleted_and_refused(stand_in: Any) -> None:
    with pytest.raises(hub.DownloadError, match="does not match the hub's checksum"):
        drive(hub_download("bad.gguf"))
    assert models_folder_files() == []
    assert hub_partials() == []


def test_a_partial_file_of_another_version_is_not_resumed(stand_in: Any, tiny_gguf: Path) -> None:
    cancel = CancelToken()
    with pytest.raises(JobCancelled):
        drive(hub_download("tiny.gguf", cancel), cancel_at=0.2, cancel=cancel)
    stand_in.files[("acme/tiny", "tiny.gguf")].data = tiny_gguf.read_bytes()[
        ::-1
    ]  # the repo changed meanwhile
    done, _ = drive(hub_download("tiny.gguf"))
    assert stand_in.gets("tiny.gguf")[-1] == ""
    assert done.path.read_bytes() == tiny_gguf.read_bytes()[::-1]


def test_missing_repos_files_and_bad_names_get_clear_messages(stand_in: Any) -> None:
    with pytest.raises(hub.DownloadError, match="no such file"):
        drive(hub_download("nope.gguf"))
    with pytest.raises(hub.DownloadError, match="not a file name"):
        drive(hub_download("../../etc/passwd"))
    with pytest.raises(hub.DownloadError, match="not a hub repository id"):
        drive(hub.download("no-owner", "x.gguf", "main", "job", CancelToken()))
    with pytest.raises(hub.DownloadError, match="no such repository"):
        hub.list_model_files("acme/missing")
    assert models_folder_files() == []


def test_listing_a_repo_gives_model_files_with_sizes_and_checksums(stand_in: Any, tiny_gguf: Path) -> None:
    files = {item.filename: item for item in hub.list_model_files("acme/tiny")}
    assert set(files) == {"tiny.gguf", "plain.gguf", "cut.gguf", "bad.gguf"}
    assert files["tiny.gguf"].size == tiny_gguf.stat().st_size
    assert files["tiny.gguf"].sha256 == hashlib.sha256(tiny_gguf.read_bytes()).hexdigest()


def test_studio_stays_offline_outside_a_download(stand_in: Any) -> None:
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import OfflineModeIsEnabled

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    drive(hub_download("tiny.gguf"))
    assert os.environ["HF_HUB_OFFLINE"] == "1" and constants.is_offline_mode()
    with pytest.raises(OfflineModeIsEnabled):
        get_hf_file_metadata(hf_hub_url("acme/tiny", "tiny.gguf", endpoint=stand_in.endpoint))


def test_a_download_that_would_fill_the_disk_is_refused_before_it_starts(
    stand_in: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = shutil.disk_usage

    def nearly_full(path: str | os.PathLike[str]) -> Any:
        return real(path)._replace(free=1000)

    monkeypatch.setattr(shutil, "disk_usage", nearly_full)
    with pytest.raises(hub.DownloadError, match=r"only 0\.0 MB is free"):
        drive(hub_download("tiny.gguf"))
    assert stand_in.gets("tiny.gguf") == [] and models_folder_files() == []
