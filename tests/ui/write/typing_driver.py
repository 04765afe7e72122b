"""Types prose into the real main window like a person, for the crash test: ``python typing_driver.py LOG SEED``.

Runs until it is killed. Studio's folders come from ``STUDIO_CONFIG_DIR`` / ``STUDIO_DATA_DIR``. Before each chunk
of a few characters it appends ``{"text": chunk}`` to LOG and after the chunk is in the editor ``{"done": t}`` with
``t = time.time()`` (a clock the test process shares), flushing after each line, so the test can tell what was in
the editor when.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PROSE = (
    "The lighthouse keeper climbed the stairs every evening at dusk, counting the steps as his father had. "
    "Nobody came to the island in winter, and the supply boat was late again, so he rationed the oil and "
    "wrote long letters he never sent. The sea was grey and patient, and the gulls knew him by name. "
)


def main(log_path: str, seed: int) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtTest import QTest

    from studio.ui.app import create_application
    from studio.ui.main_window import MainWindow

    app = create_application()
    window = MainWindow()
    window.show()
    editor = window.write.current_editor()
    assert editor is not None
    editor.setFocus()
    rng = random.Random(seed)
    log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - open until the process is killed
    position = 0

    def write(record: dict[str, object]) -> None:
        log.write(json.dumps(record) + "\n")
        log.flush()

    def type_chunk() -> None:
        nonlocal position
        size = rng.randint(1, 5)
        chunk = "".join(PROSE[(position + i) % len(PROSE)] for i in range(size))
        position += size
        write({"text": chunk})
        QTest.keyClicks(editor, chunk)
        write({"done": time.time()})
        timer.start(rng.randint(50, 100))

    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(type_chunk)
    timer.start(0)
    app.exec()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
