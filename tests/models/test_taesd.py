"""TAESD decoders in the registry: a real AutoencoderTiny folder imports as a decoder of its family, the
registered one is chosen for models of that family without their own, and the curated TAESD downloads as a
folder of several files (each resumed and checked) from the local stand-in hub."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from studio import paths
from studio.engines.protocol import CancelToken, EngineEvent, EventKind
from studio.models import hub
from studio.models.curated import curated_files
from studio.models.fit import check_fit
from studio.models.inspect import ModelFileError, inspect_model, read_model
from studio.models.registry import DECODER, DIFFUSION, ModelEntry, ModelKind, ModelRegistry
from studio.models.service import download_entry
from studio.models.taesd import SD, SDXL, registered_taesd, serves, taesd_for_family

WEIGHTS = "diffusion_pytorch_model.safetensors"
TAESD_FILES = ("config.json", WEIGHTS)


def drive(job: Any, events: list[EngineEvent] | None = None) -> Any:
    """Run a job generator to its return value, keeping its events."""
    try:
        while True:
            event = next(job)
            if events is not None:
                events.append(event)
    except StopIteration as stop:
        return stop.value


def copy_taesd(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def test_a_taesd_folder_is_a_decoder_of_its_family(tiny_taesd: Path, tmp_path: Path) -> None:
    entry = drive(inspect_model(tiny_taesd, "t", CancelToken()))
    weights = tiny_taesd / WEIGHTS
    assert entry.engine == DECODER and entry.model_kind is ModelKind.TAESD
    assert (
        entry.model_kind.label == "TAESD decoder" and entry.architecture == "AutoencoderTiny for SD 1.x/2.x"
    )
    assert serves(entry) == SD and entry.parameters > 0 and entry.quantization == "F32"
    assert entry.sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert check_fit(entry, available=10**9).estimate.weights == entry.parameters * 4

    xl = read_model(copy_taesd(tiny_taesd, tmp_path / "taesdxl"))
    assert serves(xl) == SDXL and xl.architecture == "AutoencoderTiny for SDXL"

    no_weights = tmp_path / "empty-taesd"
    no_weights.mkdir()
    shutil.copy(tiny_taesd / "config.json", no_weights / "config.json")
    with pytest.raises(ModelFileError, match=r"no \.safetensors weights"):
        read_model(no_weights)
    neither = tmp_path / "photos"
    neither.mkdir()
    with pytest.raises(ModelFileError, match="neither a diffusers model folder"):
        read_model(neither)


def test_the_registered_taesd_of_a_models_family_is_chosen_unless_the_model_has_its_own(
    tiny_taesd: Path, tmp_path: Path
) -> None:
    registry = ModelRegistry()
    sd_model = tmp_path / "sd15.safetensors"
    sd_model.write_bytes(b"x")
    xl_model = tmp_path / "xl" / "sdxl.safetensors"
    xl_model.parent.mkdir()
    xl_model.write_bytes(b"x")
    registry.add(ModelEntry(path=str(sd_model), engine=DIFFUSION, kind=ModelKind.SD15.value))
    registry.add(ModelEntry(path=str(xl_model), engine=DIFFUSION, kind=ModelKind.SDXL.value))
    assert registered_taesd(registry, str(sd_model)) == ""  # none registered yet

    sd_taesd = drive(inspect_model(tiny_taesd, "t", CancelToken()))
    registry.add(sd_taesd)
    xl_taesd = read_model(copy_taesd(tiny_taesd, tmp_path / "decoders" / "taesdxl"))
    registry.add(xl_taesd)
    reloaded = ModelRegistry()
    assert [entry.path for entry in reloaded.entries(DIFFUSION)] == [str(xl_model), str(sd_model)]
    assert {entry.path for entry in reloaded.entries(DECODER)} == {str(tiny_taesd), xl_taesd.path}
    assert registered_taesd(reloaded, str(sd_model)) == str(tiny_taesd)
    assert registered_taesd(reloaded, str(xl_model)) == xl_taesd.path
    unknown = tmp_path / "unknown.safetensors"
    unknown.write_bytes(b"x")
    assert registered_taesd(reloaded, str(unknown)) == ""  # unknown family: nothing until the engine says
    assert registered_taesd(reloaded, str(unknown), SDXL) == xl_taesd.path

    own = copy_taesd(tiny_taesd, xl_model.parent / "taesd")  # a TAESD beside the model: the engine's choice
    assert registered_taesd(reloaded, str(xl_model)) == ""
    shutil.rmtree(own)
    reloaded.update(
        xl_taesd.path, problem="its SHA-256 changed"
    )  # a decoder that failed its check is skipped
    assert taesd_for_family(reloaded, SDXL) is None
    assert reloaded.remove(str(tiny_taesd)) and tiny_taesd.is_dir(), "an imported folder stays on disk"


@pytest.fixture(scope="module")
def served_taesd(tiny_taesd: Path, model_files: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TAESD folder as the hub serves it: the tiny one's config and 3 MB of header-valid weights (a transfer
    is read in 1 MB chunks, so one that breaks off halfway leaves a partial file to resume)."""
    folder = tmp_path_factory.mktemp("served") / "taesd"
    folder.mkdir()
    shutil.copy(tiny_taesd / "config.json", folder / "config.json")
    model_files.write_safetensors(folder / WEIGHTS, {"decoder.layers.0.weight": ("F32", [768, 1024])})
    return folder


@pytest.fixture
def taesd_hub(served_taesd: Path, model_files: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The stand-in hub serving madebyollin/taesd (config.json plain, weights via the CDN, the first GET of
    the weights breaking off halfway) and madebyollin/taesdxl with a wrong checksum for its weights."""
    files = model_files.taesd_files(served_taesd)
    weights = files[("madebyollin/taesd", WEIGHTS)]
    weights.cut = len(weights.data) // 2
    bad = model_files.taesd_files(served_taesd, "madebyollin/taesdxl")
    bad[("madebyollin/taesdxl", WEIGHTS)].announced_sha256 = "0" * 64
    server = model_files.HubStandIn(files | bad).start()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    yield server
    server.stop()


def test_the_curated_taesd_downloads_as_one_folder_resumed_and_checked_per_file(
    taesd_hub: Any, served_taesd: Path
) -> None:
    curated = {item.repo_id: item for item in curated_files() if item.engine == DECODER}
    assert set(curated) == {"madebyollin/taesd", "madebyollin/taesdxl"}
    taesd = curated["madebyollin/taesd"]
    assert taesd.filenames == TAESD_FILES and taesd.filename == WEIGHTS
    folder = paths.models_dir() / "madebyollin--taesd"

    with pytest.raises(hub.DownloadError, match="broke off"):
        drive(download_entry(taesd.repo_id, taesd.filename, "main", "j", CancelToken(), taesd.filenames))
    assert (folder / "config.json").read_bytes() == (served_taesd / "config.json").read_bytes()
    assert not (folder / WEIGHTS).exists(), "a partial file never lands in the models folder"
    part, _ = hub.partial_paths(taesd.repo_id, WEIGHTS)
    kept = part.stat().st_size
    assert 0 < kept < (served_taesd / WEIGHTS).stat().st_size

    events: list[EngineEvent] = []
    entry = drive(
        download_entry(taesd.repo_id, taesd.filename, "main", "j", CancelToken(), taesd.filenames), events
    )
    assert taesd_hub.gets(WEIGHTS)[-1] == f"bytes={kept}-", "the weights resume where they stopped"
    assert len(taesd_hub.gets("config.json")) == 1, "the config that arrived is checked, not fetched again"
    for name in TAESD_FILES:
        assert (folder / name).read_bytes() == (served_taesd / name).read_bytes()
    fractions = [event.progress for event in events if event.kind is EventKind.PROGRESS and event.progress]
    assert fractions == sorted(fractions) and fractions[0] == 0.5 and fractions[-1] == 1.0  # one bar for both
    assert entry.path == str(folder.resolve()) and entry.model_kind is ModelKind.TAESD and serves(entry) == SD
    assert entry.downloaded and entry.name == "taesd" and entry.source.startswith("madebyollin/taesd@0123")
    assert entry.sha256 == hashlib.sha256((served_taesd / WEIGHTS).read_bytes()).hexdigest()

    registry = ModelRegistry()
    registry.add(entry)
    assert registry.remove(entry.path) and not folder.exists(), "a downloaded folder is Studio's to delete"

    xl = curated["madebyollin/taesdxl"]
    with pytest.raises(hub.DownloadError, match="does not match the hub's checksum"):
        drive(download_entry(xl.repo_id, xl.filename, "main", "j", CancelToken(), xl.filenames))
    assert not (paths.models_dir() / "madebyollin--taesdxl" / WEIGHTS).exists()


def test_a_folder_download_that_is_no_model_is_deleted(
    taesd_hub: Any, model_files: ModuleType, tmp_path: Path
) -> None:
    taesd_hub.files[("acme/notes", "a.json")] = model_files.HubFile(b'{"x": 1}', lfs=False)
    taesd_hub.files[("acme/notes", "b.json")] = model_files.HubFile(b'{"y": 2}', lfs=False)
    with pytest.raises(hub.DownloadError, match="not a model Studio can use"):
        drive(download_entry("acme/notes", "a.json", "main", "j", CancelToken(), ("a.json", "b.json")))
    assert not (paths.models_dir() / "acme--notes").exists()
    with pytest.raises(hub.DownloadError, match="not a file name"):
        drive(download_entry("acme/notes", "a.json", "main", "j", CancelToken(), ("a.json", "../b.json")))
