"""Build the Windows .ico and macOS .icns icons from the rendered hicolor PNGs (run render.sh first).

    .venv/bin/python resources/icons/make_platform_icons.py

Needs Pillow (a Studio dependency). The outputs are committed: resources/windows/studio.ico and
resources/macos/Studio.icns, used by installer/pyinstaller/studio.spec and the platform installers.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
RESOURCES = HERE.parent
APP_ID = "io.github.studio_app.Studio"


def png(size: int) -> Image.Image:
    return Image.open(HERE / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png").convert("RGBA")


def main() -> None:
    ico = RESOURCES / "windows" / "studio.ico"
    ico.parent.mkdir(exist_ok=True)
    sizes = [16, 24, 32, 48, 64, 128, 256]
    # Pillow writes one entry per size, each downscaled from the largest image unless given.
    png(256).save(
        ico, format="ICO", sizes=[(s, s) for s in sizes], append_images=[png(s) for s in sizes[:-1]]
    )
    print(f"wrote {ico}")

    icns = RESOURCES / "macos" / "Studio.icns"
    icns.parent.mkdir(exist_ok=True)
    png(512).save(icns, format="ICNS", append_images=[png(s) for s in (16, 32, 64, 128, 256)])
    print(f"wrote {icns}")


if __name__ == "__main__":
    main()
