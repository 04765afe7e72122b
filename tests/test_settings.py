"""Settings: typed, validated on load, written atomically; a broken file never stops the app."""

from __future__ import annotations

import json

from studio.settings import Settings, load_settings, save_settings, settings_path


def test_round_trip_keeps_every_field() -> None:
    settings = Settings(
        model_path="/models/a.gguf",
        image_precision="bfloat16",
        editor_font_family="Serif",
        editor_font_size=14,
        editor_zoom=3,
        show_ai_marks=False,
        recent_files=["/notes/one.md", "/notes/two.md"],
    )
    save_settings(settings)
    assert load_settings() == settings


def test_wrong_types_and_out_of_range_values_fall_back_to_defaults() -> None:
    raw = {
        "editor_font_size": 5000,
        "editor_zoom": -50,
        "show_ai_marks": "yes",
        "recent_files": ["/a.md", 3],
        "temperature": 1,
        "threads": True,
        "unknown_key": 1,
    }
    settings = Settings.from_dict(raw)
    defaults = Settings()
    assert settings.editor_font_size == defaults.editor_font_size
    assert settings.editor_zoom == defaults.editor_zoom
    assert settings.show_ai_marks is True
    assert settings.recent_files == []
    assert settings.temperature == 1.0
    assert settings.threads == defaults.threads


def test_broken_file_gives_defaults_and_is_kept_aside() -> None:
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json", encoding="utf-8")
    assert load_settings() == Settings()
    kept = path.with_suffix(".broken.json")
    assert kept.read_text(encoding="utf-8") == "{not json"
    save_settings(Settings(editor_zoom=2))
    assert json.loads(path.read_text(encoding="utf-8"))["editor_zoom"] == 2
