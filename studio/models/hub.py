"""Downloads from the Hugging Face hub, only when the user asks: one file of one repo into Studio's models folder
(or several files of one repo into its folder, :func:`download_files`: a TAESD's config.json and weights).

Studio is offline by default (``HF_HUB_OFFLINE=1``); :func:`hub_online` lifts that for the duration of one
download and restores it after. The endpoint is ``HF_ENDPOINT`` (read at call time) or the hub.

How a download goes, through huggingface_hub's own pieces:
1. ``HEAD {endpoint}/{repo}/resolve/{revision}/{file}`` (``get_hf_file_metadata``) gives the commit
   (``X-Repo-Commit``), the checksum (``X-Linked-Etag``: the SHA-256 of an LFS file; else ``ETag``: the git
   blob SHA-1), the size (``X-Linked-Size``, else ``Content-Length``) and, for LFS files, the CDN location.
2. ``GET`` of that location, streamed into ``<data>/downloads/<name>.part`` (never into the models folder),
   with ``Range: bytes=N-`` to resume a partial file left by a cancel or a broken connection; a ``.part.json``
   next to it records which commit and checksum the bytes belong to, so a partial file of another version is
   never resumed.
3. Size and checksum are checked; only a file that matches is moved (one rename) into
   ``<data>/models/<owner>--<repo>/<file>``. A file that does not match is deleted and refused.
Progress is reported per chunk and a cancel stops within one chunk, keeping the partial file to resume.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

from studio import paths
from studio.engines import protocol
from studio.engines.protocol import CancelToken, EngineError, EngineEvent, JobCancelled
from studio.fileio import atomic_write_text

CHUNK = 1024 * 1024
DEFAULT_ENDPOINT = "https://huggingface.co"
REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
MODEL_SUFFIXES = (".gguf", ".safetensors")


class DownloadError(EngineError):
    """A download that cannot be done or whose file is refused; the message says why."""


@dataclass(frozen=True)
class RemoteFile:
    """A file on the hub as its metadata describes it."""

    repo_id: str
    filename: str
    revision: str
    commit: str = ""
    size: int | None = None
    sha256: str = ""  # LFS files
    git_sha1: str = ""  # plain git files
    url: str = ""  # where the bytes are (the CDN location for LFS files)

    @property
    def source(self) -> str:
        return f"{self.repo_id}/{self.filename}@{self.commit or self.revision}"


@dataclass(frozen=True)
class DownloadedFile:
    """A download that arrived whole and matched the hub's size and checksum."""

    path: Path
    remote: RemoteFile
    sha256: str


def endpoint() -> str:
    """The hub's address: ``HF_ENDPOINT`` when set (a mirror, or a local stand-in in tests)."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def check_names(repo_id: str, filename: str, revision: str = "main") -> None:
    """Refuse repo ids, file names and revisions that are not plain hub names (no ``..``, no absolute
    paths: a file name becomes a path under the models folder)."""
    if not REPO_ID.match(repo_id) or ".." in repo_id:
        raise DownloadError(f"{repo_id!r} is not a hub repository id (owner/name)")
    if not REVISION.match(revision) or ".." in revision:
        raise DownloadError(f"{revision!r} is not a revision name")
    parts = PurePosixPath(filename).parts
    if (
        not filename
        or filename.startswith("/")
        or "\\" in filename
        or any(part in ("", ".", "..") for part in parts)
        or any(part.startswith(".") for part in parts)
    ):
        raise DownloadError(f"{filename!r} is not a file name in a repository")


@contextlib.contextmanager
def hub_online() -> Iterator[None]:
    """Allow huggingface_hub to reach the network inside the ``with`` block only, for the requests of the
    download itself: telemetry stays off (no torch version in the user agent, and no extra
    ``/api/agent-harnesses`` request, which huggingface_hub 2.x makes to fill in its user agent)."""
    from huggingface_hub import constants

    constants.HF_HUB_DISABLE_TELEMETRY = True
    previous_env = os.environ.get("HF_HUB_OFFLINE")
    previous = constants.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"] = "0"
    constants.HF_HUB_OFFLINE = False
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = previous
        if previous_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous_env


def _hub_error(exc: Exception, what: str) -> DownloadError:
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, GatedRepoError):
        return DownloadError(
            f"{what} is gated: accept its licence on the hub and set HF_TOKEN, then try again"
        )
    if isinstance(exc, RepositoryNotFoundError):
        return DownloadError(f"{what}: no such repository on the hub (or it is private)")
    if isinstance(exc, RevisionNotFoundError):
        return DownloadError(f"{what}: no such revision on the hub")
    if isinstance(exc, EntryNotFoundError):
        return DownloadError(f"{what}: no such file in the repository")
    if isinstance(exc, HfHubHTTPError):
        return DownloadError(f"{what}: the hub answered {exc}".splitlines()[0])
    return DownloadError(f"{what}: cannot reach {endpoint()} ({type(exc).__name__}: {exc})".splitlines()[0])


def resolve(repo_id: str, filename: str, revision: str = "main") -> RemoteFile:
    """The hub's metadata for one file (one HEAD request)."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    check_names(repo_id, filename, revision)
    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint())
    with hub_online():
        try:
            metadata = get_hf_file_metadata(url, endpoint=endpoint())
        except Exception as exc:
            raise _hub_error(exc, f"{repo_id}/{filename}") from exc
    etag = (metadata.etag or "").lower()
    return RemoteFile(
        repo_id=repo_id,
        filename=filename,
        revision=revision,
        commit=metadata.commit_hash or "",
        size=metadata.size,
        sha256=etag if re.fullmatch(r"[0-9a-f]{64}", etag) else "",
        git_sha1=etag if re.fullmatch(r"[0-9a-f]{40}", etag) else "",
        url=metadata.location or url,
    )


def list_model_files(repo_id: str, revision: str = "main") -> list[RemoteFile]:
    """The model files (.gguf, .safetensors) of a repository with their sizes (``/api/models/{repo}/revision``)."""
    from huggingface_hub import HfApi

    check_names(repo_id, "x", revision)
    with hub_online():
        try:
            info = HfApi(endpoint=endpoint()).model_info(repo_id, revision=revision, files_metadata=True)
        except Exception as exc:
            raise _hub_error(exc, repo_id) from exc
    files = []
    for sibling in info.siblings or []:
        if not sibling.rfilename.lower().endswith(MODEL_SUFFIXES):
            continue
        lfs = sibling.lfs
        files.append(
            RemoteFile(
                repo_id=repo_id,
                filename=sibling.rfilename,
                revision=revision,
                commit=info.sha or "",
                size=lfs.size if lfs is not None else sibling.size,
                sha256=(lfs.sha256 if lfs is not None else "") or "",
                git_sha1=sibling.blob_id or "",
            )
        )
    return files


def downloads_dir() -> Path:
    """Where partial downloads wait (never the models folder)."""
    path = paths.data_dir() / "downloads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def target_path(repo_id: str, filename: str) -> Path:
    """Where a downloaded file lives: ``<models>/<owner>--<repo>/<file>``."""
    return paths.models_dir() / repo_id.replace("/", "--") / PurePosixPath(filename)


def partial_paths(repo_id: str, filename: str) -> tuple[Path, Path]:
    """The partial file of a download and its record (commit and checksum the bytes belong to)."""
    stem = f"{repo_id}/{filename}".replace("/", "--")
    part = downloads_dir() / f"{stem}.part"
    return part, part.with_name(part.name + ".json")


def _partial_record(remote: RemoteFile) -> dict[str, Any]:
    return {
        "source": remote.source,
        "size": remote.size,
        "sha256": remote.sha256,
        "git_sha1": remote.git_sha1,
    }


def _resumable_bytes(part: Path, record: Path, remote: RemoteFile) -> int:
    """How many bytes of ``part`` belong to ``remote`` (0: start afresh)."""
    try:
        saved = json.loads(record.read_text(encoding="utf-8"))
        size = part.stat().st_size
    except (OSError, ValueError):
        return 0
    if saved != _partial_record(remote) or (remote.size is not None and size > remote.size):
        return 0
    return size


def _discard(*files: Path) -> None:
    for item in files:
        with contextlib.suppress(FileNotFoundError):
            item.unlink()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _matches(path: Path, sha256: str, remote: RemoteFile) -> bool:
    """Does the file at ``path`` (whose SHA-256 is ``sha256``) have the hub's checksum?"""
    if remote.sha256:
        return sha256 == remote.sha256
    return _git_blob_sha1(path) == remote.git_sha1


def _git_blob_sha1(path: Path) -> str:
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode(), usedforsecurity=False)
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def download(
    repo_id: str, filename: str, revision: str, job_id: str, cancel: CancelToken
) -> Generator[EngineEvent, None, DownloadedFile]:
    """Download one file (resuming a partial one) and check it; yields progress, returns the file."""
    from huggingface_hub.utils import build_hf_headers, hf_raise_for_status, http_stream_backoff

    yield protocol.progress(job_id, None, f"Asking the hub about {filename}")
    remote = resolve(repo_id, filename, revision)
    if not remote.sha256 and not remote.git_sha1:
        raise DownloadError(
            f"{remote.source}: the hub gave no checksum, so the download could not be checked"
        )
    target = target_path(repo_id, filename)
    if target.is_file() and target.stat().st_size == remote.size:
        yield protocol.progress(job_id, 1.0, f"Checking the copy already in {target.parent.name}")
        sha256 = _sha256(target)
        if _matches(target, sha256, remote):
            return DownloadedFile(path=target, remote=remote, sha256=sha256)
    part, record = partial_paths(repo_id, filename)
    resume = _resumable_bytes(part, record, remote)
    if not resume:
        _discard(part)
        atomic_write_text(record, json.dumps(_partial_record(remote)))
    digest = hashlib.sha256()
    if resume:
        with part.open("rb") as stream:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
    headers = build_hf_headers()
    if urlparse(remote.url).netloc != urlparse(endpoint()).netloc:
        headers.pop("authorization", None)  # never send a token to a CDN
    total = remote.size
    done = resume
    if total is not None:
        free = shutil.disk_usage(part.parent).free
        if total - done > free:
            raise DownloadError(
                f"{filename} needs {_mb(total - done)} more but only {_mb(free)} is free on the disk of "
                f"{part.parent}"
            )
    if total is None or done < total:
        if resume:
            headers["Range"] = f"bytes={resume}-"
        yield protocol.progress(
            job_id, done / total if total else None, _progress_text(filename, done, total)
        )
        with hub_online(), part.open("ab") as sink:
            try:
                # no retry on exceptions: one raised while we read the body would re-enter the generator
                with http_stream_backoff(
                    "GET",
                    remote.url,
                    headers=headers,
                    retry_on_exceptions=(),
                    retry_on_status_codes=(408, 429, 503),
                    max_retries=3,
                ) as response:
                    hf_raise_for_status(response)
                    if resume and response.status_code == 200:  # the server ignored the range: start over
                        sink.seek(0)
                        sink.truncate()
                        digest, done = hashlib.sha256(), 0
                    reported = done
                    for chunk in response.iter_bytes(chunk_size=CHUNK):
                        if cancel.is_cancelled:
                            raise JobCancelled
                        sink.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if total and done > total:
                            break
                        if not total or done - reported >= max(total // 200, CHUNK) or done == total:
                            reported = done
                            yield protocol.progress(
                                job_id, done / total if total else None, _progress_text(filename, done, total)
                            )
            except (JobCancelled, DownloadError):
                raise
            except Exception as exc:
                sink.flush()
                raise DownloadError(
                    f"The download of {filename} broke off after {_mb(done)} ({_first_line(exc)}); "
                    "download it again to resume"
                ) from exc
    if total is not None and done != total:
        if done > total:
            _discard(part, record)
            raise DownloadError(
                f"{filename}: the hub sent more than the {total:,} bytes it announced; refused"
            )
        raise DownloadError(
            f"{filename}: the download stopped at {done:,} of {total:,} bytes; download it again to resume"
        )
    yield protocol.progress(job_id, 1.0, f"Checking {filename}")
    sha256 = digest.hexdigest()
    if not _matches(part, sha256, remote):
        _discard(part, record)
        expected = remote.sha256 or remote.git_sha1
        raise DownloadError(
            f"{filename} does not match the hub's checksum ({expected[:12]}…); the file was deleted, not installed"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, target)
    _discard(record)
    return DownloadedFile(path=target, remote=remote, sha256=sha256)


def download_files(
    repo_id: str, filenames: tuple[str, ...], revision: str, job_id: str, cancel: CancelToken
) -> Generator[EngineEvent, None, list[DownloadedFile]]:
    """Download several files of one repository into its folder (``<models>/<owner>--<repo>/``), one after the
    other, each as :func:`download` does (its own resume, size and checksum check); the progress covers them
    all. A file that fails stops the rest; the files already there stay (a retry checks and keeps them)."""
    if not filenames:
        raise DownloadError(f"{repo_id}: no files named to download")
    for filename in filenames:
        check_names(repo_id, filename, revision)
    if len({target_path(repo_id, name).parent for name in filenames}) != 1:
        raise DownloadError(f"{repo_id}: the files of one folder download must lie in one folder")
    done: list[DownloadedFile] = []
    count = len(filenames)
    for index, filename in enumerate(filenames):
        job = download(repo_id, filename, revision, job_id, cancel)
        try:
            event = next(job)
            while True:
                if event.progress is not None:
                    event = protocol.progress(
                        job_id, (index + event.progress) / count, event.text, event.step
                    )
                yield event
                event = job.send(None)
        except StopIteration as stop:
            done.append(stop.value)
    return done


def _mb(count: int) -> str:
    return f"{count / 1e6:.1f} MB"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _progress_text(filename: str, done: int, total: int | None) -> str:
    name = PurePosixPath(filename).name
    return f"Downloading {name}: {_mb(done)} of {_mb(total)}" if total else f"Downloading {name}: {_mb(done)}"


def discard_partial(repo_id: str, filename: str) -> bool:
    """Delete the partial file of a download (the user gave up on resuming it)."""
    part, record = partial_paths(repo_id, filename)
    existed = part.exists()
    _discard(part, record)
    return existed
