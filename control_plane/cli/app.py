"""The `pier` command's frame: global options, the API client, errors as one red line, and
the exit codes scripts rely on (EXIT_CODES, in `pier --help`)."""

from __future__ import annotations

import importlib.metadata
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from control_plane.cli.client import (
    ApiError,
    PierClient,
    Unreachable,
    default_environ,
    resolve_config,
)
from control_plane.errors import PierError
from control_plane.schemas import DeploymentPublic

# 2 is the usage error of every click program; the others are Pier's own.
EXIT_CODES = {
    0: "done",
    1: "the control plane refused the request, or the input is invalid",
    2: "usage error: an unknown command or option, a missing argument",
    3: "replicas did not serve the change within --timeout",
    4: "the canary followed with --watch was rolled back or aborted",
    5: "the control plane could not be reached",
}
UNREACHABLE, TIMED_OUT, CANARY_FAILED = 5, 3, 4

app = typer.Typer(
    name="pier",
    help="Ship PyTorch models to production and watch them there.\n\nExit codes: "
    + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items())
    + ".",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)


class _Options:
    url: str | None = None
    token: str | None = None
    home: Path = Path(".pier")


options = _Options()


def _version(shown: bool) -> None:
    if shown:
        print(f"pier {importlib.metadata.version('pier')}")
        raise typer.Exit()


@app.callback()
def _options(
    url: Annotated[
        str | None, typer.Option(help="Control plane URL (env PIER_URL; default: from credentials)")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            help="API token; visible to `ps`, so prefer PIER_TOKEN or --token-stdin "
            "(default: from credentials)"
        ),
    ] = None,
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="Read the API token from standard input")
    ] = False,
    home: Annotated[
        Path, typer.Option(envvar="PIER_HOME", help="State directory holding `credentials`")
    ] = Path(".pier"),
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version"),
    ] = False,
) -> None:
    if token_stdin:
        token = sys.stdin.readline().strip()
        if not token:
            raise fail("--token-stdin: expected a token on standard input, got nothing")
    options.url, options.token, options.home = url, token, home


JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print the API's answer as JSON, for scripts and jq")
]


def print_json(data: Any) -> None:
    """`data` (API models, lists or dicts of them) as JSON on stdout, nothing else."""

    def plain(x: Any) -> Any:
        if isinstance(x, BaseModel):
            return x.model_dump(mode="json")
        if isinstance(x, list | tuple):
            return [plain(i) for i in x]
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items()}
        return x

    sys.stdout.write(json.dumps(plain(data), indent=2, default=str) + "\n")


def client() -> PierClient:
    return PierClient(resolve_config(options.url, options.token, options.home, default_environ()))


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def run(fn: Callable[[], None]) -> None:
    """Turn API and input errors into one red line and a non-zero exit code."""
    try:
        fn()
    except ApiError as e:
        raise fail(f"{e.message} (HTTP {e.status})") from None
    except Unreachable as e:
        raise fail(str(e), UNREACHABLE) from None
    except PierError as e:
        raise fail(e.message) from None


def table(title: str, columns: str, rows: Iterable[Sequence[str]]) -> Table:
    """A table of `rows` under space-separated column names ("_" stands for a space)."""
    found = Table(title=title)
    for name in columns.split():
        found.add_column(name.replace("_", " "))
    for row in rows:
        found.add_row(*row)
    return found


def when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")


def weights_text(w: dict[str, int]) -> str:
    return ", ".join(f"{v} {p}%" for v, p in sorted(w.items(), key=lambda x: -x[1])) or "-"


def seconds(text: str) -> float:
    """'90', '90s', '5m', '1h' -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    t = text.strip().lower()
    factor = units.get(t[-1:], 0)
    number = t[:-1] if factor else t
    try:
        return float(number) * (factor or 1)
    except ValueError:
        raise fail(f"expected a duration like 60s, 5m or 1h, got {text!r}") from None


WaitOpt = Annotated[
    bool, typer.Option("--wait/--no-wait", help="Wait until every replica serves the change")
]
TimeoutOpt = Annotated[float, typer.Option(help="Seconds to wait")]
ReasonOpt = Annotated[str, typer.Option(help="Why: kept in the audit log")]
ModelArg = Annotated[str, typer.Argument(help="Model name")]


def wait_converged(c: PierClient, model: str, revision: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = c.status()
        for m in status.models:
            if m.model == model and m.converged and status.revision >= revision:
                out.print(f"[green]✓[/] every replica serves revision {revision}")
                return
        time.sleep(0.25)
    raise fail(f"replicas did not reach revision {revision} within {timeout_s:.0f} s", TIMED_OUT)


def deployed(verb: str) -> Callable[[DeploymentPublic], str]:
    def describe(d: DeploymentPublic) -> str:
        return f"{verb} [bold]{d.model}[/]: {weights_text(d.weights)} (revision {d.revision})"

    return describe


def apply(
    make: Callable[[PierClient], DeploymentPublic],
    describe: Callable[[DeploymentPublic], str],
    *,
    wait: bool,
    timeout: float,
) -> None:
    """Make a change of routing through the API, print it and follow it (`change`)."""

    def go() -> None:
        with client() as c:
            change(c, make(c), describe, wait=wait, timeout=timeout)

    run(go)


def change(
    c: PierClient,
    d: DeploymentPublic,
    describe: Callable[[DeploymentPublic], str],
    *,
    wait: bool,
    timeout: float,
) -> None:
    """Print a change of routing made through `c`, and follow it until the replicas serve it."""
    out.print(f"[green]✓[/] {describe(d)}")
    if wait:
        wait_converged(c, d.model, d.revision, timeout)
