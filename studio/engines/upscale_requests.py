"""The Upscale ×2 (SD upscale) request: plain picklable data, torch-free (the GUI and CLI build it).

The engine (:mod:`studio.engines.diffusion_upscale`) resizes ``image`` by ``scale`` and re-details it in
overlapping tiles with image-to-image at ``strength``; the job ends with one ``result`` event whose
:class:`~studio.engines.results.ImageResult` holds the enlarged image and its parameters. A cancelled job
sends ``cancelled`` with no image: nothing half-done reaches the canvas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from studio.engines.image_requests import MAX_SEED, MAX_SIDE
from studio.engines.lora_files import check_loras
from studio.engines.protocol import EngineRequest
from studio.engines.results import ImageResult
from studio.engines.schedulers import SCHEDULERS, Scheduler

UPSCALE_SCALES = (2,)


@dataclass(frozen=True, slots=True)
class UpscaleRequest(EngineRequest[ImageResult]):
    """Enlarge ``image`` (PNG bytes) ``scale`` times and re-detail it tile by tile.

    ``tile``/``overlap``: the tile side and the least overlap of neighbouring tiles, in output pixels.
    ``strength`` is kept low (0.2–0.4) so the re-detailing keeps the picture; each tile runs
    ``int(steps * strength)`` steps. ``seed`` < 0 picks a random seed. ``model_path`` and ``loras`` as in
    :class:`~studio.engines.image_requests.ImageRequest`.
    """

    engine_kind: ClassVar[str] = "diffusion"
    image: bytes = b""
    prompt: str = ""
    negative_prompt: str = ""
    scale: int = 2
    steps: int = 20
    guidance: float = 7.0
    strength: float = 0.3
    seed: int = 0
    scheduler: str = Scheduler.DEFAULT
    tile: int = 512
    overlap: int = 64
    model_path: str = ""
    loras: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "loras", tuple((str(path), float(weight)) for path, weight in self.loras))

    def problem(self) -> str | None:
        """What is wrong with this request (a message for the user), or None."""
        if not self.image:
            return "there is no image to upscale"
        if self.scale not in UPSCALE_SCALES:
            return f"the scale must be one of {', '.join(map(str, UPSCALE_SCALES))} (got {self.scale})"
        if self.scheduler not in SCHEDULERS:
            return f"unknown scheduler {self.scheduler!r} (choose from {', '.join(SCHEDULERS)})"
        if not 1 <= self.steps <= 500:
            return f"steps must be between 1 and 500 (got {self.steps})"
        if not 0.0 <= self.guidance <= 50.0:
            return f"guidance must be between 0 and 50 (got {self.guidance})"
        if not 0.0 < self.strength <= 1.0:
            return f"strength must be above 0 and at most 1 (got {self.strength})"
        if int(self.steps * self.strength) < 1:
            return f"steps × strength must be at least 1 (got {self.steps} × {self.strength})"
        if self.seed > MAX_SEED:
            return f"seed must be below 2^63 (got {self.seed})"
        if self.tile % 8 or not 64 <= self.tile <= MAX_SIDE:
            return f"the tile size must be a multiple of 8 between 64 and {MAX_SIDE} (got {self.tile})"
        if not 0 <= self.overlap <= self.tile // 2:
            return f"the overlap must be between 0 and half the tile size (got {self.overlap})"
        return check_loras(self.loras)


__all__ = ["UPSCALE_SCALES", "UpscaleRequest"]
