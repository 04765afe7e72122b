"""Generation history kept with a canvas document: every generated result applied to it, with its full
parameters and seed and the image itself, so it can be re-applied, re-run or its settings loaded again.

The log is not part of undo (undoing a layer does not forget how it was made). OpenRaster files keep it in
Studio's own entries (``studio/history.json`` and ``studio/history/<id>.png``), which other programs ignore.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from studio.canvas.errors import CanvasError
from studio.canvas.geometry import Rect
from studio.canvas.imaging import check_rgba
from studio.canvas.signals import Signal

MAX_RECORDS = 200
MAX_BYTES = 256 * 1024 * 1024  # the images the log keeps in memory (and in the .ora), newest first
HISTORY_FORMAT = 1


@dataclass(eq=False)
class GenerationRecord:
    """One generated result: ``parameters`` as the engine reported them (prompt, seed, steps, model, …),
    ``image`` the RGBA pixels placed at ``region`` of a ``canvas_size`` canvas, and the layer it became."""

    parameters: dict[str, Any]
    image: np.ndarray
    region: Rect
    canvas_size: tuple[int, int]
    layer_name: str = ""
    layer_id: str | None = None
    created: float = field(default_factory=time.time)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def __post_init__(self) -> None:
        self.image = check_rgba(self.image, "The generated image")
        if (self.image.shape[1], self.image.shape[0]) != self.region.size:
            raise CanvasError("A generation record's image must have its region's size")
        self.parameters = json.loads(json.dumps(dict(self.parameters), default=str))

    @property
    def prompt(self) -> str:
        return str(self.parameters.get("prompt") or "")

    @property
    def seed(self) -> int | None:
        seed = self.parameters.get("seed")
        return seed if isinstance(seed, int) and not isinstance(seed, bool) else None

    def to_json(self) -> dict[str, Any]:
        """What ``studio/history.json`` stores for this record (the image is stored apart)."""
        return {
            "id": self.id,
            "created": self.created,
            "parameters": copy.deepcopy(self.parameters),
            "region": [self.region.x, self.region.y, self.region.width, self.region.height],
            "canvas_size": list(self.canvas_size),
            "layer_name": self.layer_name,
            "layer_id": self.layer_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], image: np.ndarray) -> GenerationRecord:
        """A record read back; raises :class:`CanvasError` (or ``ValueError``/``TypeError``) when malformed."""
        x, y, width, height = (int(v) for v in data["region"])
        canvas_width, canvas_height = (int(v) for v in data["canvas_size"])
        parameters = data.get("parameters")
        if not isinstance(parameters, dict):
            raise CanvasError("A generation record has no parameters")
        return cls(
            parameters=parameters,
            image=image,
            region=Rect(x, y, width, height),
            canvas_size=(canvas_width, canvas_height),
            layer_name=str(data.get("layer_name") or ""),
            layer_id=str(data["layer_id"]) if data.get("layer_id") else None,
            created=float(data.get("created") or 0.0),
            id=str(data.get("id") or uuid.uuid4().hex[:12]),
        )


class GenerationLog:
    """The records of one document, oldest first: at most :data:`MAX_RECORDS` records and
    :data:`MAX_BYTES` of images (the oldest go first; the newest record is always kept)."""

    def __init__(self, records: list[GenerationRecord] | None = None) -> None:
        self._records: list[GenerationRecord] = []
        self.changed: Signal[[]] = Signal()
        self._set(list(records or []))

    def _set(self, records: list[GenerationRecord]) -> None:
        records = records[-MAX_RECORDS:]
        total = sum(int(record.image.nbytes) for record in records)
        while len(records) > 1 and total > MAX_BYTES:
            total -= int(records.pop(0).image.nbytes)
        self._records = records

    @property
    def nbytes(self) -> int:
        """Memory held by the records' images."""
        return sum(int(record.image.nbytes) for record in self._records)

    @property
    def records(self) -> tuple[GenerationRecord, ...]:
        return tuple(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def add(self, record: GenerationRecord) -> GenerationRecord:
        self._set([*self._records, record])
        self.changed.emit()
        return record

    def get(self, record_id: str) -> GenerationRecord:
        for record in self._records:
            if record.id == record_id:
                return record
        raise CanvasError("That generation is no longer in the history")

    def remove(self, record_id: str) -> None:
        self._records = [record for record in self._records if record.id != record_id]
        self.changed.emit()

    def replace_all(self, records: list[GenerationRecord]) -> None:
        self._set(list(records))
        self.changed.emit()

    def manifest(self) -> dict[str, Any]:
        """The JSON document of the log (images named ``studio/history/<id>.png``)."""
        return {"format": HISTORY_FORMAT, "records": [record.to_json() for record in self._records]}
