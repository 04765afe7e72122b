"""Step previews of a running generation (diffusion engine process only; imports torch).

By default a preview is a fixed linear latent → RGB projection at latent resolution (no weights, a few
milliseconds); with a TAESD decoder loaded it is a real decode. :class:`PreviewPlan` decides which steps get
one and renders it as a quickly compressed PNG.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from studio.canvas.image_io import encode_png

# Fixed latent → RGB factors (no weights needed). SD 1.x/2.x: the diffusers docs' callback page; SDXL: the
# factors and bias ComfyUI uses.
LATENT_RGB: dict[str, tuple[list[list[float]], list[float]]] = {
    "sd": (
        [[0.298, 0.207, 0.208], [0.187, 0.286, 0.173], [-0.158, 0.189, 0.264], [-0.184, -0.271, -0.473]],
        [0.0, 0.0, 0.0],
    ),
    "sdxl": (
        [
            [0.3651, 0.4232, 0.4341],
            [-0.2533, -0.0042, 0.1068],
            [0.1076, 0.1111, -0.0362],
            [-0.3165, -0.2492, -0.2188],
        ],
        [0.1084, -0.0175, -0.0011],
    ),
}
PREVIEW_COMPRESS_LEVEL = 1  # previews are shown once: speed over size


def latents_to_rgb(latents: torch.Tensor, family: str) -> np.ndarray:
    """A cheap preview of the first latent of a batch (RGB ``uint8`` pixels at latent resolution): a fixed
    4×3 linear projection."""
    latent = latents[0].detach().float().cpu()
    if latent.shape[0] == 4:
        factors, bias = LATENT_RGB["sdxl" if family == "sdxl" else "sd"]
        rgb = torch.einsum("chw,cr->hwr", latent, torch.tensor(factors)) + torch.tensor(bias)
    elif latent.shape[0] >= 3:
        rgb = latent[:3].permute(1, 2, 0)
    else:
        rgb = latent.mean(0, keepdim=True).permute(1, 2, 0).expand(-1, -1, 3)
    return np.ascontiguousarray(((rgb + 1) / 2).clamp(0, 1).mul(255).round().to(torch.uint8).numpy())


def taesd_to_rgb(latents: torch.Tensor, taesd: Any) -> np.ndarray:
    """The first latent of a batch decoded by a TAESD (``AutoencoderTiny``) as RGB ``uint8`` pixels."""
    with torch.no_grad():
        decoded = taesd.decode(latents[:1].to(taesd.dtype)).sample[0]
    pixels = ((decoded.float() + 1) / 2).clamp(0, 1).mul(255).round().to(torch.uint8)
    return np.ascontiguousarray(pixels.permute(1, 2, 0).numpy())


@dataclass(frozen=True)
class PreviewPlan:
    """Which steps of a job get a preview, and how it is made."""

    kind: str  # latent | taesd | none
    every: int  # a preview every N steps (0: none)
    family: str  # the model family (picks the latent projection)
    taesd: Any = None

    @classmethod
    def for_job(cls, kind: str, every: int, family: str, taesd: Any) -> PreviewPlan:
        """The plan for a request's ``preview_kind`` / ``preview_every``; TAESD falls back to the latent
        projection when no decoder is loaded."""
        if kind == "taesd" and taesd is None:
            kind = "latent"
        return cls(kind, every, family, taesd)

    def for_step(self, step: int, latents: object) -> bytes | None:
        """The PNG preview of step ``step`` (1-based) from its ``latents``, or None when the step gets none."""
        if not self.every or self.kind == "none" or step % self.every:
            return None
        if not isinstance(latents, torch.Tensor) or latents.ndim != 4:
            return None
        if self.kind == "taesd" and self.taesd is not None:
            pixels = taesd_to_rgb(latents, self.taesd)
        else:
            pixels = latents_to_rgb(latents, self.family)
        return encode_png(pixels, compress_level=PREVIEW_COMPRESS_LEVEL)
