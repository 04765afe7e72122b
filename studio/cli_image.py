"""``studio image``: generate an image from the command line through the diffusion engine process.

One path with the canvas: the CLI builds a canvas document (an empty one, or the ``--init`` image as its
layer), plans the job with :mod:`studio.canvas.generation` (text-to-image; Vary of the init image; inpaint
with ``--mask``, white = regenerate), builds the request with the canvas's builder, blends each result back
as a generated layer exactly as applying a candidate does (so inpainting keeps every pixel outside the mask),
and writes it with the canvas's PNG export (``parameters``, Studio's JSON, the IPTC digital source type).
The model is loaded first with its own request, as the app does. Progress goes to stderr; bad inputs end
with one line, ``studio: error: ...``, and exit status 2; Ctrl+C cancels (status 130). Torch-free: torch is
imported only in the engine process.
"""

from __future__ import annotations

import argparse
import queue
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from studio.engines.image_requests import MAX_SIDE, MIN_SIDE, SCHEDULERS, parse_size
from studio.engines.sd_checkpoint import CheckpointError, inspect_checkpoint, model_path_problem

if TYPE_CHECKING:
    import numpy as np

    from studio.canvas.document import CanvasDocument
    from studio.canvas.generation import GenerateSettings, GenerationPlan
    from studio.engines.client import EngineClient
    from studio.engines.image_requests import ImageRequest
    from studio.engines.protocol import EngineEvent, EngineRequest
    from studio.engines.results import ImageResult

R = TypeVar("R")

EXIT_ERROR = 2
EXIT_CANCELLED = 130
DEFAULT_STRENGTH = 0.75  # Vary (--init without --mask)
MASK_THRESHOLD = 0.5  # mask pixels at least this bright are regenerated


class ImageCliError(Exception):
    """A user-facing error of ``studio image`` (one line, exit status 2)."""


class _Cancelled(Exception):
    """The engine reported the job cancelled."""


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
        "--size",
        default="",
        help="WIDTHxHEIGHT of the output, multiples of 8 (default: the init image's size, else the model's)",
    )
    parser.add_argument(
        "--resolution",
        type=int,
        default=0,
        help="long side of the image the model makes (default: --size for text-to-image, else the "
        "model's native size); the result is scaled to the output",
    )
    parser.add_argument(
        "--init", default="", help="an init image: a variation of it (or inpainting with --mask)"
    )
    parser.add_argument(
        "--strength",
        type=float,
        default=None,
        help=f"how much of the init image to change, 0-1 (default {DEFAULT_STRENGTH}; 1 with --mask)",
    )
    parser.add_argument(
        "--mask",
        default="",
        help="inpainting mask for --init: white = regenerate; every pixel outside it stays exactly as it was",
    )
    parser.add_argument("--scheduler", default="default", help=f"one of: {', '.join(SCHEDULERS)}")
    parser.add_argument(
        "-n", "--candidates", type=int, default=1, help="images to make (seeds seed, seed+1, ...)"
    )
    parser.add_argument(
        "--fast-decode",
        action="store_true",
        help="decode with a TAESD (about 20x faster, a little less detail): the model's own taesd folder, "
        "else the one registered for its family (studio models pull: TAESD / TAESDXL)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def run_image(args: argparse.Namespace) -> int:
    """Run ``studio image``; returns the exit status (0 ok, 2 error, 130 cancelled)."""
    try:
        job = _prepare(args)
        return _generate(job, quiet=bool(getattr(args, "quiet", False)))
    except ImageCliError as exc:
        message = " ".join(str(exc).split())
        print(f"studio: error: {message}", file=sys.stderr)
        return EXIT_ERROR


@dataclass(eq=False)
class _Job:
    """A checked ``studio image`` command: what to make, and where."""

    settings: GenerateSettings
    output: Path
    size: tuple[int, int] | None  # --size
    init: np.ndarray | None  # the init image (RGBA, already at --size)
    init_name: str
    selection: np.ndarray | None  # the mask as a 0/1 float array of the init's size
    strength: float | None
    family: str = ""  # the checkpoint's family (sd15, sd2, sdxl) when a single file told it

    @property
    def model_path(self) -> str:
        return self.settings.model_path


def _prepare(args: argparse.Namespace) -> _Job:
    """Check every option and read the images; raises :class:`ImageCliError` with the first problem."""
    from studio.canvas.generation import GenerateSettings

    if not args.model:
        raise ImageCliError("--model is required (a .safetensors checkpoint or a diffusers folder)")
    problem = model_path_problem(args.model)
    if problem is not None:
        raise ImageCliError(problem)
    model = Path(args.model).expanduser()
    family = ""
    if model.is_file():
        try:
            family = inspect_checkpoint(model).family
        except CheckpointError as exc:
            raise ImageCliError(str(exc)) from exc
    if not args.output:
        raise ImageCliError("-o/--output is required (the PNG file to write)")
    output = Path(args.output).expanduser()
    if not output.parent.is_dir():
        raise ImageCliError(f"cannot write {args.output}: folder {output.parent} does not exist")
    size = None
    if args.size:
        try:
            size = parse_size(args.size)
        except ValueError as exc:
            raise ImageCliError(str(exc)) from exc
    resolution = int(getattr(args, "resolution", 0) or 0)
    if resolution and (resolution % 8 or not MIN_SIDE <= resolution <= MAX_SIDE):
        raise ImageCliError(
            f"--resolution must be a multiple of 8 between {MIN_SIDE} and {MAX_SIDE} (got {resolution})"
        )
    if args.mask and not args.init:
        raise ImageCliError("--mask needs --init (the image to inpaint)")
    strength = args.strength
    if strength is not None and not 0.0 < strength <= 1.0:
        raise ImageCliError(f"--strength must be above 0 and at most 1 (got {strength})")
    init = selection = None
    if args.init:
        init = _read_image(args.init, "init image")
        if size is not None:
            from studio.canvas.imaging import resize_pixels

            init = resize_pixels(init, size)
    if args.mask and init is not None:
        selection = _read_mask(args.mask, (init.shape[1], init.shape[0]))
    settings = GenerateSettings(
        prompt=args.prompt,
        negative_prompt=args.negative,
        steps=args.steps,
        guidance=args.cfg,
        seed=args.seed,
        scheduler=args.scheduler,
        num_candidates=args.candidates,
        strength=DEFAULT_STRENGTH if strength is None else strength,
        resolution=resolution,
        model_path=str(model),
        fast_decode=bool(getattr(args, "fast_decode", False)),
    )
    job = _Job(
        settings, output, size, init, Path(args.init).stem.strip() or "Image", selection, strength, family
    )
    # The request checks (steps, guidance, scheduler...) before the engine starts; the model's native
    # size only changes the plan's scale.
    _plan_and_request(job, resolution or 512)
    return job


def _read_image(path_text: str, what: str) -> np.ndarray:
    """The image at ``path_text`` as RGBA pixels, read as the canvas opens images."""
    from studio.canvas.errors import ImageLoadError
    from studio.canvas.image_io import load_image

    path = Path(path_text).expanduser()
    if not path.exists():
        raise ImageCliError(f"{what} not found: {path_text}")
    try:
        return load_image(path)
    except ImageLoadError as exc:
        raise ImageCliError(f"cannot read {what} {path_text}: {exc}") from exc


def _read_mask(path_text: str, size: tuple[int, int]) -> np.ndarray:
    """The mask as a 0/1 selection of ``size``: bright (at least half white), opaque pixels are 1."""
    import numpy as np

    from studio.canvas.imaging import resize_mask

    rgba = _read_image(path_text, "mask image")
    grey = rgba[:, :, :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    value = grey / np.float32(255.0) * (rgba[:, :, 3].astype(np.float32) / np.float32(255.0))
    value = resize_mask(value, size)
    selected = (value >= MASK_THRESHOLD).astype(np.float32)
    if not selected.any():
        raise ImageCliError(f"the mask {path_text} selects nothing (white marks what to regenerate)")
    return selected


def _document(job: _Job, native: int) -> CanvasDocument:
    """The canvas the job works on: the init image as its only layer, or an empty canvas of ``--size``
    (else the model's native size)."""
    from studio.canvas.document import CanvasDocument, Layer

    if job.init is not None:
        return CanvasDocument.from_layers([Layer(job.init_name[:256], job.init)])
    width, height = job.size or (native, native)
    return CanvasDocument(width, height)


def _native_resolution(job: _Job, model_size: int) -> int:
    """The long side the model makes: --resolution, else --size for text-to-image, else the model's."""
    if job.settings.resolution:
        return job.settings.resolution
    if job.init is None and job.size is not None:
        return max(job.size)
    return model_size if MIN_SIDE <= model_size <= MAX_SIDE and model_size % 8 == 0 else 512


def _plan_and_request(job: _Job, model_size: int) -> tuple[CanvasDocument, GenerationPlan, ImageRequest]:
    """Plan the job on its canvas exactly as the canvas plans a Generate / Vary click, and build its
    request with the canvas's builder."""
    from studio.canvas.errors import CanvasError
    from studio.canvas.generation import image_request, plan_generation, plan_variation
    from studio.canvas.selection import Selection

    native = _native_resolution(job, model_size)
    try:
        document = _document(job, native)
        if job.selection is not None:
            plan = plan_generation(document, Selection(job.selection), native, strength=job.strength or 1.0)
        elif job.init is not None:
            plan = plan_variation(document, document.active_layer, job.settings.strength, native)
        else:
            plan = plan_generation(document, None, native)
    except CanvasError as exc:
        raise ImageCliError(str(exc)) from exc
    request = image_request(plan, job.settings, preview_every=0, preview_kind="none")
    problem = request.problem()
    if problem is not None:
        raise ImageCliError(problem)
    return document, plan, request


def _output_paths(output: Path, count: int) -> list[Path]:
    if count == 1:
        return [output]
    suffix = output.suffix or ".png"
    return [output if i == 0 else output.with_name(f"{output.stem}-{i + 1}{suffix}") for i in range(count)]


def _registered_taesd(job: _Job, family: str) -> str:
    """The TAESD registered for the model's family (``family``: sd15, sd2, sdxl; "" for the registry's
    kind); "" when the model has its own beside it, or none fits."""
    from studio.models.registry import ModelRegistry
    from studio.models.taesd import family_of_kind, registered_taesd

    return registered_taesd(ModelRegistry(), job.model_path, family_of_kind(family))


def _generate(job: _Job, quiet: bool) -> int:
    from studio.engines.client import EngineClient
    from studio.engines.image_requests import LoadPipelineRequest
    from studio.engines.protocol import new_job_id

    events: queue.Queue[EngineEvent] = queue.Queue()
    client = EngineClient("diffusion", events.put)
    progress = _Progress(quiet)
    current: str | None = None
    try:
        progress.say("starting the diffusion engine")
        taesd = _registered_taesd(job, job.family) if job.settings.fast_decode else ""
        load = LoadPipelineRequest(new_job_id(), model_path=job.model_path, taesd_path=taesd)
        current = load.job_id
        loaded = _run(client, events, load, progress)
        if job.settings.fast_decode and loaded is not None and not loaded.taesd and not taesd:
            # a folder the registry does not know: the engine has told its family now
            taesd = _registered_taesd(job, loaded.model_family)
            if taesd:
                load = LoadPipelineRequest(new_job_id(), model_path=job.model_path, taesd_path=taesd)
                current = load.job_id
                loaded = _run(client, events, load, progress)
        if job.settings.fast_decode and loaded is not None and not loaded.taesd:
            progress.say(
                "no TAESD for this model: decoding with the full VAE (get one once: studio models pull, "
                "TAESD or TAESDXL)"
            )
            progress.end_line()
        model_size = loaded.default_size if loaded is not None else 0
        document, plan, request = _plan_and_request(job, model_size)
        current = request.job_id
        result = _run(client, events, request, progress)
        if result is None:
            raise ImageCliError("the engine sent no image")
        _write_results(document, plan, result, job.output, quiet)
        if job.settings.fast_decode:
            decoders = {str(params.get("decode", "")) for params in result.candidates}
            progress.say("decoded with the TAESD" if decoders == {"taesd"} else "decoded with the full VAE")
            progress.end_line()
        return 0
    except (KeyboardInterrupt, _Cancelled) as exc:
        progress.end_line()
        if isinstance(exc, KeyboardInterrupt) and current is not None:
            client.cancel(current)
        print("studio: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    finally:
        client.shutdown()


class _Progress:
    """Progress lines on stderr: one rewritten line on a terminal, else a line per message."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.interactive = sys.stderr.isatty()
        self.line_open = False

    def say(self, text: str) -> None:
        if self.quiet:
            return
        if self.interactive:
            sys.stderr.write(f"\r\x1b[Kstudio: {text}")
            self.line_open = True
        else:
            sys.stderr.write(f"studio: {text}\n")
        sys.stderr.flush()

    def end_line(self) -> None:
        if self.line_open:
            sys.stderr.write("\n")
            self.line_open = False


def _run(
    client: EngineClient,
    events: queue.Queue[EngineEvent],
    request: EngineRequest[R],
    progress: _Progress,
) -> R | None:
    """Submit ``request`` and show its progress until it ends; returns its typed result."""
    from studio.engines.protocol import EventKind

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
            progress.say(f"{event.text}{percent}")
        elif event.kind is EventKind.ERROR:
            progress.end_line()
            raise ImageCliError(event.text)
        elif event.kind is EventKind.CANCELLED:
            raise _Cancelled
        elif event.kind is EventKind.RESULT:
            progress.end_line()
            return cast("R | None", event.result)


def _write_results(
    document: CanvasDocument, plan: GenerationPlan, result: ImageResult, output: Path, quiet: bool
) -> None:
    """Add each candidate to ``document`` as the canvas applies one, export it as the canvas exports a
    PNG, and undo it again."""
    from studio.canvas.errors import ImageLoadError
    from studio.canvas.generation import add_generated_layer
    from studio.canvas.image_io import load_image
    from studio.canvas.png_metadata import export_png_with_provenance

    images, candidates = result.images, result.candidates
    if not images:
        raise ImageCliError("the engine sent no image")
    for path, png, params in zip(_output_paths(output, len(images)), images, candidates, strict=True):
        try:
            rgb = load_image(png)[:, :, :3]
        except ImageLoadError as exc:
            raise ImageCliError(f"the engine sent an unreadable image: {exc}") from exc
        add_generated_layer(document, plan, rgb, params)
        try:
            export_png_with_provenance(document, path)
        except OSError as exc:
            raise ImageCliError(f"cannot write {path}: {exc.strerror or exc}") from exc
        finally:
            document.history.undo()
        if not quiet:
            print(f"studio: wrote {path} (seed {params.get('seed')})", file=sys.stderr)
