"""An image model's own precision, as the Models window stores it."""

from __future__ import annotations

from studio.models.model_settings import stored_precision
from studio.models.registry import DIFFUSION, LLM, ModelEntry


def entry(engine: str, settings: dict[str, object]) -> ModelEntry:
    return ModelEntry(path="/models/x.safetensors", engine=engine, settings=settings)


def test_only_a_valid_stored_precision_of_an_image_model_counts() -> None:
    assert stored_precision(entry(DIFFUSION, {"precision": "bfloat16"})) == "bfloat16"
    assert stored_precision(entry(DIFFUSION, {"steps": 4})) == ""
    assert stored_precision(entry(DIFFUSION, {"precision": "float8"})) == ""
    assert stored_precision(entry(LLM, {"precision": "float32"})) == ""
    assert stored_precision(None) == ""
