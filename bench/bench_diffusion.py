"""Diffusion speed through Studio's engine process against diffusers called directly, side by side in one run.

    python bench/bench_diffusion.py [--images N] [--steps N] [--size N] [--full-size]

Prints, as Markdown for the README: (1) time per image through Studio's engine (engine process, IPC and PNG
encoding included) and through the same diffusers pipeline called directly (same weights, steps, size,
seeds), with their ratio; (2) the cost of per-step previews (latent projection and TAESD); (3) how long a
cancel takes to come back; (4) with ``--full-size``, an SD 1.5-sized pipeline built from Studio's shipped
configs with random weights (speed does not depend on the weights' values): seconds for a 512×512 image
at 1 and 4 steps with few-step settings (LCM, guidance 1: no classifier-free guidance) and latent previews.
The small parts use the tiny random-weight pipeline of ``studio.testing.tiny_diffusion``.
"""

from __future__ import annotations

import argparse
import os
import platform
import queue
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.engines.client import EngineClient
from studio.engines.image_requests import ImageRequest, LoadPipelineRequest
from studio.engines.protocol import CancelToken, EngineEvent, EventKind, new_job_id

PROMPT = "a lighthouse on a cliff at dusk, oil painting"


class StudioEngine:
    """The diffusion engine in its own process, as the app runs it."""

    def __init__(self, folder: Path, taesd: Path) -> None:
        self.events: queue.Queue[EngineEvent] = queue.Queue()
        self.client = EngineClient("diffusion", self.events.put)
        started = time.perf_counter()
        self.run(LoadPipelineRequest(new_job_id(), model_path=str(folder), taesd_path=str(taesd)))
        self.startup = time.perf_counter() - started

    def run(self, request: Any, on_event: Any = None) -> EngineEvent:
        self.client.submit(request)
        while True:
            event = self.events.get(timeout=900)
            if event.job_id != request.job_id:
                continue
            if on_event is not None:
                on_event(event)
            if event.kind is EventKind.ERROR:
                raise SystemExit(f"engine error: {event.text}")
            if event.kind.is_terminal:
                return event

    def time_image(self, request: ImageRequest) -> float:
        started = time.perf_counter()
        event = self.run(request)
        assert event.kind is EventKind.RESULT
        return time.perf_counter() - started

    def cancel_latency(self, steps: int) -> float:
        """Seconds from sending cancel (right after step 1 is reported) to the ``cancelled`` event."""
        request = ImageRequest(new_job_id(), prompt=PROMPT, steps=steps, width=64, height=64, seed=1)
        sent: list[float] = []

        def on_event(event: EngineEvent) -> None:
            if event.kind is EventKind.PROGRESS and not sent:
                sent.append(time.perf_counter())
                self.client.cancel(request.job_id)

        event = self.run(request, on_event)
        assert event.kind is EventKind.CANCELLED, event.kind
        return time.perf_counter() - sent[0]

    def close(self) -> None:
        self.client.shutdown()


def image_request(args: argparse.Namespace, seed: int, preview_kind: str) -> ImageRequest:
    return ImageRequest(
        new_job_id(),
        prompt=PROMPT,
        steps=args.steps,
        guidance=7.0,
        width=args.size,
        height=args.size,
        seed=seed,
        preview_kind=preview_kind,
        preview_every=1 if preview_kind != "none" else 0,
    )


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} ms"


def bench_small(args: argparse.Namespace, workdir: Path) -> list[str]:
    import diffusers
    import torch
    from diffusers import StableDiffusionPipeline

    from studio.testing.tiny_diffusion import save_tiny_pipeline, save_tiny_taesd

    folder = save_tiny_pipeline(workdir / "tiny")
    taesd = save_tiny_taesd(workdir / "taesd")
    seeds = list(range(args.images))

    diffusers.utils.logging.disable_progress_bar()
    pipe: Any = StableDiffusionPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)

    def direct(seed: int) -> float:
        started = time.perf_counter()
        pipe(
            prompt=PROMPT,
            num_inference_steps=args.steps,
            guidance_scale=7.0,
            height=args.size,
            width=args.size,
            generator=torch.Generator("cpu").manual_seed(seed),
        )
        return time.perf_counter() - started

    kinds = ("none", "latent", "taesd")
    through_engine: dict[str, list[float]] = {kind: [] for kind in kinds}
    direct_times: list[float] = []
    engine = StudioEngine(folder, taesd)
    try:
        engine.time_image(image_request(args, 99, "none"))  # warm-up
        direct(99)
        for seed in seeds:  # interleaved, so a busy moment on the machine hits every column alike
            for kind in kinds:
                through_engine[kind].append(engine.time_image(image_request(args, seed, kind)))
            direct_times.append(direct(seed))
        cancels = [engine.cancel_latency(steps=500) for _ in range(args.cancels)]
    finally:
        engine.close()

    base = statistics.median(through_engine["none"])
    plain = statistics.median(direct_times)
    lines = [
        f"### Tiny pipeline: {args.size}×{args.size}, {args.steps} steps, guidance 7, median of {args.images} images",
        "",
        "| path | time per image | vs. diffusers direct |",
        "| --- | ---: | ---: |",
        f"| diffusers pipeline called directly | {median_ms(direct_times)} | 1.00× |",
        f"| Studio engine process, no previews | {median_ms(through_engine['none'])} | {base / plain:.2f}× |",
        f"| Studio engine process, latent preview every step | {median_ms(through_engine['latent'])} | "
        f"{statistics.median(through_engine['latent']) / plain:.2f}× |",
        f"| Studio engine process, TAESD preview every step | {median_ms(through_engine['taesd'])} | "
        f"{statistics.median(through_engine['taesd']) / plain:.2f}× |",
        "",
        f"- Per-step preview cost: latent projection "
        f"{(statistics.median(through_engine['latent']) - base) / args.steps * 1000:+.1f} ms/step, tiny TAESD "
        f"{(statistics.median(through_engine['taesd']) - base) / args.steps * 1000:+.1f} ms/step "
        "(preview PNGs included; a real TAESD costs about 1.1 s at 512² on this CPU).",
        f"- Cancel → `cancelled` event: median {median_ms(cancels)}, worst "
        f"{max(cancels) * 1000:.1f} ms over {len(cancels)} cancels (sent after step 1 of 500).",
        f"- Engine process start + model load (tiny): {engine.startup:.2f} s.",
    ]
    return lines


def bench_full_size() -> list[str]:
    import torch

    from studio.engines.diffusion import DiffusionEngine
    from studio.engines.diffusion_loading import CONFIGS_DIR
    from studio.testing.tiny_diffusion import random_pipeline_from_configs

    started = time.perf_counter()
    pipe = random_pipeline_from_configs(CONFIGS_DIR / "sd15")
    built = time.perf_counter() - started
    engine = DiffusionEngine()
    engine.use_pipeline(pipe, name="sd15-random", family="sd15")

    def one(steps: int) -> tuple[float, float]:
        request = ImageRequest(
            new_job_id(),
            prompt=PROMPT,
            steps=steps,
            guidance=1.0,
            scheduler="lcm",
            width=512,
            height=512,
            seed=3,
        )
        started = time.perf_counter()
        last_step = started
        for event in engine.handle(request, CancelToken()):
            if event.kind is EventKind.PROGRESS and event.data.get("step") == steps:
                last_step = time.perf_counter()
            if event.kind is EventKind.ERROR:
                raise SystemExit(event.text)
        ended = time.perf_counter()
        return ended - started, ended - last_step

    one(1)  # warm-up
    one_step, decode = one(1)
    four_steps, _ = one(4)
    per_step = (four_steps - one_step) / 3
    return [
        "### SD 1.5-sized pipeline (random weights from Studio's configs), 512×512, in-process engine",
        "",
        "| setting | seconds per image |",
        "| --- | ---: |",
        f"| 1 step, LCM, guidance 1, latent previews | {one_step:.1f} s |",
        f"| 4 steps, LCM, guidance 1, latent previews | {four_steps:.1f} s |",
        "",
        f"- About {per_step:.1f} s per UNet step; after the last step, VAE decode and PNG take {decode:.1f} s.",
        f"- Building the random pipeline took {built:.0f} s (torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads).",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=8, help="images per measurement (default 8)")
    parser.add_argument(
        "--steps", type=int, default=4, help="steps per image on the tiny pipeline (default 4)"
    )
    parser.add_argument("--size", type=int, default=64, help="image side on the tiny pipeline (default 64)")
    parser.add_argument("--cancels", type=int, default=5, help="cancel measurements (default 5)")
    parser.add_argument(
        "--full-size", action="store_true", help="also time an SD 1.5-sized pipeline (minutes)"
    )
    args = parser.parse_args()
    print(
        f"## Diffusion benchmark ({platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()})"
    )
    print()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["STUDIO_DATA_DIR"] = str(Path(tmp) / "data")
        print("\n".join(bench_small(args, Path(tmp))))
    if args.full_size:
        print()
        print("\n".join(bench_full_size()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
