"""The Models window, driven as a user would: import, verify, rename, remove, download (with cancel and
resume) and per-model settings, through the real ``models`` and ``downloads`` engine processes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from keyring.backends import fail
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSpinBox
from pytestqt.qtbot import QtBot

from studio import paths
from studio.engines.remote_requests import KEYRING_SERVICE, keyring_api_key
from studio.models import hub
from studio.models.registry import DIFFUSION, SERVER, ModelEntry, ModelRegistry
from studio.models.servers import ServerChoice, recent_servers
from studio.settings import Settings
from studio.testing.memory_keyring import MemoryKeyring, keyring_backend
from studio.ui.dialogs import ScriptedDialogs, UnsavedChoice
from studio.ui.jobs import JobRunner
from studio.ui.main_window import MainWindow
from studio.ui.model_controller import ModelController
from studio.ui.model_status import ModelState
from studio.ui.models_window import (
    COLUMNS,
    DownloadChoice,
    DownloadDialog,
    JobRow,
    ModelsWindow,
    ServerDialog,
)

WAIT_MS = 60_000
PLENTY = 64 * 10**9


class ScriptedModelDialogs:
    """Answers set in advance; every question asked is logged."""

    def __init__(self, **answers: Any) -> None:
        self.answers = answers
        self.asked: list[tuple[str, tuple[object, ...]]] = []

    def _answer(self, question: str, *args: object) -> Any:
        self.asked.append((question, args))
        if question not in self.answers:
            raise AssertionError(f"unscripted question {question}{args}")
        return self.answers[question]

    def model_path(self, folder: bool) -> str | None:
        return self._answer("model_path", folder)  # type: ignore[no-any-return]

    def new_name(self, current: str) -> str | None:
        return self._answer("new_name", current)  # type: ignore[no-any-return]

    def confirm(self, title: str, message: str) -> bool:
        return bool(self._answer("confirm", title, message))

    def download_choice(self, runner: JobRunner) -> DownloadChoice | None:
        return self._answer("download_choice")  # type: ignore[no-any-return]

    def server_choice(self, recent: list[ModelEntry]) -> ServerChoice | None:
        return self._answer("server_choice", [entry.path for entry in recent])  # type: ignore[no-any-return]

    def load_too_big(self, name: str, message: str) -> bool:
        return bool(self._answer("load_too_big", name, message))


@pytest.fixture(scope="module")
def gguf(tmp_path_factory: pytest.TempPathFactory, hub_stand_in: ModuleType) -> Path:
    return hub_stand_in.write_tiny_gguf(tmp_path_factory.mktemp("models-window") / "tiny.gguf")


@pytest.fixture
def stand_in(gguf: Path, hub_stand_in: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    server = hub_stand_in.HubStandIn(
        {("acme/tiny", "tiny.gguf"): hub_stand_in.HubFile(gguf.read_bytes(), pause_at=1_200_000)}
    ).start()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    yield server
    server.stop()


def make_window(
    qtbot: QtBot, runner: JobRunner, dialogs: ScriptedModelDialogs, free: int = PLENTY
) -> ModelsWindow:
    window = ModelsWindow(ModelRegistry(), runner, dialogs, available_memory=lambda: free)
    qtbot.addWidget(window)
    window.show()
    return window


def cell(window: ModelsWindow, row: int, column: str) -> str:
    item = window.table.item(row, COLUMNS.index(column))
    assert item is not None
    return item.text()


def wait_for_jobs(qtbot: QtBot, window: ModelsWindow) -> None:
    qtbot.waitUntil(lambda: not window.jobs, timeout=WAIT_MS)


def test_import_in_place_shows_the_model_with_its_facts_and_fit(
    qtbot: QtBot, runner: JobRunner, gguf: Path, tmp_path: Path
) -> None:
    model = tmp_path / "mine.gguf"
    model.write_bytes(gguf.read_bytes())
    window = make_window(qtbot, runner, ScriptedModelDialogs(model_path=str(model)))
    assert window.table.rowCount() == 0 and "No models yet" in window.problem_label.text()
    with qtbot.waitSignal(window.models_changed, timeout=WAIT_MS):
        window.import_file_action.trigger()
    assert window.table.rowCount() == 1
    assert [
        cell(window, 0, name) for name in ("Name", "Kind", "Quantization", "Context", "Licence", "Origin")
    ] == [
        "Tiny Stand-in",
        "Instruct LLM",
        "F32",
        "2,048",
        "mit",
        "imported",
    ]
    assert cell(window, 0, "Memory now").endswith("fits")
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    assert window.detail_fields["SHA-256"].text() == digest
    assert window.detail_fields["Path"].text() == str(model)
    assert "Needs about" in window.fit_label.text()
    assert "{{ m.content }}" in window.settings_form.chat_template.toPlainText()
    template_field = window.settings_form.chat_template
    assert not template_field.isReadOnly()
    assert ModelRegistry().get(str(model)).settings.get("chat_template", "") == ""  # type: ignore[union-attr]
    override = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"
    template_field.setPlainText(override)  # an edit is an override, stored with the model's settings
    assert ModelRegistry().get(str(model)).settings["chat_template"] == override  # type: ignore[union-attr]
    template_field.setPlainText("")  # cleared: the model's own again
    assert ModelRegistry().get(str(model)).settings["chat_template"] == ""  # type: ignore[union-attr]
    assert not any(paths.models_dir().iterdir()), "an import without Copy must not copy"
    assert ModelRegistry().get(str(model)).sha256 == digest  # type: ignore[union-attr]


def test_import_with_copy_then_remove_deletes_only_studios_copy(
    qtbot: QtBot, runner: JobRunner, gguf: Path
) -> None:
    dialogs = ScriptedModelDialogs(model_path=str(gguf), confirm=True)
    window = make_window(qtbot, runner, dialogs)
    window.copy_action.setChecked(True)
    with qtbot.waitSignal(window.models_changed, timeout=WAIT_MS):
        window.import_file_action.trigger()
    copy = paths.models_dir() / "imported" / "tiny.gguf"
    assert copy.is_file() and window.selected is not None and window.selected.path == str(copy)
    assert cell(window, 0, "Origin") == "Studio's copy"
    qtbot.mouseClick(window.remove_button, Qt.MouseButton.LeftButton)
    assert "delete its file" in dialogs.asked[-1][1][1]  # type: ignore[operator]
    assert not copy.exists() and gguf.exists() and window.table.rowCount() == 0


def test_a_file_that_cannot_be_a_model_is_refused_with_its_reason(
    qtbot: QtBot, runner: JobRunner, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + bytes(64))
    window = make_window(qtbot, runner, ScriptedModelDialogs(model_path=str(junk)))
    window.import_model()
    wait_for_jobs(qtbot, window)
    assert "GGUF version 0" in window.status.text() and window.table.rowCount() == 0


def test_verify_rename_and_remove_an_imported_model(
    qtbot: QtBot, runner: JobRunner, gguf: Path, tmp_path: Path
) -> None:
    model = tmp_path / "mine.gguf"
    model.write_bytes(gguf.read_bytes())
    dialogs = ScriptedModelDialogs(model_path=str(model), new_name="  My  model ", confirm=True)
    window = make_window(qtbot, runner, dialogs)
    with qtbot.waitSignal(window.models_changed, timeout=WAIT_MS):
        window.import_model()
    qtbot.mouseClick(window.verify_button, Qt.MouseButton.LeftButton)
    wait_for_jobs(qtbot, window)
    assert "verified" in window.status.text() and window.problem_label.text() == ""

    data = bytearray(model.read_bytes())
    data[-1] ^= 1
    model.write_bytes(bytes(data))
    qtbot.mouseClick(window.verify_button, Qt.MouseButton.LeftButton)
    wait_for_jobs(qtbot, window)
    assert "changed since it was added" in window.problem_label.text()
    assert "changed" in ModelRegistry().get(str(model)).problem  # type: ignore[union-attr]

    qtbot.mouseClick(window.rename_button, Qt.MouseButton.LeftButton)
    assert cell(window, 0, "Name") == "My model"
    qtbot.mouseClick(window.remove_button, Qt.MouseButton.LeftButton)
    assert "The file stays" in dialogs.asked[-1][1][1]  # type: ignore[operator]
    assert model.exists() and window.table.rowCount() == 0 and ModelRegistry().entries() == []


def test_download_shows_progress_can_be_cancelled_and_resumes(
    qtbot: QtBot, runner: JobRunner, stand_in: Any, gguf: Path
) -> None:
    choice = DownloadChoice("acme/tiny", "tiny.gguf")
    window = make_window(qtbot, runner, ScriptedModelDialogs(download_choice=choice))
    qtbot.mouseClick(window.download_button, Qt.MouseButton.LeftButton)
    item = window.jobs_area.itemAt(0)
    row = item.widget() if item is not None else None
    assert isinstance(row, JobRow)
    qtbot.waitUntil(lambda: row.bar.maximum() == 1000 and row.bar.value() > 300, timeout=WAIT_MS)
    assert "Downloading tiny.gguf" in row.label.text()
    qtbot.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)
    stand_in.files[("acme/tiny", "tiny.gguf")].release.set()
    wait_for_jobs(qtbot, window)
    assert "cancelled" in window.status.text()
    part, _ = hub.partial_paths("acme/tiny", "tiny.gguf")
    kept = part.stat().st_size
    assert kept > 0 and not any(paths.models_dir().rglob("*.gguf")) and window.table.rowCount() == 0

    with qtbot.waitSignal(window.models_changed, timeout=WAIT_MS):
        qtbot.mouseClick(window.download_button, Qt.MouseButton.LeftButton)
    assert stand_in.gets("tiny.gguf")[-1] == f"bytes={kept}-"
    target = paths.models_dir() / "acme--tiny" / "tiny.gguf"
    assert target.read_bytes() == gguf.read_bytes()
    assert cell(window, 0, "Origin") == "downloaded" and "match the hub" in window.status.text()
    assert window.detail_fields["Source"].text().startswith("acme/tiny/tiny.gguf@")


def test_settings_are_saved_per_model_and_move_the_fit(
    qtbot: QtBot, runner: JobRunner, tmp_path: Path
) -> None:
    big = tmp_path / "big.gguf"
    big.write_bytes(b"GGUF")
    registry = ModelRegistry()
    registry.add(
        ModelEntry(
            path=str(big),
            name="Big",
            kind="instruct",
            size_bytes=2 * 10**9,
            context_length=131072,
            shape={"layers": 28, "heads": 24, "kv_heads": 8, "embedding": 3072},
        )
    )
    registry.add(
        ModelEntry(path="/models/sdxl_turbo.safetensors", engine=DIFFUSION, kind="sdxl", parameters=3 * 10**9)
    )
    window = make_window(qtbot, runner, ScriptedModelDialogs(load_too_big=False), free=6 * 10**9)
    window.select(str(big))
    context = window.settings_form.fields["context"]
    assert isinstance(context, QSpinBox) and context.value() == 4096
    assert window.fit_label.text().startswith("Needs about")
    context.setValue(131072)
    assert ModelRegistry().get(str(big)).settings["context"] == 131072  # type: ignore[union-attr]
    assert "swap" in window.fit_label.text()
    with qtbot.assertNotEmitted(window.use_model):
        window.use_selected()  # too big: the user is asked, and says no
    asked = window.dialogs.asked[-1]  # type: ignore[attr-defined]
    assert asked == ("load_too_big", ("Big", window.fit_label.text()))
    context.setValue(2048)
    with qtbot.waitSignal(window.use_model) as loaded:
        window.use_selected()
    assert loaded.args == [str(big), "llm"]

    window.select("/models/sdxl_turbo.safetensors")
    with qtbot.assertNotEmitted(window.use_model):
        window.use_selected()
    assert "the file is missing" in window.status.text()
    form = window.settings_form
    assert form.preset_button.isEnabled()
    assert (form.values()["steps"], form.values()["scheduler"], form.values()["width"]) == (2, "turbo", 1024)
    form.fields["steps"].setValue(30)  # type: ignore[attr-defined]
    qtbot.mouseClick(form.preset_button, Qt.MouseButton.LeftButton)
    assert ModelRegistry().get("/models/sdxl_turbo.safetensors").settings["steps"] == 2  # type: ignore[union-attr]

    ModelRegistry().remove(str(big))  # another process (the command line) changes the registry
    window.hide()
    window.show()
    assert window.table.rowCount() == 1 and cell(window, 0, "Kind") == "SDXL"


def test_the_download_dialog_offers_the_curated_list_and_lists_a_repos_files(
    qtbot: QtBot, runner: JobRunner, stand_in: Any
) -> None:
    dialog = DownloadDialog(runner)
    qtbot.addWidget(dialog)
    assert dialog.list.rowCount() >= 8
    first = dialog.curated[0]
    assert dialog.choice() == DownloadChoice(first.repo_id, first.filename)
    dialog.tabs.setCurrentIndex(1)
    assert dialog.choice() is None
    dialog.repo.setText("acme/tiny")
    qtbot.mouseClick(dialog.list_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.file.count() == 1, timeout=WAIT_MS)
    assert dialog.file.currentText().startswith("tiny.gguf (3.1 MB)")
    assert dialog.choice() == DownloadChoice("acme/tiny", "tiny.gguf")
    dialog.repo.setText("acme/missing")
    qtbot.mouseClick(dialog.list_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "no such repository" in dialog.list_status.text(), timeout=WAIT_MS)


def test_models_that_were_only_opened_get_their_headers_read_when_the_window_shows(
    qtbot: QtBot, runner: JobRunner, gguf: Path, tmp_path: Path
) -> None:
    opened = tmp_path / "opened.gguf"
    opened.write_bytes(gguf.read_bytes())
    ModelRegistry().record(str(opened), "llm", name="opened.gguf")  # what Open Model File… records
    window = ModelsWindow(ModelRegistry(), runner, ScriptedModelDialogs(), available_memory=lambda: PLENTY)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.registry.entries()[0].checked > 0, timeout=WAIT_MS)
    entry = ModelRegistry().get(str(opened))
    assert entry is not None and entry.context_length == 2048 and entry.shape["layers"] == 2
    assert entry.sha256 == "" and entry.last_used > 0  # no hashing behind the user's back; history kept
    assert cell(window, 0, "Kind") == "Instruct LLM" and cell(window, 0, "Memory now").startswith("≈")

    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(64))
    window.registry.record(str(broken), "llm")
    handles = window.read_unchecked_headers()
    assert len(handles) == 1
    qtbot.waitUntil(lambda: handles[0].is_done, timeout=WAIT_MS)
    assert "GGUF version 0" in ModelRegistry().get(str(broken)).problem  # type: ignore[union-attr]


def test_load_anyway_is_asked_through_the_house_dialogs(
    qtbot: QtBot, runner: JobRunner, tmp_path: Path
) -> None:
    big = tmp_path / "big.gguf"
    big.write_bytes(b"GGUF")
    registry = ModelRegistry()
    registry.add(ModelEntry(path=str(big), name="Big", kind="instruct", size_bytes=8 * 10**9))
    house = ScriptedDialogs(load_too_big=False)
    window = ModelsWindow(registry, runner, house_dialogs=house, available_memory=lambda: 10**9)
    qtbot.addWidget(window)
    window.show()
    window.select(str(big))
    with qtbot.assertNotEmitted(window.use_model):
        window.use_selected()
    assert house.questions() == ["load_too_big"]
    house.answers.load_too_big = True
    with qtbot.waitSignal(window.use_model) as loaded:
        window.use_selected()
    assert loaded.args == [str(big), "llm"]
    assert not window.server_button.isEnabled()  # no model controller: nothing to connect through


def server_window(
    qtbot: QtBot, runner: JobRunner, dialogs: ScriptedModelDialogs
) -> tuple[ModelsWindow, ModelController]:
    settings = Settings(suggestions_enabled=False)
    registry = ModelRegistry()
    controller = ModelController(runner, registry, lambda: settings, lambda: True)
    window = ModelsWindow(registry, runner, dialogs, available_memory=lambda: PLENTY, controller=controller)
    qtbot.addWidget(window)
    window.show()
    return window, controller


@pytest.mark.llm
def test_connect_to_server_uses_the_servers_model_and_remembers_the_server(
    qtbot: QtBot, runner: JobRunner, llama_server: Any
) -> None:
    choice = ServerChoice(llama_server.url)
    window, controller = server_window(qtbot, runner, ScriptedModelDialogs(server_choice=choice))
    assert window.server_button.isEnabled()
    qtbot.mouseClick(window.server_button, Qt.MouseButton.LeftButton)
    assert window.dialogs.asked[-1] == ("server_choice", ([],))  # type: ignore[attr-defined]
    assert window.status.text() == f"Connecting to {llama_server.url}…"
    qtbot.waitUntil(lambda: window.status.text().startswith(("Connected", "Could")), timeout=WAIT_MS * 4)
    status = controller.status
    assert status.state is ModelState.READY
    assert window.status.text().startswith(f"Connected. Server: {status.name.split(': ', 1)[1]}")
    assert f"@ 127.0.0.1:{llama_server.port}" in status.name
    assert window.table.rowCount() == 0  # a server is not a model file in the table
    assert [entry.path for entry in window.registry.entries(SERVER)] == [llama_server.url]

    # the dialog offers the remembered server, and lists the models the server serves now
    dialog = ServerDialog(recent_servers(window.registry))
    qtbot.addWidget(dialog)
    assert dialog.url.currentText() == llama_server.url
    served = [dialog.model.itemText(index) for index in range(dialog.model.count())]
    assert controller.server is not None
    assert served == [controller.server.model]
    dialog.model.clear()
    dialog.list_models()
    qtbot.waitUntil(lambda: dialog.list_button.isEnabled(), timeout=WAIT_MS)
    assert dialog.list_status.text() == "1 model: choose one."
    assert dialog.model.count() == 1
    assert dialog.choice() == ServerChoice(llama_server.url, "", dialog.model.itemText(0))


@pytest.mark.llm
def test_an_unreachable_server_shows_its_error_and_the_window_goes_on(
    qtbot: QtBot, runner: JobRunner, free_port: Callable[[], int]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    window, controller = server_window(qtbot, runner, ScriptedModelDialogs(server_choice=ServerChoice(url)))
    assert window.connect_to_server() is True
    qtbot.waitUntil(lambda: "Connecting" not in window.status.text(), timeout=WAIT_MS * 4)
    assert "127.0.0.1" in window.status.text() and "#b3261e" in window.status.styleSheet()
    assert controller.status.state is ModelState.ERROR and controller.server is None
    assert window.registry.entries(SERVER) == []

    dialog = ServerDialog([])
    qtbot.addWidget(dialog)
    dialog.url.setEditText(url)
    dialog.list_models()
    qtbot.waitUntil(lambda: dialog.list_button.isEnabled(), timeout=WAIT_MS)
    assert dialog.list_status.text().startswith(f"Could not reach {url}")
    dialog.url.setEditText("ftp://example.org")
    assert dialog.choice() is None
    dialog.accept()
    assert "not an http:// or https:// URL" in dialog.list_status.text()


def test_a_key_typed_in_the_server_dialog_goes_to_the_keyring_or_the_dialog_says_why_not(
    qtbot: QtBot,
) -> None:
    with keyring_backend(fail.Keyring()):  # no usable keyring, as on this machine
        dialog = ServerDialog([])
        qtbot.addWidget(dialog)
        dialog.url.setEditText("127.0.0.1:8080/v1/")
        dialog.key.setText("sk-secret")
        dialog.accept()
        assert dialog.result() != ServerDialog.DialogCode.Accepted
        assert "keyring could not keep the key" in dialog.list_status.text()
        assert dialog.key.text() == "sk-secret"  # nothing lost: the user can name a variable instead

    with keyring_backend(MemoryKeyring()) as memory:
        dialog.accept()
        assert dialog.result() == ServerDialog.DialogCode.Accepted
        assert memory.passwords == {(KEYRING_SERVICE, "http://127.0.0.1:8080"): "sk-secret"}
        assert keyring_api_key("http://127.0.0.1:8080") == "sk-secret"  # what the engine reads
        assert dialog.key.text() == ""
        assert dialog.choice() == ServerChoice("http://127.0.0.1:8080")


@pytest.mark.llm
def test_the_main_window_writes_with_a_servers_model_then_the_local_one_again(
    qtbot: QtBot, llama_server: Any
) -> None:
    settings = Settings(suggestion_delay_ms=200, suggestion_max_tokens=8, temperature=0.0)
    window = MainWindow(settings, ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD))
    qtbot.addWidget(window)
    window.show()
    window.show_models_window()
    models_window = window._models_window
    assert models_window is not None and models_window.server_button.isEnabled()
    assert models_window.connect_to_server(ServerChoice(llama_server.url))
    status = window.model_status
    qtbot.waitUntil(lambda: status.state in (ModelState.READY, ModelState.ERROR), timeout=WAIT_MS * 4)
    assert status.state is ModelState.READY, status.message
    label = window.model_label.text()
    assert label.startswith("Server: ") and label.endswith(f"@ 127.0.0.1:{llama_server.port}: ready")
    servers = [action for action in window.models_menu.actions() if action.objectName() == "server"]
    assert [action.isChecked() for action in servers] == [True]

    editor = window.write.current_editor()
    assert editor is not None
    editor.setFocus()
    qtbot.keyClicks(editor, "The capital of France is")
    qtbot.waitUntil(lambda: editor.has_suggestion() and window.runner.running_jobs == [], timeout=WAIT_MS * 4)
    assert editor.ghost_text().strip()
    server_log = Path(llama_server._log.name).read_text(errors="replace")
    assert "/v1/completions" in server_log  # the suggestion came from the server

    default = next(a for a in window.models_menu.actions() if a.text().endswith("(default)"))
    default.trigger()  # back to the local default model
    qtbot.waitUntil(
        lambda: status.state is ModelState.READY and not status.name.startswith("Server:"),
        timeout=WAIT_MS * 4,
    )
    assert "tokens of context" in status.message
    window.write.set_suggestions_enabled(False)
    window.close()


@pytest.fixture(scope="module")
def taesd_folder(tmp_path_factory: pytest.TempPathFactory, hub_stand_in: ModuleType) -> Path:
    return hub_stand_in.write_tiny_taesd(tmp_path_factory.mktemp("models-window-taesd") / "taesd")


def test_a_taesd_folder_imports_as_a_decoder_and_the_curated_taesd_downloads_as_a_folder(
    qtbot: QtBot,
    runner: JobRunner,
    taesd_folder: Path,
    hub_stand_in: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = make_window(qtbot, runner, ScriptedModelDialogs(model_path=str(taesd_folder)))
    assert "TAESD" in window.import_folder_action.text()
    with qtbot.waitSignal(window.models_changed, timeout=WAIT_MS):
        window.import_folder_action.trigger()
    assert [cell(window, 0, name) for name in ("Name", "Kind", "Architecture")] == [
        "taesd",
        "TAESD decoder",
        "AutoencoderTiny for SD 1.x/2.x",
    ]
    assert not window.use_button.isEnabled(), "a decoder is not a model to use on its own"
    assert window.settings_form.stack.currentWidget() is window.settings_form.empty
    assert "every SD 1.x/2.x model" in window.settings_form.empty.text()

    dialog = DownloadDialog(runner)
    qtbot.addWidget(dialog)
    rows = [row for row, item in enumerate(dialog.curated) if item.repo_id == "madebyollin/taesdxl"]
    assert len(rows) == 1
    row_item = dialog.list.item(rows[0], 0)
    assert row_item is not None and row_item.text() == "TAESDXL for SDXL (fast decode)"
    dialog.list.selectRow(rows[0])
    choice = dialog.choice()
    assert choice == DownloadChoice(
        "madebyollin/taesdxl",
        "diffusion_pytorch_model.safetensors",
        filenames=("config.json", "diffusion_pytorch_model.safetensors"),
    )

    server = hub_stand_in.HubStandIn(hub_stand_in.taesd_files(taesd_folder, "madebyollin/taesdxl")).start()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)  # the downloads engine starts with it
    try:
        window.dialogs = ScriptedModelDialogs(download_choice=choice)
        with qtbot.waitSignal(window.models_changed, timeout=WAIT_MS):
            qtbot.mouseClick(window.download_button, Qt.MouseButton.LeftButton)
    finally:
        server.stop()
    folder = (paths.models_dir() / "madebyollin--taesdxl").resolve()
    assert (folder / "config.json").is_file() and (folder / "diffusion_pytorch_model.safetensors").is_file()
    assert window.selected is not None and window.selected.path == str(folder)
    assert cell(window, 0, "Kind") == "TAESD decoder" and cell(window, 0, "Origin") == "downloaded"
    assert window.detail_fields["Kind"].text() == "TAESD decoder, AutoencoderTiny for SDXL"
