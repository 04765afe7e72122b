"""The Linux desktop-integration files in resources/ are valid and agree with each other and the app."""

from __future__ import annotations

import importlib.util
import io
import re
import shutil
import struct
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

import studio

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "io.github.studio_app.Studio"
LINUX = ROOT / "resources" / "linux"
ICONS = ROOT / "resources" / "icons"
DESKTOP = LINUX / f"{APP_ID}.desktop"
METAINFO = LINUX / f"{APP_ID}.metainfo.xml"
MIME_XML = LINUX / "studio-mime.xml"
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"
ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (CI installs it in .ci/run)")
    return path


def _installer() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "studio_install_user", ROOT / "installer" / "install_user.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _desktop_entry(path: Path) -> dict[str, str]:
    entries: dict[str, str] = {}
    group = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            group = line.strip("[]")
        elif group == "Desktop Entry" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            entries[key] = value
    return entries


def _validate_desktop(path: Path) -> None:
    result = subprocess.run([_tool("desktop-file-validate"), str(path)], capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "error:" not in output and "warning:" not in output, output


def test_desktop_entry_validates() -> None:
    _validate_desktop(DESKTOP)


def test_installed_desktop_entry_validates(tmp_path: Path) -> None:
    """The entry the installer writes, with an absolute launcher path that needs quoting."""
    installer = _installer()
    launcher = tmp_path / "my home" / ".local" / "bin" / "studio"
    text = installer.render_desktop_entry(DESKTOP.read_text(encoding="utf-8"), launcher)
    installed = tmp_path / f"{APP_ID}.desktop"
    installed.write_text(text, encoding="utf-8")
    _validate_desktop(installed)
    entry = _desktop_entry(installed)
    assert entry["Exec"] == f'"{launcher}" %F'
    assert entry["TryExec"] == str(launcher)


def test_desktop_entry_content() -> None:
    entry = _desktop_entry(DESKTOP)
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Studio"
    assert entry["Icon"] == APP_ID
    assert entry["Exec"].endswith(" %F"), "Studio must receive the files the user opens"
    mime_types = entry["MimeType"].rstrip(";").split(";")
    for wanted in ("image/openraster", "text/markdown", "text/plain"):
        assert wanted in mime_types
    assert entry["Terminal"] == "false"


def test_metainfo_validates() -> None:
    result = subprocess.run(
        [_tool("appstreamcli"), "validate", "--no-net", "--explain", str(METAINFO)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_metainfo_agrees_with_the_app() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    assert root.findtext("launchable[@type='desktop-id']") == DESKTOP.name
    description = root.find("description")
    assert description is not None and len("".join(description.itertext()).split()) > 30
    screenshot = root.find("screenshots/screenshot[@type='default']/image")
    assert screenshot is not None and (screenshot.text or "").startswith("https://")
    releases = root.findall("releases/release")
    assert releases, "metainfo needs a <release> for the current version"
    assert releases[0].get("version") == studio.__version__, (
        "add a <release> to the metainfo for this version"
    )
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert root.findtext("project_license") == pyproject["project"]["license"]["text"]
    provided = {e.text for e in root.findall("provides/mediatype")}
    assert {"image/openraster", "text/markdown"} <= provided
    assert root.findtext("provides/binary") == "studio"


def test_mime_package_declares_openraster() -> None:
    root = ET.parse(MIME_XML).getroot()
    types = {t.get("type"): t for t in root.findall(f"{MIME_NS}mime-type")}
    ora = types["image/openraster"]
    assert "*.ora" in {g.get("pattern") for g in ora.findall(f"{MIME_NS}glob")}
    assert "*.md" in {g.get("pattern") for g in types["text/markdown"].findall(f"{MIME_NS}glob")}

    # The magic must match a real OpenRaster file: a ZIP whose first, stored member is "mimetype".
    outer = ora.find(f"{MIME_NS}magic/{MIME_NS}match")
    assert outer is not None
    inner = outer.find(f"{MIME_NS}match")
    assert inner is not None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "image/openraster", compress_type=zipfile.ZIP_STORED)
        archive.writestr("stack.xml", "<image/>", compress_type=zipfile.ZIP_DEFLATED)
    data = buffer.getvalue()
    for match in (outer, inner):
        value = match.get("value", "").encode().decode("unicode_escape").encode("latin-1")
        offset = int(match.get("offset", "0"))
        assert data[offset : offset + len(value)] == value, match.attrib


def test_mime_package_builds_a_database(tmp_path: Path) -> None:
    tool = _tool("update-mime-database")
    packages = tmp_path / "mime" / "packages"
    packages.mkdir(parents=True)
    shutil.copy(MIME_XML, packages / f"{APP_ID}.xml")
    result = subprocess.run([tool, str(tmp_path / "mime")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr.lower(), result.stderr
    globs = (tmp_path / "mime" / "globs2").read_text(encoding="utf-8")
    assert re.search(r"^\d+:image/openraster:\*\.ora$", globs, re.MULTILINE), globs
    assert re.search(r"^\d+:text/markdown:\*\.md$", globs, re.MULTILINE), globs
    assert b"mimetypeimage/openraster" in (tmp_path / "mime" / "magic").read_bytes()


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("size", ICON_SIZES)
def test_hicolor_png_icons(size: int) -> None:
    png = ICONS / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
    assert png.is_file(), "render the icons with resources/icons/render.sh"
    assert _png_size(png) == (size, size)


@pytest.mark.parametrize("name", [f"{APP_ID}.svg", f"{APP_ID}-small.svg"])
def test_svg_icons_are_square(name: str) -> None:
    root = ET.parse(ICONS / name).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    x, y, width, height = (float(v) for v in root.get("viewBox", "").split())
    assert (x, y) == (0, 0) and width == height


@pytest.mark.parametrize("size", [22, 48, 256])
def test_committed_pngs_are_rendered_from_the_svg(tmp_path: Path, size: int) -> None:
    """Re-render with resources/icons/render.sh after editing an SVG; this catches a forgotten render."""
    tool = _tool("rsvg-convert")
    from PIL import Image, ImageChops, ImageStat

    source = ICONS / (f"{APP_ID}-small.svg" if size <= 24 else f"{APP_ID}.svg")
    out = tmp_path / f"{size}.png"
    subprocess.run([tool, "-w", str(size), "-h", str(size), str(source), "-o", str(out)], check=True)
    committed = ICONS / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
    with Image.open(out) as fresh, Image.open(committed) as kept:
        diff = ImageChops.difference(fresh.convert("RGBA"), kept.convert("RGBA"))
        assert max(ImageStat.Stat(diff).mean) < 3, f"{committed} is stale: run resources/icons/render.sh"
