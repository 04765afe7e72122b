"""The Story Notes panel on a real Write workspace: notes typed into the panel appear in the prompt the
continuation provider really assembles (glossary entries only with a keyword near the cursor), they follow
save-as and reopen, a broken notes file is shown and kept, and "What the model sees" shows the prompt."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from pytestqt.qtbot import QtBot

from studio.settings import Settings
from studio.ui.dialogs import ScriptedDialogs
from studio.ui.jobs import JobRunner
from studio.ui.write.continuation import EngineContinuationProvider
from studio.ui.write.prompt_view import PromptView, editor_split
from studio.ui.write.story_notes_panel import StoryNotesController, StoryNotesDock, StoryNotesPanel
from studio.ui.write.workspace import WriteWorkspace
from studio.writing.story_notes import GlossaryEntry, StoryNotes, StoryNotesStore, sidecar_path

STORY = "The harbour was quiet.\n\nNobody spoke of the storm.\n\nThe gulls circled.\n\n"


class Setup:
    def __init__(self, qtbot: QtBot, runner: JobRunner, store: StoryNotesStore) -> None:
        self.workspace = WriteWorkspace(dialogs=ScriptedDialogs())
        qtbot.addWidget(self.workspace)
        self.controller = StoryNotesController(
            self.workspace.current_editor, self.workspace.current_path, store
        )
        self.workspace.current_document_changed.connect(self.controller.document_changed)
        self.settings = Settings()
        self.provider = EngineContinuationProvider(
            runner, lambda: self.settings, self.controller.current_notes
        )
        self.prompt_view = PromptView(self.workspace.current_editor, self.provider.assemble)
        self.dock = StoryNotesDock(self.controller, self.prompt_view)
        qtbot.addWidget(self.dock)
        self.panel: StoryNotesPanel = self.dock.panel
        self.dock.resize(380, 700)
        self.workspace.show()
        self.dock.show()

    def prompt(self) -> str:
        split = editor_split(self.workspace.current_editor())
        assert split is not None
        return self.provider.assemble(*split).text


@pytest.fixture
def runner(qtbot: QtBot) -> Iterator[JobRunner]:
    runner = JobRunner()  # never started: these tests only assemble prompts
    yield runner
    runner.shutdown()


@pytest.fixture
def store(tmp_path: Path) -> StoryNotesStore:
    return StoryNotesStore(tmp_path / "data" / "story-notes")


@pytest.fixture
def setup(qtbot: QtBot, runner: JobRunner, store: StoryNotesStore) -> Setup:
    return Setup(qtbot, runner, store)


def open_story(setup: Setup, path: Path, text: str = STORY) -> None:
    path.write_text(text, encoding="utf-8")
    editor = setup.workspace.open_path(path)
    editor.moveCursor(QTextCursor.MoveOperation.End)


def test_notes_typed_into_the_panel_appear_in_the_assembled_prompt(
    qtbot: QtBot, setup: Setup, tmp_path: Path
) -> None:
    open_story(setup, tmp_path / "harbour.md")
    panel = setup.panel
    qtbot.keyClicks(panel.memory_edit, "A quiet sea story.")
    qtbot.keyClicks(panel.authors_note_edit, "Keep it tense.")
    panel.depth_spin.setValue(2)
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    panel.name_edit.clear()
    qtbot.keyClicks(panel.name_edit, "Mira")
    qtbot.keyClicks(panel.keywords_edit, "Mira, the captain")
    qtbot.keyClicks(panel.entry_text_edit, "Captain of the Heron.")

    assert setup.controller.current_notes() == StoryNotes(
        "A quiet sea story.",
        "Keep it tense.",
        2,
        (GlossaryEntry("Mira", ("Mira", "the captain"), "Captain of the Heron."),),
    )
    prompt = setup.prompt()
    assert prompt.startswith("A quiet sea story.\n\n")
    assert "[Author's note: Keep it tense.]\nThe gulls circled.\n\n" in prompt
    assert "[Mira:" not in prompt  # no keyword near the cursor yet

    editor = setup.workspace.current_editor()
    assert editor is not None
    qtbot.keyClicks(editor, "The captain")
    prompt = setup.prompt()
    assert "[Mira: Captain of the Heron.]\n[Author's note: Keep it tense.]\n" in prompt
    assert prompt.endswith("The captain")

    setup.dock.show_prompt()
    setup.prompt_view.refresh(force=True)
    assert setup.prompt_view.text_view.toPlainText() == prompt
    assert "Mira" in setup.prompt_view.summary.text()
    assert "tokens" in setup.prompt_view.budget_bar.format()

    item = panel.entry_list.item(0)
    item.setCheckState(Qt.CheckState.Unchecked)  # switched off: gone from the prompt
    assert "[Mira:" not in setup.prompt()
    panel.entry_list.setCurrentRow(0)
    qtbot.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)
    assert setup.controller.current_notes().glossary == ()


def test_notes_follow_save_as_and_come_back_on_reopen(
    qtbot: QtBot, setup: Setup, runner: JobRunner, store: StoryNotesStore, tmp_path: Path
) -> None:
    first = tmp_path / "draft.md"
    open_story(setup, first)
    qtbot.keyClicks(setup.panel.memory_edit, "Memory of the draft.")
    second = tmp_path / "final.md"
    setup.workspace.save_current_as(second)
    assert setup.controller.current_path() == second
    assert setup.controller.save_now()
    assert setup.workspace.close_all()

    again = Setup(qtbot, runner, StoryNotesStore(store.directory))  # a new session
    open_story(again, second)
    assert again.panel.memory_edit.toPlainText() == "Memory of the draft."
    assert again.prompt().startswith("Memory of the draft.\n\n")
    assert store.load(first).notes.memory == "Memory of the draft."  # the old file keeps its notes


def test_an_untitled_documents_notes_are_stored_once_it_is_saved(
    qtbot: QtBot, setup: Setup, store: StoryNotesStore, tmp_path: Path
) -> None:
    setup.workspace.new_document()
    assert "untitled" in setup.panel.document_label.text()
    assert not setup.panel.export_button.isEnabled()
    qtbot.keyClicks(setup.panel.memory_edit, "Untitled memory.")
    target = tmp_path / "named.md"
    setup.workspace.save_current_as(target)
    setup.controller.save_now()
    assert store.load(target).notes.memory == "Untitled memory."
    assert setup.panel.export_button.isEnabled()
    exported = setup.panel.export_to(sidecar_path(target))
    assert exported == sidecar_path(target) and "Untitled memory." in exported.read_text(encoding="utf-8")


def test_switching_documents_switches_the_notes(qtbot: QtBot, setup: Setup, tmp_path: Path) -> None:
    open_story(setup, tmp_path / "one.md")
    qtbot.keyClicks(setup.panel.memory_edit, "One.")
    open_story(setup, tmp_path / "two.md")
    assert setup.panel.memory_edit.toPlainText() == ""
    qtbot.keyClicks(setup.panel.memory_edit, "Two.")
    setup.workspace.tab_widget.setCurrentIndex(0)
    assert setup.panel.memory_edit.toPlainText() == "One."
    assert setup.prompt().startswith("One.\n\n")


def test_a_broken_notes_file_is_shown_and_kept(
    qtbot: QtBot, setup: Setup, store: StoryNotesStore, tmp_path: Path
) -> None:
    path = tmp_path / "broken.md"
    store.directory.mkdir(parents=True)
    store.file_for(path).write_text("{ not json", encoding="utf-8")
    open_story(setup, path)
    assert setup.panel.problem_label.isVisible()
    assert "not valid JSON" in setup.panel.problem_label.text()
    kept = [p for p in store.directory.iterdir() if ".broken-" in p.name]
    assert [p.read_text(encoding="utf-8") for p in kept] == ["{ not json"]
    qtbot.keyClicks(setup.panel.memory_edit, "Fresh.")  # editing still works and saves beside the kept copy
    assert setup.controller.save_now()
    assert store.load(path).notes.memory == "Fresh."
