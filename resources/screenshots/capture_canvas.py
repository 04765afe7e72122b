"""Capture the README screenshot of the Canvas workspace: layers, a brush sketch, a lasso selection and
a prompt ready to inpaint it.

    QT_QPA_PLATFORM=offscreen .venv/bin/python resources/screenshots/capture_canvas.py [OUT.png]
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_scratch = tempfile.mkdtemp(prefix="studio-shot-")
os.environ.setdefault("STUDIO_CONFIG_DIR", os.path.join(_scratch, "config"))
os.environ.setdefault("STUDIO_DATA_DIR", os.path.join(_scratch, "data"))

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    from PySide6.QtCore import QTimer

    from studio.canvas.painting import Brush, paint_line
    from studio.settings import Settings
    from studio.ui.app import create_application
    from studio.ui.main_window import CANVAS_INDEX, MainWindow

    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("canvas.png"))
    app = create_application()
    window = MainWindow(Settings(suggestions_enabled=False))
    window.resize(1180, 760)
    window.show()
    window.open_image(
        str(ROOT / "resources" / "icons" / "hicolor" / "512x512" / "apps" / "io.github.studio_app.Studio.png")
    )
    document = window.canvas.document
    sketch = document.add_layer("Sketch")
    brush = Brush(size=10, color=(250, 250, 250, 255), hardness=0.9)
    stars = [(400, 90), (440, 60), (470, 110), (95, 420), (130, 455)]
    for x, y in stars:
        paint_line(document, sketch, [(x - 8, y), (x + 8, y)], brush)
        paint_line(document, sketch, [(x, y - 8), (x, y + 8)], brush)
    center_x, center_y, radius = 380, 150, 70
    lasso = [
        (
            center_x + radius * math.cos(angle / 12 * math.tau),
            center_y + radius * math.sin(angle / 12 * math.tau),
        )
        for angle in range(12)
    ]
    document.select_polygon(lasso)
    window.workspaces.setCurrentIndex(CANVAS_INDEX)
    window.generate_panel.prompt_edit.setPlainText("a full moon behind thin clouds, watercolour")
    window.generate_panel.negative_edit.setPlainText("text, watermark")

    def shoot() -> None:
        window.grab().save(str(out))
        print(f"saved {out}")
        window.ask_canvas_unsaved = lambda: "discard"  # type: ignore[method-assign]
        window.runner.shutdown()
        app.exit(0)

    QTimer.singleShot(800, shoot)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
