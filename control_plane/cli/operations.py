"""`pier scale | thresholds | status | audit | up | serve`: running the platform and
watching it."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from control_plane.cli.app import (
    JsonOpt,
    ModelArg,
    ReasonOpt,
    app,
    client,
    fail,
    out,
    print_json,
    run,
    seconds,
    table,
    weights_text,
    when,
)
from control_plane.schemas import ReplicaStatus, RolloutStatus, ScalingPublic, ThresholdsPublic


def print_scaling(s: ScalingPublic) -> None:
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
    model: ModelArg,
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
    as_json: JsonOpt = False,
) -> None:
    """Show a model's scaling settings, or change those given (the others are kept)."""
    shown = print_json if as_json else print_scaling
    targets = {"cpu": target_cpu, "inflight": target_inflight, "rps": target_rps}
    chosen = {k: v for k, v in targets.items() if v is not None}
    if len(chosen) > 1:
        raise fail("give one target: --target-cpu, --target-inflight or --target-rps")

    def go() -> None:
        with client() as c:
            current = c.scaling(model)
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
                    body[key]["stabilization_window_s"] = round(seconds(window))
            if not changes and up_window is None and down_window is None:
                shown(current)
                return
            shown(c.set_scaling(model, body, reason))

    run(go)


def print_thresholds(t: ThresholdsPublic) -> None:
    c = t.thresholds
    source = "" if t.custom else " (defaults)"
    out.print(
        f"{t.model}: a difference counts beyond latency {c.latency_pct:g} % and "
        f"{c.latency_ms:g} ms, accuracy {c.accuracy_points:g} points, error rate "
        f"{c.error_points:g} points{source}"
    )


@app.command()
def thresholds(
    model: ModelArg,
    latency_pct: Annotated[
        float | None, typer.Option(help="Latency: percent of the baseline's median")
    ] = None,
    latency_ms: Annotated[float | None, typer.Option(help="Latency: and milliseconds")] = None,
    accuracy_points: Annotated[
        float | None, typer.Option(help="Accuracy: percentage points")
    ] = None,
    error_points: Annotated[
        float | None, typer.Option(help="Error rate: percentage points")
    ] = None,
    reason: ReasonOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Show the smallest differences the model's experiments declare, or change those
    given (the others are kept)."""
    shown = print_json if as_json else print_thresholds
    given = {
        "latency_pct": latency_pct,
        "latency_ms": latency_ms,
        "accuracy_points": accuracy_points,
        "error_points": error_points,
    }
    changes = {k: v for k, v in given.items() if v is not None}

    def go() -> None:
        with client() as c:
            current = c.thresholds(model)
            if not changes:
                shown(current)
                return
            body = {**current.thresholds.model_dump(), **changes}
            shown(c.set_thresholds(model, body, reason))

    run(go)


def _health(r: ReplicaStatus) -> str:
    return "[green]ok[/]" if r.healthy else f"[red]{r.error or 'not seen'}[/]"


def _rollout_row(r: RolloutStatus) -> tuple[str, ...]:
    colour = {"complete": "green", "failed": "red"}.get(r.state, "yellow")
    detail = r.message + (f" ({r.reasons[0]})" if r.reasons else "")
    return (
        r.model,
        f"[{colour}]{r.state}[/]",
        f"{r.ready}/{r.desired}",
        f"{r.updated}/{r.desired}",
        detail,
    )


@app.command()
def status(as_json: JsonOpt = False) -> None:
    """What is deployed, with weights, and which replicas serve it."""

    def go() -> None:
        with client() as c:
            s = c.status()
        if as_json:
            print_json(s)
            return
        deployments = [
            (
                m.model,
                weights_text(m.weights),
                ", ".join(r.url for r in m.replicas) or "-",
                "yes" if m.converged else "[yellow]rolling out[/]",
            )
            for m in s.models
        ]
        title = f"Deployments (revision {s.revision})"
        shown = table(title, "model traffic replicas in_sync", deployments)
        out.print(shown if s.models else "nothing deployed yet: `pier deploy MODEL VERSION`")
        if s.replicas:
            replicas = [
                (r.id, r.url, r.device or "-", str(r.revision), ", ".join(r.loaded), _health(r))
                for r in s.replicas
            ]
            out.print(table("Replicas", "replica url device revision loaded health", replicas))
        if s.rollouts:
            rollouts = [_rollout_row(r) for r in s.rollouts]
            out.print(table("Rollouts (Kubernetes)", "model state ready updated message", rollouts))

    run(go)


def _changed(before: dict[str, Any] | None, after: dict[str, Any] | None) -> tuple[str, str]:
    return str(before or ""), str(after or "")


@app.command()
def audit(
    model: Annotated[str | None, typer.Option(help="Only this model")] = None,
    limit: Annotated[int, typer.Option(help="How many events")] = 30,
    as_json: JsonOpt = False,
) -> None:
    """The audit log, newest first."""

    def go() -> None:
        with client() as c:
            events = c.audit(model, limit)
        if as_json:
            print_json(events)
            return
        rows = [
            (when(e.at), e.actor, e.action, e.target, *_changed(e.before, e.after), e.reason)
            for e in events
        ]
        out.print(table("Audit log", "when who action target before after why", rows))

    run(go)


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
