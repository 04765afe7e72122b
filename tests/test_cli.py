"""``studio text`` and ``studio --version`` as a user runs them: real processes, real model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from studio import __version__


def studio(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_version() -> None:
    result = studio("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"Studio {__version__}"


@pytest.mark.llm
def test_text_streams_a_completion_and_seed_repeats() -> None:
    prompt = "The capital of France is"
    first = studio("text", prompt, "--max-tokens", "10", "--seed", "5", "--temperature", "1.5")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip()
    again = studio("text", prompt, "--max-tokens", "10", "--seed", "5", "--temperature", "1.5")
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout
    others = [
        studio("text", prompt, "--max-tokens", "10", "--seed", seed, "--temperature", "1.5")
        for seed in ("6", "7")
    ]
    assert all(other.returncode == 0 and other.stdout.strip() for other in others)
    # the seed is what repeats the text: other seeds sample other continuations
    assert {other.stdout for other in others} - {first.stdout}


@pytest.mark.llm
def test_text_with_an_explicit_model(default_model_file: Path) -> None:
    result = studio("text", "Hello", "--model", str(default_model_file), "--max-tokens", "3", "--seed", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"this is not a model", "not a GGUF model"),
        (b"GGUF\x03\x00\x00\x00" + b"\xff" * 64, "claims"),
        (None, "does not exist"),
    ],
)
def test_text_with_an_invalid_model_is_one_line_and_status_2(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    model = tmp_path / "broken.gguf"
    if content is not None:
        model.write_bytes(content)
    result = studio("text", "Hello", "--model", str(model))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("studio: error: ")
    assert reason in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.llm
def test_text_with_a_truncated_model(default_model_file: Path, tmp_path: Path) -> None:
    model = tmp_path / "truncated.gguf"
    with default_model_file.open("rb") as source:
        model.write_bytes(source.read(5_000_000))
    result = studio("text", "Hello", "--model", str(model))
    assert result.returncode == 2
    assert "truncated" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_arguments_exit_2() -> None:
    result = studio("text", "Hello", "--max-tokens", "0")
    assert result.returncode == 2
    assert "--max-tokens" in result.stderr


@pytest.mark.llm
def test_text_survives_a_crash_while_loading_and_remembers_safe_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.engines.llm import TEST_CRASH_ENV
    from studio.engines.llm_safe_mode import SAFE_MODE_NOTICE, SAFE_MODE_REMEMBERED, SafeModeStore

    monkeypatch.setenv(TEST_CRASH_ENV, "1")  # the engine dies in its warm-up decode unless in safe mode
    first = studio("text", "The capital of France is", "--max-tokens", "6", "--seed", "2")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip()
    assert first.stderr.strip().splitlines() == [f"studio: {SAFE_MODE_NOTICE}"]
    assert SafeModeStore().needs_safe_mode("")  # the default model, on this CPU and llama.cpp build
    # the next run loads in safe mode directly: no crash, so no restart notice
    second = studio("text", "The capital of France is", "--max-tokens", "6", "--seed", "2")
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
    assert second.stderr.strip().splitlines() == [f"studio: {SAFE_MODE_REMEMBERED}"]


@pytest.mark.llm
def test_text_gives_up_when_safe_mode_crashes_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.engines.llm import TEST_CRASH_ENV
    from studio.engines.llm_safe_mode import SAFE_MODE_NOTICE

    monkeypatch.setenv(TEST_CRASH_ENV, "always")
    result = studio("text", "Hello", "--max-tokens", "3")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"studio: {SAFE_MODE_NOTICE}"  # one restart in safe mode, no more
    assert len(lines) == 2, result.stderr
    assert lines[1].startswith(
        "studio: error: The model crashed on this computer's processor even in safe mode"
    )
    assert "SIGSEGV" in lines[1]
    assert "Traceback" not in result.stderr
