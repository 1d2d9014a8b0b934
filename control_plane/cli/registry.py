"""`pier push | models | versions`: the registry from a shell or a CI job."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from control_plane.cli.app import (
    JsonOpt,
    ModelArg,
    app,
    client,
    err,
    out,
    print_json,
    run,
    table,
    weights_text,
    when,
)
from control_plane.cli.operations import print_scaling
from control_plane.pier_yaml import load_manifest


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
        with client() as c, progress:
            task = progress.add_task(f"uploading {manifest.artifact_path.name}", total=size)
            result = c.push(manifest, lambda n: progress.advance(task, n))
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
        if result.scaling is not None:
            print_scaling(result.scaling)
        elif manifest.scaling is not None:
            out.print(
                f"[yellow]![/] {v.model} is not deployed yet, so the scaling section of "
                f"{config.name} is not applied; after `pier deploy`, push again or use `pier scale`"
            )

    run(go)


@app.command()
def models(as_json: JsonOpt = False) -> None:
    """List registered models."""

    def go() -> None:
        with client() as c:
            ms = c.models()
        if as_json:
            print_json(ms)
            return
        rows = [
            (m.name, str(m.versions), m.latest or "-", weights_text(m.deployment or {})) for m in ms
        ]
        shown = table("Models", "model versions latest deployed", rows)
        out.print(shown if ms else "no models yet: `pier push examples/iris/pier.yaml`")

    run(go)


@app.command()
def versions(model: ModelArg, as_json: JsonOpt = False) -> None:
    """List a model's versions, newest first."""

    def go() -> None:
        with client() as c:
            vs = c.versions(model)
        if as_json:
            print_json(vs)
            return
        rows = [
            (v.version, when(v.created_at), v.created_by, v.sha256[:12], v.format, f"{v.size:,}")
            for v in vs
        ]
        out.print(table(f"Versions of {model}", "version created by sha256 format size", rows))

    run(go)
