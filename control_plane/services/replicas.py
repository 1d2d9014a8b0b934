"""Where models run: what each inference replica reported on its last routing poll; and one
prediction sent to a replica that has a version loaded (the dashboard's Try it), as an
application sends it, with the version that answered and the time it took."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from control_plane.errors import InvalidRequest
from control_plane.schemas import ReplicaReport


class ReplicaBook:
    """In-process record of replicas. One control-plane worker; with several, move to Redis."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reports: dict[str, ReplicaReport] = {}

    def report(self, r: ReplicaReport) -> None:
        with self._lock:
            self._reports[r.id] = r

    def all(self) -> list[ReplicaReport]:
        with self._lock:
            return sorted(self._reports.values(), key=lambda r: r.id)


TIMEOUT_S = 30.0
MAX_IMAGE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class TrialAnswer:
    status: int
    version: str
    latency_ms: float
    body: str
    replica: str


def pick_replica(
    reports: Sequence[ReplicaReport],
    model: str,
    version: str,
    now: datetime,
    stale_after: timedelta,
) -> ReplicaReport:
    """A replica heard from lately that has model@version loaded."""
    wanted = f"{model}@{version}"
    for r in reports:
        if wanted in r.loaded and now - r.last_seen <= stale_after:
            return r
    raise InvalidRequest(
        f"no replica has {wanted} loaded: a version is loaded once it is in the model's "
        "split (0 % is enough), or once it is deployed"
    )


def json_body(model: str, version: str, text: str) -> bytes:
    """The /predict body for pasted inputs: the inputs alone, or a whole request body."""
    try:
        inputs = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidRequest(f"the inputs are not JSON: {e.msg} (line {e.lineno})") from e
    if isinstance(inputs, dict) and "inputs" in inputs:
        inputs = inputs["inputs"]
    return json.dumps({"model": model, "version": version, "inputs": inputs}).encode()


def _pretty(response: httpx.Response) -> str:
    try:
        return json.dumps(response.json(), indent=2)
    except ValueError:
        return response.text


def send(
    replica: ReplicaReport,
    model: str,
    version: str,
    body: bytes,
    media_type: str = "application/json",
) -> TrialAnswer:
    """POST /predict to `replica`; the latency is the round trip seen from here."""
    headers = {"Content-Type": media_type}
    if media_type != "application/json":  # a raw image body names its model in headers
        if len(body) > MAX_IMAGE_BYTES:
            raise InvalidRequest(f"the image is over {MAX_IMAGE_BYTES} bytes")
        headers |= {"X-Pier-Model": model, "X-Pier-Model-Version": version}
    started = time.perf_counter()
    try:
        r = httpx.post(f"{replica.url}/predict", content=body, headers=headers, timeout=TIMEOUT_S)
    except httpx.HTTPError as e:
        raise InvalidRequest(f"replica {replica.id} at {replica.url} did not answer: {e}") from e
    latency_ms = (time.perf_counter() - started) * 1000
    return TrialAnswer(
        status=r.status_code,
        version=r.headers.get("x-pier-version", ""),
        latency_ms=latency_ms,
        body=_pretty(r),
        replica=replica.id,
    )
