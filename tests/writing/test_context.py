"""Prompt assembly: memory on top, glossary entries only when a keyword is near the cursor, the author's note
at its depth, and a budget cut that drops the document's start but keeps memory and a stable head."""

from __future__ import annotations

from studio.writing.context import (
    PartKind,
    assemble_prompt,
    assistant_context,
    assistant_messages,
    assistant_transcript,
    estimate_tokens,
    notes_insertion_index,
    prompt_budget,
)
from studio.writing.story_notes import GlossaryEntry, StoryNotes

MIRA = GlossaryEntry("Mira", ("Mira", "the captain"), "Captain of the Heron, afraid of deep water.")
PORT = GlossaryEntry("Saltmarsh", ("Saltmarsh",), "A fishing port built on stilts.")


def story(paragraphs: int, start: int = 0) -> str:
    return "".join(
        f"Paragraph {n} of the long voyage, with wind and rope.\n\n" for n in range(start, paragraphs)
    )


def test_memory_opens_the_prompt_and_the_text_before_the_cursor_ends_it() -> None:
    notes = StoryNotes(memory="A sea story in the past tense.")
    prompt = assemble_prompt("The ship left at dawn.", " Later", notes, 1000)
    assert prompt.text == "A sea story in the past tense.\n\nThe ship left at dawn."
    assert prompt.head == "A sea story in the past tense.\n\n"
    assert prompt.part(PartKind.MEMORY) == "A sea story in the past tense.\n\n"
    assert prompt.estimated_tokens == estimate_tokens(prompt.text) <= prompt.budget_tokens


def test_a_glossary_entry_appears_only_while_a_keyword_is_near_the_cursor() -> None:
    notes = StoryNotes(glossary=(MIRA, PORT))
    near = story(3) + "Then the captain looked at the sea."
    prompt = assemble_prompt(near, "", notes, 2000)
    assert "[Mira: Captain of the Heron, afraid of deep water.]\n" in prompt.text
    assert "Saltmarsh" not in prompt.text
    assert prompt.glossary == ("Mira",)

    far = "Mira was born in the north.\n\n" + story(60) + "Nobody spoke."
    assert "Mira" in far and "[Mira:" not in assemble_prompt(far, "", notes, 4000).text
    after = assemble_prompt("Nobody spoke.", " Saltmarsh was near.", notes, 2000)
    assert after.glossary == ("Saltmarsh",)  # the text just after the cursor counts too


def test_keywords_match_whole_words_regardless_of_case() -> None:
    ann = GlossaryEntry("Ann", ("Ann",), "The cook.")
    assert assemble_prompt("ANN laughed.", "", StoryNotes(glossary=(ann,)), 500).glossary == ("Ann",)
    assert assemble_prompt("Anna laughed.", "", StoryNotes(glossary=(ann,)), 500).glossary == ()
    disabled = GlossaryEntry("Ann", ("Ann",), "The cook.", enabled=False)
    assert assemble_prompt("Ann laughed.", "", StoryNotes(glossary=(disabled,)), 500).glossary == ()
    by_name = GlossaryEntry("Heron", (), "The ship.")  # no keywords: the name triggers it
    assert assemble_prompt("The heron creaked.", "", StoryNotes(glossary=(by_name,)), 500).glossary == (
        "Heron",
    )


def test_the_authors_note_goes_depth_lines_before_the_cursor() -> None:
    prefix = "One.\n\nTwo.\n\nThree.\n\nFour is being wri"
    for depth, before in (
        (1, "Four is being wri"),
        (2, "Three.\n\nFour is being wri"),
        (3, "Two.\n\nThree.\n\nFour is being wri"),
    ):
        notes = StoryNotes(authors_note="Keep it\ntense.", authors_note_depth=depth)
        prompt = assemble_prompt(prefix, "", notes, 1000)
        assert prompt.text.endswith("[Author's note: Keep it tense.]\n" + before), depth
        assert prompt.part(PartKind.RECENT) == before
    deep = assemble_prompt(prefix, "", StoryNotes(authors_note="Tense.", authors_note_depth=20), 1000)
    assert deep.text.startswith("[Author's note: Tense.]\nOne.")
    assert notes_insertion_index("a\n\nb\n\n", 1) == len("a\n\nb\n\n")  # a fresh empty line is line 1


def test_glossary_entries_sit_with_the_authors_note_so_the_head_stays_the_same() -> None:
    notes = StoryNotes(memory="Memory.", authors_note="Tense.", glossary=(MIRA,))
    before = assemble_prompt(story(10) + "The wind rose.", "", notes, 2000)
    after = assemble_prompt(story(10) + "The wind rose. The captain", "", notes, 2000)
    assert before.glossary == () and after.glossary == ("Mira",)
    assert after.head == before.head
    assert after.text.startswith(before.head)
    assert after.text.index("[Mira:") >= len(after.head)


def test_typing_keeps_the_head_a_prefix_of_the_next_prompt() -> None:
    notes = StoryNotes(memory="Memory.", authors_note="Tense.", authors_note_depth=2)
    text = story(30)
    first = assemble_prompt(text, "", notes, 300)
    second = assemble_prompt(text + "More words", "", notes, 300)
    assert first.dropped_chars > 0
    assert second.text.startswith(first.head)


def test_a_budget_cut_drops_the_start_of_the_document_and_keeps_memory_and_the_notes() -> None:
    notes = StoryNotes(memory="MEMORY: a sea story.", authors_note="Tense.", glossary=(MIRA,))
    text = story(200) + "The captain waited."
    prompt = assemble_prompt(text, "", notes, prompt_budget(512, 24))
    assert prompt.estimated_tokens <= prompt.budget_tokens == 512 - 24 - 16
    assert prompt.text.startswith("MEMORY: a sea story.\n\n")
    assert "[Mira:" in prompt.text and "[Author's note: Tense.]" in prompt.text
    assert prompt.text.endswith("The captain waited.")
    assert "Paragraph 0 " not in prompt.text and "Paragraph 199 " in prompt.text
    assert prompt.dropped_chars > 0 and text[prompt.dropped_chars - 1] == "\n"  # cut at a line break
    assert any("left out" in warning for warning in prompt.warnings)


def test_the_cut_moves_in_steps_while_text_is_appended() -> None:
    notes = StoryNotes(memory="Memory.")
    text = story(200)
    cuts = {assemble_prompt(text + "x" * n, "", notes, 500).dropped_chars for n in range(0, 200, 10)}
    assert len(cuts) <= 2


def test_memory_longer_than_half_the_budget_is_shortened_with_a_warning() -> None:
    notes = StoryNotes(memory="word " * 2000)
    prompt = assemble_prompt("Short text.", "", notes, 400)
    assert prompt.estimated_tokens <= 400
    assert prompt.text.endswith("Short text.")
    assert any("Memory is too long" in warning for warning in prompt.warnings)


def test_non_ascii_text_is_estimated_high() -> None:
    assert estimate_tokens("abc" * 10) == 10
    assert estimate_tokens("日本語") == 3
    prompt = assemble_prompt("海" * 3000, "", StoryNotes(), 1000)
    assert prompt.estimated_tokens <= 1000 and prompt.text.endswith("海")


def test_the_assistant_sees_the_selection_whole_and_as_much_of_the_document_as_fits() -> None:
    notes = StoryNotes(memory="A sea story.")
    document = story(300)
    context = assistant_context(document, "The selected passage.", notes, 600, "Give me three titles")
    assert context.selection == "The selected passage."
    assert (
        document.startswith(context.document)
        and context.left_out == len(document) - len(context.document) > 0
    )
    transcript = assistant_transcript("Give me\nthree titles", context, notes)
    assert transcript.startswith("### About the work\nA sea story.\n")
    assert "### Selected passage\nThe selected passage.\n" in transcript
    assert "characters are left out" in transcript
    assert transcript.endswith("Question: Give me three titles\nAnswer:")
    assert estimate_tokens(transcript) <= 600
    (system, _), (user, text) = assistant_messages("Give me three titles", context, notes)
    assert (system, user) == ("system", "user")
    assert text.startswith("About the work: A sea story.\n\nMy document:\n\nParagraph 0")
    assert text.endswith(
        "The passage I selected:\n\nThe selected passage.\n\nMy question: Give me three titles"
    )
    whole = assistant_context("Short.", "", StoryNotes(), 600, "Why?")
    assert whole.left_out == 0 and "### Selected" not in assistant_transcript("Why?", whole, StoryNotes())
