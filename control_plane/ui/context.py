"""The platform the dashboard's state handlers use, handed over once by the app module.

Reflex creates the state classes, so they cannot take dependencies in a constructor.
"""

from __future__ import annotations

from control_plane.composition import Platform
from control_plane.settings import PierSettings

_platform: Platform | None = None


def bind(platform: Platform) -> None:
    global _platform
    _platform = platform


def get() -> Platform:
    if _platform is None:
        raise RuntimeError("control_plane.ui.context.bind(...) was not called by the app module")
    return _platform


def settings() -> PierSettings:
    return get().settings
