"""``studio image --fast-decode``: the TAESD registered for the model's family decodes (real engine process,
tiny pipeline with no TAESD beside it); without one the full VAE decodes and the command says where to get
one."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from studio.canvas.png_metadata import read_image_text
from studio.cli_image import add_image_parser, run_image
from studio.models.inspect import read_model
from studio.models.registry import DIFFUSION, ModelEntry, ModelKind, ModelRegistry

pytestmark = pytest.mark.diffusion


@pytest.fixture(scope="module")
def tiny_taesd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    name = "studio_tests_hub_stand_in"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).parent / "models" / "hub_stand_in.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    folder = tmp_path_factory.mktemp("cli-image-taesd") / "taesd-for-sd"
    return sys.modules[name].write_tiny_taesd(folder)  # type: ignore[no-any-return]


def studio_image(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="studio")
    add_image_parser(parser.add_subparsers(dest="command"))
    return run_image(parser.parse_args(["image", *argv]))


def test_fast_decode_uses_the_registered_taesd_of_the_models_family(
    tiny_pipeline: Path, tiny_taesd: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["a lighthouse", "--model", str(tiny_pipeline), "--steps", "2", "--seed", "3", "--fast-decode"]
    without = tmp_path / "vae.png"
    assert studio_image(*common, "-o", str(without)) == 0
    err = capsys.readouterr().err
    assert "no TAESD for this model" in err and "decoded with the full VAE" in err
    assert without.is_file()

    registry = ModelRegistry()
    registry.add(read_model(tiny_taesd))
    fast = tmp_path / "taesd.png"
    assert (
        studio_image(*common, "-o", str(fast)) == 0
    )  # the folder is unregistered: the engine tells its family
    err = capsys.readouterr().err
    assert "no TAESD" not in err and "decoded with the TAESD" in err

    registry.add(ModelEntry(path=str(tiny_pipeline), engine=DIFFUSION, kind=ModelKind.SD15.value))
    assert studio_image(*common, "-o", str(fast)) == 0  # registered as SD 1.5: the first load takes it
    assert "decoded with the TAESD" in capsys.readouterr().err
    assert json.loads(read_image_text(fast)["studio"])["provenance"]["layers"][0]["ai_generated"] is True
