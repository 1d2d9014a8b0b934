"""The `pier` command: push, deploy, split, roll back and watch, from a shell or a CI job."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table

from control_plane.cli.client import (
    ApiError,
    PierClient,
    Unreachable,
    default_environ,
    resolve_config,
)
from control_plane.errors import PierError
from control_plane.pier_yaml import load_manifest
from control_plane.schemas import DeploymentPublic, ScalingPublic

app = typer.Typer(
    name="pier",
    help="Ship PyTorch models to production and watch them there.",
    no_args_is_help=True,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)


class State:
    url: str | None = None
    token: str | None = None
    home: Path = Path(".pier")


state = State()


@app.callback()
def _options(
    url: Annotated[
        str | None, typer.Option(help="Control plane URL [env PIER_URL; default from credentials]")
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="API token [env PIER_TOKEN; default from credentials]")
    ] = None,
    home: Annotated[
        Path, typer.Option(envvar="PIER_HOME", help="State directory holding `credentials`")
    ] = Path(".pier"),
) -> None:
    state.url, state.token, state.home = url, token, home


def _client() -> PierClient:
    return PierClient(resolve_config(state.url, state.token, state.home, default_environ()))


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def _run(fn):  # type: ignore[no-untyped-def]
    """Turn API and input errors into one red line and a non-zero exit code."""
    try:
        return fn()
    except ApiError as e:
        raise _fail(f"{e.message} (HTTP {e.status})") from None
    except Unreachable as e:
        raise _fail(str(e), 2) from None
    except PierError as e:
        raise _fail(e.message) from None


def _weights(w: dict[str, int]) -> str:
    return ", ".join(f"{v} {p}%" for v, p in sorted(w.items(), key=lambda x: -x[1])) or "-"


def _print_deployment(d: DeploymentPublic, verb: str) -> None:
    out.print(
        f"[green]✓[/] {verb} [bold]{d.model}[/]: {_weights(d.weights)} (revision {d.revision})"
    )


@app.command()
def push(
    config: Annotated[Path, typer.Argument(help="A pier.yaml describing the version")],
) -> None:
    """Register a model version from a pier.yaml and its artifact."""

    def go() -> None:
        manifest = load_manifest(config)
        size = manifest.artifact_path.stat().st_size
        progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=err,
            transient=True,
        )
        with _client() as client, progress:
            task = progress.add_task(f"uploading {manifest.artifact_path.name}", total=size)
            result = client.push(manifest, lambda n: progress.advance(task, n))
        v = result.version
        if result.created:
            out.print(
                f"[green]✓[/] pushed [bold]{v.model}@{v.version}[/] "
                f"({v.format}, {v.size:,} bytes, sha256 {v.sha256[:12]})"
            )
        else:
            out.print(
                f"[yellow]=[/] {v.model}@{v.version} already holds these bytes "
                f"(sha256 {v.sha256[:12]}); nothing new"
            )
        if manifest.scaling is not None:
            _apply_manifest_scaling(config, v.model, manifest.scaling.model_dump(mode="json"))

    _run(go)


def _apply_manifest_scaling(config: Path, model: str, scaling: dict[str, Any]) -> None:
    """pier.yaml's `scaling:` section becomes the model's settings (audited), once the model
    is deployed: scaling belongs to a deployment, so before the first deploy it waits."""
    with _client() as client:
        try:
            _print_scaling(client.set_scaling(model, scaling, reason=f"from {config.name}"))
        except ApiError as e:
            if e.status != 404:
                raise
            out.print(
                f"[yellow]![/] {model} is not deployed yet, so the scaling section of "
                f"{config.name} is not applied; after `pier deploy`, push again or use `pier scale`"
            )


def _wait_converged(client: PierClient, model: str, revision: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = client.status()
        for m in status.models:
            if m.model == model and m.converged and status.revision >= revision:
                out.print(f"[green]✓[/] every replica serves revision {revision}")
                return
        time.sleep(0.25)
    raise _fail(f"replicas did not reach revision {revision} within {timeout_s:.0f} s", 3)


WaitOpt = Annotated[
    bool, typer.Option("--wait/--no-wait", help="Wait until every replica serves the change")
]
ReasonOpt = Annotated[str, typer.Option(help="Why: kept in the audit log")]


@app.command()
def deploy(
    model: Annotated[str, typer.Argument(help="Model name")],
    version: Annotated[str, typer.Argument(help="Version label")],
    reason: ReasonOpt = "",
    wait: WaitOpt = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait")] = 120.0,
) -> None:
    """Send all of a model's traffic to one version."""

    def go() -> None:
        with _client() as client:
            d = client.deploy(model, version, reason)
            _print_deployment(d, "deployed")
            if wait:
                _wait_converged(client, model, d.revision, timeout)

    _run(go)


@app.command()
def split(
    model: Annotated[str, typer.Argument(help="Model name")],
    weights: Annotated[list[str], typer.Argument(help="VERSION=PERCENT ..., summing to 100")],
    reason: ReasonOpt = "",
    wait: WaitOpt = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait")] = 120.0,
) -> None:
    """Split a model's traffic between versions, e.g. `pier split iris v1=90 v2=10`."""

    def go() -> None:
        parsed: dict[str, int] = {}
        for item in weights:
            label, sep, pct = item.partition("=")
            if not sep or not pct.strip().isdigit():
                raise _fail(f"expected VERSION=PERCENT, got {item!r}")
            parsed[label.strip()] = int(pct)
        with _client() as client:
            d = client.split(model, parsed, reason)
            _print_deployment(d, "split")
            if wait:
                _wait_converged(client, model, d.revision, timeout)

    _run(go)


@app.command()
def rollback(
    model: Annotated[str, typer.Argument(help="Model name")],
    reason: ReasonOpt = "",
    wait: WaitOpt = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait")] = 120.0,
) -> None:
    """Go back to the previously deployed version(s) of a model."""

    def go() -> None:
        with _client() as client:
            d = client.rollback(model, reason)
            _print_deployment(d, "rolled back")
            if wait:
                _wait_converged(client, model, d.revision, timeout)

    _run(go)


@app.command()
def shadow(
    model: Annotated[str, typer.Argument(help="Model name")],
    version: Annotated[str | None, typer.Argument(help="Shadow version label")] = None,
    percent: Annotated[
        int | None, typer.Option(help="Percent 0-100 of requests mirrored to the version")
    ] = None,
    off: Annotated[
        bool, typer.Option("--off", help="Stop mirroring to the version (to every one if none)")
    ] = False,
    reason: ReasonOpt = "",
    wait: WaitOpt = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait")] = 120.0,
) -> None:
    """Mirror a share of a model's requests to a version whose answers are recorded and
    compared, never returned: `pier shadow iris v2 --percent 20`; `pier shadow iris --off`.
    Without a version or --off, show the shadow versions."""

    def go() -> None:
        with _client() as client:
            current = client.deployment(model)
            if version is None and not off:
                out.print(f"[bold]{model}[/] shadow: {_weights(current.shadow)}")
                return
            if not off and percent is None:
                raise _fail("give --percent 0-100 for the shadow version, or --off")
            wanted = dict(current.shadow)
            if off and version is None:
                wanted = {}
            elif off:
                wanted.pop(version or "", None)
            else:
                wanted[version or ""] = percent or 0
            d = client.set_shadow(model, wanted, reason)
            out.print(
                f"[green]✓[/] shadow [bold]{d.model}[/]: {_weights(d.shadow)} "
                f"(live: {_weights(d.weights)}; revision {d.revision})"
            )
            if wait:
                _wait_converged(client, model, d.revision, timeout)

    _run(go)


def _seconds(text: str) -> float:
    """'90', '90s', '5m', '1h' -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    t = text.strip().lower()
    factor = units.get(t[-1:], 0)
    number = t[:-1] if factor else t
    try:
        return float(number) * (factor or 1)
    except ValueError:
        raise _fail(f"expected a duration like 60s, 5m or 1h, got {text!r}") from None


def _print_canary(c: dict[str, Any]) -> None:
    colour = {"running": "cyan", "paused": "yellow", "promoted": "green"}.get(c["status"], "red")
    out.print(
        f"canary [bold]{c['model']}@{c['canary']}[/] vs {c['baseline']}: "
        f"[{colour}]{c['status']}[/] at {c['weight']} % "
        f"(steps {','.join(map(str, c['steps']))}, every {c['interval_s']:g} s)"
    )
    if c["last_reason"]:
        out.print(f"  {c['last_reason']}")


@app.command()
def canary(
    model: Annotated[str, typer.Argument(help="Model name")],
    version: Annotated[str | None, typer.Argument(help="Version to ramp up")] = None,
    steps: Annotated[str, typer.Option(help="Canary weights in %, rising to 100")] = "5,25,50,100",
    interval: Annotated[str, typer.Option(help="Time at each step: 60s, 5m, 1h")] = "60s",
    baseline: Annotated[
        str | None, typer.Option(help="Default: the version taking all traffic now")
    ] = None,
    max_error_rate_increase: Annotated[
        float, typer.Option(help="Allowed error-rate rise over the baseline, 0..1")
    ] = 0.01,
    max_p99_ratio: Annotated[float, typer.Option(help="Allowed p99 canary/baseline")] = 1.5,
    min_requests: Annotated[int, typer.Option(help="Requests a step needs to pass")] = 100,
    pause: Annotated[bool, typer.Option("--pause", help="Pause the canary in progress")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Resume a paused canary")] = False,
    abort: Annotated[
        bool, typer.Option("--abort", help="Abort it: all traffic back to the baseline")
    ] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Follow it until it ends")] = False,
    reason: ReasonOpt = "",
) -> None:
    """Ramp a version up step by step, rolled back at once when a gate fails:
    `pier canary iris v2 --steps 5,25,50,100 --interval 60s`. Without a version, show the
    model's canary; with --pause, --resume or --abort, steer it."""

    def go() -> None:
        with _client() as client:
            actions = [
                a for a, on in (("pause", pause), ("resume", resume), ("abort", abort)) if on
            ]
            if len(actions) > 1:
                raise _fail("choose one of --pause, --resume, --abort")
            if actions:
                c = client.control_canary(model, actions[0], reason)
            elif version is not None:
                try:
                    weights = [int(s) for s in steps.split(",") if s.strip()]
                except ValueError:
                    raise _fail(
                        f"--steps: expected percents like 5,25,50,100, got {steps!r}"
                    ) from None
                c = client.start_canary(
                    model,
                    {
                        "version": version,
                        "baseline": baseline,
                        "steps": weights,
                        "interval_s": _seconds(interval),
                        "gates": {
                            "max_error_rate_increase": max_error_rate_increase,
                            "max_p99_ratio": max_p99_ratio,
                            "min_requests": min_requests,
                        },
                        "reason": reason,
                    },
                )
            else:
                found = client.canaries(model, 1)
                if not found:
                    out.print(f"{model} has had no canary")
                    return
                c = found[0]
            _print_canary(c)
            last = c["last_reason"]
            while watch and c["status"] in ("running", "paused"):
                time.sleep(1)
                c = client.canaries(model, 1)[0]
                if c["last_reason"] != last:
                    last = c["last_reason"]
                    _print_canary(c)
            if watch and c["status"] in ("rolled_back", "aborted"):
                raise typer.Exit(4)

    _run(go)


def _print_scaling(s: ScalingPublic) -> None:
    c = s.scaling
    unit = "% CPU" if c.target_metric == "cpu" else f" {c.target_metric} per replica"
    source = "" if s.custom else " (defaults)"
    out.print(
        f"{s.model}: {c.min_replicas}-{c.max_replicas} replicas, target {c.target:g}{unit}; "
        f"windows up {c.scale_up.stabilization_window_s}s, "
        f"down {c.scale_down.stabilization_window_s}s{source}"
    )


@app.command()
def scale(
    model: Annotated[str, typer.Argument(help="Model name")],
    min_replicas: Annotated[int | None, typer.Option("--min", help="Fewest replicas")] = None,
    max_replicas: Annotated[int | None, typer.Option("--max", help="Most replicas")] = None,
    target_cpu: Annotated[
        int | None, typer.Option(help="Target average CPU use, % of the request")
    ] = None,
    target_inflight: Annotated[
        float | None, typer.Option(help="Target requests in flight per replica")
    ] = None,
    target_rps: Annotated[
        float | None, typer.Option(help="Target requests per second per replica")
    ] = None,
    up_window: Annotated[
        str | None, typer.Option(help="Scale-up stabilisation window: 0s, 30s, 1m")
    ] = None,
    down_window: Annotated[
        str | None, typer.Option(help="Scale-down stabilisation window: 5m, 300s")
    ] = None,
    reason: ReasonOpt = "",
) -> None:
    """Show a model's scaling settings, or change those given (the others are kept)."""
    targets = {"cpu": target_cpu, "inflight": target_inflight, "rps": target_rps}
    chosen = {k: v for k, v in targets.items() if v is not None}
    if len(chosen) > 1:
        raise _fail("give one target: --target-cpu, --target-inflight or --target-rps")

    def go() -> None:
        with _client() as client:
            current = client.scaling(model)
            changes: dict[str, Any] = {}
            if min_replicas is not None:
                changes["min_replicas"] = min_replicas
            if max_replicas is not None:
                changes["max_replicas"] = max_replicas
            for metric, value in chosen.items():
                changes["target_metric"] = metric
                if metric == "cpu":
                    changes["target_cpu_utilization"] = value
                    changes["target_value"] = None
                else:
                    changes["target_value"] = value
            body = current.scaling.model_dump(mode="json")
            body.update(changes)
            for key, window in (("scale_up", up_window), ("scale_down", down_window)):
                if window is not None:
                    body[key]["stabilization_window_s"] = round(_seconds(window))
            if not changes and up_window is None and down_window is None:
                _print_scaling(current)
                return
            _print_scaling(client.set_scaling(model, body, reason))

    _run(go)


@app.command()
def status() -> None:
    """What is deployed, with weights, and which replicas serve it."""

    def go() -> None:
        with _client() as client:
            s = client.status()
        table = Table(title=f"Deployments (revision {s.revision})")
        for col_name in ("model", "traffic", "replicas", "in sync"):
            table.add_column(col_name)
        for m in s.models:
            table.add_row(
                m.model,
                _weights(m.weights),
                ", ".join(r.url for r in m.replicas) or "-",
                "yes" if m.converged else "[yellow]rolling out[/]",
            )
        out.print(table if s.models else "nothing deployed yet: `pier deploy MODEL VERSION`")
        if s.replicas:
            rt = Table(title="Replicas")
            for col_name in ("replica", "url", "device", "revision", "loaded", "health"):
                rt.add_column(col_name)
            for r in s.replicas:
                health = "[green]ok[/]" if r.healthy else f"[red]{r.error or 'not seen'}[/]"
                loaded = ", ".join(r.loaded)
                rt.add_row(r.id, r.url, r.device or "-", str(r.revision), loaded, health)
            out.print(rt)
        if s.rollouts:
            ro = Table(title="Rollouts (Kubernetes)")
            for col_name in ("model", "state", "ready", "updated", "message"):
                ro.add_column(col_name)
            for rollout in s.rollouts:
                colour = {"complete": "green", "failed": "red"}.get(rollout.state, "yellow")
                detail = rollout.message + (f" ({rollout.reasons[0]})" if rollout.reasons else "")
                ro.add_row(
                    rollout.model,
                    f"[{colour}]{rollout.state}[/]",
                    f"{rollout.ready}/{rollout.desired}",
                    f"{rollout.updated}/{rollout.desired}",
                    detail,
                )
            out.print(ro)

    _run(go)


@app.command()
def models() -> None:
    """List registered models."""

    def go() -> None:
        with _client() as client:
            ms = client.models()
        table = Table(title="Models")
        for col_name in ("model", "versions", "latest", "deployed"):
            table.add_column(col_name)
        for m in ms:
            table.add_row(m.name, str(m.versions), m.latest or "-", _weights(m.deployment or {}))
        out.print(table if ms else "no models yet: `pier push examples/iris/pier.yaml`")

    _run(go)


@app.command()
def versions(model: Annotated[str, typer.Argument(help="Model name")]) -> None:
    """List a model's versions, newest first."""

    def go() -> None:
        with _client() as client:
            vs = client.versions(model)
        table = Table(title=f"Versions of {model}")
        for col_name in ("version", "created", "by", "sha256", "format", "size"):
            table.add_column(col_name)
        for v in vs:
            table.add_row(
                v.version,
                v.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                v.created_by,
                v.sha256[:12],
                v.format,
                f"{v.size:,}",
            )
        out.print(table)

    _run(go)


@app.command()
def audit(
    model: Annotated[str | None, typer.Option(help="Only this model")] = None,
    limit: Annotated[int, typer.Option(help="How many events")] = 30,
) -> None:
    """The audit log, newest first."""

    def go() -> None:
        with _client() as client:
            events = client.audit(model, limit)
        table = Table(title="Audit log")
        for col_name in ("when", "who", "action", "target", "before", "after", "why"):
            table.add_column(col_name)
        for e in events:
            table.add_row(
                e.at.strftime("%Y-%m-%d %H:%M:%S"),
                e.actor,
                e.action,
                e.target,
                str(e.before or ""),
                str(e.after or ""),
                e.reason,
            )
        out.print(table)

    _run(go)


@app.command()
def up() -> None:
    """Run the whole platform on this machine (what `make run` does)."""
    from control_plane.launcher.up import run_platform

    raise typer.Exit(run_platform())


@app.command()
def serve() -> None:
    """Run the control plane alone, as in a container (what the Helm chart runs)."""
    from control_plane.launcher.serve import serve_main

    raise typer.Exit(serve_main())


def main() -> None:
    app()
