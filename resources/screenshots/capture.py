"""Capture the README/AppStream screenshot: the Write workspace with a streamed ghost-text suggestion.

    QT_QPA_PLATFORM=offscreen .venv/bin/python resources/screenshots/capture.py [OUT.png]

Runs against temporary settings and data folders; the real engine and default model make the suggestion.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_scratch = tempfile.mkdtemp(prefix="studio-shot-")
os.environ.setdefault("STUDIO_CONFIG_DIR", os.path.join(_scratch, "config"))
os.environ.setdefault("STUDIO_DATA_DIR", os.path.join(_scratch, "data"))

TEXT = (
    "# The Lighthouse\n\n"
    "The storm had been building all afternoon. By the time Mara reached the top of the tower, "
    "the sea below was white with foam and the old lamp was already"
)


def main() -> int:
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtGui import QTextCursor

    from studio.settings import Settings
    from studio.ui.app import create_application
    from studio.ui.main_window import MainWindow
    from studio.ui.model_status import READY

    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("main-window.png"))
    app = create_application()
    window = MainWindow(Settings(suggestion_delay_ms=300, suggestion_max_tokens=24, temperature=0.8))
    window.resize(1000, 620)
    window.show()
    window.start_engines()
    editor = window.write.current_editor()
    assert editor is not None
    editor.setPlainText(TEXT)
    editor.moveCursor(QTextCursor.MoveOperation.End)
    editor.setFocus()
    clock = QElapsedTimer()
    clock.start()
    state = {"asked": False}

    def poll() -> None:
        if window.model_status.state == READY and not state["asked"]:
            state["asked"] = True
            editor.request_suggestion()
        if state["asked"] and editor.has_suggestion() and not window.runner.running_jobs:
            window.grab().save(str(out))
            print(f"saved {out}")
            window.write.set_suggestions_enabled(False)
            for each in window.write.editors():
                each.document().setModified(False)
            window.runner.shutdown()
            app.exit(0)
        elif clock.elapsed() > 300_000:
            print("timed out waiting for a suggestion", file=sys.stderr)
            app.exit(1)

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(100)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
