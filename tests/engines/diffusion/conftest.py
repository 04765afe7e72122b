"""Fixtures of the diffusion engine tests: tiny random-weight models written once per session."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # before diffusers / huggingface_hub are imported

import numpy as np
import pytest
from PIL import Image

from studio.engines.host import run_job
from studio.engines.protocol import CancelToken, EngineEvent, EngineRequest, EventKind
from studio.testing.tiny_diffusion import (
    save_tiny_pipeline,
    save_tiny_single_file,
    save_tiny_taesd,
    write_tiny_tokenizer,
)


@dataclass(frozen=True)
class TinyModels:
    folder: Path  # a diffusers folder
    single_file: Path  # the same weights as one SD-layout .safetensors file (config folder beside it)
    inpainting_file: Path  # a 9-channel (inpainting model) single file
    taesd: Path  # an AutoencoderTiny folder
    tokenizer: Path  # CLIP vocab.json + merges.txt
    root: Path


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    root = tmp_path_factory.mktemp("tiny-diffusion")
    return TinyModels(
        folder=save_tiny_pipeline(root / "tiny-folder", seed=0),
        single_file=save_tiny_single_file(root / "single" / "tiny.safetensors", seed=0),
        inpainting_file=save_tiny_single_file(
            root / "inpaint" / "tiny-inpainting.safetensors", in_channels=9
        ),
        taesd=save_tiny_taesd(root / "taesd"),
        tokenizer=write_tiny_tokenizer(root / "tokenizer"),
        root=root,
    )


@pytest.fixture(scope="session")
def session_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Studio's data dir for session-scoped engines (the per-test one is not set up yet at session scope)."""
    path = tmp_path_factory.mktemp("studio-data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUDIO_DATA_DIR", str(path))
        yield path


Runner = Callable[..., list[EngineEvent]]


def run_request(
    engine: object, request: EngineRequest, cancel: CancelToken | None = None
) -> list[EngineEvent]:
    """All events of one request, run in-process exactly as the engine process's host runs it."""
    events = list(run_job(engine, request, cancel or CancelToken()))  # type: ignore[arg-type]
    assert events and events[-1].kind.is_terminal
    return events


@pytest.fixture(scope="session")
def run() -> Runner:
    return run_request


@pytest.fixture(scope="session")
def folder_engine(tiny_models: TinyModels, session_data_dir: Path) -> object:
    """One engine with the tiny folder loaded, shared by the generation tests."""
    from studio.engines.diffusion import DiffusionEngine
    from studio.engines.image_requests import LoadPipelineRequest

    engine = DiffusionEngine()
    events = run_request(engine, LoadPipelineRequest("load", model_path=str(tiny_models.folder)))
    assert events[-1].kind is EventKind.RESULT, events[-1].text
    return engine


@pytest.fixture()
def engine() -> Iterator[object]:
    """A fresh engine with nothing loaded."""
    from studio.engines.diffusion import DiffusionEngine

    fresh = DiffusionEngine()
    yield fresh
    fresh.close()


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def pixels(png: bytes | None) -> np.ndarray:
    assert png is not None
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"))


@pytest.fixture(scope="session")
def to_png() -> Callable[[Image.Image], bytes]:
    return png_bytes


@pytest.fixture(scope="session")
def to_pixels() -> Callable[[bytes | None], np.ndarray]:
    return pixels
