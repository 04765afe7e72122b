"""The safe-mode store and the retry decision after an engine crash (no model needed)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from studio import paths
from studio.engines import llm_safe_mode
from studio.engines.llm_safe_mode import (
    SafeModeStore,
    is_crash,
    retry_after_crash,
    weight_repacking,
    with_safe_mode_if_remembered,
)
from studio.engines.protocol import EngineEvent, ErrorInfo, error, result
from studio.engines.text_requests import LoadModelRequest


def crash_event(job_id: str, exitcode: int | None) -> EngineEvent:
    return error(job_id, "The llm engine process stopped unexpectedly", ErrorInfo.crash(exitcode))


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 60)
    return path


def test_the_store_lives_in_the_data_folder_and_remembers(model: Path) -> None:
    store = SafeModeStore()
    assert store.path == paths.data_dir() / llm_safe_mode.STORE_FILE
    assert not store.needs_safe_mode(str(model))
    store.remember(str(model), "SIGSEGV while loading")
    assert store.needs_safe_mode(str(model))
    assert SafeModeStore().needs_safe_mode(str(model))  # a fresh store reads the file
    saved = json.loads(store.path.read_text(encoding="utf-8"))
    (entry,) = saved["entries"].values()
    assert entry["model"] == str(model.resolve())
    assert entry["reason"] == "SIGSEGV while loading"
    assert entry["llama"].startswith("llama-cpp-python")
    assert store.forget(str(model))
    assert not store.needs_safe_mode(str(model))
    assert not store.forget(str(model))


def test_the_key_follows_the_model_file(model: Path, tmp_path: Path) -> None:
    store = SafeModeStore()
    store.remember(str(model), "SIGSEGV while loading")
    other = tmp_path / "other.gguf"
    other.write_bytes(model.read_bytes())
    assert not store.needs_safe_mode(str(other))  # another file
    model.write_bytes(model.read_bytes() + b"\0")
    assert not store.needs_safe_mode(str(model))  # the same path with other contents
    store.remember("", "SIGSEGV while loading")
    assert store.needs_safe_mode("")  # the default model has a key of its own
    assert not store.needs_safe_mode(str(other))


@pytest.mark.parametrize(
    "content", [b"{not json", b"\xff\xfe\x00", b"[1, 2]", b'{"entries": 3}', b"", b'{"entries": {"k": 1}}']
)
def test_a_corrupt_store_counts_as_empty_and_is_replaced(model: Path, content: bytes) -> None:
    store = SafeModeStore()
    store.path.write_bytes(content)
    assert not store.needs_safe_mode(str(model))
    store.remember(str(model), "SIGSEGV while loading")
    assert store.needs_safe_mode(str(model))
    assert len(json.loads(store.path.read_text(encoding="utf-8"))["entries"]) == 1


def test_an_unwritable_store_raises_and_stays_empty(model: Path, tmp_path: Path) -> None:
    store = SafeModeStore(tmp_path)  # a folder where the file should be
    assert not store.needs_safe_mode(str(model))
    with pytest.raises(OSError):
        store.remember(str(model), "SIGSEGV while loading")


@pytest.mark.parametrize(
    ("exitcode", "crashed"),
    [
        (-signal.SIGSEGV, True),
        (-signal.SIGILL, True),
        (-signal.SIGABRT, True),
        (-signal.SIGBUS, True),
        (-signal.SIGKILL, False),  # our own kill, or the out-of-memory killer: safe mode does not help
        (-signal.SIGTERM, False),
        (1, False),
        (None, False),  # it stopped responding
    ],
)
def test_only_crashes_count(exitcode: int | None, crashed: bool) -> None:
    assert is_crash(crash_event("j", exitcode)) is crashed


def test_errors_that_are_not_engine_deaths_are_not_crashes() -> None:
    assert not is_crash(error("j", "Cannot load broken.gguf: not a GGUF model"))
    assert not is_crash(result("j"))
    assert is_crash(error("j", "stopped", ErrorInfo(engine_crashed=True)))  # a client that does not say how
    assert not is_crash(error("j", "Cannot load b.gguf", ErrorInfo(model_kept=True, model_name="a")))


def test_a_crash_while_loading_is_retried_once_in_safe_mode(model: Path) -> None:
    store = SafeModeStore()
    load = LoadModelRequest("load", model_path=str(model), n_ctx=2048, n_threads=3)
    retry = retry_after_crash(load, crash_event(load.job_id, -signal.SIGSEGV), store)
    assert retry is not None
    assert retry.safe_mode
    assert retry.job_id != load.job_id
    assert (retry.model_path, retry.n_ctx, retry.n_threads) == (str(model), 2048, 3)
    assert store.needs_safe_mode(str(model))
    entry = next(iter(json.loads(store.path.read_text(encoding="utf-8"))["entries"].values()))
    assert entry["reason"] == "SIGSEGV while loading"
    # a crash in safe mode is not retried again
    assert retry_after_crash(retry, crash_event(retry.job_id, -signal.SIGSEGV), store) is None
    message = llm_safe_mode.crashed_in_safe_mode_message(crash_event(retry.job_id, -signal.SIGSEGV))
    assert "even in safe mode (SIGSEGV" in message


def test_kills_and_ordinary_errors_are_not_retried(model: Path) -> None:
    store = SafeModeStore()
    load = LoadModelRequest("load", model_path=str(model))
    assert retry_after_crash(load, crash_event("load", -signal.SIGKILL), store) is None
    assert retry_after_crash(load, error("load", "not a GGUF model"), store) is None
    assert not store.path.exists()


def test_a_retry_happens_even_when_the_store_cannot_be_written(model: Path, tmp_path: Path) -> None:
    load = LoadModelRequest("load", model_path=str(model))
    retry = retry_after_crash(load, crash_event("load", -signal.SIGILL), SafeModeStore(tmp_path))
    assert retry is not None and retry.safe_mode


def test_remembered_models_load_in_safe_mode(model: Path) -> None:
    store = SafeModeStore()
    load = LoadModelRequest("load", model_path=str(model))
    assert with_safe_mode_if_remembered(load, store) is load
    store.remember(str(model), "SIGSEGV while loading")
    remembered = with_safe_mode_if_remembered(load, store)
    assert remembered.safe_mode and remembered.job_id == "load"


def test_weight_repacking_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(llm_safe_mode.REPACK_ENV, raising=False)
    assert weight_repacking(safe_mode=True) is False
    assert weight_repacking(safe_mode=False) is (not llm_safe_mode.has_amx())
    monkeypatch.setattr(llm_safe_mode, "has_amx", lambda: True)
    assert weight_repacking(safe_mode=False) is False  # AMX CPUs never repack by default
    monkeypatch.setenv(llm_safe_mode.REPACK_ENV, "1")
    assert weight_repacking(safe_mode=False) is True
    assert weight_repacking(safe_mode=True) is True  # forced on: for bug triage
    monkeypatch.setenv(llm_safe_mode.REPACK_ENV, "0")
    monkeypatch.setattr(llm_safe_mode, "has_amx", lambda: False)
    assert weight_repacking(safe_mode=False) is False
    monkeypatch.setenv(llm_safe_mode.REPACK_ENV, "yes please")
    assert weight_repacking(safe_mode=False) is True  # not 0 or 1: ignored


def test_signatures_are_stable_and_need_no_llama_import() -> None:
    import sys

    assert llm_safe_mode.cpu_signature() == llm_safe_mode.cpu_signature()
    assert llm_safe_mode.llama_runtime_signature() == llm_safe_mode.llama_runtime_signature()
    if "llama_cpp" not in sys.modules:  # other tests in this process may have imported it themselves
        llm_safe_mode.store_key("")
        assert "llama_cpp" not in sys.modules
