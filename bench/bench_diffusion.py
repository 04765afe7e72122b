"""Diffusion speed through Studio's engine against diffusers called directly, side by side in one run.

    python bench/bench_diffusion.py [--images N] [--steps N] [--size N] [--full-size [--configs A,B]] [--no-tiny]

Prints, as Markdown for the README: (1) time per image through Studio's engine (engine process, IPC and PNG
encoding included) and through the same diffusers pipeline called directly (same weights, steps, size,
seeds), with their ratio; (2) the cost of per-step previews (latent projection and TAESD); (3) how long a
cancel takes to come back; (4) with ``--full-size``, an SD 1.5-sized model written from Studio's shipped
configs with random weights (speed does not depend on the weights' values) plus a full-size random TAESD:
512×512, Turbo scheduler, guidance off, 1 and 4 steps end to end, the time from step 1 to its preview, model
load and peak memory, for plain diffusers in float32 and in bfloat16 and for Studio's engine (Auto precision:
bfloat16 + channels_last on CPUs with AVX-512 BF16 or AMX, float32 + channels_last on other x86 CPUs; with and
without fast decode), each configuration in its own process, as speed-ups against plain float32, and the PSNR
of each image against float32's; then what the CPU allows at best: the GFLOP of a step and of each decoder,
the machine's measured matrix-product rate, the time floor they give and how close each configuration came.
The small parts use the tiny random-weight pipeline of ``studio.testing.tiny_diffusion``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import json
import math
import os
import platform
import queue
import statistics
import subprocess
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
        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # a worker thread, as in the engine
            pool.submit(
                pipe,
                prompt=PROMPT,
                num_inference_steps=args.steps,
                guidance_scale=7.0,
                height=args.size,
                width=args.size,
                generator=torch.Generator("cpu").manual_seed(seed),
            ).result()
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


# --- SD 1.5-sized: Studio against plain diffusers, each configuration in its own process -------------------

FULL_SIZE = 512
FULL_STEPS = (1, 4)
CONFIGS = {
    "diffusers-fp32": "plain diffusers, float32 (what a user would otherwise run)",
    "diffusers-bf16": "plain diffusers, `dtype=torch.bfloat16`",
    "studio": "Studio engine, Auto precision, full VAE, latent previews",
    "studio-fast": "Studio engine, Auto precision, fast decode (TAESD), TAESD previews",
}


def save_full_size_model(folder: Path) -> Path:
    """An SD 1.5-sized diffusers folder with random weights (from Studio's shipped configs) and a full-size
    random TAESD in its ``taesd/`` subfolder, where Studio finds it by itself."""
    from diffusers import AutoencoderTiny

    from studio.engines.diffusion_loading import CONFIGS_DIR
    from studio.testing.tiny_diffusion import random_pipeline_from_configs

    pipe = random_pipeline_from_configs(CONFIGS_DIR / "sd15")
    pipe.save_pretrained(folder, safe_serialization=True)
    taesd: Any = AutoencoderTiny()  # TAESD's own architecture
    taesd.save_pretrained(folder / "taesd", safe_serialization=True)
    return folder


def run_config(config: str, folder: Path, out: Path) -> dict[str, Any]:
    """Time one configuration (in this process, which is then its engine process): load, a warm-up image,
    then 1 and 4 steps at 512×512 with the Turbo scheduler (Euler a, trailing) and guidance off."""
    import numpy as np

    from studio.engines.diffusion_precision import peak_memory_bytes

    record: dict[str, Any] = {"config": config}
    started = time.perf_counter()
    if config.startswith("diffusers"):
        import torch
        from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionPipeline

        dtype = torch.bfloat16 if config.endswith("bf16") else torch.float32
        pipe: Any = StableDiffusionPipeline.from_pretrained(
            folder, local_files_only=True, dtype=dtype, safety_checker=None, requires_safety_checker=False
        )
        pipe.set_progress_bar_config(disable=True)
        pipe.scheduler = EulerAncestralDiscreteScheduler.from_config(
            pipe.scheduler.config, timestep_spacing="trailing"
        )
        record["load_s"] = time.perf_counter() - started

        def one(steps: int) -> tuple[float, float | None, float | None, Any]:
            step_one: list[float] = []

            def on_step(_pipe: Any, step: int, _t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
                if step == 0:
                    step_one.append(time.perf_counter())
                return tensors

            def call() -> Any:
                return pipe(
                    prompt=PROMPT,
                    num_inference_steps=steps,
                    guidance_scale=0.0,
                    height=FULL_SIZE,
                    width=FULL_SIZE,
                    generator=torch.Generator("cpu").manual_seed(3),
                    callback_on_step_end=on_step,
                ).images[0]

            begun = time.perf_counter()
            # on a worker thread, as Studio's engine runs its pipeline: on this shared, overloaded machine torch
            # ran 1.5× (large convolutions) to 30× (tiny pipeline) slower on the main thread than on a worker
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                image = pool.submit(call).result()
            return time.perf_counter() - begun, step_one[0] - begun, None, image

    else:
        from studio.engines.diffusion import DiffusionEngine

        fast = config == "studio-fast"
        engine = DiffusionEngine()
        load = LoadPipelineRequest(new_job_id(), model_path=str(folder), precision="auto")
        loaded = None
        for event in engine.handle(load, CancelToken()):
            if event.kind is EventKind.RESULT:
                loaded = event.result
        record["load_s"] = time.perf_counter() - started
        record["precision"] = getattr(loaded, "precision_label", "")

        def one(steps: int) -> tuple[float, float | None, float | None, Any]:
            request = ImageRequest(
                new_job_id(),
                prompt=PROMPT,
                steps=steps,
                scheduler="turbo",
                width=FULL_SIZE,
                height=FULL_SIZE,
                seed=3,
                preview_kind="taesd" if fast else "latent",
                fast_decode=fast,
            )
            begun = time.perf_counter()
            step_one = preview = None
            image = None
            for event in engine.handle(request, CancelToken()):
                now = time.perf_counter()
                if event.kind is EventKind.PROGRESS and step_one is None:
                    step_one = now
                elif event.kind is EventKind.PREVIEW and preview is None:
                    preview = now
                elif event.kind is EventKind.ERROR:
                    raise SystemExit(event.text)
                elif event.kind is EventKind.RESULT:
                    image = event.image
            assert step_one is not None and image is not None
            preview_gap = None if preview is None else preview - step_one
            return time.perf_counter() - begun, step_one - begun, preview_gap, image

    one(1)  # warm-up: oneDNN builds its kernels for these shapes on first use
    for steps in FULL_STEPS:
        seconds, to_step_one, preview_gap, image = one(steps)
        record[f"steps_{steps}_s"] = seconds
        record[f"steps_{steps}_first_step_s"] = to_step_one
        record[f"steps_{steps}_preview_after_step_s"] = preview_gap
        if steps == FULL_STEPS[-1]:
            pixels = np.asarray(image if not isinstance(image, bytes) else decode_png(image))
            np.save(out / f"{config}.npy", pixels.astype(np.uint8))
    record["peak_rss_bytes"] = peak_memory_bytes()
    return record


def decode_png(data: bytes) -> Any:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").copy()


def psnr(a: Any, b: Any) -> float:
    """Peak signal-to-noise ratio of two uint8 images, in dB (inf when identical)."""
    import numpy as np

    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)


def bench_full_size(configs: list[str], workdir: Path) -> list[str]:
    import numpy as np
    import torch

    started = time.perf_counter()
    folder = save_full_size_model(workdir / "sd15-random")
    built = time.perf_counter() - started
    records: dict[str, dict[str, Any]] = {}
    for config in configs:  # one process each: a clean peak memory and no warm caches shared
        done = subprocess.run(
            [sys.executable, __file__, "--child", config, "--model", str(folder), "--out", str(workdir)],
            capture_output=True,
            text=True,
            check=False,
        )
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            raise SystemExit(f"{config} failed:\n{done.stderr[-3000:]}")
        records[config] = json.loads(lines[-1])
    base = records.get("diffusers-fp32")

    def cell(record: dict[str, Any], key: str) -> str:
        value = record.get(key)
        if value is None:
            return "—"
        ratio = f" ({base[key] / value:.2f}×)" if base and base.get(key) else ""
        return f"{value:.1f} s{ratio}"

    lines = [
        f"### SD 1.5-sized pipeline (random weights from Studio's configs), {FULL_SIZE}×{FULL_SIZE}, Turbo "
        "scheduler (Euler a, trailing), guidance off, end to end after a warm-up image",
        "",
        "| configuration | 1 step | 4 steps | first preview after step 1 | model load | peak memory |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for config, record in records.items():
        gap = record.get("steps_1_preview_after_step_s")
        precision = f" [{record['precision']}]" if record.get("precision") else ""
        lines.append(
            f"| {CONFIGS[config]}{precision} | {cell(record, 'steps_1_s')} | {cell(record, 'steps_4_s')} | "
            f"{'—' if gap is None else f'{gap:.2f} s'} | {record['load_s']:.1f} s | "
            f"{record['peak_rss_bytes'] / 2**30:.1f} GiB |"
        )
    lines += ["", "(×: speed-up against plain diffusers in float32, measured in the same run.)"]
    reference = workdir / "diffusers-fp32.npy"
    if reference.is_file():
        fp32 = np.load(reference)
        for config in configs:
            other = workdir / f"{config}.npy"
            # a fast-decode image comes from another decoder (TAESD): with random weights it is not comparable
            if config not in ("diffusers-fp32", "studio-fast") and other.is_file():
                lines.append(
                    f"- {CONFIGS[config]}: PSNR against float32, same seed, 4 steps: "
                    f"{psnr(fp32, np.load(other)):.1f} dB"
                )
    lines.append(
        f"- Writing the random model took {built:.0f} s (torch {torch.__version__}, "
        f"{os.cpu_count()} CPUs; threads: one per physical core)."
    )
    return lines + compute_floor_lines(records)


def compute_floor_lines(records: dict[str, dict[str, Any]]) -> list[str]:
    """What this CPU can do at best: the work of a UNet step and of the decoders at 512² (counted by torch's
    FlopCounterMode on the meta device), this machine's measured matrix-product rate in float32 (and
    bfloat16 where the CPU has it), the time floor they give, and how close each configuration came."""
    import torch
    from diffusers import AutoencoderKL, AutoencoderTiny, UNet2DConditionModel
    from torch.utils.flop_counter import FlopCounterMode

    from studio.cpu import cpu_info
    from studio.engines.diffusion_loading import CONFIGS_DIR

    def gflop(run: Any) -> float:
        counter = FlopCounterMode(display=False)
        with torch.inference_mode(), counter:
            run()
        return counter.get_total_flops() / 1e9

    latents = (1, 4, FULL_SIZE // 8, FULL_SIZE // 8)
    with torch.device("meta"):
        unet: Any = UNet2DConditionModel.from_config(
            UNet2DConditionModel.load_config(CONFIGS_DIR / "sd15" / "unet")
        )
        vae: Any = AutoencoderKL.from_config(AutoencoderKL.load_config(CONFIGS_DIR / "sd15" / "vae"))
        taesd: Any = AutoencoderTiny()
        step = gflop(lambda: unet(torch.randn(latents), torch.tensor(999.0), torch.randn(1, 77, 768)))
        vae_decode = gflop(lambda: vae.decode(torch.randn(latents)))
        taesd_decode = gflop(lambda: taesd.decode(torch.randn(latents)))

    def matmul_rate(dtype: torch.dtype) -> float:
        best = 0.0
        for side in (1024, 2048, 4096):
            a, b = torch.randn(side, side, dtype=dtype), torch.randn(side, side, dtype=dtype)
            for _ in range(5):
                begun = time.perf_counter()
                torch.mm(a, b)
                best = max(best, 2 * side**3 / (time.perf_counter() - begun) / 1e9)
        return best

    cpu = cpu_info()
    torch.set_num_threads(max(1, cpu.physical_cores))
    fp32 = matmul_rate(torch.float32)
    lines = [
        "",
        f"### What this CPU allows ({cpu.model}; native bfloat16: {cpu.native_bf16 or 'none'}; "
        f"flags {', '.join(cpu.reported_flags) or 'none reported'})",
        "",
        f"- Work at {FULL_SIZE}²: a UNet step {step:.0f} GFLOP, the VAE decode {vae_decode:.0f} GFLOP, a TAESD "
        f"decode {taesd_decode:.0f} GFLOP.",
        f"- Best float32 matrix product here: {fp32:.0f} GFLOP/s on {torch.get_num_threads()} threads. At that "
        f"rate 1 step with TAESD cannot take less than {(step + taesd_decode) / fp32:.1f} s, 4 steps "
        f"{(4 * step + taesd_decode) / fp32:.1f} s (the goal: 4 s and 8 s).",
    ]
    if cpu.native_bf16:
        bf16 = matmul_rate(torch.bfloat16)
        lines.append(
            f"- Best bfloat16 matrix product: {bf16:.0f} GFLOP/s: floors {(step + taesd_decode) / bf16:.1f} s "
            f"and {(4 * step + taesd_decode) / bf16:.1f} s."
        )
    for config, record in records.items():
        one, four = record.get("steps_1_s"), record.get("steps_4_s")
        if one and four and four > one:
            per_step = (four - one) / 3
            lines.append(
                f"- {CONFIGS[config]}: {per_step:.2f} s per extra step = {step / per_step:.0f} GFLOP/s "
                f"({step / per_step / fp32:.0%} of the float32 matrix-product rate)."
            )
    return lines


def default_configs() -> list[str]:
    """Every configuration, less plain diffusers in bfloat16 on a CPU that would only emulate it."""
    from studio.cpu import cpu_info

    if cpu_info().native_bf16:
        return list(CONFIGS)
    print("(diffusers-bf16 left out: this CPU has no native bfloat16; --configs names it to run it anyway)")
    return [config for config in CONFIGS if config != "diffusers-bf16"]


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
    parser.add_argument(
        "--configs",
        default="",
        help=f"SD 1.5-sized configurations, comma-separated (default: all of {', '.join(CONFIGS)}, without "
        "diffusers-bf16 where the CPU has no native bfloat16: emulated, it took over 20 minutes on 2 cores)",
    )
    parser.add_argument("--no-tiny", action="store_true", help="skip the tiny-pipeline part")
    parser.add_argument("--child", choices=tuple(CONFIGS), help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_config(args.child, args.model, args.out)))
        return 0
    configs = [config.strip() for config in args.configs.split(",") if config.strip()] or default_configs()
    unknown = [config for config in configs if config not in CONFIGS]
    if unknown:
        parser.error(f"unknown configuration {unknown[0]!r} (choose from {', '.join(CONFIGS)})")
    print(
        f"## Diffusion benchmark ({platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()})"
    )
    print()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["STUDIO_DATA_DIR"] = str(Path(tmp) / "data")
        os.environ["STUDIO_CONFIG_DIR"] = str(Path(tmp) / "config")  # default Settings: Auto precision
        if not args.no_tiny:
            print("\n".join(bench_small(args, Path(tmp))))
        if args.full_size:
            print()
            print("\n".join(bench_full_size(configs, Path(tmp))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
