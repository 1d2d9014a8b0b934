"""`/models/<name>`: versions, deploy / canary / promote / roll back, the split, live charts,
experiment verdicts and the progressive canary's timeline."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from control_plane.ui.components.layout import empty_state, guarded_button, loading, page
from control_plane.ui.components.versions import chip, swatch, version_label
from control_plane.ui.pages.model_state import ModelState
from control_plane.ui.panels.experiment import canary_inputs, canary_panel, experiment_panel
from control_plane.ui.panels.scaling import scaling_panel
from control_plane.ui.panels.shadow import shadow_panel
from control_plane.ui.views.catalog import ShareRow, VersionRow
from control_plane.ui.views.charts import RANGES

VIEWER_REASON = "Your role is viewer: you can look, not change. An admin can make you a deployer."
_COLUMNS = (
    "Version",
    "Created",
    "By",
    "SHA-256",
    "Format",
    "Size",
    "Inputs → outputs",
    "Training metrics",
    "Traffic",
    "",
)


def _header() -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.hstack(
                rx.link(rx.icon("arrow-left", size=18), href="/", color=rx.color("gray", 10)),
                rx.heading(ModelState.model, size="7", id="page-title"),
                rx.badge(
                    ModelState.health,
                    color_scheme=ModelState.health_color,
                    variant="soft",
                    size="2",
                    id="health",
                    title=ModelState.health_reason,
                ),
                align="center",
                spacing="3",
            ),
            rx.hstack(
                rx.text("Serving:", size="2", color_scheme="gray"),
                rx.cond(
                    ModelState.deployed.length() > 0,
                    rx.flex(rx.foreach(ModelState.deployed, chip), gap="1", id="deployed"),
                    rx.text("nothing yet: deploy a version below", size="2", id="deployed"),
                ),
                rx.text(ModelState.health_reason, size="1", color_scheme="gray"),
                align="center",
                spacing="2",
            ),
            rx.cond(
                ModelState.cluster_rollout,
                rx.text(ModelState.cluster_rollout, size="1", color_scheme="gray", id="cluster"),
            ),
            spacing="1",
        ),
        rx.spacer(),
        rx.link(
            rx.button(rx.icon("history", size=14), "Activity", variant="soft", color_scheme="gray"),
            href="/activity?model=" + ModelState.model,
        ),
        guarded_button(
            rx.icon("undo-2", size=14),
            "Roll back",
            allowed=ModelState.can_deploy & (ModelState.rollback_to != "") & ~ModelState.busy,
            reason=rx.cond(
                ModelState.can_deploy,
                "Nothing to roll back to yet, or a change is being applied",
                VIEWER_REASON,
            ),
            on_click=ModelState.ask_rollback,
            color_scheme="orange",
            variant="soft",
            id="rollback",
            title=rx.cond(
                ModelState.rollback_to != "",
                "Back to " + ModelState.rollback_to,
                "Nothing to roll back to yet",
            ),
        ),
        width="100%",
        align="start",
    )


def _progress() -> rx.Component:
    return rx.cond(
        ModelState.busy,
        rx.callout.root(
            rx.callout.icon(rx.spinner(size="2")),
            rx.vstack(
                rx.text(ModelState.progress_text, size="2", id="progress-text"),
                rx.progress(value=ModelState.progress_value, max=100, width="320px"),
                spacing="2",
            ),
            color_scheme="blue",
            id="progress",
            width="100%",
        ),
    )


def _chart(figure: rx.Var, chart_id: str) -> rx.Component:
    return rx.box(
        rx.plotly(
            data=figure,
            id=chart_id,
            use_resize_handler=True,
            config={"displayModeBar": False, "responsive": True},
            style={"width": "100%", "height": "280px"},
        ),
        min_width="0",
        width="100%",
    )


def _charts() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Live traffic", size="4"),
                rx.spacer(),
                rx.segmented_control.root(
                    *(rx.segmented_control.item(r.label, value=r.key) for r in RANGES),
                    value=ModelState.range_key,
                    on_change=ModelState.set_range,
                    id="range",
                ),
                width="100%",
                align="center",
            ),
            rx.cond(
                ModelState.metrics_note,
                rx.callout(ModelState.metrics_note, icon="info", color_scheme="gray", size="1"),
            ),
            rx.grid(
                _chart(ModelState.latency_chart, "chart-latency"),
                _chart(ModelState.rps_chart, "chart-rps"),
                _chart(ModelState.replicas_chart, "chart-replicas"),
                columns="3",
                spacing="3",
                width="100%",
            ),
            rx.grid(
                _chart(ModelState.error_chart, "chart-errors"),
                _chart(ModelState.accuracy_chart, "chart-accuracy"),
                _error_types(),
                _replicas(),
                columns="4",
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
        width="100%",
        id="charts",
    )


def _small_table(
    title: str,
    headers: tuple[str, ...],
    body: rx.Component,
    empty: str,
    has_rows: rx.Var,
    table_id: str,
) -> rx.Component:
    return rx.box(
        rx.text(title, weight="medium", size="2"),
        rx.cond(
            has_rows,
            rx.table.root(
                rx.table.header(rx.table.row(*(rx.table.column_header_cell(h) for h in headers))),
                rx.table.body(body),
                size="1",
                width="100%",
            ),
            rx.text(empty, size="1", color_scheme="gray"),
        ),
        id=table_id,
        min_width="0",
    )


def _error_types() -> rx.Component:
    return _small_table(
        "Errors by type (window)",
        ("Version", "Type", "Count"),
        rx.foreach(
            ModelState.error_types,
            lambda r: rx.table.row(
                rx.table.cell(version_label(r.version, r.color)),
                rx.table.cell(rx.code(r.type, size="1")),
                rx.table.cell(r.count),
            ),
        ),
        "No errors in this window.",
        ModelState.error_types.length() > 0,
        "error-types",
    )


def _replicas() -> rx.Component:
    return _small_table(
        "Replicas: CPU and memory",
        ("Replica", "CPU", "Memory"),
        rx.foreach(
            ModelState.replica_usage,
            lambda r: rx.table.row(
                rx.table.cell(rx.text(r.replica, size="1")),
                rx.table.cell(r.cpu),
                rx.table.cell(r.memory),
            ),
        ),
        "No replica reported yet.",
        ModelState.replica_usage.length() > 0,
        "replica-usage",
    )


def _version_row(v: ObjectVar[VersionRow]) -> rx.Component:
    allowed = ModelState.can_deploy & ~ModelState.busy
    return rx.table.row(
        rx.table.row_header_cell(version_label(v.version, v.color)),
        rx.table.cell(v.created_at, white_space="nowrap"),
        rx.table.cell(v.created_by),
        rx.table.cell(rx.code(v.short_sha, size="1"), title=v.sha256),
        rx.table.cell(v.format),
        rx.table.cell(v.size, white_space="nowrap"),
        rx.table.cell(rx.text(v.inputs, " → ", v.outputs, size="1")),
        rx.table.cell(rx.text(v.metrics, size="1")),
        rx.table.cell(rx.text(v.traffic, weight="bold")),
        rx.table.cell(
            rx.hstack(
                guarded_button(
                    "Deploy",
                    allowed=allowed & (v.weight != 100),
                    reason=VIEWER_REASON,
                    size="1",
                    on_click=ModelState.ask_deploy(v.version),  # type: ignore[operator]
                    id=f"deploy-{v.version}",
                ),
                guarded_button(
                    "Canary…",
                    allowed=allowed & (v.weight == 0) & (ModelState.weights.length() > 0),  # type: ignore[attr-defined]
                    reason=VIEWER_REASON,
                    size="1",
                    variant="soft",
                    on_click=ModelState.ask_canary(v.version),  # type: ignore[operator]
                    id=f"canary-{v.version}",
                ),
                rx.cond(
                    (v.weight > 0) & (v.weight < 100),  # type: ignore[operator]
                    guarded_button(
                        "Promote",
                        allowed=allowed,
                        reason=VIEWER_REASON,
                        size="1",
                        variant="soft",
                        color_scheme="green",
                        on_click=ModelState.ask_promote(v.version),  # type: ignore[operator]
                        id=f"promote-{v.version}",
                    ),
                ),
                spacing="2",
            )
        ),
        align="center",
        id=f"version-{v.version}",
    )


def _versions() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Versions", size="4"),
                rx.text(ModelState.vtotal, " in all, newest first", size="2", color_scheme="gray"),
                align="baseline",
                spacing="3",
            ),
            rx.box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(*(rx.table.column_header_cell(c) for c in _COLUMNS))
                    ),
                    rx.table.body(rx.foreach(ModelState.versions, _version_row)),
                    size="1",
                    width="100%",
                    id="versions",
                ),
                overflow_x="auto",
                width="100%",
            ),
            rx.hstack(
                rx.text(
                    "Page ",
                    ModelState.vpage + 1,
                    " of ",
                    ModelState.vpages,
                    size="1",
                    color_scheme="gray",
                ),
                rx.spacer(),
                rx.button(
                    "Newer",
                    size="1",
                    variant="soft",
                    disabled=ModelState.vpage == 0,
                    on_click=ModelState.previous_versions,
                ),
                rx.button(
                    "Older",
                    size="1",
                    variant="soft",
                    disabled=ModelState.vpage + 1 >= ModelState.vpages,
                    on_click=ModelState.next_versions,
                ),
                width="100%",
            ),
            width="100%",
        ),
        width="100%",
    )


def _bar(rows: rx.Var[list[ShareRow]], before: bool) -> rx.Component:
    def segment(r: ObjectVar[ShareRow]) -> rx.Component:
        share = r.before if before else r.weight
        return rx.box(
            rx.text(r.version, " ", share, "%", size="1", color="white", padding_x="4px"),
            width=share.to_string() + "%",
            background=r.color,
            height="22px",
            overflow="hidden",
            white_space="nowrap",
            display=rx.cond(share > 0, "block", "none"),  # type: ignore[operator]
        )

    return rx.hstack(
        rx.foreach(rows, segment),
        spacing="0",
        width="100%",
        border_radius="6px",
        overflow="hidden",
        background=rx.color("gray", 4),
    )


def _share_row(r: ObjectVar[ShareRow]) -> rx.Component:
    editable = ModelState.can_deploy & ~ModelState.busy
    return rx.hstack(
        rx.box(version_label(r.version, r.color), width="140px"),
        rx.slider(
            value=[r.weight],
            min=0,
            max=100,
            step=1,
            on_value_commit=lambda value: ModelState.edit_share(r.version, value),  # type: ignore[operator]
            disabled=~editable,
            width="260px",
        ),
        rx.input(
            value=r.weight.to_string(),
            type="number",
            min=0,
            max=100,
            on_change=lambda value: ModelState.edit_share(r.version, value),  # type: ignore[operator]
            disabled=~editable,
            width="80px",
            id=f"share-{r.version}",
        ),
        rx.text("%  (now ", r.before, "%)", size="2", color_scheme="gray"),
        rx.icon_button(
            rx.icon("x", size=14),
            variant="ghost",
            size="1",
            on_click=ModelState.remove_from_split(r.version),  # type: ignore[operator]
            disabled=~editable,
            title="Remove from the split",
        ),
        align="center",
        spacing="3",
    )


def _split_editor() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Traffic split", size="4"),
                rx.text(
                    "Shares are whole percents; changing one moves the difference to the others.",
                    size="2",
                    color_scheme="gray",
                ),
                align="baseline",
                spacing="3",
            ),
            rx.cond(
                ModelState.draft_rows.length() > 0,
                rx.vstack(rx.foreach(ModelState.draft_rows, _share_row), spacing="2"),
                rx.text("Deploy a version first; then split its traffic here.", size="2"),
            ),
            rx.hstack(
                rx.select(
                    ModelState.addable,
                    placeholder="Add a version to the split",
                    on_change=ModelState.add_to_split,
                    value="",
                    disabled=~ModelState.can_deploy | (ModelState.draft_rows.length() == 0),
                    size="1",
                    id="add-version",
                ),
                rx.text(
                    "Total ",
                    ModelState.draft_total,
                    "%",
                    size="2",
                    weight="bold",
                    color=rx.cond(ModelState.draft_total == 100, "inherit", rx.color("red", 11)),
                    id="split-total",
                ),
                rx.cond(
                    ModelState.draft_problem,
                    rx.text(
                        ModelState.draft_problem, size="2", color_scheme="red", id="split-problem"
                    ),
                ),
                align="center",
                spacing="3",
            ),
            rx.cond(
                ModelState.draft_changed,
                rx.vstack(
                    rx.text("Preview", size="2", weight="bold"),
                    rx.hstack(
                        rx.text("now", size="1", width="40px"),
                        _bar(ModelState.draft_rows, before=True),
                        width="100%",
                        align="center",
                    ),
                    rx.hstack(
                        rx.text("after", size="1", width="40px"),
                        _bar(ModelState.draft_rows, before=False),
                        width="100%",
                        align="center",
                    ),
                    width="100%",
                    id="split-preview",
                ),
            ),
            rx.hstack(
                rx.button(
                    "Reset",
                    variant="soft",
                    color_scheme="gray",
                    on_click=ModelState.reset_split,
                    disabled=~ModelState.draft_changed,
                ),
                guarded_button(
                    "Review and apply…",
                    allowed=ModelState.can_deploy
                    & ModelState.draft_changed
                    & (ModelState.draft_problem == "")
                    & ~ModelState.busy,
                    reason=VIEWER_REASON,
                    on_click=ModelState.ask_split,
                    id="apply-split",
                ),
                spacing="3",
            ),
            width="100%",
            spacing="3",
        ),
        width="100%",
    )


def _preview_row(r: ObjectVar[ShareRow]) -> rx.Component:
    return rx.hstack(
        swatch(r.color),
        rx.text(r.version, weight="medium", width="120px"),
        rx.text(r.before, "%", color_scheme="gray"),
        rx.icon("arrow-right", size=14),
        rx.text(r.weight, "%", weight="bold"),
        align="center",
        spacing="2",
    )


def _confirm_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(ModelState.pending_title),
            rx.dialog.description(
                rx.cond(
                    ModelState.pending_kind == "rollback",
                    "Traffic goes back to the previous split; its versions are still loaded.",
                    "Replicas load and warm every version before they switch; no request drops.",
                ),
                size="2",
            ),
            rx.vstack(
                rx.cond(ModelState.pending_kind == "canary", canary_inputs()),
                rx.vstack(rx.foreach(ModelState.pending_rows, _preview_row), id="pending-preview"),
                rx.cond(
                    ModelState.pending_problem,
                    rx.callout(ModelState.pending_problem, color_scheme="red", size="1"),
                ),
                rx.text("Why (kept in the activity log, optional)", size="2"),
                rx.text_area(
                    value=ModelState.reason,
                    on_change=ModelState.set_reason,
                    placeholder="e.g. v2 is 3 % more accurate offline",
                    width="100%",
                    id="reason",
                ),
                rx.hstack(
                    rx.button(
                        "Cancel", variant="soft", color_scheme="gray", on_click=ModelState.cancel
                    ),
                    rx.cond(
                        ModelState.pending_kind == "canary",
                        rx.button(
                            "Start the canary",
                            on_click=ModelState.start_canary,
                            disabled=ModelState.pending_problem != "",
                            id="confirm",
                        ),
                        rx.button(
                            "Confirm",
                            on_click=ModelState.confirm,
                            disabled=ModelState.pending_problem != "",
                            id="confirm",
                        ),
                    ),
                    justify="end",
                    width="100%",
                ),
                spacing="3",
                margin_top="1em",
                width="100%",
            ),
            max_width="520px",
        ),
        open=ModelState.pending_kind != "",
        on_open_change=lambda _open: ModelState.cancel(),  # type: ignore[operator]
    )


def _content() -> rx.Component:
    return rx.vstack(
        _header(),
        rx.cond(
            ModelState.error,
            rx.callout(ModelState.error, icon="triangle_alert", color_scheme="red", id="error"),
        ),
        _progress(),
        _charts(),
        rx.grid(_split_editor(), columns="1", width="100%"),
        _versions(),
        experiment_panel(),
        shadow_panel(VIEWER_REASON),
        canary_panel(VIEWER_REASON),
        scaling_panel(VIEWER_REASON),
        _confirm_dialog(),
        spacing="4",
        width="100%",
    )


def model_page() -> rx.Component:
    return page(
        rx.fragment(),
        rx.cond(
            ModelState.missing,
            empty_state(
                "search-x",
                "No such model",
                rx.text(ModelState.missing),
                rx.link("Back to the overview", href="/"),
                id="missing",
            ),
            rx.cond(ModelState.loaded, _content(), loading("Loading the model…")),
        ),
    )


def register(app: rx.App) -> None:
    app.add_page(
        model_page, route="/models/[model_name]", title="Model · Pier", on_load=ModelState.watch
    )
