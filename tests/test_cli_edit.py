"""``studio edit`` in a subprocess, through the real engine process on the default model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.writing.actions import BUILTIN_ACTIONS


def edit(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "studio", "edit", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
    )


def test_list_names_every_builtin_action() -> None:
    result = edit("--list")
    assert result.returncode == 0
    for action in BUILTIN_ACTIONS:
        assert action.name in result.stdout


def test_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    assert "needs --language" in edit("--action", "translate", stdin="Hi").stderr
    assert "No action called 'nope'" in edit("--action", "nope", stdin="Hi").stderr
    missing = edit("Shorten it", "--input", str(tmp_path / "missing.txt"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    assert "empty" in edit("Shorten it", stdin="  \n").stderr


@pytest.mark.llm
def test_edit_prints_the_rewritten_text(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("Their going to the libary tomorow.\n", encoding="utf-8")
    result = edit("--action", "fix-spelling", "--input", str(source), "--seed", "3", "--threads", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() and '"""' not in result.stdout and "Revision:" not in result.stdout
    piped = edit(
        "Turn it into a question.", "--seed", "1", "--threads", "2", stdin="The meeting starts at noon."
    )
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.strip()
