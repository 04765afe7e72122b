"""The engine behind model-file jobs (see :mod:`studio.models.requests`): runs in its own engine process,
so reading untrusted headers, hashing gigabytes and downloading never happen in the GUI process."""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from studio.engines import protocol
from studio.engines.protocol import CancelToken, EngineError, EngineEvent, EngineRequest
from studio.models import hub
from studio.models.inspect import (
    ModelFileError,
    copy_into_models,
    hashed_file,
    inspect_model,
    read_model,
    verify_model,
)
from studio.models.registry import ModelEntry, delete_downloaded_file
from studio.models.requests import DownloadModelRequest, InspectModelRequest, ListRepoFilesRequest


def download_entry(
    repo_id: str,
    filename: str,
    revision: str,
    job_id: str,
    cancel: CancelToken,
    filenames: tuple[str, ...] = (),
) -> Generator[EngineEvent, None, ModelEntry]:
    """Download one file (or ``filenames`` into one folder), check them against the hub and the model's
    header; returns the new registry entry (``downloaded`` set). A download that arrives whole but is no model
    Studio can use is deleted."""
    if filenames:
        files = yield from hub.download_files(repo_id, filenames, revision, job_id, cancel)
        path = files[0].path.parent
        what = f"{repo_id} ({', '.join(filenames)})"
    else:
        files = [(yield from hub.download(repo_id, filename, revision, job_id, cancel))]
        path = files[0].path
        what = filename
    try:
        entry = yield from inspect_model(path, job_id, cancel, hash_file=False)
    except ModelFileError as exc:
        for item in files:  # only what this download brought (the folder may hold other downloads)
            delete_downloaded_file(item.path)
        raise hub.DownloadError(f"{what} arrived whole but is not a model Studio can use: {exc}") from exc
    hashed = hashed_file(entry)
    named = [item.sha256 for item in files if hashed is not None and item.path.resolve() == hashed.resolve()]
    entry.sha256 = named[0] if named else files[0].sha256
    entry.downloaded = True
    if filenames:
        entry.source = f"{repo_id}@{files[0].remote.commit or revision}"
        entry.name = repo_id.split("/")[-1]
    else:
        entry.source = files[0].remote.source
    entry.added = time.time()
    return entry


def download_model(request: DownloadModelRequest, cancel: CancelToken) -> Iterator[EngineEvent]:
    """Download, check against the hub and the header, and yield the new entry as the result."""
    entry = yield from download_entry(
        request.repo_id, request.filename, request.revision, request.job_id, cancel, request.filenames
    )
    yield protocol.result(request.job_id, entry)


# Offline by default in the engine processes too: huggingface_hub reads this once, at import; a download
# lifts it for its own requests only (studio.models.hub.hub_online).
os.environ.setdefault("HF_HUB_OFFLINE", "1")


class ModelFilesEngine:
    """Inspects, verifies and downloads model files (the ``models`` and ``downloads`` engine kinds)."""

    def handle(self, request: EngineRequest[Any], cancel: CancelToken) -> Iterator[EngineEvent]:
        job_id = request.job_id
        yield protocol.started(job_id)
        if isinstance(request, InspectModelRequest):
            try:
                if request.known is not None:
                    entry: ModelEntry = yield from verify_model(request.known, job_id, cancel)
                elif request.copy:
                    read_model(Path(request.path))  # refuse a bad file before copying gigabytes
                    copy = yield from copy_into_models(Path(request.path), job_id, cancel)
                    entry = yield from inspect_model(copy, job_id, cancel)
                    entry.downloaded = True  # Studio's copy: removing it deletes it
                else:
                    entry = yield from inspect_model(Path(request.path), job_id, cancel, request.hash_file)
            except (ModelFileError, OSError) as exc:
                if request.known is None and not request.copy and not request.hash_file:
                    # a background header read: what is wrong with the file is its result, so the window
                    # can tell it from a failure of the engine itself
                    yield protocol.result(
                        job_id, ModelEntry(path=request.path, checked=time.time(), problem=str(exc))
                    )
                    return
                raise EngineError(str(exc)) from exc
            yield protocol.result(job_id, entry)
        elif isinstance(request, DownloadModelRequest):
            yield from download_model(request, cancel)
        elif isinstance(request, ListRepoFilesRequest):
            yield protocol.progress(job_id, None, f"Listing {request.repo_id}")
            yield protocol.result(job_id, hub.list_model_files(request.repo_id, request.revision))
        else:
            raise EngineError(f"the model files engine cannot run {type(request).__name__}")

    def close(self) -> None:
        pass
