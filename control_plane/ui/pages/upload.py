"""`/upload`: push a new version from the browser, with the CLI's validation and errors."""

from __future__ import annotations

import reflex as rx

from control_plane.ui.components.basics import ERROR, callout_if, muted, rich_callout
from control_plane.ui.components.layout import guarded_button, page, secondary_button
from control_plane.ui.pages.upload_state import UPLOAD_ID, UploadState

EXAMPLE = """# pier.yaml
model:
  name: "iris"
  version: "v2"         # optional
  artifact: "model.pt2" # beside this file
  inputs:  [{name: "features",
             dtype: "float32", shape: [-1, 4]}]
  outputs: [{name: "probabilities",
             dtype: "float32", shape: [-1, 3]}]
  metrics: {accuracy: 0.97}  # optional"""


def _has_files() -> rx.Var[bool]:
    return rx.selected_files(UPLOAD_ID).length() > 0


def _drop_zone() -> rx.Component:
    return rx.upload.root(
        rx.vstack(
            rx.icon("cloud-upload", size=36, color=rx.color("accent", 9)),
            rx.text("Drop a pier.yaml and its artifact here, or click to choose", weight="medium"),
            muted("…or one .zip / .tar.gz holding both."),
            align="center",
            spacing="2",
        ),
        id=UPLOAD_ID,
        multiple=True,
        max_files=8,
        disabled=UploadState.busy,
        border=f"2px dashed {rx.color('accent', 7)}",
        border_radius="12px",
        padding="2.5em",
        width="100%",
        background=rx.color("accent", 2),
        cursor="pointer",
    )


def _chosen() -> rx.Component:
    return rx.vstack(
        rx.foreach(
            rx.selected_files(UPLOAD_ID),
            lambda name: rx.hstack(rx.icon("file", size=14), rx.text(name, size="2")),
        ),
        spacing="1",
        id="chosen-files",
    )


def _pushed() -> rx.Component:
    """What the push registered, and where to deploy it."""
    return rich_callout(
        rx.icon("circle-check"),
        rx.text(UploadState.pushed_title, weight="bold"),
        rx.text(UploadState.pushed_detail, size="2"),
        rx.link("Open the model to deploy it →", href=UploadState.pushed_href),
        spacing="1",
        color_scheme="green",
        id="upload-result",
    )


def _status() -> rx.Component:
    progress = rx.progress(value=UploadState.progress, max=100, width="100%", id="upload-progress")
    return rx.vstack(
        rx.cond(
            UploadState.busy,
            rx.vstack(
                rx.text(UploadState.phase, size="2", id="upload-phase"), progress, width="100%"
            ),
        ),
        # One problem of the pier.yaml per line, as the CLI prints them.
        callout_if(
            UploadState.error, **ERROR, id="upload-error", width="100%", white_space="pre-line"
        ),
        rx.cond(UploadState.pushed_title, _pushed()),
        width="100%",
    )


def _push() -> rx.Component:
    return guarded_button(
        rx.icon("upload", size=14),
        "Push",
        allowed=UploadState.can_deploy & ~UploadState.busy & _has_files(),
        reason=rx.cond(
            UploadState.can_deploy,
            "Choose or drop a pier.yaml and its artifact first.",
            "Your role is viewer: pushing needs the deployer role.",
        ),
        on_click=UploadState.receive(  # type: ignore[misc]
            rx.upload_files_chunk(upload_id=UPLOAD_ID, on_upload_progress=UploadState.on_progress)
        ),
        id="push",
    )


def _chooser() -> rx.Component:
    clear = secondary_button(
        "Clear", on_click=rx.clear_selected_files(UPLOAD_ID), disabled=UploadState.busy
    )
    return rx.card(
        rx.vstack(
            _drop_zone(),
            _chosen(),
            rx.hstack(clear, _push(), justify="end", width="100%"),
            _status(),
            spacing="4",
            width="100%",
        ),
    )


def _help() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("What to upload", size="3"),
            rx.text(
                "The same files as `pier push`: a pier.yaml describing the version, and "
                "the artifact it names. The artifact is loaded and run once on the "
                "declared inputs before the version is registered; pickled modules are "
                "refused without being opened.",
                size="2",
            ),
            rx.code_block(EXAMPLE, language="yaml", width="100%"),
            spacing="3",
        ),
    )


def upload_page() -> rx.Component:
    return page(
        "Upload a version",
        rx.grid(_chooser(), _help(), columns="2", spacing="4", width="100%"),
        subtitle="Push a new immutable version of a model, then deploy it from the model's page.",
    )


def register(app: rx.App) -> None:
    app.add_page(upload_page, route="/upload", title="Upload · Pier", on_load=UploadState.load)
