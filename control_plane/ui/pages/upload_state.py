"""State of the upload page: receive the files as a stream, then push them as `pier push` does."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import IO, Any

import reflex as rx
from sqlmodel import Session

from control_plane.composition import Platform
from control_plane.errors import InvalidRequest, PayloadTooLarge
from control_plane.schemas import Principal, PushResult, Role
from control_plane.services import auth, bundles, push
from control_plane.ui import calls, context
from control_plane.ui.session_state import SessionState

UPLOAD_ID = "bundle"
MAX_FILES = 8


def upload_name(filename: str) -> str:
    """The bare name of an uploaded file: no directories, nothing that climbs out."""
    name = PurePosixPath(filename.replace("\\", "/")).name
    if name in ("", ".", ".."):
        raise InvalidRequest(f"cannot accept a file named {filename!r}")
    return name


def _may_push(ctx: Platform, token: str) -> None:
    calls.run_as(ctx, token, lambda _s, p: auth.require(p, Role.deployer))


def _push(ctx: Platform, token: str, root: Path) -> PushResult:
    def work(session: Session, principal: Principal) -> PushResult:
        return push.push_upload(session, ctx.artifacts, principal, root)

    return calls.run_as(ctx, token, work)


class UploadState(SessionState):
    progress: int = 0
    phase: str = ""
    error: str = ""
    pushed_title: str = ""
    pushed_detail: str = ""
    pushed_href: str = ""

    @rx.var
    def busy(self) -> bool:
        return self.phase != ""

    @rx.event
    async def load(self) -> Any:
        self.progress, self.phase, self.error = 0, "", ""
        self.pushed_title = self.pushed_detail = self.pushed_href = ""
        return await self._gate()

    @rx.event
    def on_progress(self, prog: dict[str, Any]) -> None:
        self.progress = round(float(prog.get("progress", 0)) * 100)

    @rx.event(background=True)
    async def receive(self, chunks: rx.UploadChunkIterator) -> Any:
        """Write the streamed files to a private directory, then push them."""
        ctx = context.get()
        async with self:
            caller = self._caller()
            self.phase, self.error, self.progress = "Uploading…", "", 0
            self.pushed_title = self.pushed_detail = self.pushed_href = ""
        uploads = ctx.settings.home / "uploads"
        uploads.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix="upload-", dir=uploads))
        try:
            result = await caller.attempt(
                self._upload(ctx, caller.token, chunks, root), "pushing the version"
            )
        finally:
            await asyncio.to_thread(shutil.rmtree, root, True)
        if isinstance(result, calls.Failure):
            async with self:
                self.phase = ""
                self.error = result.message
            yield result.effect
            return
        v = result.version
        async with self:
            self.phase = ""
            self.pushed_href = f"/models/{v.model}"
            if result.created:
                self.pushed_title = f"Pushed {v.model}@{v.version}"
            else:
                self.pushed_title = f"{v.model}@{v.version} already holds these bytes"
            self.pushed_detail = f"{v.format}, {v.size:,} bytes, sha256 {v.sha256[:12]}"
            message = self.pushed_title
        yield rx.clear_selected_files(UPLOAD_ID)
        yield rx.toast.success(message)

    async def _upload(
        self, ctx: Platform, token: str, chunks: rx.UploadChunkIterator, root: Path
    ) -> PushResult:
        """May this user push? Then the files to `root`, then the push; raises what failed."""
        await asyncio.to_thread(_may_push, ctx, token)
        await self._write(chunks, root, ctx.settings.max_artifact_bytes)
        async with self:
            self.progress = 100
            self.phase = "Checking the artifact: loading it and running it once…"
        return await asyncio.to_thread(_push, ctx, token, root)

    @staticmethod
    async def _write(chunks: rx.UploadChunkIterator, root: Path, max_bytes: int) -> None:
        limit = max_bytes + bundles.MANIFEST_SLACK_BYTES
        files: dict[str, IO[bytes]] = {}
        received = 0
        try:
            async for chunk in chunks:
                name = upload_name(chunk.filename)
                out = files.get(name)
                if out is None:
                    if len(files) >= MAX_FILES:
                        raise InvalidRequest(
                            f"at most {MAX_FILES} files at once; {bundles.EXPECTED}"
                        )
                    out = files[name] = (root / name).open("wb")
                received += len(chunk.data)
                if received > limit:
                    raise PayloadTooLarge(
                        f"the upload is larger than the limit of {max_bytes} bytes"
                    )
                out.seek(chunk.offset)
                out.write(chunk.data)
        finally:
            for out in files.values():
                out.close()
        if not files:
            raise InvalidRequest(f"no file arrived; {bundles.EXPECTED}")
