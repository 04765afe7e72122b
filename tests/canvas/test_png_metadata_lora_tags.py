"""A1111's ``<lora:name:weight>`` prompt tags: read, matched to LoRA files by name, taken out of the prompt."""

from __future__ import annotations

import pytest

from studio.canvas.lora_tags import (
    LoraTag,
    find_lora_tags,
    match_lora_tags,
    parse_lora_hashes,
    remove_lora_tags,
)
from studio.canvas.png_metadata import GenerationInfo, format_a1111_parameters, parse_a1111_parameters


def test_tags_give_name_and_weight_in_prompt_order() -> None:
    prompt = "a fox <lora:Style_v2:0.8>, forest <lora:detail tweaker:-0.5> <lora:plain> <hypernet:old:1>"
    assert find_lora_tags(prompt) == [
        LoraTag("Style_v2", 0.8, "<lora:Style_v2:0.8>"),
        LoraTag("detail tweaker", -0.5, "<lora:detail tweaker:-0.5>"),
        LoraTag("plain", 1.0, "<lora:plain>"),  # no weight: 1
    ]


@pytest.mark.parametrize(
    ("tag", "weight"),
    [
        ("<lora:x:0.7:0.3>", 0.7),  # text-encoder and UNet weights: the first
        ("<lora:x:te=0.4:unet=1>", 0.4),  # the named form
        ("<lyco:x:0.6>", 0.6),  # LyCORIS tags name LoRA-like files too
        ("<LORA:x:1.5>", 1.5),
        ("<lora:x:strong>", 1.0),  # not a number
        ("<lora:x:nan>", 1.0),
        ("<lora: x :0.25>", 0.25),  # spaces around the name
    ],
)
def test_tag_forms(tag: str, weight: float) -> None:
    assert [(t.name, t.weight) for t in find_lora_tags(f"a cat {tag}")] == [("x", weight)]


def test_a_repeated_name_is_one_lora_with_its_last_weight() -> None:
    assert [(t.name, t.weight) for t in find_lora_tags("<lora:a:0.2> <lora:b:1> <lora:A:0.9>")] == [
        ("A", 0.9),  # the last tag, as written
        ("b", 1.0),
    ]


def test_no_tags_or_broken_ones() -> None:
    assert find_lora_tags("a cat, masterpiece") == []
    assert find_lora_tags("<lora::0.5> <lora:unclosed:1 a <lora:>") == []


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a cat, <lora:foo:0.8>, masterpiece", "a cat, masterpiece"),
        ("a cat <lora:FOO:0.8>", "a cat"),
        ("<lora:foo:1> a cat", "a cat"),
        ("a cat,<lora:foo:1>", "a cat"),
        ("a cat, <lora:foo:1>, <lora:bar:0.5>, sunset", "a cat, sunset"),
        ("a cat <lora:foo:1><lora:bar:1> sunset", "a cat sunset"),
        ("a cat <lora:foo:1> <lora:other:1>", "a cat <lora:other:1>"),  # only the named ones leave
        ("line one <lora:foo:1>\nline  two", "line one\nline  two"),  # other lines are left as they were
    ],
)
def test_removing_tags_tidies_what_they_leave(prompt: str, expected: str) -> None:
    assert remove_lora_tags(prompt, ["foo", "Bar"]) == expected


def test_removing_nothing_keeps_the_prompt_exactly() -> None:
    prompt = "  a cat ,, <lora:other:1>  "
    assert remove_lora_tags(prompt, ["foo"]) == prompt
    assert remove_lora_tags(prompt, []) == prompt


def test_matching_by_file_stem_ignores_case_and_folder() -> None:
    tags = find_lora_tags("<lora:Style:0.8> <lora:missing:1> <lora:detail:0.3>")
    found, missing = match_lora_tags(
        tags, ["/loras/a/style.safetensors", "/loras/b/STYLE.safetensors", "/x/Detail.safetensors"]
    )
    assert found == [("/loras/a/style.safetensors", 0.8), ("/x/Detail.safetensors", 0.3)]
    assert [tag.name for tag in missing] == ["missing"]


def test_lora_hashes() -> None:
    assert parse_lora_hashes("Style: 1234abcd, detail tweaker: ffee0011") == {
        "style": "1234abcd",
        "detail tweaker": "ffee0011",
    }
    assert parse_lora_hashes("") == {}


def test_a1111_parameters_list_the_prompts_loras_and_keep_the_prompt() -> None:
    text = (
        "a fox in a forest, <lora:Style:0.8> <lora:detail:-0.25>\n"
        "Negative prompt: blurry <lora:neg:1>\n"
        'Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x512, Lora hashes: "Style: ab12cd34ef56"'
    )
    info = parse_a1111_parameters(text)
    assert info.prompt == "a fox in a forest, <lora:Style:0.8> <lora:detail:-0.25>"
    assert info.loras == [
        {"name": "Style", "weight": 0.8, "tag": "<lora:Style:0.8>", "hash": "ab12cd34ef56"},
        {"name": "detail", "weight": -0.25, "tag": "<lora:detail:-0.25>"},
    ]  # the negative prompt's tags are not LoRAs A1111 applies
    assert info.steps == 20 and info.seed == 42
    assert parse_a1111_parameters("a cat\nSteps: 20, Seed: 1, Size: 64x64").loras == []


def test_studios_own_a1111_text_gives_its_loras_back() -> None:
    written = GenerationInfo(
        prompt="a fox",
        seed=7,
        loras=[{"name": "style", "weight": 0.75, "hash": "00aa11bb22cc", "path": "/l/style.safetensors"}],
    )
    info = parse_a1111_parameters(format_a1111_parameters(written))
    assert info.prompt == "a fox <lora:style:0.75>"
    assert [(e["name"], e["weight"], e.get("hash")) for e in info.loras] == [("style", 0.75, "00aa11bb22cc")]
