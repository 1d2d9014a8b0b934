"""The model page's Try it card: pick a version, send it an image or JSON inputs, see the
answer, the version that gave it and the time; the same call as curl, Python and
tritonclient to copy. Any signed-in user may try: a prediction changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import reflex as rx
from sqlmodel import Session

from control_plane.composition import Platform
from control_plane.errors import Unauthenticated
from control_plane.schemas import Principal, VersionPublic
from control_plane.services import registry, replicas
from control_plane.ui import calls, context
from control_plane.ui.components.basics import ERROR, callout_if, muted, row
from control_plane.ui.components.card import card
from control_plane.ui.pages.model_state import ModelState
from control_plane.ui.setters import setter
from control_plane.ui.views import examples

IMAGE_ID = "try-image"
MEDIA = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


def _send(ctx: Platform, token: str, model: str, version: str, body: bytes, media: str) -> Any:
    if calls.whoami(ctx, token) is None:  # any role may try; a signed-out page may not
        raise Unauthenticated("sign in again to try a version")
    replica = replicas.pick_replica(
        ctx.replicas.all(), model, version, datetime.now(UTC), ctx.stale_after
    )
    return replicas.send(replica, model, version, body, media)


class TryState(ModelState):
    try_version: str = ""
    try_inputs: str = ""
    try_image: bool = False
    try_examples: dict[str, str] = {}
    try_status: int = 0
    try_answer: str = ""
    try_served: str = ""
    try_error: str = ""
    try_busy: bool = False
    set_try_inputs = setter("try_inputs")

    @rx.var
    def try_verdict(self) -> str:
        if not self.try_status:
            return ""
        return f"HTTP {self.try_status} · {self.try_served}"

    @rx.event(background=True)
    async def choose(self, version: str) -> Any:
        """Show `version`'s inputs and example calls."""
        async with self:
            caller, model = self._caller(), self.model
            self.try_version, self.try_error, self.try_status = version, "", 0

        def read(session: Session, _p: Principal) -> VersionPublic:
            return registry.get_version(session, model, version)

        spec = await caller.call(read, f"reading {model}@{version}")
        if isinstance(spec, calls.Failure):
            yield spec.effect
            return
        url = context.settings().inference_url
        async with self:
            self.try_image = examples.takes_image(spec.inputs)
            self.try_inputs = examples.sample_inputs(spec.inputs)
            self.try_examples = examples.examples(url, model, version, spec.inputs)

    @rx.event(background=True)
    async def prepare(self) -> Any:
        """The version with the largest share, or the newest, when the card first shows."""
        async with self:
            if self.try_version or not self.labels:
                return
            served = sorted(self.weights.items(), key=lambda vw: -vw[1])
            version = served[0][0] if served and served[0][1] > 0 else self.labels[0]
        yield TryState.choose(version)  # type: ignore[misc]

    async def _run(self, body: bytes, media: str) -> None:
        async with self:
            caller, model, version = self._caller(), self.model, self.try_version
            self.try_busy, self.try_error = True, ""
        answer = await caller.run(
            lambda ctx, token: _send(ctx, token, model, version, body, media),
            f"trying {model}@{version}",
        )
        async with self:
            self.try_busy = False
            if isinstance(answer, calls.Failure):
                self.try_error, self.try_status, self.try_answer = answer.message, 0, ""
                return
            self.try_status, self.try_answer = answer.status, answer.body
            served = f"answered by {answer.version}" if answer.version else "no version answered"
            self.try_served = f"{served} in {answer.latency_ms:.1f} ms (round trip)"

    @rx.event(background=True)
    async def send_json(self) -> Any:
        async with self:
            model, version, text = self.model, self.try_version, self.try_inputs
        try:
            body = replicas.json_body(model, version, text)
        except Exception as e:  # InvalidRequest: shown beside the inputs
            async with self:
                self.try_error = calls.describe(e, "reading the inputs")
            return
        await self._run(body, "application/json")

    @rx.event(background=True)
    async def send_image(self, chunks: rx.UploadChunkIterator) -> Any:
        data, name = bytearray(), ""
        async for chunk in chunks:
            name = chunk.filename
            data += chunk.data
            if len(data) > replicas.MAX_IMAGE_BYTES:
                async with self:
                    self.try_error = f"The image is over {replicas.MAX_IMAGE_BYTES:,} bytes."
                return
        if not data:
            async with self:
                self.try_error = "Choose an image first."
            return
        suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
        await self._run(bytes(data), MEDIA.get(suffix, "image/jpeg"))


def _inputs() -> rx.Component:
    image = rx.vstack(
        rx.upload.root(
            rx.text("Drop a JPEG, PNG or WebP here, or click to choose", size="2"),
            id=IMAGE_ID,
            max_files=1,
            accept={
                "image/jpeg": [".jpg", ".jpeg"],
                "image/png": [".png"],
                "image/webp": [".webp"],
            },
            border=f"1px dashed {rx.color('accent', 7)}",
            border_radius="8px",
            padding="1em",
            width="100%",
        ),
        rx.foreach(rx.selected_files(IMAGE_ID), lambda f: muted(f, id="try-chosen")),
        rx.button(
            "Send image",
            on_click=TryState.send_image(rx.upload_files_chunk(upload_id=IMAGE_ID)),  # type: ignore[misc]
            loading=TryState.try_busy,
            id="try-send-image",
        ),
        width="100%",
    )
    text = rx.vstack(
        rx.text_area(
            value=TryState.try_inputs,
            on_change=TryState.set_try_inputs,
            font_family="monospace",
            rows="6",
            width="100%",
            id="try-inputs",
        ),
        rx.button("Send", on_click=TryState.send_json, loading=TryState.try_busy, id="try-send"),
        width="100%",
    )
    return rx.cond(TryState.try_image, image, text)


def _answer() -> rx.Component:
    return rx.cond(
        TryState.try_status,
        rx.vstack(
            rx.badge(
                TryState.try_verdict,
                color_scheme=rx.cond(TryState.try_status == 200, "green", "red"),
                id="try-verdict",
            ),
            rx.code_block(
                TryState.try_answer,
                language="json",
                width="100%",
                max_height="280px",
                overflow="auto",
                id="try-answer",
            ),
            width="100%",
        ),
    )


def _examples() -> rx.Component:
    def tab(item: rx.Var[list[str]]) -> rx.Component:
        pair: Any = item
        return rx.tabs.content(
            rx.code_block(pair[1], can_copy=True, width="100%", language="bash"),
            value=pair[0],
        )

    return rx.tabs.root(
        rx.tabs.list(
            rx.foreach(TryState.try_examples, lambda p: rx.tabs.trigger(p[0], value=p[0]))
        ),
        rx.foreach(TryState.try_examples, tab),
        default_value="curl",
        width="100%",
        id="try-examples",
    )


def try_panel() -> rx.Component:
    version = rx.select(
        TryState.labels,
        value=TryState.try_version,
        on_change=TryState.choose,
        size="1",
        id="try-version",
    )
    return card(
        "Try it",
        "one prediction from a version, as your application would ask for it",
        row(muted("Version"), version),
        _inputs(),
        callout_if(TryState.try_error, **ERROR, id="try-error"),
        _answer(),
        _examples(),
        id="try",
        on_mount=TryState.prepare,
    )
