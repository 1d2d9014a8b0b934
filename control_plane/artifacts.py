"""The content-addressed artifact store, and the check that an artifact loads and answers.

The check runs `python -m inference.models.check` in a child process: the control plane
never imports torch, and a misbehaving artifact stays out of its process.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from control_plane.errors import ArtifactRejected, NotFound, PayloadTooLarge
from control_plane.schemas import SHA256_RE, TensorSpec

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredArtifact:
    sha256: str
    size: int
    created: bool


class ArtifactStore:
    """Files named by the sha256 of their bytes: identical uploads are stored once."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        if not SHA256_RE.match(sha256):
            raise NotFound(f"no artifact {sha256!r}: expected 64 lowercase hex digits")
        return self.root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def size(self, sha256: str) -> int:
        p = self.path(sha256)
        if not p.is_file():
            raise NotFound(f"no artifact with sha256 {sha256}")
        return p.stat().st_size

    def iter_bytes(self, sha256: str) -> Iterator[bytes]:
        p = self.path(sha256)
        if not p.is_file():
            raise NotFound(f"no artifact with sha256 {sha256}")
        with p.open("rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk

    async def ingest(self, chunks: AsyncIterator[bytes], max_bytes: int) -> StoredArtifact:
        """Store a stream, hashing as it arrives; refuse it once it passes `max_bytes`."""
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise PayloadTooLarge(
                            f"artifact is larger than the limit of {max_bytes} bytes"
                        )
                    digest.update(chunk)
                    out.write(chunk)
            if size == 0:
                raise ArtifactRejected("the artifact is empty")
            sha = digest.hexdigest()
            final = self.path(sha)
            if final.is_file():
                return StoredArtifact(sha, size, created=False)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            return StoredArtifact(sha, size, created=True)
        finally:
            tmp.unlink(missing_ok=True)

    def ingest_file(self, path: Path, max_bytes: int) -> StoredArtifact:
        """Store a file from this machine (a pushed bundle, the bundled example)."""

        async def chunks() -> AsyncIterator[bytes]:
            with path.open("rb") as f:
                while chunk := f.read(CHUNK):
                    yield chunk

        return asyncio.run(self.ingest(chunks(), max_bytes))


@dataclass(frozen=True)
class CheckResult:
    format: str


class ArtifactChecker:
    """Runs `inference.models.check` on a stored artifact: format, loading, one forward pass."""

    def __init__(self, python: str = "", timeout_s: float = 120.0) -> None:
        self.python = python or sys.executable
        self.timeout_s = timeout_s

    def check(self, path: Path, inputs: list[TensorSpec], outputs: list[TensorSpec]) -> CheckResult:
        cmd = [
            self.python,
            "-m",
            "inference.models.check",
            "--artifact",
            str(path),
            "--inputs",
            json.dumps([s.stored() for s in inputs]),
            "--outputs",
            "-",  # on stdin: a classifier's labels can outgrow a command-line argument
        ]
        try:
            proc = subprocess.run(
                cmd,
                input=json.dumps([s.stored() for s in outputs]),
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as e:
            raise ArtifactRejected(
                f"the artifact did not load and answer within {self.timeout_s:.0f} s"
            ) from e
        try:
            answer = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError) as e:
            raise ArtifactRejected(
                f"the artifact check failed: {proc.stderr.strip()[-500:] or 'no output'}"
            ) from e
        if proc.returncode != 0 or not answer.get("ok"):
            raise ArtifactRejected(str(answer.get("error", "the artifact was refused")))
        return CheckResult(format=str(answer["format"]))


@dataclass(frozen=True)
class Artifacts:
    """What a push needs of artifacts: the store, its size limit, and the check."""

    store: ArtifactStore
    checker: ArtifactChecker
    max_bytes: int
