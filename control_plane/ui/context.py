"""The settings the UI's state handlers use, handed over once by the app module.

State classes are created by Reflex, not by us, so they cannot take settings in a
constructor; the app module binds the one PierSettings it built here at import.
"""

from __future__ import annotations

from control_plane.settings import PierSettings

_settings: PierSettings | None = None


def bind(settings: PierSettings) -> None:
    global _settings
    _settings = settings


def settings() -> PierSettings:
    if _settings is None:
        raise RuntimeError("control_plane.ui.context.bind(settings) was not called by the app")
    return _settings
