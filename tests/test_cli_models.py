"""``studio models list|import|rename|remove|verify|pull`` on real files and a local stand-in hub."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from studio import paths
from studio.cli_models import main
from studio.models.registry import ModelRegistry


@pytest.fixture(scope="module")
def gguf(tmp_path_factory: pytest.TempPathFactory, hub_stand_in: ModuleType) -> Path:
    return hub_stand_in.write_tiny_gguf(tmp_path_factory.mktemp("cli-models") / "tiny.gguf", megabytes=1)


@pytest.fixture
def hub(gguf: Path, hub_stand_in: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    module = hub_stand_in
    data = gguf.read_bytes()
    server = module.HubStandIn(
        {
            ("acme/tiny", "tiny.gguf"): module.HubFile(data),
            ("acme/tiny", "bad.gguf"): module.HubFile(data, announced_sha256="0" * 64),
        }
    ).start()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    yield server
    server.stop()


def studio_models(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_import_in_place_list_rename_verify_remove(
    gguf: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "mine.gguf"
    model.write_bytes(gguf.read_bytes())
    status, out, _ = studio_models(capsys, "import", str(model))
    assert status == 0 and "Instruct LLM, llama" in out and "F32" in out
    entry = ModelRegistry().get(str(model))
    assert entry is not None and entry.sha256 == hashlib.sha256(model.read_bytes()).hexdigest()
    assert not entry.downloaded and not any(paths.models_dir().iterdir()), "import must not copy"

    status, out, _ = studio_models(capsys, "list")
    assert status == 0 and "Tiny Stand-in" in out and str(model) in out and "Needs" in out
    status, out, _ = studio_models(capsys, "list", "--json")
    assert json.loads(out)[0]["path"] == str(model)

    assert studio_models(capsys, "rename", entry.sha256[:10], "My tiny")[0] == 0
    assert ModelRegistry().get(str(model)).name == "My tiny"  # type: ignore[union-attr]

    status, out, _ = studio_models(capsys, "verify")
    assert status == 0 and out.startswith("ok My tiny")
    data = bytearray(model.read_bytes())
    data[-1] ^= 1
    model.write_bytes(bytes(data))
    status, out, _ = studio_models(capsys, "verify", "My tiny")
    assert status == 1 and "FAILED My tiny" in out and "changed" in out
    assert ModelRegistry().get(str(model)).problem  # type: ignore[union-attr]

    status, out, _ = studio_models(capsys, "remove", "My tiny")
    assert status == 0 and "the file stays" in out and model.exists()
    assert ModelRegistry().entries() == []


def test_import_with_copy_puts_the_copy_in_the_models_folder_and_remove_deletes_it(
    gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, _ = studio_models(capsys, "import", str(gguf), "--copy", "--name", "Copied")
    assert status == 0
    copy = paths.models_dir() / "imported" / "tiny.gguf"
    entry = ModelRegistry().get(str(copy))
    assert copy.is_file() and entry is not None and entry.downloaded and entry.name == "Copied"
    assert studio_models(capsys, "remove", "Copied")[0] == 0
    assert not copy.exists() and gguf.exists()


def test_bad_input_gets_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = studio_models(capsys, "import", str(tmp_path / "missing.gguf"))
    assert status == 2 and "does not exist" in err
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + bytes(100))
    status, _, err = studio_models(capsys, "import", str(junk))
    assert status == 2 and err.strip().splitlines()[-1].startswith(
        "studio models: error: junk.gguf uses GGUF"
    )
    assert studio_models(capsys, "remove", "nothing")[0] == 2
    assert ModelRegistry().entries() == []


def test_pull_downloads_checks_and_registers(
    hub: Any, gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = studio_models(capsys, "pull", "acme/tiny", "tiny.gguf")
    assert status == 0, err
    target = paths.models_dir() / "acme--tiny" / "tiny.gguf"
    assert target.read_bytes() == gguf.read_bytes() and "checked against the hub" in out
    assert "Downloading tiny.gguf" in err
    entry = ModelRegistry().get(str(target))
    assert entry is not None and entry.downloaded and entry.source.startswith("acme/tiny/tiny.gguf@0123")

    status, _, err = studio_models(capsys, "pull", "acme/tiny", "bad.gguf")
    assert status == 2 and "does not match the hub's checksum" in err
    assert not (paths.models_dir() / "acme--tiny" / "bad.gguf").exists()

    assert studio_models(capsys, "remove", str(target))[0] == 0
    assert not target.exists()


def test_pull_without_arguments_lists_the_curated_models(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = studio_models(capsys, "pull")
    assert status == 0 and "Q4_K_M" in out and ".gguf" in out and "turbo" in out.lower()


def test_list_reads_the_headers_of_models_that_were_only_opened(
    gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ModelRegistry().record(str(gguf), "llm")
    status, out, _ = studio_models(capsys, "list")
    entry = ModelRegistry().get(str(gguf))
    assert status == 0 and entry is not None and entry.context_length == 2048 and entry.sha256 == ""
    assert "Instruct LLM" in out and "not hashed" in out


@pytest.fixture(scope="module")
def taesd_folder(tmp_path_factory: pytest.TempPathFactory, hub_stand_in: ModuleType) -> Path:
    return hub_stand_in.write_tiny_taesd(tmp_path_factory.mktemp("cli-taesd") / "taesd")


def test_import_and_pull_a_taesd_decoder(
    taesd_folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    hub_stand_in: ModuleType,
) -> None:
    status, out, err = studio_models(capsys, "import", str(taesd_folder))
    assert status == 0, err
    assert "TAESD decoder, AutoencoderTiny for SD 1.x/2.x" in out
    entry = ModelRegistry().get(str(taesd_folder))
    assert entry is not None and entry.engine == "decoder" and entry.details["serves"] == "sd"
    assert studio_models(capsys, "remove", str(taesd_folder))[0] == 0 and taesd_folder.is_dir()

    module = hub_stand_in
    server = module.HubStandIn(module.taesd_files(taesd_folder, "madebyollin/taesdxl")).start()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    try:
        status, out, _ = studio_models(capsys, "pull")
        listed = [line for line in out.splitlines() if "madebyollin/taesdxl" in line]
        assert len(listed) == 1 and "{config.json, diffusion_pytorch_model.safetensors}" in listed[0]
        number = listed[0].split(".")[0].strip()
        status, out, err = studio_models(capsys, "pull", number)
    finally:
        server.stop()
    assert status == 0, err
    folder = paths.models_dir() / "madebyollin--taesdxl"
    assert sorted(item.name for item in folder.iterdir()) == [
        "config.json",
        "diffusion_pytorch_model.safetensors",
    ]
    assert "TAESD decoder, AutoencoderTiny for SDXL" in out and "checked against the hub" in out
    pulled = ModelRegistry().get(str(folder.resolve()))
    assert pulled is not None and pulled.downloaded and pulled.details["serves"] == "sdxl"
