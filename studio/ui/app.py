"""Creating the QApplication and the main window."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QFileOpenEvent, QIcon
from PySide6.QtWidgets import QApplication

from studio import __version__

APP_ID = "io.github.studio_app.Studio"
QUIT_AFTER_ENV = "STUDIO_QUIT_AFTER_MS"


def icon_path() -> Path | None:
    """The application icon, from a source checkout or an installed share folder."""
    candidates = [
        Path(__file__).resolve().parents[2] / "resources" / "icons" / f"{APP_ID}.svg",
        Path(sys.prefix) / "share" / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg",
    ]
    return next((path for path in candidates if path.is_file()), None)


def create_application(argv: Sequence[str] | None = None) -> QApplication:
    """The QApplication, named and styled (Fusion follows the system's light or dark scheme)."""
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    app = QApplication(list(argv) if argv is not None else [sys.argv[0]])
    app.setApplicationName("Studio")
    app.setApplicationDisplayName("Studio")
    app.setOrganizationName("Studio")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APP_ID)
    app.setStyle("Fusion")
    icon = icon_path()
    if icon is not None:
        app.setWindowIcon(QIcon(str(icon)))
    return app


class FileOpenFilter(QObject):
    """Opens files handed over by the desktop as ``QEvent.FileOpen`` (macOS Finder, Dock)."""

    def __init__(self, open_path: Callable[[str], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._open_path = open_path

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
            path = event.file()
            if path:
                self._open_path(path)
                return True
        return super().eventFilter(watched, event)


def run_app(files: Sequence[str] = ()) -> int:
    """Show the main window, open ``files``, start the engines once the window is up, run the event loop."""
    app = create_application()
    from studio.ui.main_window import MainWindow

    window = MainWindow()
    for path in files:
        window.open_path(path)
    file_open_filter = FileOpenFilter(window.open_path, window)
    app.installEventFilter(file_open_filter)
    window.show()
    QTimer.singleShot(0, window.start_engines)
    quit_after = os.environ.get(QUIT_AFTER_ENV, "")
    if quit_after.isdigit():  # smoke tests of installed bundles: start, then close cleanly
        QTimer.singleShot(int(quit_after), window.close)
    return app.exec()
