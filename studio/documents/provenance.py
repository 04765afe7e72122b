"""Where AI-written text spans are kept between sessions.

Markdown files stay plain text, so Studio keeps the ranges of accepted AI text beside its other app data,
keyed by the document's path and tied to the exact bytes saved: if the file is changed by anything else,
the ranges no longer apply and are dropped rather than mark the wrong text.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from pathlib import Path

from studio import paths
from studio.fileio import atomic_write_text

log = logging.getLogger(__name__)


class ProvenanceStore:
    """AI-text ranges per document file, valid only for the content they were saved with."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else paths.data_dir() / "provenance"

    def _file_for(self, document_path: str | os.PathLike[str]) -> Path:
        key = hashlib.sha1(str(Path(document_path).resolve()).encode("utf-8")).hexdigest()
        return self.directory / f"{key}.json"

    def save(
        self, document_path: str | os.PathLike[str], content_sha256: str, ranges: list[tuple[int, int]]
    ) -> None:
        """Remember ``ranges`` (character offsets) for the file as saved with this content hash."""
        target = self._file_for(document_path)
        if not ranges:
            with contextlib.suppress(OSError):
                target.unlink()
            return
        payload = {
            "path": str(Path(document_path).resolve()),
            "sha256": content_sha256,
            "ranges": [[start, end] for start, end in ranges],
            "saved_at": time.time(),
        }
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            atomic_write_text(target, json.dumps(payload) + "\n")
        except OSError as exc:
            log.warning("could not record AI provenance for %s: %s", document_path, exc)

    def load(self, document_path: str | os.PathLike[str], content_sha256: str) -> list[tuple[int, int]]:
        """The ranges saved for this file, or ``[]`` when none were or the file changed since."""
        try:
            payload = json.loads(self._file_for(document_path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        if not isinstance(payload, dict) or payload.get("sha256") != content_sha256:
            return []
        ranges: list[tuple[int, int]] = []
        for item in payload.get("ranges", []):
            if (
                isinstance(item, list)
                and len(item) == 2
                and all(isinstance(value, int) and not isinstance(value, bool) for value in item)
                and 0 <= item[0] < item[1]
            ):
                ranges.append((item[0], item[1]))
        return ranges
