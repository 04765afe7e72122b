"""``kill -9`` while someone types loses at most the last 2 s: a real app process, killed at a random moment."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from pytestqt.qtbot import QtBot

from studio import paths
from studio.documents import RecoveryStore
from studio.settings import Settings, save_settings
from studio.ui.dialogs import ScriptedDialogs, UnsavedChoice
from studio.ui.main_window import MainWindow

DRIVER = Path(__file__).with_name("typing_driver.py")
REPO = Path(__file__).resolve().parents[3]
GUARANTEE_S = 2.0
SEED_ENV = "STUDIO_CRASH_TEST_SEED"


def read_typing_log(log: Path) -> list[tuple[str, float | None]]:
    """(chunk, time it was in the editor) for every chunk the driver began to type (None: not finished)."""
    chunks: list[tuple[str, float | None]] = []
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            break  # the kill cut the last line short
        if "text" in record:
            chunks.append((record["text"], None))
        elif "done" in record and chunks:
            chunks[-1] = (chunks[-1][0], float(record["done"]))
    return chunks


def test_kill_9_while_typing_loses_at_most_two_seconds(qtbot: QtBot, tmp_path: Path) -> None:
    seed = int(os.environ.get(SEED_ENV) or random.randrange(2**32))
    print(f"crash test seed: {seed} (rerun with {SEED_ENV}={seed})")
    rng = random.Random(seed)
    save_settings(Settings(suggestions_enabled=False))  # no LLM engine: this is about the editor and the disk
    log = tmp_path / "typing.jsonl"
    stderr = tmp_path / "driver.err"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    with stderr.open("wb") as errors:
        driver = subprocess.Popen(
            [sys.executable, str(DRIVER), str(log), str(seed)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
    try:
        deadline = time.monotonic() + 180
        while not (log.exists() and any(done for _, done in read_typing_log(log))):
            assert driver.poll() is None, f"the driver died: {stderr.read_text(errors='replace')[-3000:]}"
            assert time.monotonic() < deadline, "the driver never started typing"
            time.sleep(0.05)
        time.sleep(rng.uniform(3.0, 8.0))
        driver.send_signal(signal.SIGKILL)
        kill_time = time.time()
        assert driver.wait(60) == -signal.SIGKILL, stderr.read_text(errors="replace")[-3000:]
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()

    chunks = read_typing_log(log)
    everything = "".join(text for text, _ in chunks)
    safe = "".join(text for text, done in chunks if done is not None and done <= kill_time - GUARANTEE_S)
    assert safe, f"seed {seed}: nothing was typed more than {GUARANTEE_S} s before the kill"
    context = f"seed {seed}: typed {len(everything)} chars, {len(safe)} of them >= 2 s before the kill"
    entries = RecoveryStore(paths.recovery_dir()).entries()
    assert len(entries) == 1, f"{context}; snapshots: {entries}"
    [entry] = entries
    recovered = entry.read_text()
    assert recovered.startswith(safe), f"{context}; recovered only {len(recovered)}: ...{recovered[-80:]!r}"
    assert everything.startswith(recovered), context  # nothing but what was typed
    covered, lost_s = 0, 0.0
    for text, done in chunks:
        covered += len(text)
        if covered > len(recovered) and done is not None:
            lost_s = max(0.0, kill_time - done)
            break
    print(f"recovered {len(recovered)} of {len(everything)} chars; lost the last {lost_s:.2f} s of typing")

    # Restart: the next Studio offers the text back and puts it into an editor.
    asked: list[list[str]] = []

    def restore_work(titles: list[str]) -> bool:
        asked.append(titles)
        return True

    window = MainWindow(
        dialogs=ScriptedDialogs(unsaved_changes=UnsavedChoice.DISCARD, restore_work=restore_work)
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert asked == [[entry.title]]
    texts = [editor.toPlainText() for editor in window.write.editors()]
    assert recovered in texts
    assert window.write.has_unsaved_changes()
    window.close()
