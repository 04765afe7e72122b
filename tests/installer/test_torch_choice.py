"""installer/install_user.py: which PyTorch build an install gets, from where, and what it downloads.

The decision is tested with fake GPU probes (this is about the decision logic); ``probe_gpu`` itself runs
stand-in ``nvidia-smi`` scripts against a fake root folder; ``plan_downloads`` runs the real pip.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "installer" / "install_user.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("install_user", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["install_user"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


iu = _load()
H200 = "GPU 0: NVIDIA H200 (UUID: GPU-2b9f1c5e-0000-0000-0000-000000000000)"


def _probe(**fields: object):
    def probe():
        return iu.GpuProbe(**fields)

    return probe


def _no_probe():
    raise AssertionError("an explicit --torch choice must not probe the machine")


def _never_ask(question: str) -> str:
    raise AssertionError(f"asked although the answer is clear: {question}")


@pytest.fixture(autouse=True)
def _no_index_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(iu.TORCH_INDEX_ENV, raising=False)


def test_the_pinned_torch_is_the_one_ci_tests_with() -> None:
    """TORCH_VERSION is the installer's one place for the release; .ci/run and the README use the same."""
    version = r"([0-9]+\.[0-9]+\.[0-9]+)"
    ci = (ROOT / ".ci" / "run").read_text()
    ci_pins = set(re.findall(r"torch==" + version, ci)) | set(re.findall(r"TORCH_VERSION=" + version, ci))
    assert ci_pins == {iu.TORCH_VERSION}, f".ci/run pins {ci_pins}, install_user.py {iu.TORCH_VERSION}"
    readme_pins = set(re.findall(r"torch==" + version, (ROOT / "README.md").read_text()))
    assert readme_pins <= {iu.TORCH_VERSION}, f"README.md pins {readme_pins}"


def test_no_nvidia_gpu_gives_the_cpu_build_from_the_cpu_index() -> None:
    choice = iu.choose_torch("auto", _probe(smi="missing"), ask=_never_ask)
    assert choice.variant == "cpu"
    assert choice.index_url == iu.TORCH_CPU_INDEX
    assert choice.requirement == f"torch=={iu.TORCH_VERSION}"
    assert "no NVIDIA GPU found" in choice.reason


def test_a_gpu_listed_by_nvidia_smi_gives_the_cuda_build_from_pypi() -> None:
    choice = iu.choose_torch("auto", _probe(smi="ok", gpus=(H200,), driver=True, device=True), ask=_never_ask)
    assert choice.variant == "cuda"
    assert choice.index_url is None  # pip's own index: PyPI's Linux torch is the CUDA build
    assert "NVIDIA H200" in choice.reason
    assert "CUDA" in choice.describe() and iu.TORCH_VERSION in choice.describe()


@pytest.mark.parametrize("requested", ["cpu", "cuda"])
def test_an_explicit_choice_is_not_second_guessed(requested: str) -> None:
    choice = iu.choose_torch(requested, _no_probe, ask=_never_ask)
    assert choice.variant == requested
    assert choice.reason == f"chosen with --torch {requested}"


@pytest.mark.parametrize(
    "signs",
    [
        {"smi": "failed: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver"},
        {"smi": "missing", "driver": True},
        {"smi": "missing", "device": True},
        {"smi": "ok", "driver": True},  # nvidia-smi works but lists no GPU
    ],
)
def test_mixed_signs_ask_on_a_terminal(signs: dict[str, object]) -> None:
    questions: list[str] = []

    def answer(reply: str):
        def ask(question: str) -> str:
            questions.append(question)
            return reply

        return ask

    assert iu.choose_torch("auto", _probe(**signs), ask=answer("g")).variant == "cuda"
    assert iu.choose_torch("auto", _probe(**signs), ask=answer("")).variant == "cpu"
    assert iu.choose_torch("auto", _probe(**signs), ask=answer("c")).variant == "cpu"
    assert len(questions) == 3 and "[c]PU" in questions[0]


def test_mixed_signs_without_a_terminal_choose_cpu_and_say_how_to_override() -> None:
    choice = iu.choose_torch("auto", _probe(smi="missing", driver=True), ask=None)
    assert choice.variant == "cpu"
    assert "--torch cuda" in choice.reason
    assert "/proc/driver/nvidia/version" in choice.reason


def test_the_torch_index_option_beats_the_environment_beats_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mirror = "https://mirror.example/whl/cpu"
    assert iu.choose_torch("cpu", _no_probe).index_url == iu.TORCH_CPU_INDEX
    assert iu.choose_torch("cuda", _no_probe).index_url is None
    monkeypatch.setenv(iu.TORCH_INDEX_ENV, mirror)
    assert iu.choose_torch("cpu", _no_probe).index_url == mirror
    assert iu.choose_torch("cuda", _no_probe).index_url == mirror
    assert iu.choose_torch("cpu", _no_probe, index="https://other.example/simple").index_url == (
        "https://other.example/simple"
    )
    # "default": no --index-url at all, pip's configured index (how the tests install locally).
    assert iu.choose_torch("cpu", _no_probe, index="default").index_url is None
    monkeypatch.setenv(iu.TORCH_INDEX_ENV, "default")
    assert iu.choose_torch("cpu", _no_probe).index_url is None


def test_an_unknown_choice_is_refused() -> None:
    with pytest.raises(iu.InstallError, match="--torch must be one of"):
        iu.choose_torch("rocm", _no_probe)


def _fake_smi(folder: Path, body: str) -> Path:
    exe = folder / "nvidia-smi"
    exe.write_text("#!/bin/sh\n" + body)
    exe.chmod(0o755)
    return exe


def test_probe_reads_nvidia_smi_and_the_driver_files(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "proc" / "driver" / "nvidia").mkdir(parents=True)
    (root / "proc" / "driver" / "nvidia" / "version").write_text("NVRM version: 590.48\n")
    (root / "dev").mkdir()
    (root / "dev" / "nvidia0").touch()
    listing = _fake_smi(tmp_path, f'[ "$1" = -L ] || exit 9\necho "{H200}"\n')
    probe = iu.probe_gpu(root=root, smi=str(listing))
    assert probe == iu.GpuProbe("ok", (H200,), driver=True, device=True)
    assert iu.choose_torch("auto", lambda: probe).variant == "cuda"


def test_probe_of_a_broken_driver_and_of_a_machine_without_one(tmp_path: Path) -> None:
    broken = _fake_smi(
        tmp_path,
        'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver."\nexit 9\n',
    )
    probe = iu.probe_gpu(root=tmp_path / "empty", smi=str(broken))
    assert probe.smi.startswith("failed: NVIDIA-SMI has failed") and probe.gpus == ()
    assert iu.choose_torch("auto", lambda: probe).variant == "cpu"
    bare = iu.probe_gpu(root=tmp_path / "empty", smi=str(tmp_path / "no-such-nvidia-smi"))
    assert bare == iu.GpuProbe("missing")
    assert "no NVIDIA GPU found" in iu.choose_torch("auto", lambda: bare, ask=_never_ask).reason


@pytest.mark.parametrize(
    ("version", "packages", "variant"),
    [
        ("2.13.0+cpu", [], "cpu"),
        ("2.13.0", [], "cpu"),  # e.g. macOS or aarch64 wheels from PyPI
        ("2.14.1", ["nvidia-cublas", "triton"], "cuda"),  # PyPI's Linux x86_64 torch
        ("2.13.0+cu128", [], "cuda"),
        (None, [], None),
    ],
)
def test_which_build_an_environment_holds(version: str | None, packages: list[str], variant: str) -> None:
    assert iu.torch_variant_of(version, packages) == variant


def test_download_summary() -> None:
    downloads = [
        iu.Download("torch", "2.13.0", "https://download.example/torch.whl", 2_000_000_000),
        iu.Download("nvidia-cublas", "13.1", "https://files.example/cublas.whl", 400_000_000),
        iu.Download("pillow", "13.0.0", "file:///opt/wheels/pillow.whl", 6_000_000),
        iu.Download("tqdm", "4.70.1", "https://files.example/tqdm.whl", None),
    ]
    lines = iu.summarize_downloads(downloads)
    assert lines[0] == "4 packages; 2.40 GB to download, 6 MB from local files"
    assert lines[1] == "of which torch and its libraries: 2.40 GB"
    assert lines[2].startswith("largest: torch 2.13.0 (2.00 GB), nvidia-cublas 13.1 (400 MB)")
    assert lines[3] == "size unknown for 1: tqdm"


def test_download_plan_comes_from_pip_itself() -> None:
    """A real `pip install --dry-run --report` of the pinned torch (pip's configured index)."""
    downloads = iu.plan_downloads(sys.executable, ["--ignore-installed", f"torch=={iu.TORCH_VERSION}"])
    torch = [d for d in downloads if d.name == "torch"]
    assert len(torch) == 1 and torch[0].version.startswith(iu.TORCH_VERSION)
    assert torch[0].size is not None and torch[0].size > 50_000_000
    assert iu.summarize_downloads(downloads)[0].startswith(f"{len(downloads)} packages; ")


def test_a_failed_plan_is_a_clear_error() -> None:
    with pytest.raises(iu.InstallError, match="pip could not plan the install"):
        iu.plan_downloads(sys.executable, ["--no-index", "--ignore-installed", "no-such-package-studio-xyz"])


def test_installer_uses_only_the_standard_library() -> None:
    """It must run on any Python 3.11+ before anything is installed."""
    out = subprocess.run(
        [sys.executable, "-I", "-c", f"import runpy; runpy.run_path({str(SCRIPT)!r}, run_name='x')"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr


def test_a_plan_with_gpu_libraries_for_a_cpu_choice_stops_before_downloading(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What happened in the issue: the index resolves the pin to PyPI's CUDA torch on a CPU machine."""
    cuda_plan = [
        iu.Download("torch", iu.TORCH_VERSION, "https://files.example/torch.whl", 527_000_000),
        iu.Download("nvidia-cublas", "13.1.1.3", "https://files.example/cublas.whl", 423_000_000),
        iu.Download("triton", "3.7.1", "https://files.example/triton.whl", 188_000_000),
    ]
    monkeypatch.setattr(iu, "plan_downloads", lambda python, args: cuda_plan)
    opts = iu.Options(source=ROOT)
    choice = iu.choose_torch("cpu", _no_probe, index="default")
    with pytest.raises(iu.InstallError, match="nothing was downloaded") as error:
        iu._report_download_plan(opts, sys.executable, choice, iu.Reporter(quiet=False))
    assert "nvidia-cublas, triton: 611 MB" in str(error.value)
    assert iu.TORCH_CPU_INDEX in str(error.value)
    assert "3 packages; 1.14 GB to download" in capsys.readouterr().out
    # The same plan is what a CUDA choice expects.
    iu._report_download_plan(
        opts, sys.executable, iu.choose_torch("cuda", _no_probe), iu.Reporter(quiet=True)
    )


@pytest.mark.parametrize(
    ("name", "version", "gpu_only"),
    [
        ("torch", "2.13.0+cpu", False),
        ("torch", "2.13.0", False),
        ("torch", "2.13.0+cu128", True),
        ("nvidia-cudnn-cu13", "9.20.0.48", True),
        ("nvidia_nccl_cu13", "2.29.7", True),
        ("cuda-bindings", "13.5.0", True),
        ("triton", "3.7.1", True),
        ("numpy", "2.4.6", False),
    ],
)
def test_which_downloads_belong_to_a_gpu_build(name: str, version: str, gpu_only: bool) -> None:
    download = iu.Download(name, version, "https://files.example/x.whl", 1)
    assert download.gpu_only is gpu_only
    assert download.torch_part is (gpu_only or name == "torch")
