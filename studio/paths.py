"""Where Studio keeps its settings and data (platformdirs), overridable for tests."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "Studio"
APP_AUTHOR = "Studio"

CONFIG_DIR_ENV = "STUDIO_CONFIG_DIR"
DATA_DIR_ENV = "STUDIO_DATA_DIR"


def config_dir() -> Path:
    """The directory of the settings file (created on demand)."""
    override = os.environ.get(CONFIG_DIR_ENV)
    path = Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME, APP_AUTHOR))
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """The directory of app data: model registry, the default model, recovery files."""
    override = os.environ.get(DATA_DIR_ENV)
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """Models Studio writes itself (the assembled default model, downloads)."""
    path = data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def recovery_dir() -> Path:
    """Autosaved copies of unsaved documents."""
    path = data_dir() / "recovery"
    path.mkdir(parents=True, exist_ok=True)
    return path
