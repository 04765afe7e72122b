"""The selection actions' prompt templates, the request builder and output cleaning (no engine)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from studio import paths
from studio.engines.text_requests import ChatRequest, CompletionRequest
from studio.writing.actions import (
    BUILTIN_ACTIONS,
    UserActions,
    builtin_action,
    find_action,
    instruction_action,
)
from studio.writing.prompts import PromptError, copy_to_user_folder, load_template, user_prompts_dir
from studio.writing.rewrite import build_rewrite, clean_output
from studio.writing.word_diff import word_diff


def test_every_builtin_action_builds_a_base_prompt_that_ends_where_the_revision_starts() -> None:
    for action in BUILTIN_ACTIONS:
        if action.asks_for:
            action = action.with_value(action.asks_for, "Italian")
        plan = build_rewrite(action, "  The cat sat.\n", model_kind="base", seed=7)
        assert isinstance(plan.request, CompletionRequest)
        assert plan.request.prompt.endswith('Text: """The cat sat."""\nRevision: """'), action.name
        assert '"""' in plan.request.stop and plan.request.seed == 7
        assert "{" not in plan.instruction, action.name
        assert plan.result('Le chat."""\nInstruction: x') == "  Le chat.\n"  # the selection's whitespace kept


def test_instruct_models_get_one_user_turn_with_context() -> None:
    plan = build_rewrite(
        builtin_action("translate").with_value("language", "German"),
        "Good night.",
        before="She turned off the light. ",
        after=" Then silence.",
        model_kind="instruct",
    )
    assert isinstance(plan.request, ChatRequest)
    ((role, content),) = plan.request.messages
    assert role == "user" and "German" in content and "Good night." in content and "She turned off" in content


def test_user_copy_of_a_template_takes_precedence(tmp_path: Path) -> None:
    copy = copy_to_user_folder("shorten")
    assert copy.parent == user_prompts_dir() and copy.parent.parent == paths.data_dir()
    copy.write_text('instruction = "Cut it to three words."\n', encoding="utf-8")
    assert load_template("shorten").instruction == "Cut it to three words."
    plan = build_rewrite(builtin_action("shorten"), "A long sentence here.")
    assert "Instruction: Cut it to three words.\nText:" in plan.request.prompt  # type: ignore[union-attr]
    copy.write_text("instruction = [", encoding="utf-8")
    with pytest.raises(PromptError, match="not valid TOML"):
        load_template("shorten")
    os.remove(copy)
    assert load_template("shorten").instruction.startswith("Make the text shorter")


def test_saved_actions_round_trip_atomically() -> None:
    store = UserActions()
    store.save("Pirate", "Make it sound like a pirate.")
    store.save("Past", "Use the past tense.")
    assert [a.name for a in UserActions().actions()] == ["my-pirate", "my-past"]
    assert find_action("my-past").value_map()["instruction"] == "Use the past tense."
    assert store.remove("pirate") and [a.label for a in store.actions()] == ["Past"]
    store.path.write_text("{broken", encoding="utf-8")
    assert store.actions() == [] and "Cannot read" in store.error


def test_empty_selection_and_missing_value_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="Select some text"):
        build_rewrite(builtin_action("rewrite"), "  \n")
    with pytest.raises(ValueError, match="needs a language"):
        build_rewrite(builtin_action("translate"), "Hello")


@pytest.mark.parametrize(
    ("raw", "kind", "clean"),
    [
        ('Revision: """Hello there."""', "base", "Hello there."),
        ("The cat sat. The dog ran. The cat sat. The cat sat.", "base", "The cat sat. The dog ran."),
        ('Sure! Here is the revised text:\n\n"Hi there."', "instruct", "Hi there."),
        ("```\nHi there.\n```", "instruct", "Hi there."),
        ("   \n", "base", ""),
    ],
)
def test_clean_output_drops_labels_quotes_and_loops(raw: str, kind: str, clean: str) -> None:
    assert clean_output(raw, kind) == clean


def test_word_diff_rebuilds_both_sides() -> None:
    old, new = "The old man walked slowly.", "The young man walked quickly home."
    pieces = word_diff(old, new)
    assert "".join(t for op, t in pieces if op != "insert") == old
    assert "".join(t for op, t in pieces if op != "delete") == new
    assert ("delete", "old") in pieces and ("insert", "young") in pieces


def test_free_instruction_action() -> None:
    action = instruction_action("  Turn it   into a question ")
    plan = build_rewrite(action, "It rains.")
    assert plan.instruction == "Turn it into a question"
