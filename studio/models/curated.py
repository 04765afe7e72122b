"""The short list of models Studio offers to download (studio/resources/models/curated.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from studio.models.registry import DECODER, DIFFUSION, LLM

CURATED_FILE = Path(__file__).resolve().parent.parent / "resources" / "models" / "curated.json"


@dataclass(frozen=True)
class CuratedFile:
    """One download of a curated model (``size`` is approximate; the hub's is checked): one file, or with
    ``filenames`` several files of the repository into one folder (a TAESD: config.json and its weights), where
    ``filename`` is the weights file."""

    model: str
    repo_id: str
    filename: str
    quantization: str
    size: int
    engine: str
    license: str
    about: str
    filenames: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.model} — {self.quantization}"

    @property
    def is_folder(self) -> bool:
        return bool(self.filenames)

    @property
    def location(self) -> str:
        """``repo/file``, or ``repo/{a, b}`` for a folder download."""
        if self.filenames:
            return f"{self.repo_id}/{{{', '.join(self.filenames)}}}"
        return f"{self.repo_id}/{self.filename}"


def curated_files(path: Path = CURATED_FILE) -> list[CuratedFile]:
    """Every download of the curated list, LLMs first, then image models and decoders; an unreadable list gives
    an empty one. A file item with ``"folder": [names]`` downloads those files into one folder."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    files: list[CuratedFile] = []
    for section, engine in (("llm", LLM), ("image", DIFFUSION), ("decoder", DECODER)):
        for model in raw.get(section, []) if isinstance(raw, dict) else []:
            for item in model.get("files", []):
                folder = item.get("folder")
                filenames = tuple(str(name) for name in folder) if isinstance(folder, list) else ()
                files.append(
                    CuratedFile(
                        model=str(model["name"]),
                        repo_id=str(model["repo"]),
                        filename=str(item["file"]),
                        quantization=str(item.get("quantization", "")),
                        size=int(item.get("size", 0)),
                        engine=engine,
                        license=str(model.get("license", "")),
                        about=str(model.get("about", "")),
                        filenames=filenames,
                    )
                )
    return files
