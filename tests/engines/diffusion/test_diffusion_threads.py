"""The diffusion engine gives torch the thread count from Settings (0: one per physical core)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from studio.cpu import physical_cores
from studio.engines.diffusion import DiffusionEngine
from studio.engines.host import run_job
from studio.engines.image_requests import UnloadPipelineRequest
from studio.engines.protocol import CancelToken, EventKind
from studio.settings import Settings, save_settings

pytestmark = pytest.mark.diffusion


@pytest.fixture
def restore_torch_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.usefixtures("restore_torch_threads")
def test_every_request_applies_the_thread_setting() -> None:
    engine = DiffusionEngine()
    for setting, expected in ((1, 1), (0, physical_cores()), (3, 3)):
        save_settings(Settings(threads=setting))
        events = list(run_job(engine, UnloadPipelineRequest(f"unload-{setting}"), CancelToken()))
        assert events[-1].kind is EventKind.RESULT
        assert torch.get_num_threads() == expected
    engine.close()
