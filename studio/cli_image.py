"""``studio image``: generate an image from the command line through the diffusion engine process.

Runs the same engine code as the app (spawned via :class:`EngineClient`), prints progress to stderr and
writes PNGs that carry an AUTOMATIC1111-style ``parameters`` text chunk. Bad inputs end with one line,
``studio: error: ...``, and exit status 2; Ctrl+C cancels (status 130). Torch-free: torch is imported only
in the engine process.
"""

from __future__ import annotations

import argparse
import io
import queue
import sys
from pathlib import Path
from typing import Any

from studio.engines.image_requests import (
    SCHEDULERS,
    ImageRequest,
    format_parameters,
    parse_size,
    png_with_text,
)
from studio.engines.sd_checkpoint import CheckpointError, inspect_checkpoint, model_path_problem

EXIT_ERROR = 2
EXIT_CANCELLED = 130


class ImageCliError(Exception):
    """A user-facing error of ``studio image`` (one line, exit status 2)."""


def add_image_parser(subparsers: Any) -> None:
    """Add the ``image`` subcommand to ``subparsers`` (the result of ``add_subparsers()``)."""
    parser = subparsers.add_parser(
        "image",
        help="generate an image with a local diffusion model (SD 1.5/2.x/XL .safetensors or diffusers folder)",
        description="Generate an image offline through Studio's diffusion engine.",
    )
    parser.add_argument("prompt", help="what to draw")
    parser.add_argument(
        "--model", default="", help="a .safetensors SD checkpoint or a diffusers model folder"
    )
    parser.add_argument("-o", "--output", default="", help="the PNG file to write")
    parser.add_argument("--negative", default="", help="negative prompt")
    parser.add_argument("--steps", type=int, default=20, help="denoising steps (default 20)")
    parser.add_argument("--cfg", type=float, default=7.0, help="guidance scale (default 7)")
    parser.add_argument(
        "--seed", type=int, default=-1, help="seed (default: random; the same seed gives the same image)"
    )
    parser.add_argument(
        "--size", default="", help="WIDTHxHEIGHT, multiples of 8 (default: the model's or the init image's)"
    )
    parser.add_argument(
        "--init", default="", help="an init image: image-to-image (or inpainting with --mask)"
    )
    parser.add_argument(
        "--strength", type=float, default=0.75, help="how much of the init image to change (0-1)"
    )
    parser.add_argument("--mask", default="", help="inpainting mask for --init: white = regenerate")
    parser.add_argument("--scheduler", default="default", help=f"one of: {', '.join(SCHEDULERS)}")
    parser.add_argument(
        "-n", "--candidates", type=int, default=1, help="images to make (seeds seed, seed+1, ...)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def run_image(args: argparse.Namespace) -> int:
    """Run ``studio image``; returns the exit status (0 ok, 2 error, 130 cancelled)."""
    try:
        request, output = _build_request(args)
        return _generate(request, output, quiet=bool(getattr(args, "quiet", False)))
    except ImageCliError as exc:
        message = " ".join(str(exc).split())
        print(f"studio: error: {message}", file=sys.stderr)
        return EXIT_ERROR


def _read_image(path_text: str, what: str) -> bytes:
    """The image at ``path_text`` as PNG bytes (any format PIL reads)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path_text).expanduser()
    try:
        with Image.open(path) as opened:
            opened.load()
            image: Image.Image = opened
            if image.mode not in ("RGB", "RGBA", "L", "LA"):
                image = image.convert("RGBA" if "transparency" in image.info else "RGB")
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
    except FileNotFoundError as exc:
        raise ImageCliError(f"{what} not found: {path_text}") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageCliError(f"cannot read {what} {path_text}: {exc}") from exc
    return buffer.getvalue()


def _build_request(args: argparse.Namespace) -> tuple[ImageRequest, Path]:
    from studio.engines.protocol import new_job_id

    if not args.model:
        raise ImageCliError("--model is required (a .safetensors checkpoint or a diffusers folder)")
    problem = model_path_problem(args.model)
    if problem is not None:
        raise ImageCliError(problem)
    model = Path(args.model).expanduser()
    if model.is_file():
        try:
            inspect_checkpoint(model)
        except CheckpointError as exc:
            raise ImageCliError(str(exc)) from exc
    if not args.output:
        raise ImageCliError("-o/--output is required (the PNG file to write)")
    output = Path(args.output).expanduser()
    if not output.parent.is_dir():
        raise ImageCliError(f"cannot write {args.output}: folder {output.parent} does not exist")
    width = height = 0
    if args.size:
        try:
            width, height = parse_size(args.size)
        except ValueError as exc:
            raise ImageCliError(str(exc)) from exc
    if args.mask and not args.init:
        raise ImageCliError("--mask needs --init (the image to inpaint)")
    init = _read_image(args.init, "init image") if args.init else None
    mask = _read_image(args.mask, "mask image") if args.mask else None
    mode = "inpaint" if mask is not None else "img2img" if init is not None else "txt2img"
    request = ImageRequest(
        new_job_id(),
        mode=mode,
        prompt=args.prompt,
        negative_prompt=args.negative,
        steps=args.steps,
        guidance=args.cfg,
        seed=args.seed,
        width=width,
        height=height,
        scheduler=args.scheduler,
        num_candidates=args.candidates,
        init_image=init,
        mask_image=mask,
        strength=args.strength,
        preview_every=0,
        preview_kind="none",
        model_path=str(model),
    )
    problem = request.problem()
    if problem is not None:
        raise ImageCliError(problem)
    return request, output


def _output_paths(output: Path, count: int) -> list[Path]:
    if count == 1:
        return [output]
    suffix = output.suffix or ".png"
    return [output if i == 0 else output.with_name(f"{output.stem}-{i + 1}{suffix}") for i in range(count)]


def _generate(request: ImageRequest, output: Path, quiet: bool) -> int:
    from studio.engines.client import EngineClient
    from studio.engines.protocol import EngineEvent, EventKind

    events: queue.Queue[EngineEvent] = queue.Queue()
    client = EngineClient("diffusion", events.put)
    interactive = sys.stderr.isatty()
    line_open = False

    def say(text: str) -> None:
        nonlocal line_open
        if quiet:
            return
        if interactive:
            sys.stderr.write(f"\r\x1b[Kstudio: {text}")
            line_open = True
        else:
            sys.stderr.write(f"studio: {text}\n")
        sys.stderr.flush()

    def end_line() -> None:
        nonlocal line_open
        if line_open:
            sys.stderr.write("\n")
            line_open = False

    try:
        say("starting the diffusion engine")
        client.submit(request)
        while True:
            try:
                event = events.get(timeout=0.5)
            except queue.Empty:
                continue
            if event.job_id != request.job_id:
                continue
            if event.kind is EventKind.PROGRESS:
                percent = "" if event.progress is None else f" ({event.progress:.0%})"
                say(f"{event.text}{percent}")
            elif event.kind is EventKind.ERROR:
                end_line()
                raise ImageCliError(event.text)
            elif event.kind is EventKind.CANCELLED:
                end_line()
                print("studio: cancelled", file=sys.stderr)
                return EXIT_CANCELLED
            elif event.kind is EventKind.RESULT:
                end_line()
                _write_results(event.data, output, quiet)
                return 0
    except KeyboardInterrupt:
        end_line()
        client.cancel(request.job_id)
        print("studio: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    finally:
        client.shutdown()


def _write_results(data: dict[str, Any], output: Path, quiet: bool) -> None:
    images: list[bytes] = data.get("images") or []
    candidates: list[dict[str, Any]] = data.get("candidates") or []
    for path, png, params in zip(_output_paths(output, len(images)), images, candidates, strict=True):
        try:
            path.write_bytes(png_with_text(png, "parameters", format_parameters(params)))
        except OSError as exc:
            raise ImageCliError(f"cannot write {path}: {exc.strerror or exc}") from exc
        if not quiet:
            print(f"studio: wrote {path} (seed {params.get('seed')})", file=sys.stderr)
