"""The short list of models Studio offers to download (studio/resources/models/curated.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from studio.models.registry import DIFFUSION, LLM

CURATED_FILE = Path(__file__).resolve().parent.parent / "resources" / "models" / "curated.json"


@dataclass(frozen=True)
class CuratedFile:
    """One downloadable file of a curated model (``size`` is approximate; the hub's is checked)."""

    model: str
    repo_id: str
    filename: str
    quantization: str
    size: int
    engine: str
    license: str
    about: str

    @property
    def label(self) -> str:
        return f"{self.model} — {self.quantization}"


def curated_files(path: Path = CURATED_FILE) -> list[CuratedFile]:
    """Every file of the curated list, LLMs first; an unreadable list gives an empty one."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    files: list[CuratedFile] = []
    for section, engine in (("llm", LLM), ("image", DIFFUSION)):
        for model in raw.get(section, []) if isinstance(raw, dict) else []:
            for item in model.get("files", []):
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
                    )
                )
    return files
