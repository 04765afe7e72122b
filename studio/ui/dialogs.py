"""Every question the UI puts to the user, behind one injected interface.

Widgets never open a QMessageBox or QFileDialog themselves: they ask a :class:`Dialogs`. The main window
creates one (:class:`QtDialogs`, real modal dialogs) and hands the same object to its workspaces and panels;
tests and the soak pass a :class:`ScriptedDialogs` instead, whose answers are set in advance and which fails
loudly on a question nobody scripted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, Protocol, TypeAlias, TypeVar

from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QFileDialog,
    QFontDialog,
    QGridLayout,
    QMessageBox,
    QWidget,
)

T = TypeVar("T")


class UnsavedChoice(StrEnum):
    """The answer to "save changes before closing?"."""

    SAVE = "save"
    DISCARD = "discard"
    CANCEL = "cancel"


class PasteChoice(StrEnum):
    """The answer to "the pasted image is larger than the canvas: expand the canvas?"."""

    EXPAND = "expand"
    """Grow the canvas so the whole pasted image fits (existing content stays where it is)."""
    KEEP = "keep"
    """Keep the canvas size; what falls outside is cut off."""
    CANCEL = "cancel"


class Dialogs(Protocol):
    """The questions Studio asks the user. Paths come back as ``None`` when the user cancelled."""

    def unsaved_changes(self, title: str) -> UnsavedChoice:
        """Save, discard or cancel, for the modified document ``title`` about to be closed."""
        ...

    def unsaved_canvas(self, title: str) -> UnsavedChoice:
        """Save, discard or cancel, for the modified canvas ``title`` about to be replaced or closed."""
        ...

    def untitled_save_path(self, title: str) -> str | None:
        """Where to save the untitled document ``title`` (asked while closing it)."""
        ...

    def save_document_path(self) -> str | None:
        """Where to save the current document (File ▸ Save As)."""
        ...

    def canvas_save_path(self) -> str | None:
        """Where to save the canvas as OpenRaster."""
        ...

    def export_png_path(self) -> str | None:
        """Where to export the canvas as PNG."""
        ...

    def open_path(self) -> str | None:
        """A document or image to open (File ▸ Open)."""
        ...

    def canvas_size(self) -> tuple[int, int] | None:
        """Width and height of a new canvas."""
        ...

    def resize_canvas(self, width: int, height: int) -> tuple[int, int, tuple[float, float]] | None:
        """New canvas width, height and anchor (fractions: (0, 0) top left, (1, 1) bottom right)."""
        ...

    def resize_image(self, width: int, height: int) -> tuple[int, int, str] | None:
        """New image width, height and resampling ("lanczos", "bicubic", "bilinear", "nearest")."""
        ...

    def paste_larger_than_canvas(self, size: tuple[int, int], canvas: tuple[int, int]) -> PasteChoice:
        """Expand the canvas, keep its size (cropping the image) or cancel, for a pasted image of ``size``
        (width, height) larger than the ``canvas`` in at least one direction."""
        ...

    def overwrite_changed_file(self, message: str) -> bool:
        """Whether to overwrite a file changed on disk since it was opened (``message`` says which)."""
        ...

    def restore_work(self, titles: list[str]) -> bool:
        """Whether to restore the unsaved work a crashed session left behind (``titles``)."""
        ...

    def image_model_path(self, folder: bool, start: str) -> str | None:
        """An image model: a ``.safetensors`` file or a diffusers folder (``folder``: the user asked for a
        folder; the real dialog accepts both alike); ``start`` is where the dialog opens ("" for anywhere)."""
        ...

    def llm_model_path(self) -> str | None:
        """A GGUF model file for Write."""
        ...

    def colour(self, current: QColor) -> QColor | None:
        """A brush colour, starting from ``current``."""
        ...

    def export_document(self, title: str, start: str, has_ai_text: bool) -> tuple[str, bool] | None:
        """Where to export the document ``title`` (``.html``, ``.odt`` or ``.pdf``; ``start`` is the suggested
        path) and whether to tint its AI-written text (offered when ``has_ai_text``)."""
        ...

    def editor_font(self, current: QFont) -> QFont | None:
        """The editor's font, starting from ``current`` (View ▸ Font)."""
        ...

    def load_too_big(self, name: str, message: str) -> bool:
        """Whether to load the model ``name`` although it may not fit in memory (``message`` says by how much)."""
        ...


class QtDialogs(Dialogs):
    """:class:`Dialogs` as real modal Qt dialogs over ``parent``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self._parent = parent

    def unsaved_changes(self, title: str) -> UnsavedChoice:
        buttons = (
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel
        )
        answer = QMessageBox.question(
            self._parent,
            "Unsaved changes",
            f"Save the changes to {title}?",
            buttons,
            QMessageBox.StandardButton.Save,
        )
        return _unsaved_choice(answer)

    def unsaved_canvas(self, title: str) -> UnsavedChoice:
        answer = QMessageBox.question(
            self._parent,
            "Unsaved Canvas",
            f"Save the changes to {title}?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
        )
        return _unsaved_choice(answer)

    def untitled_save_path(self, title: str) -> str | None:
        return self._save_path(f"Save {title}", f"{title}.md", "Markdown (*.md);;Text (*.txt);;All files (*)")

    def save_document_path(self) -> str | None:
        return self._save_path("Save Document As", "", "Markdown (*.md);;Text (*.txt)")

    def canvas_save_path(self) -> str | None:
        return self._save_path("Save Canvas As", "", "OpenRaster image (*.ora)")

    def export_png_path(self) -> str | None:
        return self._save_path("Export PNG", "", "PNG image (*.png)")

    def open_path(self) -> str | None:
        return self._open_path(
            "Open",
            "",
            "Documents and images (*.md *.markdown *.txt *.ora *.png *.jpg *.jpeg *.webp);;"
            "Markdown and text (*.md *.markdown *.txt);;Images (*.ora *.png *.jpg *.jpeg *.webp);;All files (*)",
        )

    def canvas_size(self) -> tuple[int, int] | None:
        from studio.ui.new_canvas_dialog import NewCanvasDialog

        dialog = NewCanvasDialog(self._parent)
        return dialog.canvas_size() if dialog.exec() else None

    def resize_canvas(self, width: int, height: int) -> tuple[int, int, tuple[float, float]] | None:
        from studio.ui.canvas.size_dialogs import CanvasSizeDialog

        dialog = CanvasSizeDialog(width, height, self._parent)
        return dialog.result_size() if dialog.exec() else None

    def resize_image(self, width: int, height: int) -> tuple[int, int, str] | None:
        from studio.ui.canvas.size_dialogs import ImageSizeDialog

        dialog = ImageSizeDialog(width, height, self._parent)
        if not dialog.exec():
            return None
        new_width, new_height, resample = dialog.result_size()
        return new_width, new_height, resample.value

    def paste_larger_than_canvas(self, size: tuple[int, int], canvas: tuple[int, int]) -> PasteChoice:
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Paste Larger Than Canvas",
            f"The pasted image ({size[0]} × {size[1]}) is larger than the canvas ({canvas[0]} × {canvas[1]}).\n\n"
            "Expand the canvas to fit it, or keep the canvas size and cut off what falls outside?",
            QMessageBox.StandardButton.Yes
            | QMessageBox.StandardButton.No
            | QMessageBox.StandardButton.Cancel,
            self._parent,
        )
        box.button(QMessageBox.StandardButton.Yes).setText("&Expand Canvas")
        box.button(QMessageBox.StandardButton.No).setText("&Keep Canvas Size")
        box.setDefaultButton(QMessageBox.StandardButton.Yes)
        box.setEscapeButton(QMessageBox.StandardButton.Cancel)
        answer = box.exec()
        return {
            QMessageBox.StandardButton.Yes: PasteChoice.EXPAND,
            QMessageBox.StandardButton.No: PasteChoice.KEEP,
        }.get(QMessageBox.StandardButton(answer), PasteChoice.CANCEL)

    def overwrite_changed_file(self, message: str) -> bool:
        answer = QMessageBox.question(
            self._parent, "File Changed on Disk", f"{message}\n\nOverwrite it with your version?"
        )
        return answer == QMessageBox.StandardButton.Yes

    def restore_work(self, titles: list[str]) -> bool:
        answer = QMessageBox.question(
            self._parent,
            "Recover Unsaved Work",
            "Studio found unsaved work from a session that did not end cleanly:\n\n"
            + "\n".join(f"• {title}" for title in titles)
            + "\n\nRestore it?",
        )
        return answer == QMessageBox.StandardButton.Yes

    def image_model_path(self, folder: bool, start: str) -> str | None:
        from studio.ui.canvas.model_picker import choose_image_model

        return choose_image_model(self._parent, start)

    def llm_model_path(self) -> str | None:
        return self._open_path("Open Model File", "", "GGUF models (*.gguf);;All files (*)")

    def colour(self, current: QColor) -> QColor | None:
        colour = QColorDialog.getColor(
            current, self._parent, "Brush Colour", QColorDialog.ColorDialogOption.ShowAlphaChannel
        )
        return colour if colour.isValid() else None

    def export_document(self, title: str, start: str, has_ai_text: bool) -> tuple[str, bool] | None:
        filters = {
            ".html": "HTML page (*.html *.htm)",
            ".odt": "OpenDocument text (*.odt)",
            ".pdf": "PDF (*.pdf)",
        }
        dialog = QFileDialog(self._parent, f"Export {title}", start, ";;".join(filters.values()))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)  # for the check box below
        dialog.selectNameFilter(filters.get(Path(start).suffix.lower(), filters[".html"]))
        marks = QCheckBox("Tint AI-written text (a legend explains the tint)")
        marks.setChecked(has_ai_text)
        marks.setEnabled(has_ai_text)
        if not has_ai_text:
            marks.setToolTip("This document has no AI-written text")
        layout = dialog.layout()
        if isinstance(layout, QGridLayout):
            layout.addWidget(marks, layout.rowCount(), 0, 1, -1)
        if not dialog.exec() or not dialog.selectedFiles():
            return None
        path = dialog.selectedFiles()[0]
        if Path(path).suffix.lower() not in (*filters, ".htm"):
            # a bare name takes the suffix of the chosen file type
            path += next(
                (suffix for suffix, name in filters.items() if name == dialog.selectedNameFilter()), ".html"
            )
        return path, marks.isChecked()

    def editor_font(self, current: QFont) -> QFont | None:
        accepted, font = QFontDialog.getFont(current, self._parent, "Editor Font")
        return font if accepted else None

    def load_too_big(self, name: str, message: str) -> bool:
        answer = QMessageBox.question(
            self._parent,
            "Model May Not Fit",
            f"{name} may not fit in memory: {message}\n\nLoading it could make the computer swap. Load it anyway?",
        )
        return answer == QMessageBox.StandardButton.Yes

    def _save_path(self, caption: str, start: str, filters: str) -> str | None:
        path, _filter = QFileDialog.getSaveFileName(self._parent, caption, start, filters)
        return path or None

    def _open_path(self, caption: str, start: str, filters: str) -> str | None:
        path, _filter = QFileDialog.getOpenFileName(self._parent, caption, start, filters)
        return path or None


def _unsaved_choice(answer: QMessageBox.StandardButton) -> UnsavedChoice:
    return {
        QMessageBox.StandardButton.Save: UnsavedChoice.SAVE,
        QMessageBox.StandardButton.Discard: UnsavedChoice.DISCARD,
    }.get(answer, UnsavedChoice.CANCEL)


# -- scripted answers, for tests and the soak ---------------------------------------------------------------


class Unscripted(Enum):
    """The answer to a question nobody scripted."""

    UNSCRIPTED = "unscripted"


UNSCRIPTED = Unscripted.UNSCRIPTED

Answer: TypeAlias = "T | Callable[..., T] | Unscripted"
"""A fixed answer, or a function of the question's arguments that returns one."""


class UnexpectedQuestion(AssertionError):
    """A :class:`ScriptedDialogs` was asked a question it has no answer for."""


@dataclass
class DialogAnswers:
    """What a :class:`ScriptedDialogs` answers, per question (named as the :class:`Dialogs` methods)."""

    unsaved_changes: Answer[UnsavedChoice] = UNSCRIPTED
    unsaved_canvas: Answer[UnsavedChoice] = UNSCRIPTED
    untitled_save_path: Answer[str | Path | None] = UNSCRIPTED
    save_document_path: Answer[str | Path | None] = UNSCRIPTED
    canvas_save_path: Answer[str | Path | None] = UNSCRIPTED
    export_png_path: Answer[str | Path | None] = UNSCRIPTED
    open_path: Answer[str | Path | None] = UNSCRIPTED
    canvas_size: Answer[tuple[int, int] | None] = UNSCRIPTED
    resize_canvas: Answer[tuple[int, int, tuple[float, float]] | None] = UNSCRIPTED
    resize_image: Answer[tuple[int, int, str] | None] = UNSCRIPTED
    paste_larger_than_canvas: Answer[PasteChoice] = UNSCRIPTED
    overwrite_changed_file: Answer[bool] = UNSCRIPTED
    restore_work: Answer[bool] = UNSCRIPTED
    image_model_path: Answer[str | Path | None] = UNSCRIPTED
    llm_model_path: Answer[str | Path | None] = UNSCRIPTED
    colour: Answer[QColor | None] = UNSCRIPTED
    export_document: Answer[tuple[str | Path, bool] | None] = UNSCRIPTED
    editor_font: Answer[QFont | None] = UNSCRIPTED
    load_too_big: Answer[bool] = UNSCRIPTED


ANSWER_NAMES = tuple(field.name for field in fields(DialogAnswers))


class ScriptedDialogs(Dialogs):
    """:class:`Dialogs` answered from a script instead of the user.

    ``ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD, canvas_save_path=lambda: "/tmp/a.ora")``: each
    keyword is a :class:`DialogAnswers` field, a fixed answer or a function of the question's arguments; change
    them later through :attr:`answers`. Every question is recorded in :attr:`asked` as ``(name, arguments)``.
    A question with no scripted answer raises :class:`UnexpectedQuestion` when ``strict`` (the default), and
    is otherwise answered "cancel" (``UnsavedChoice.CANCEL``, ``PasteChoice.CANCEL``, ``None`` or ``False``).
    """

    def __init__(self, *, strict: bool = True, **answers: Any) -> None:
        unknown = set(answers) - set(ANSWER_NAMES)
        if unknown:
            raise TypeError(
                f"no such question: {', '.join(sorted(unknown))} (known: {', '.join(ANSWER_NAMES)})"
            )
        self.answers = DialogAnswers(**answers)
        self.strict = strict
        self.asked: list[tuple[str, tuple[object, ...]]] = []

    def questions(self) -> list[str]:
        """The names of the questions asked so far, in order."""
        return [name for name, _arguments in self.asked]

    def _answer(self, question: str, cancel: T, *arguments: object) -> Any:
        self.asked.append((question, arguments))
        answer = getattr(self.answers, question)
        if answer is UNSCRIPTED:
            if self.strict:
                raise UnexpectedQuestion(
                    f"unexpected question {question}{arguments!r}: give ScriptedDialogs an answer for it"
                )
            return cancel
        return answer(*arguments) if callable(answer) else answer

    def _path(self, question: str, *arguments: object) -> str | None:
        answer = self._answer(question, None, *arguments)
        return str(answer) if answer else None

    def unsaved_changes(self, title: str) -> UnsavedChoice:
        return UnsavedChoice(self._answer("unsaved_changes", UnsavedChoice.CANCEL, title))

    def unsaved_canvas(self, title: str) -> UnsavedChoice:
        return UnsavedChoice(self._answer("unsaved_canvas", UnsavedChoice.CANCEL, title))

    def untitled_save_path(self, title: str) -> str | None:
        return self._path("untitled_save_path", title)

    def save_document_path(self) -> str | None:
        return self._path("save_document_path")

    def canvas_save_path(self) -> str | None:
        return self._path("canvas_save_path")

    def export_png_path(self) -> str | None:
        return self._path("export_png_path")

    def open_path(self) -> str | None:
        return self._path("open_path")

    def canvas_size(self) -> tuple[int, int] | None:
        answer = self._answer("canvas_size", None)
        return None if answer is None else (int(answer[0]), int(answer[1]))

    def resize_canvas(self, width: int, height: int) -> tuple[int, int, tuple[float, float]] | None:
        answer = self._answer("resize_canvas", None, width, height)
        if answer is None:
            return None
        return int(answer[0]), int(answer[1]), (float(answer[2][0]), float(answer[2][1]))

    def resize_image(self, width: int, height: int) -> tuple[int, int, str] | None:
        answer = self._answer("resize_image", None, width, height)
        return None if answer is None else (int(answer[0]), int(answer[1]), str(answer[2]))

    def paste_larger_than_canvas(self, size: tuple[int, int], canvas: tuple[int, int]) -> PasteChoice:
        return PasteChoice(
            self._answer("paste_larger_than_canvas", PasteChoice.CANCEL, tuple(size), tuple(canvas))
        )

    def overwrite_changed_file(self, message: str) -> bool:
        return bool(self._answer("overwrite_changed_file", False, message))

    def restore_work(self, titles: list[str]) -> bool:
        return bool(self._answer("restore_work", False, list(titles)))

    def image_model_path(self, folder: bool, start: str) -> str | None:
        return self._path("image_model_path", folder, start)

    def llm_model_path(self) -> str | None:
        return self._path("llm_model_path")

    def colour(self, current: QColor) -> QColor | None:
        answer = self._answer("colour", None, QColor(current))
        return None if answer is None else QColor(answer)

    def export_document(self, title: str, start: str, has_ai_text: bool) -> tuple[str, bool] | None:
        answer = self._answer("export_document", None, title, start, has_ai_text)
        return None if answer is None else (str(answer[0]), bool(answer[1]))

    def editor_font(self, current: QFont) -> QFont | None:
        answer = self._answer("editor_font", None, QFont(current))
        return None if answer is None else QFont(answer)

    def load_too_big(self, name: str, message: str) -> bool:
        return bool(self._answer("load_too_big", False, name, message))
