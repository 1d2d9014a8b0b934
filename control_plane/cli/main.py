"""`pier`: the entry point; each command module registers its commands on the one app."""

from __future__ import annotations

from typer.models import CommandInfo

from control_plane.cli import operations, registry, traffic
from control_plane.cli.app import app

COMMANDS = (operations, registry, traffic)
# The order `pier --help` lists them in: the path of a version from push to production.
HELP_ORDER = (
    "push deploy split rollback shadow canary thresholds scale status models versions audit "
    "up serve"
)


def _rank(command: CommandInfo) -> int:
    name = command.callback.__name__ if command.callback else ""
    return HELP_ORDER.split().index(name)


app.registered_commands.sort(key=_rank)


def main() -> None:
    app()
