"""How the diffusion activation factor in studio/models/fit.py was measured (not a test: about 3 minutes).

Builds an SD 1.5 pipeline's UNet, VAE and text encoder from Studio's shipped configs with random weights (memory
does not depend on the values), runs one CFG UNet step and a VAE decode at the given size in float32 on the CPU,
and prints the memory the weights took and the peak the generation added on top.

    .venv/bin/python tests/models/measure_diffusion_memory.py 512
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path


def rss() -> int:
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def main(side: int) -> None:
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    configs = Path(__file__).resolve().parents[2] / "studio" / "resources" / "diffusion_configs" / "sd15"
    torch.set_num_threads(2)
    base = rss()
    unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(configs / "unet")).eval()
    vae = AutoencoderKL.from_config(AutoencoderKL.load_config(configs / "vae")).eval()
    text = CLIPTextModel(CLIPTextConfig.from_pretrained(configs / "text_encoder")).eval()
    parameters = sum(p.numel() for module in (unet, vae, text) for p in module.parameters())
    loaded = rss()
    with torch.no_grad():
        hidden = text(torch.zeros((2, 77), dtype=torch.long))[0]
        latents = torch.randn(2, 4, side // 8, side // 8)
        unet(latents, torch.tensor(999), encoder_hidden_states=hidden)
        vae.decode(latents[:1] / 0.18215)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"{side}x{side}: {parameters:,} parameters, weights took {loaded - base:,} bytes, ")
    print(
        f"the generation's peak added {peak - loaded:,} bytes = {(peak - loaded) / side / side / 4:,.0f} per pixel per byte"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 512)
