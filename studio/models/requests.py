"""Jobs on model files, run in engine processes: inspect or verify a file, download one, list a repository.

Plain picklable data: the GUI builds these and reads their results without importing the code that reads
model headers (that runs in the ``models`` engine process, downloads in the ``downloads`` one; see
:mod:`studio.models.service`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from studio.engines.protocol import EngineRequest
from studio.models.hub import RemoteFile
from studio.models.registry import ModelEntry

MODELS_ENGINE = "models"
DOWNLOADS_ENGINE = "downloads"


@dataclass(frozen=True, slots=True)
class InspectModelRequest(EngineRequest[ModelEntry]):
    """Check the header of the model at ``path`` and hash it; the result is its registry entry.

    With ``known`` (the registered entry) it is a verify: the result's ``problem`` says what no longer
    matches (header broken, hash changed), "" when all is well. With ``copy`` the file is first copied into
    Studio's models folder (the result is the copy, marked as Studio's to delete). Without ``hash_file`` only
    the header is read (quick: the facts for the memory estimate of a model opened before it was checked), and
    a file that fails the check is a result whose ``problem`` says why, not an error."""

    engine_kind: ClassVar[str] = MODELS_ENGINE
    path: str = ""
    known: ModelEntry | None = None
    copy: bool = False
    hash_file: bool = True


@dataclass(frozen=True, slots=True)
class DownloadModelRequest(EngineRequest[ModelEntry]):
    """Download ``filename`` of ``repo_id`` at ``revision`` into the models folder, check it against the
    hub's size and checksum and its header; the result is its registry entry (``downloaded`` set). With
    ``filenames`` those files are downloaded into one folder (each checked the same way) and the folder is the
    model (a TAESD: ``config.json`` and its weights)."""

    engine_kind: ClassVar[str] = DOWNLOADS_ENGINE
    repo_id: str = ""
    filename: str = ""
    revision: str = "main"
    filenames: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ListRepoFilesRequest(EngineRequest[list[RemoteFile]]):
    """The model files (.gguf, .safetensors) of ``repo_id`` at ``revision``, with sizes."""

    engine_kind: ClassVar[str] = DOWNLOADS_ENGINE
    repo_id: str = ""
    revision: str = "main"
