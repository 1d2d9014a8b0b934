"""Event handlers that keep a form field as typed, each named `set_<field>` as the markup
calls it (built the way Reflex builds its own setters)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def setter(field: str) -> Callable[[Any, str], None]:
    """The handler for the str var `field`; assign it to the state's `set_<field>`."""

    def set_field(state: Any, value: str) -> None:
        setattr(state, field, value)

    # Reflex names an event after its function: the page sends `...state.set_<field>`.
    set_field.__name__ = set_field.__qualname__ = f"set_{field}"
    return set_field
