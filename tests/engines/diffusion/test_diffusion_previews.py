"""Step previews: the fixed latent projection, which steps get one, and the TAESD fallback."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from studio.engines.diffusion_previews import LATENT_RGB, PreviewPlan, latents_to_rgb

pytestmark = pytest.mark.diffusion


def test_latent_projection_uses_the_family_factors() -> None:
    latents = torch.zeros(2, 4, 6, 10)
    latents[0, 0] = 1.0  # only channel 0 set: the pixel is (factor row 0 + bias + 1) / 2
    for family, table in (("sd15", "sd"), ("sdxl", "sdxl")):
        pixels = latents_to_rgb(latents, family)
        assert pixels.shape == (6, 10, 3) and pixels.dtype == np.uint8
        factors, bias = LATENT_RGB[table]
        expected = [round(min(1.0, max(0.0, (factors[0][c] + bias[c] + 1) / 2)) * 255) for c in range(3)]
        assert np.abs(pixels[0, 0].astype(int) - expected).max() <= 1


def test_plan_chooses_steps_and_falls_back_without_taesd() -> None:
    latents = torch.randn(1, 4, 8, 8)
    every_other = PreviewPlan.for_job("latent", 2, "sd15", None)
    assert every_other.for_step(1, latents) is None
    png = every_other.for_step(2, latents)
    assert png is not None and Image.open(io.BytesIO(png)).size == (8, 8)
    assert PreviewPlan.for_job("none", 1, "sd15", None).for_step(1, latents) is None
    assert PreviewPlan.for_job("latent", 0, "sd15", None).for_step(1, latents) is None
    assert PreviewPlan.for_job("latent", 1, "sd15", None).for_step(1, None) is None
    assert PreviewPlan.for_job("taesd", 1, "sd15", None).kind == "latent"
