"""The system report: its sections and keys, text and JSON forms, missing and broken packages, and
``studio --system-info`` as a user runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from studio import __version__, cpu, system_info, system_runtime
from studio.cpu import cpu_info, physical_cores
from studio.engines import llm_safe_mode
from studio.settings import Settings, save_settings
from studio.system_info import (
    NOT_INSTALLED,
    PENDING,
    SystemReport,
    child_command,
    collect,
    llama_repack_description,
    package_version,
    stdout_to_stderr,
)

SECTIONS = [
    "Studio",
    "Python",
    "System",
    "CPU",
    "Threads",
    "Qt",
    "llama.cpp",
    "torch",
    "Packages",
    "Folders",
    "Environment",
]
RUNTIME_FACTS = [
    ("Qt", "Qt runtime"),
    *(("llama.cpp", key) for key in system_info.LLAMA_RUNTIME_KEYS),
    *(("torch", key) for key in system_info.TORCH_RUNTIME_KEYS),
]


MODEL_LIBRARIES = ("torch", "llama_cpp")


def imported_model_libraries() -> set[str]:
    return {name for name in MODEL_LIBRARIES if sys.modules.get(name) is not None}


def newly_imported_model_libraries(before: set[str]) -> list[str]:
    """Model libraries imported since ``before`` (other tests in this process may have imported some)."""
    return sorted(imported_model_libraries() - before)


def studio(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_the_quick_report_has_every_section_and_leaves_runtime_facts_pending() -> None:
    already_imported = imported_model_libraries()
    report = collect()
    assert [section.title for section in report.sections] == SECTIONS
    assert report.get("Studio", "version") == __version__
    assert report.get("Python", "version") == ".".join(map(str, sys.version_info[:3]))
    assert report.get("CPU", "model") == cpu_info().model
    assert report.get("CPU", "physical cores") == str(physical_cores())
    assert report.get("CPU", "amx") == ("yes" if cpu_info().has_amx else "no")
    assert report.get("Threads", "default (physical cores)") == str(physical_cores())
    assert report.get("torch", "torch") == metadata.version("torch")
    assert report.get("Packages", "diffusers") == metadata.version("diffusers")
    assert report.get("llama.cpp", "llama-cpp-python") == metadata.version("llama-cpp-python")
    assert report.get("Folders", "config") == os.environ["STUDIO_CONFIG_DIR"]
    assert report.get("Folders", "data") == os.environ["STUDIO_DATA_DIR"]
    assert report.get("Environment", "STUDIO_DATA_DIR") == os.environ["STUDIO_DATA_DIR"]
    for title, key in RUNTIME_FACTS:
        assert report.get(title, key) == PENDING
    assert report.pending
    assert newly_imported_model_libraries(already_imported) == []


def test_threads_come_from_the_settings_file() -> None:
    save_settings(Settings(threads=3))
    report = collect()
    assert report.get("Threads", "setting") == "3 (0: default)"
    assert report.get("Threads", "engines use") == "3"
    automatic = collect(settings=Settings(threads=0))
    assert automatic.get("Threads", "engines use") == str(physical_cores())


def test_text_is_key_value_lines_in_sections() -> None:
    report = collect(qt_runtime="6.0.0")
    text = report.to_text()
    blocks = text.strip().split("\n\n")
    assert blocks[0] == f"Studio {__version__} system information"
    assert [block.splitlines()[0] for block in blocks[1:]] == [f"[{title}]" for title in SECTIONS]
    for block in blocks[1:]:
        for line in block.splitlines()[1:]:
            assert re.fullmatch(r"[^:\n]+: \S.*", line), line
    assert f"model: {cpu_info().model}\n" in text
    assert "Qt runtime: 6.0.0\n" in text


def test_json_round_trips() -> None:
    report = collect()
    again = SystemReport.from_json(report.to_json())
    assert again == report
    assert again.to_text() == report.to_text()


@pytest.mark.parametrize(
    "text", ["[]", "{}", '{"CPU": {"model": "x"}}', '{"CPU": ["model"]}', '{"CPU": {"cores": 2}}', "not json"]
)
def test_json_that_is_not_a_report_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        SystemReport.from_json(text)


def test_failed_pending_facts_say_why() -> None:
    report = collect()
    report.fail_pending("the check process crashed:\nsegfault")
    assert not report.pending
    assert report.get("torch", "cpu capability") == "unavailable (the check process crashed: segfault)"
    assert report.get("CPU", "model") == cpu_info().model


def test_a_missing_package_reads_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    already_imported = imported_model_libraries()
    assert package_version("no-such-package-studio-test") == NOT_INSTALLED
    real_version = metadata.version

    def version(name: str) -> str:
        if name in ("torch", "llama-cpp-python"):
            raise metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(metadata, "version", version)
    monkeypatch.setattr(system_info, "PACKAGES", (*system_info.PACKAGES, "no-such-package-studio-test"))
    report = system_runtime.collect(qt_runtime="6.0.0")
    assert report.get("Packages", "no-such-package-studio-test") == NOT_INSTALLED
    assert report.get("torch", "torch") == NOT_INSTALLED
    assert report.get("llama.cpp", "llama-cpp-python") == NOT_INSTALLED
    for title, key in RUNTIME_FACTS[1:]:
        assert report.get(title, key) == NOT_INSTALLED
    assert newly_imported_model_libraries(already_imported) == []


def test_a_package_that_fails_to_import_reads_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # installed, but `import torch` fails
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    report = system_runtime.collect(qt_runtime="6.0.0")
    assert report.get("torch", "torch") == metadata.version("torch")
    assert report.get("torch", "default threads").startswith("unavailable (import torch: ")
    assert report.get("llama.cpp", "system info").startswith("unavailable (import llama_cpp: ")
    assert not report.pending


@pytest.mark.parametrize(
    ("forced", "amx", "description"),
    [
        ("", False, "on"),
        ("", True, "off (this CPU has AMX"),
        ("1", True, "on (STUDIO_LLAMA_REPACK=1)"),
        ("0", False, "off (STUDIO_LLAMA_REPACK=0)"),
    ],
)
def test_weight_repacking_is_the_engines_choice_in_words(
    monkeypatch: pytest.MonkeyPatch, forced: str, amx: bool, description: str
) -> None:
    monkeypatch.setenv(llm_safe_mode.REPACK_ENV, forced)
    monkeypatch.setattr(llm_safe_mode, "has_amx", lambda: amx)
    monkeypatch.setattr(cpu, "has_amx", lambda: amx)
    assert llama_repack_description().startswith(description)
    report = collect()
    assert report.get("llama.cpp", "weight repacking").startswith(description)
    assert report.get("llama.cpp", "weight repacking").startswith(
        "on" if llm_safe_mode.weight_repacking(safe_mode=False) else "off"
    )


def test_safe_mode_for_the_configured_model_is_reported(tmp_path: Path) -> None:
    model = tmp_path / "crashy.gguf"
    model.write_bytes(b"GGUF")
    save_settings(Settings(model_path=str(model)))
    report = collect()
    assert report.get("llama.cpp", "model") == str(model)
    assert report.get("llama.cpp", "safe mode for the model") == "no"
    llm_safe_mode.SafeModeStore().remember(str(model), "SIGSEGV while loading")
    assert collect().get("llama.cpp", "safe mode for the model").startswith("yes (it crashed")
    assert collect(settings=Settings()).get("llama.cpp", "model") == "the default model"


def test_stdout_to_stderr_moves_c_level_output(capfd: pytest.CaptureFixture[str]) -> None:
    with stdout_to_stderr():
        os.write(1, b"from a C library\n")
    os.write(1, b"report\n")
    out, err = capfd.readouterr()
    assert out == "report\n"
    assert err == "from a C library\n"


def test_child_command(tmp_path: Path) -> None:
    assert child_command("/py", frozen=False) == ["/py", "-m", "studio", "--system-info", "--json"]
    linux = tmp_path / "linux" / "studio"
    assert child_command(str(linux), frozen=True) == [str(linux), "--system-info", "--json"]
    windowed = tmp_path / "windows" / "Studio.exe"
    windowed.parent.mkdir()
    (windowed.parent / "studio-cli.exe").write_bytes(b"")
    assert child_command(str(windowed), frozen=True) == [
        str(windowed.parent / "studio-cli.exe"),
        "--system-info",
        "--json",
    ]


def test_cli_prints_the_full_report() -> None:
    result = studio("--system-info")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith(f"Studio {__version__} system information\n")
    assert f"\nmodel: {cpu_info().model}\n" in text
    system_line = re.search(r"^system info: (.*)$", text, re.MULTILINE)
    assert system_line is not None, text
    assert "CPU :" in system_line.group(1)
    assert PENDING not in text
    assert "unavailable" not in text, text


def test_cli_json_is_the_same_report() -> None:
    result = studio("--system-info", "--json")
    assert result.returncode == 0, result.stderr
    report = SystemReport.from_json(result.stdout)
    assert [section.title for section in report.sections] == SECTIONS
    assert not report.pending
    assert report.get("CPU", "model") == cpu_info().model
    assert report.get("torch", "cpu capability") in (
        "DEFAULT",
        "AVX2",
        "AVX512",
        "NO AVX",
        "ZVECTOR",
        "SVE256",
    )
    assert report.get("torch", "cuda available") in ("yes", "no")
    assert report.get("llama.cpp", "system info").startswith("CPU :")
    assert report.get("llama.cpp", "weight repacking").startswith(
        "on" if llm_safe_mode.weight_repacking(safe_mode=False) else "off"
    )


def test_cli_help_lists_system_info_and_json_needs_it() -> None:
    help_text = studio("--help").stdout
    assert "--system-info" in help_text
    result = studio("--json")
    assert result.returncode == 2
    assert "--json goes with --system-info" in result.stderr
