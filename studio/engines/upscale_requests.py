"""The Upscale ×2 (SD upscale) request: plain picklable data, torch-free (the GUI and CLI build it).

The engine (:mod:`studio.engines.diffusion_upscale`) resizes ``image`` by ``scale`` and re-details it in
overlapping tiles with image-to-image at ``strength``; the job ends with one ``result`` event whose
:class:`~studio.engines.results.ImageResult` holds the enlarged image and its parameters. A cancelled job
sends ``cancelled`` with no image: nothing half-done reaches the canvas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from studio.engines.image_requests import MAX_SIDE, GenerationMode, ImageRequest
from studio.engines.protocol import EngineRequest
from studio.engines.results import ImageResult
from studio.engines.schedulers import Scheduler

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

    def tile_request(self, init_image: bytes, width: int, height: int) -> ImageRequest:
        """The image-to-image request one tile runs as (same job id, no step previews)."""
        return ImageRequest(
            job_id=self.job_id,
            mode=GenerationMode.IMAGE_TO_IMAGE,
            prompt=self.prompt,
            negative_prompt=self.negative_prompt,
            steps=self.steps,
            guidance=self.guidance,
            seed=max(self.seed, 0),
            width=width,
            height=height,
            scheduler=self.scheduler,
            init_image=init_image,
            strength=self.strength,
            preview_every=0,
            preview_kind="none",
            model_path=self.model_path,
            loras=self.loras,  # they key the engine's prompt cache
        )

    def problem(self) -> str | None:
        """What is wrong with this request (a message for the user), or None."""
        if not self.image:
            return "there is no image to upscale"
        if self.scale not in UPSCALE_SCALES:
            return f"the scale must be one of {', '.join(map(str, UPSCALE_SCALES))} (got {self.scale})"
        if self.tile % 8 or not 64 <= self.tile <= MAX_SIDE:
            return f"the tile size must be a multiple of 8 between 64 and {MAX_SIDE} (got {self.tile})"
        if not 0 <= self.overlap <= self.tile // 2:
            return f"the overlap must be between 0 and half the tile size (got {self.overlap})"
        # steps, guidance, strength, seed and scheduler: checked as each tile's img2img request
        return self.tile_request(self.image, self.tile, self.tile).problem()  # the LoRAs too


__all__ = ["UPSCALE_SCALES", "UpscaleRequest"]
