"""`pier deploy | split | rollback | shadow | canary`: where a model's traffic goes."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from control_plane.cli.app import (
    CANARY_FAILED,
    JsonOpt,
    ModelArg,
    ReasonOpt,
    TimeoutOpt,
    WaitOpt,
    app,
    apply,
    change,
    client,
    deployed,
    fail,
    out,
    print_json,
    run,
    seconds,
    weights_text,
)
from control_plane.cli.client import PierClient
from control_plane.schemas import DeploymentPublic


@app.command()
def deploy(
    model: ModelArg,
    version: Annotated[str, typer.Argument(help="Version label")],
    reason: ReasonOpt = "",
    wait: WaitOpt = True,
    timeout: TimeoutOpt = 120.0,
) -> None:
    """Send all of a model's traffic to one version."""
    describe = deployed("deployed")
    apply(lambda c: c.deploy(model, version, reason), describe, wait=wait, timeout=timeout)


@app.command()
def split(
    model: ModelArg,
    weights: Annotated[list[str], typer.Argument(help="VERSION=PERCENT ..., summing to 100")],
    reason: ReasonOpt = "",
    wait: WaitOpt = True,
    timeout: TimeoutOpt = 120.0,
) -> None:
    """Split a model's traffic between versions, e.g. `pier split iris v1=90 v2=10`."""
    parsed: dict[str, int] = {}
    for item in weights:
        label, sep, pct = item.partition("=")
        if not sep or not pct.strip().isdigit():
            raise fail(f"expected VERSION=PERCENT, got {item!r}")
        parsed[label.strip()] = int(pct)
    describe = deployed("split")
    apply(lambda c: c.split(model, parsed, reason), describe, wait=wait, timeout=timeout)


@app.command()
def rollback(
    model: ModelArg, reason: ReasonOpt = "", wait: WaitOpt = True, timeout: TimeoutOpt = 120.0
) -> None:
    """Go back to the previously deployed version(s) of a model."""
    describe = deployed("rolled back")
    apply(lambda c: c.rollback(model, reason), describe, wait=wait, timeout=timeout)


def _shadowed(d: DeploymentPublic) -> str:
    return (
        f"shadow [bold]{d.model}[/]: {weights_text(d.shadow)} "
        f"(live: {weights_text(d.weights)}; revision {d.revision})"
    )


@app.command()
def shadow(
    model: ModelArg,
    version: Annotated[str | None, typer.Argument(help="Shadow version label")] = None,
    percent: Annotated[
        int | None, typer.Option(help="Percent 0-100 of requests mirrored to the version")
    ] = None,
    off: Annotated[
        bool, typer.Option("--off", help="Stop mirroring to the version (to every one if none)")
    ] = False,
    reason: ReasonOpt = "",
    wait: WaitOpt = True,
    timeout: TimeoutOpt = 120.0,
    as_json: JsonOpt = False,
) -> None:
    """Mirror a share of a model's requests to a version whose answers are recorded and
    compared, never returned: `pier shadow iris v2 --percent 20`; `pier shadow iris --off`.
    Without a version or --off, show the shadow versions."""

    def go() -> None:
        with client() as c:
            current = c.deployment(model)
            if version is None and not off:
                if as_json:
                    print_json({"model": model, "shadow": current.shadow})
                else:
                    out.print(f"[bold]{model}[/] shadow: {weights_text(current.shadow)}")
                return
            if not off and percent is None:
                raise fail("give --percent 0-100 for the shadow version, or --off")
            wanted = dict(current.shadow)
            if off and version is None:
                wanted = {}
            elif off:
                wanted.pop(version or "", None)
            else:
                wanted[version or ""] = percent or 0
            d = c.set_shadow(model, wanted, reason)
            change(c, d, _shadowed, wait=wait, timeout=timeout)

    run(go)


def _print_canary(c: dict[str, Any]) -> None:
    colour = {"running": "cyan", "paused": "yellow", "promoted": "green"}.get(c["status"], "red")
    out.print(
        f"canary [bold]{c['model']}@{c['canary']}[/] vs {c['baseline']}: "
        f"[{colour}]{c['status']}[/] at {c['weight']} % "
        f"(steps {','.join(map(str, c['steps']))}, every {c['interval_s']:g} s)"
    )
    if c["last_reason"]:
        out.print(f"  {c['last_reason']}")


def _start_canary(
    c: PierClient, model: str, version: str, steps: str, interval: str, **fields: Any
) -> dict[str, Any]:
    try:
        weights = [int(s) for s in steps.split(",") if s.strip()]
    except ValueError:
        raise fail(f"--steps: expected percents like 5,25,50,100, got {steps!r}") from None
    names = ("max_error_rate_increase", "max_p99_ratio", "max_p99_increase_ms", "min_requests")
    gates = {k: fields.pop(k) for k in names}
    body = {"version": version, "steps": weights, "interval_s": seconds(interval), "gates": gates}
    return c.start_canary(model, {**body, **fields})


@app.command()
def canary(
    model: ModelArg,
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
    max_p99_increase_ms: Annotated[
        float, typer.Option(help="And allowed p99 rise in ms: latency fails beyond both")
    ] = 5.0,
    min_requests: Annotated[int, typer.Option(help="Requests a step needs to pass")] = 100,
    pause: Annotated[bool, typer.Option("--pause", help="Pause the canary in progress")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Resume a paused canary")] = False,
    abort: Annotated[
        bool, typer.Option("--abort", help="Abort it: all traffic back to the baseline")
    ] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Follow it until it ends")] = False,
    reason: ReasonOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Ramp a version up step by step, rolled back at once when a gate fails:
    `pier canary iris v2 --steps 5,25,50,100 --interval 60s`. Without a version, show the
    model's canary; with --pause, --resume or --abort, steer it."""

    def go() -> None:
        with client() as c:
            actions = [
                a for a, on in (("pause", pause), ("resume", resume), ("abort", abort)) if on
            ]
            if len(actions) > 1:
                raise fail("choose one of --pause, --resume, --abort")
            if actions:
                found = c.control_canary(model, actions[0], reason)
            elif version is not None:
                found = _start_canary(
                    c,
                    model,
                    version,
                    steps,
                    interval,
                    baseline=baseline,
                    reason=reason,
                    max_error_rate_increase=max_error_rate_increase,
                    max_p99_ratio=max_p99_ratio,
                    max_p99_increase_ms=max_p99_increase_ms,
                    min_requests=min_requests,
                )
            else:
                latest = c.canaries(model, 1)
                if not latest:
                    if as_json:
                        print_json(None)
                    else:
                        out.print(f"{model} has had no canary")
                    return
                found = latest[0]
            if not as_json:
                _print_canary(found)
            last = found["last_reason"]
            while watch and found["status"] in ("running", "paused"):
                time.sleep(1)
                found = c.canaries(model, 1)[0]
                if found["last_reason"] != last and not as_json:
                    _print_canary(found)
                last = found["last_reason"]
            if as_json:
                print_json(found)
            if watch and found["status"] in ("rolled_back", "aborted"):
                raise typer.Exit(CANARY_FAILED)

    run(go)
