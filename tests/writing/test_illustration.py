"""Illustrate Passage, the Qt-free part: the image prompt request, free names in images/, relative Markdown
paths, alt text escaping, the untitled refusal, and the saved PNG's provenance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio.canvas.png_metadata import (
    TRAINED_ALGORITHMIC_MEDIA,
    read_digital_source_type,
    read_generation_info,
)
from studio.engines.host import run_job
from studio.engines.llm import LlmEngine
from studio.engines.protocol import CancelToken, EngineEvent, EventKind
from studio.engines.text_requests import ChatRequest, CompletionRequest, LoadModelRequest
from studio.writing.illustration import (
    IllustrationError,
    alt_text,
    clean_image_prompt,
    file_stem,
    free_image_path,
    image_prompt_request,
    insertion,
    markdown_image,
    markdown_path,
    save_illustration,
)
from studio.writing.rewrite import INSTRUCT

PARAMS = {
    "prompt": "a lighthouse at night, stormy sea, oil painting",
    "seed": 42,
    "steps": 4,
    "cfg": 5.0,
    "width": 64,
    "height": 48,
    "model": "tiny-folder",
    "mode": "txt2img",
}


def gradient(width: int = 64, height: int = 48) -> np.ndarray:
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[:, :, 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    rgb[:, :, 2] = 200
    return rgb


def test_the_base_model_request_is_a_one_line_few_shot_completion() -> None:
    plan = image_prompt_request("The storm passed over the harbour.\n\nThe boats were gone.")
    request = plan.request
    assert isinstance(request, CompletionRequest)
    assert "\n" in request.stop
    assert request.max_tokens <= 128
    assert request.prompt.endswith('Revision: """')
    assert "image generator" in request.prompt
    assert "The boats were gone." in request.prompt


def test_an_instruct_model_gets_a_chat_request() -> None:
    plan = image_prompt_request("The storm passed over the harbour.", model_kind=INSTRUCT)
    assert isinstance(plan.request, ChatRequest)
    assert "image generator" in plan.request.messages[0][1]


def test_an_empty_passage_is_refused() -> None:
    with pytest.raises(ValueError, match="Select some text"):
        image_prompt_request("  \n ")


def test_the_prompt_is_cleaned_to_one_line() -> None:
    assert clean_image_prompt(' a red boat,\n  calm sea """ more') == "a red boat, calm sea"


def test_file_names_come_from_the_prompt_and_never_overwrite(tmp_path: Path) -> None:
    document = tmp_path / "story.md"
    assert file_stem("A Lighthouse at night! (stormy)") == "a-lighthouse-at-night-stormy"
    assert file_stem("…") == "illustration"
    assert len(file_stem("word " * 40)) <= 48
    first = free_image_path(document, "boat")
    assert first == tmp_path / "images" / "boat.png"
    first.parent.mkdir()
    first.write_bytes(b"taken")
    assert free_image_path(document, "boat") == tmp_path / "images" / "boat-2.png"


def test_markdown_paths_are_relative_and_escaped(tmp_path: Path) -> None:
    document = tmp_path / "my book" / "chapter.md"
    image = tmp_path / "my book" / "images" / "a (b).png"
    assert markdown_path(document, image) == "images/a%20%28b%29.png"


def test_alt_text_is_one_escaped_line() -> None:
    alt = alt_text("a [red] boat\n*bold* `code` \\ end")
    assert alt == "a \\[red\\] boat \\*bold\\* \\`code\\` \\\\ end"
    assert markdown_image(alt, "images/x.png") == f"![{alt}](images/x.png)"
    assert alt_text("", "The passage itself.") == "The passage itself."
    assert len(alt_text("word " * 100)) <= 125


def test_an_untitled_document_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with pytest.raises(IllustrationError, match="Save the document first"):
        save_illustration(None, gradient(), PARAMS)
    assert list(tmp_path.iterdir()) == []


def test_the_saved_picture_carries_studios_provenance(tmp_path: Path) -> None:
    document = tmp_path / "story.md"
    document.write_text("Text.\n", encoding="utf-8")
    saved = save_illustration(document, gradient(), PARAMS, passage="The lighthouse.")
    assert saved.path == tmp_path / "images" / "a-lighthouse-at-night-stormy-sea-oil-painting.png"
    assert saved.markdown == (
        "![a lighthouse at night, stormy sea, oil painting]"
        "(images/a-lighthouse-at-night-stormy-sea-oil-painting.png)"
    )
    assert read_digital_source_type(saved.path) == TRAINED_ALGORITHMIC_MEDIA
    info = read_generation_info(saved.path)
    assert info is not None
    assert (info.prompt, info.seed, info.steps, info.model) == (PARAMS["prompt"], 42, 4, "tiny-folder")
    again = save_illustration(document, gradient(), PARAMS)
    assert again.path.name == "a-lighthouse-at-night-stormy-sea-oil-painting-2.png"
    assert {p.name for p in saved.path.parent.iterdir()} == {saved.path.name, again.path.name}


def test_a_failed_write_says_so(tmp_path: Path) -> None:
    document = tmp_path / "story.md"
    (tmp_path / "images").write_text("a file, not a folder", encoding="utf-8")
    with pytest.raises(IllustrationError, match="Could not save"):
        save_illustration(document, gradient(), PARAMS)


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("One.\n\nTwo.", 4, "One.\n\n![a](p)\n\nTwo."),
        ("One.\n\nTwo.", 6, "One.\n\n![a](p)\n\nTwo."),  # trailing blank lines of the selection
        ("One.\nTwo.", 4, "One.\n\n![a](p)\n\nTwo."),
        ("One. And more.\n", 4, "One. And more.\n\n![a](p)\n"),  # mid-line: after that line
        ("One.", 4, "One.\n\n![a](p)"),
    ],
)
def test_the_image_goes_after_the_passage_as_its_own_paragraph(text: str, end: int, expected: str) -> None:
    position, inserted = insertion(text, end, "![a](p)")
    assert text[:position] + inserted + text[position:] == expected


def run(engine: LlmEngine, request: object) -> list[EngineEvent]:
    return list(run_job(engine, request, CancelToken()))  # type: ignore[arg-type]


@pytest.mark.llm
def test_the_default_gemma_writes_a_one_line_image_prompt(default_model_file: Path) -> None:
    engine = LlmEngine()
    try:
        loaded = run(engine, LoadModelRequest("load", model_path=str(default_model_file), n_ctx=2048))
        assert loaded[-1].kind is EventKind.RESULT, loaded[-1]
        prompt = ""
        for seed in (1, 2, 3):  # a 270M base model may answer with nothing; another seed then
            plan = image_prompt_request(
                "The storm passed, and the fishermen stood silent on the quay.", seed=seed
            )
            events = run(engine, plan.request)
            assert events[-1].kind is EventKind.RESULT, events[-1]
            prompt = clean_image_prompt(events[-1].result.text)
            if prompt:
                break
        assert prompt, "no prompt in three seeds"
        assert "\n" not in prompt and '"""' not in prompt
        assert not prompt.lower().startswith(("revision:", "text:", "instruction:"))
    finally:
        engine.close()


@pytest.mark.llm
def test_an_instruct_model_gets_the_prompt_through_its_chat_template(chat_model_file: Path) -> None:
    engine = LlmEngine()
    try:
        loaded = run(engine, LoadModelRequest("load", model_path=str(chat_model_file), n_ctx=1024))
        assert loaded[-1].kind is EventKind.RESULT and loaded[-1].result.model_kind == "instruct"
        plan = image_prompt_request("The storm passed over the harbour.", model_kind=INSTRUCT, seed=5)
        events = run(engine, plan.request)
        assert events[-1].kind is EventKind.RESULT, events[-1]
        assert events[-1].result.completion_tokens > 0
        assert "\n" not in clean_image_prompt(events[-1].result.text, INSTRUCT)
    finally:
        engine.close()
