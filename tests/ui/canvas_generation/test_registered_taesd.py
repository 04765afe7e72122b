"""A TAESD registered once serves every model of its family: the Canvas loads the tiny pipeline (no TAESD
beside it) with the registered one, so Fast decode is offered and a fast-decode generation is decoded by the
TAESD, in the real diffusion engine."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from pytestqt.qtbot import QtBot

from studio.canvas.document import CanvasDocument
from studio.engines.image_requests import LoadPipelineRequest
from studio.models.registry import DIFFUSION, ModelEntry, ModelKind, ModelRegistry
from studio.models.taesd import taesd_beside

pytestmark = pytest.mark.diffusion

WAIT_MS = 180_000


@pytest.fixture(scope="module")
def tiny_taesd(tmp_path_factory: pytest.TempPathFactory, hub_stand_in: ModuleType) -> Path:
    """A tiny random-weight TAESD (AutoencoderTiny, 4 latent channels, 8-channel blocks) in its own folder,
    away from the tiny pipeline."""
    return hub_stand_in.write_tiny_taesd(tmp_path_factory.mktemp("registered-taesd") / "my-taesd")  # type: ignore[no-any-return]


def register_taesd(folder: Path) -> None:
    from studio.models.inspect import read_model

    ModelRegistry().add(read_model(folder))


def load_requests(rig) -> list[LoadPipelineRequest]:  # type: ignore[no-untyped-def]
    sent: list[LoadPipelineRequest] = []
    original = rig.runner.run

    def run(request, label=""):  # type: ignore[no-untyped-def]
        if isinstance(request, LoadPipelineRequest):
            sent.append(request)
        return original(request, label)

    rig.runner.run = run
    return sent


def test_the_registered_taesd_gives_a_model_without_one_fast_decode(
    qtbot: QtBot, make_rig, tiny_taesd: Path
) -> None:
    rig = make_rig(CanvasDocument(64, 64))
    panel, controller = rig.panel, rig.controller
    assert taesd_beside(rig.tiny_model) is None
    sent = load_requests(rig)

    controller.load_model(str(rig.tiny_model))  # nothing registered: no fast decode
    rig.wait_idle(qtbot)
    assert not panel.fast_decode_check.isEnabled()
    assert "Models ▸ Download… ▸ TAESD" in panel.fast_decode_check.toolTip()
    assert [request.taesd_path for request in sent] == [""]

    register_taesd(tiny_taesd)  # e.g. `studio models import` in another process: read at the next load
    sent.clear()
    controller.load_model(str(rig.tiny_model))  # the registry does not know the model's family yet
    qtbot.waitUntil(panel.fast_decode_check.isEnabled, timeout=WAIT_MS)
    rig.wait_idle(qtbot)
    assert [request.taesd_path for request in sent] == ["", str(tiny_taesd)]  # the engine said SD: sent again

    ModelRegistry().add(ModelEntry(path=str(rig.tiny_model), engine=DIFFUSION, kind=ModelKind.SD15.value))
    sent.clear()
    controller.load_model(str(rig.tiny_model))  # the registry knows its family: one load, TAESD included
    rig.wait_idle(qtbot)
    assert [request.taesd_path for request in sent] == [str(tiny_taesd)]
    assert panel.fast_decode_check.isEnabled() and "much faster" in panel.fast_decode_check.toolTip()

    panel.fast_decode_check.setChecked(True)
    handle = controller.generate()
    assert handle is not None
    rig.wait_done(qtbot)
    assert controller.last_request is not None and controller.last_request.fast_decode
    assert len(controller.candidates) == 1
    assert controller.candidates[0].params["decode"] == "taesd"
