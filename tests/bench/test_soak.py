"""The soak run (bench/soak.py): a GUI process that aborts is reported as a crash, and one pass over every
action on the real main window with the real LLM engine ends cleanly with its figures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def run_soak(
    tmp_path: Path, *args: str, timeout: float
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    summary = tmp_path / "soak.json"
    result = subprocess.run(
        [sys.executable, str(SOAK), "--json", str(summary), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ,
    )
    assert summary.is_file(), result.stdout + result.stderr
    return result, json.loads(summary.read_text(encoding="utf-8"))


def test_a_gui_process_that_aborts_is_reported_as_a_crash(tmp_path: Path) -> None:
    unused_model = tmp_path / "unused.gguf"
    unused_model.write_bytes(b"GGUF")  # the child aborts before it would load a model
    result, report = run_soak(
        tmp_path,
        "--no-diffusion",
        "--minutes",
        "0",
        "--model",
        str(unused_model),
        "--abort-after-start",
        timeout=180,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert report["crash"]["gui_exit"] == "killed by SIGABRT"
    assert any("GUI process crashed: killed by SIGABRT" in failure for failure in report["failures"])
    assert "FAILED" in result.stdout and "killed by SIGABRT" in result.stdout
    shutil.rmtree(report["home"])  # kept for a look after a failure


ONE_PASS = [
    "ghost_esc",
    "undo_redo",
    "save",
    "new_document",
    "canvas_stroke",
    "canvas_lasso",
    "canvas_undo_redo",
    "resize",
]


@pytest.mark.llm
def test_one_pass_over_actions_ends_cleanly(tmp_path: Path) -> None:
    """``--minutes 0`` runs each chosen action once on the real window and engine (the full soak runs in CI)."""
    result, report = run_soak(
        tmp_path,
        "--no-diffusion",
        "--minutes",
        "0",
        "--seed",
        "3",
        "--actions",
        ",".join(ONE_PASS),
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["failures"] == []
    assert report["crash"] == {"gui_exit": "exit status 0", "hung": False, "fatal": []}
    assert set(report["actions"]) == set(ONE_PASS)
    events = report["events"]
    assert events.get("checks_passed", 0) > 0 and events.get("suggestions_shown", 0) > 0
    assert events.get("strokes", 0) > 0
    assert events.get("saved_documents") == 1 and events.get("lasso_selections") == 1
    assert report["jobs"]["unended"] == [] and report["jobs"]["started"] > 0
    assert report["engines"]["llm"]["restarts"] == 0
    assert report["window_closed"] is True
    assert report["none_refcount"]["end"] > 0 and report["rss_mb"]["end"] > 0
    assert report["stalls"]["ticks"] > 0
    assert "PASSED" in result.stdout
