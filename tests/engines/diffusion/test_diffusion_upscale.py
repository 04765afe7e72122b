"""Upscale ×2 (SD upscale) in the diffusion engine on the tiny pipeline: the size doubles, progress covers every
tile, the result carries its parameters, a cancel mid-way ends without an image, and bad requests are refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from studio.canvas.upscale import plan_tiles
from studio.engines.host import run_job
from studio.engines.protocol import CancelToken, EngineEvent, EngineRequest, EventKind
from studio.engines.results import ImageResult
from studio.engines.upscale_requests import UpscaleRequest

pytestmark = [
    pytest.mark.diffusion,
    pytest.mark.filterwarnings(
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
    ),
]


class Served:
    """The engine as the host runs it, serving UpscaleRequest through ``run_upscale`` until the engine's own
    dispatch has it (requested from ``speed``; then this passes every request straight to the engine)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def handle(self, request: EngineRequest, cancel: CancelToken) -> Iterator[EngineEvent]:
        from studio.engines.diffusion_upscale import run_upscale

        if isinstance(request, UpscaleRequest) and not engine_dispatches_upscale():
            return run_upscale(self.engine, request, cancel)
        return iter(self.engine.handle(request, cancel))

    def close(self) -> None:
        pass


def engine_dispatches_upscale() -> bool:
    import inspect

    from studio.engines.diffusion import DiffusionEngine

    return "UpscaleRequest" in inspect.getsource(DiffusionEngine.handle)


def source_png(to_png: Any, width: int = 64, height: int = 48) -> bytes:
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x * 255 // width, y * 255 // height, np.full_like(x, 128)], axis=-1).astype(np.uint8)
    return bytes(to_png(Image.fromarray(image, "RGB")))


def upscale(image: bytes = b"", **fields: Any) -> UpscaleRequest:
    values: dict[str, Any] = {
        "prompt": "a cat",
        "steps": 2,
        "strength": 0.5,
        "seed": 5,
        "tile": 64,
        "overlap": 16,
    }
    values.update(fields)
    return UpscaleRequest("up", image=image, **values)


def test_upscale_doubles_the_size_with_progress_over_every_tile(
    folder_engine: Any, run: Any, to_png: Any, to_pixels: Any
) -> None:
    events = run(Served(folder_engine), upscale(source_png(to_png)))
    assert events[-1].kind is EventKind.RESULT, events[-1].text
    result = events[-1].result
    assert isinstance(result, ImageResult) and len(result.images) == 1
    assert to_pixels(events[-1].image).shape == (96, 128, 3)
    tiles = len(plan_tiles(128, 96, 64, 16))  # 3 × 2
    assert result.first["tiles"] == tiles and tiles > 1
    progress = [e.progress for e in events if e.kind is EventKind.PROGRESS]
    assert len(progress) == tiles  # int(2 × 0.5) = 1 step per tile
    assert progress == sorted(progress) and progress[-1] == pytest.approx(1.0)
    previews = [e for e in events if e.kind is EventKind.PREVIEW]
    assert len(previews) == tiles and to_pixels(previews[-1].image).shape == (96, 128, 3)
    assert "Size: 128x96" in result.parameters and "Denoising strength: 0.5" in result.parameters
    assert "SD upscale" in result.parameters
    again = run(Served(folder_engine), upscale(source_png(to_png)))
    assert np.array_equal(to_pixels(again[-1].image), to_pixels(events[-1].image))  # same seed, same image


def test_cancel_mid_way_ends_without_an_image(folder_engine: Any, to_png: Any) -> None:
    cancel = CancelToken()
    events: list[EngineEvent] = []
    for event in run_job(Served(folder_engine), upscale(source_png(to_png), steps=4), cancel):  # type: ignore[arg-type]
        events.append(event)
        if event.kind is EventKind.PREVIEW:  # the first tile is done
            cancel.cancel()
    assert events[-1].kind is EventKind.CANCELLED and events[-1].result is None
    assert not [e for e in events if e.kind is EventKind.RESULT]
    assert len([e for e in events if e.kind is EventKind.PREVIEW]) == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"image": b""}, "no image"),
        ({"image": b"not a png"}, "could not be read"),
        ({"scale": 3}, "scale"),
        ({"strength": 0.0}, "strength"),
        ({"tile": 100}, "tile size"),
        ({"loras": (("/nowhere/x.safetensors", 1.0),)}, "not found"),
    ],
)
def test_bad_requests_get_clear_messages(
    folder_engine: Any, run: Any, to_png: Any, fields: dict[str, Any], message: str
) -> None:
    values = {"image": source_png(to_png), **fields}
    events = run(Served(folder_engine), upscale(**values))
    assert events[-1].kind is EventKind.ERROR and message in events[-1].text.lower()


def test_too_small_an_image_is_refused(folder_engine: Any, run: Any, to_png: Any) -> None:
    events = run(Served(folder_engine), upscale(source_png(to_png, 24, 24)))
    assert events[-1].kind is EventKind.ERROR and "too small" in events[-1].text


def test_upscale_applies_the_loras(
    folder_engine: Any, run: Any, to_png: Any, to_pixels: Any, tmp_path: Path
) -> None:
    import importlib.util
    import sys

    from studio.engines.diffusion_lora import apply_loras

    spec = importlib.util.spec_from_file_location(
        "studio_tests_lora", Path(__file__).with_name("test_lora.py")
    )
    assert spec is not None and spec.loader is not None
    module = sys.modules.get(spec.name) or importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lora = str(module.make_tiny_lora(tmp_path / "style.safetensors"))
    png = source_png(to_png)
    try:
        plain = run(Served(folder_engine), upscale(png))
        zero = run(Served(folder_engine), upscale(png, loras=((lora, 0.0),)))
        styled = run(Served(folder_engine), upscale(png, loras=((lora, 1.0),)))
    finally:
        apply_loras(folder_engine.model.pipe, [])
    assert [e[-1].kind for e in (plain, zero, styled)] == [EventKind.RESULT] * 3, styled[-1].text
    assert np.array_equal(to_pixels(zero[-1].image), to_pixels(plain[-1].image))
    assert not np.array_equal(to_pixels(styled[-1].image), to_pixels(plain[-1].image))
    assert "<lora:style:1>" in styled[-1].result.parameters.splitlines()[0]
